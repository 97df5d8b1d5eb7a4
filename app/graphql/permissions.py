"""Role checks. Roles are cumulative: viewer < editor < manager < admin (API.md)."""

from __future__ import annotations

from app.enums import Role
from app.errors import Forbidden
from app.graphql.context import Info

# What each action needs, named the way Nexudus names permissions per action.
READ = Role.VIEWER
CREATE = Role.EDITOR
EDIT = Role.EDITOR
DELETE = Role.MANAGER
ADMINISTER = Role.ADMIN  # custom field definitions, lookups, private records, API keys


def require(info: Info, role: Role) -> None:
    """Refuse the whole operation with FORBIDDEN unless the caller has `role`."""
    if not info.context.principal.has(role):
        raise Forbidden(f"this needs the {role.value} role", required_role=role.value)
