"""Tenancy and visibility, applied to every ORM statement in one place.

Every session is opened for a `Principal` (or, for the CLI and the key lookup,
explicitly as `UNSCOPED`). A `do_orm_execute` hook adds `with_loader_criteria`
for every tenant-owned table to each SELECT, UPDATE and DELETE, so the rules
reach joins, EXISTS subqueries and relation filters too; a statement run on a
session with neither raises instead of leaking. Private opportunities are
visible to their owner, the users on their access list and admins; the rows
that hang off an opportunity are visible only when it is.

Deals in the trash (`deleted_at` set) are invisible to every statement, for every
role: lists, counts, aggregates, joins, EXISTS filters and their children alike. A
statement that is about the trash says so with the execution option `TRASH`
(`statement.execution_options(og_trash=TRASHED)`): then it sees the trashed deals
(and their children) instead of the live ones, or both with `ANY_STATE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import event, exists, or_, select, true
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.enums import Role
from app.models import (
    OPPORTUNITY_CHILDREN,
    TENANT_MODELS,
    Opportunity,
    OpportunityAccess,
    Organization,
)

T = TypeVar("T")

ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.MANAGER, Role.ADMIN)

# The execution option that points a statement at the trash, and its values. Without it a
# statement sees live deals only.
TRASH = "og_trash"
LIVE, TRASHED, ANY_STATE = "live", "trashed", "any"

# The execution option of a statement object built once and kept for the life of the process
# (the loaders' key-only batches). Its scoped copy is kept per principal, so SQLAlchemy's cache
# key, memoized on the statement object, is computed once instead of on every execution.
STABLE = "og_stable"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of one organization with a set of roles."""

    organization_id: int
    user_id: int
    roles: frozenset[Role]
    api_key_id: int | None = None
    _criteria: dict[str, list[Any]] = field(default_factory=dict, compare=False, hash=False, repr=False)
    _scoped: dict[tuple[int, str], tuple[Any, Any]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    _prepared: dict[tuple[int, str], tuple[Any, Any]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def has(self, role: Role) -> bool:
        """Roles are cumulative: an admin may do what a manager may, and so on."""
        wanted = ROLE_ORDER.index(role)
        return any(ROLE_ORDER.index(r) >= wanted for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return self.has(Role.ADMIN)

    def criteria(self, state: str = LIVE) -> list[Any]:
        """The statement options for deals in `state` (LIVE, TRASHED or ANY_STATE), built once."""
        built = self._criteria.get(state)
        if built is None:
            built = self._criteria[state] = _build_criteria(self, state)
        return built

    def scoped(self, statement: Any, state: str = LIVE) -> Any:
        """`statement` with this principal's criteria for `state`, made once per statement object.

        Only for STABLE statements, built once and kept (the loaders' batches, root lists'
        pages): the copy keeps the original alive, and at most SCOPED_KEPT are kept.
        """
        key = (id(statement), state)
        made = self._scoped.get(key)
        if made is None or made[0] is not statement:
            _bound(self._scoped)
            made = self._scoped[key] = (statement, statement.options(*self.criteria(state)))
        return made[1]

    def prepared(self, statement: Any, dialect: str, prepare: Callable[[Any], T]) -> T:
        """`prepare(scoped statement)`, made once per STABLE statement, trash state and dialect
        (app/prepared.py compiles it to SQL): what this principal may read, kept with the
        principal, so it ends with it (the key cache renews principals every few seconds)."""
        state = statement.get_execution_options().get(TRASH, LIVE)
        key = (id(statement), f"{state}/{dialect}")
        made = self._prepared.get(key)
        if made is None or made[0] is not statement:
            _bound(self._prepared)
            made = self._prepared[key] = (statement, prepare(self.scoped(statement, state)))
        return cast(T, made[1])


# Statements kept per principal. The loaders' are a few dozen; root lists add one per set of
# arguments (app/graphql/lists.py keeps 256): past this the principal starts afresh.
SCOPED_KEPT = 512


def _bound(kept: dict[Any, Any]) -> None:
    if len(kept) >= SCOPED_KEPT:
        kept.clear()


class _Unscoped:
    """Marks a session that may see every organization (CLI, key lookup, seeding)."""


UNSCOPED = _Unscoped()
SESSION_KEY = "principal"


def _build_criteria(p: Principal, state: str) -> list[Any]:
    org = p.organization_id
    options: list[Any] = [
        with_loader_criteria(model, model.organization_id == org, include_aliases=True)
        for model in TENANT_MODELS
        if model is not Opportunity and model not in OPPORTUNITY_CHILDREN
    ]
    # the tenant itself: a caller sees its own organization and no other
    options.append(with_loader_criteria(Organization, Organization.id == org, include_aliases=True))
    options.append(
        with_loader_criteria(
            Opportunity,
            (Opportunity.organization_id == org) & opportunity_visible(p) & _in_state(state),
            include_aliases=True,
        )
    )
    for child in OPPORTUNITY_CHILDREN:
        col = child.opportunity_id
        # correlated, so each child row costs one primary-key probe of its deal (which the
        # Opportunity criteria above then check), instead of a scan of every visible deal;
        # an admin sees every deal's children, but a trashed deal's only from the trash
        visible_parent = (
            exists().where(Opportunity.id == col) if not p.is_admin else _admin_parent(col, org, state)
        )
        options.append(
            with_loader_criteria(child, (child.organization_id == org) & visible_parent, include_aliases=True)
        )
    return options


def _admin_parent(col: Any, org: int, state: str) -> Any:
    """An admin's rule for a child row: its deal is in `state`. Uncorrelated, on the plain table
    (the ORM class would take the Opportunity criteria): one small set per statement, not a probe
    per row, and no extra join for the planner where a filter has many EXISTS over children."""
    if state == ANY_STATE:
        return true()
    table = Opportunity.__table__
    trashed = select(table.c.id).where(table.c.organization_id == org, table.c.deleted_at.is_not(None))
    return col.not_in(trashed) if state == LIVE else col.in_(trashed)


def _in_state(state: str) -> Any:
    if state == LIVE:
        return Opportunity.deleted_at.is_(None)
    if state == TRASHED:
        return Opportunity.deleted_at.is_not(None)
    if state == ANY_STATE:
        return true()
    raise ValueError(f"no such deal state: {state!r}")


def opportunity_visible(p: Principal) -> Any:
    """The privacy rule: public, or owned by the caller, or shared with the caller, or admin."""
    if p.is_admin:
        return true()
    # The plain table, not the mapped class: the class would pick up the child-row rule above
    # (is its deal visible?), which is this very rule, and cost a scan of every deal.
    access = OpportunityAccess.__table__
    shared = exists().where(
        access.c.opportunity_id == Opportunity.id,
        access.c.user_id == p.user_id,
        access.c.organization_id == p.organization_id,
    )
    return or_(Opportunity.is_private.is_(False), Opportunity.owner_id == p.user_id, shared)


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    who = state.session.info.get(SESSION_KEY)
    if who is UNSCOPED:
        return
    if not isinstance(who, Principal):
        raise RuntimeError("a statement ran on a session opened for no principal")
    options = state.execution_options
    trash = options.get(TRASH, LIVE)
    if options.get(STABLE):
        state.statement = who.scoped(state.statement, trash)
    else:
        state.statement = state.statement.options(*who.criteria(trash))
