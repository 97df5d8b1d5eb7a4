"""Role checks. Roles are cumulative: viewer < editor < manager < admin (API.md).

Two layers, neither of them per field (a per-field hook makes every field 5–6×
slower, STACK.md): `OperationRoles` refuses a whole operation the caller's roles
cannot run at all (a query needs viewer, a mutation at least editor), and each
mutation or admin-only root field calls `require` for what it needs beyond that.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
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
OPERATION_ROLE = {OperationType.QUERY: READ, OperationType.MUTATION: EDIT}


def check(principal: Principal, role: Role) -> None:
    if not principal.has(role):
        raise Forbidden(f"this needs the {role.value} role", required_role=role.value)


def require(info: Info, role: Role) -> None:
    """Refuse the whole operation with FORBIDDEN unless the caller has `role`."""
    check(info.context.principal, role)


class OperationRoles(SchemaExtension):
    """Once per operation, before any resolver: the caller may run this kind of operation."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        role = OPERATION_ROLE.get(ctx.operation_type)
        context = ctx.context
        if role is not None and context is not None:
            check(context.principal, role)
        yield
