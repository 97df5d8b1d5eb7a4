"""Role checks. Roles are cumulative: viewer < editor < manager < admin (docs/security.md, "Roles").

Two layers, neither of them per field of a row (a per-field hook makes every field 5–6×
slower): `OperationRoles` refuses a whole operation the caller's roles cannot run at all
(a query needs viewer, a mutation at least editor), and each mutation or admin-only root
field declares what it needs beyond that with `needs(role)`, checked once per root field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.graphql import OperationType

from app.enums import Role
from app.errors import Forbidden
from app.graphql.context import Info
from app.tenancy import Principal

# What each action needs, named the way Nexudus names permissions per action.
READ = Role.VIEWER
CREATE = Role.EDITOR
EDIT = Role.EDITOR
DELETE = Role.MANAGER
ADMINISTER = Role.ADMIN  # custom field definitions, lookups, private records, API keys

# The least role that can run any operation of each kind.
OPERATION_ROLE = {OperationType.QUERY: READ, OperationType.SUBSCRIPTION: READ, OperationType.MUTATION: EDIT}


def check(principal: Principal, role: Role) -> None:
    if not principal.has(role):
        raise Forbidden(f"this needs the {role.value} role", required_role=role.value)


class Needs(BasePermission):
    """The caller must have `role`; FORBIDDEN (naming the role) otherwise."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        check(info.context.principal, self.role)
        return True


def needs(role: Role) -> PermissionExtension:
    """The extension of a root field that needs `role`.

    No schema directive: the SDL stays what clients already have.
    """
    return PermissionExtension([Needs(role)], use_directives=False)


class OperationRoles(SchemaExtension):
    """Once per operation, before any resolver: the caller may run this kind of operation."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        role = OPERATION_ROLE.get(ctx.operation_type)
        context = ctx.context
        if role is not None and context is not None:
            check(context.principal, role)
        yield
