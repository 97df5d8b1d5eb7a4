"""The write side: what a mutation's transaction notes while it runs, and the rows it writes.

    touch(row, lists)       base.touch: the deal's row before the change (from its RETURNING)
                            and the list fields this mutation may change (read now, before)
    created(ids)            a create: every field, after
    mark / rewind           around a savepoint that may roll back (an import's batch)
    deleting(ids)           a delete: the rows as they were, read before the DELETE
    changing(session)       the deals this transaction already changes (a board shift
                            leaves their version alone: one bump per deal per transaction)
    shifted(rows, old)      board neighbours a move shifted (their rows after, from the
                            shift's RETURNING, and their old positions)
    write(session)          after the mutation's work: the rows after, one change per deal,
                            one INSERT, each row's feed position drawn in commit order

Everything is kept on the session (`session.info`), so a retried mutation (a new session)
starts clean and a rolled-back one leaves nothing: the rows are the transaction's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.changes import fields
from app.changes.kinds import ChangeKind
from app.sqltypes import utcnow
from app.tenancy import SESSION_KEY, Principal

C = m.OpportunityChange.__table__
_PENDING = "changes.pending"
# pg_advisory_xact_lock(classid, objid): this class id, the organization as the object
LOCK_CLASS = 0x6F67_0C


@dataclass
class _Deal:
    kind: ChangeKind
    before: Any = None  # the row before (UPDATED, DELETED)
    lists: set[str] = field(default_factory=set)
    lists_before: dict[str, str | None] = field(default_factory=dict)


def _pending(session: AsyncSession) -> dict[int, _Deal]:
    pending: dict[int, _Deal] = session.info.setdefault(_PENDING, {})
    return pending


def _principal(session: AsyncSession) -> Principal:
    who = session.info.get(SESSION_KEY)
    if not isinstance(who, Principal):
        raise RuntimeError("the change log needs a session opened for a principal")
    return who


async def touch(session: AsyncSession, row: Any, lists: tuple[str, ...] = ()) -> None:
    """The deal `row` (as `base.touch`'s UPDATE … RETURNING gave it) changes in this transaction.

    Only the first touch of a deal keeps its row: later ones in the same transaction (a bulk
    update's own per-deal pass) see this transaction's writes, not the state before it. The
    lists are read the first time each is named, before the mutation changes them.
    """
    pk = int(row["id"])
    deal = _pending(session).get(pk)
    if deal is None:
        before = dict(row)
        before["version"] = int(row["version"]) - 1  # RETURNING shows the bump already
        deal = _pending(session)[pk] = _Deal(ChangeKind.UPDATED, before)
    if deal.kind is not ChangeKind.UPDATED:
        return
    new = [name for name in lists if name not in deal.lists]
    if new:
        org = _principal(session).organization_id
        read = await fields.lists(session, org, new, [pk])
        deal.lists.update(new)
        deal.lists_before.update(read[pk])


async def touch_many(
    session: AsyncSession, rows: Sequence[Any], lists: Mapping[int, tuple[str, ...]]
) -> None:
    """`touch` for many deals at once: each list named for the first time read for all of them
    in one statement per list field, not one per deal."""
    wanted: dict[int, list[str]] = {}
    for row in rows:
        await touch(session, row)  # no lists: no statement
        deal = _pending(session)[int(row["id"])]
        if deal.kind is ChangeKind.UPDATED:
            new = [name for name in lists.get(int(row["id"]), ()) if name not in deal.lists]
            if new:
                wanted[int(row["id"])] = new
    if not wanted:
        return
    names = sorted({name for new in wanted.values() for name in new})
    read = await fields.lists(session, _principal(session).organization_id, names, sorted(wanted))
    for pk, new in wanted.items():
        deal = _pending(session)[pk]
        deal.lists.update(new)
        deal.lists_before.update({name: read[pk][name] for name in new})


def changing(session: AsyncSession) -> set[int]:
    """The deals this transaction already records a change of (touched, created, deleted, shifted)."""
    return set(_pending(session))


def shifted(session: AsyncSession, rows: Any, old: dict[int, int | None]) -> None:
    """Cards another card's move shifted: `rows` as the shift's UPDATE … RETURNING left them
    (version bumped, position new), `old` their positions before. Only `position` and
    `version` moved, so the row before is the row after with those two put back."""
    pending = _pending(session)
    for row in rows:
        pk = int(row["id"])
        if pk in pending:
            continue  # its own change (or an earlier shift's) already holds its row before
        before = dict(row)
        before["position"] = old[pk]
        before["version"] = int(row["version"]) - 1
        pending[pk] = _Deal(ChangeKind.UPDATED, before)


def created(session: AsyncSession, pk: int, lists: tuple[str, ...]) -> None:
    """A deal this transaction created, with the list fields it was given (the rest are empty)."""
    _pending(session)[pk] = _Deal(ChangeKind.CREATED, None, set(lists))


async def deleting(session: AsyncSession, ids: list[int]) -> None:
    """Deals about to be deleted: their rows as they are, read before the DELETE."""
    if not ids:
        return
    before = await fields.rows(session, _principal(session).organization_id, ids)
    pending = _pending(session)
    for pk in ids:
        earlier = pending.get(pk)
        if earlier is not None and earlier.kind is ChangeKind.CREATED:
            del pending[pk]  # created and deleted in one transaction: never existed outside it
        elif pk in before:
            row = earlier.before if earlier is not None else before[pk]
            pending[pk] = _Deal(ChangeKind.DELETED, row)


def mark(session: AsyncSession) -> dict[int, _Deal]:
    """A copy of what the transaction noted so far: what `rewind` returns to when a savepoint
    rolls back (its writes are gone, so must its notes be)."""
    return {
        pk: replace(d, lists=set(d.lists), lists_before=dict(d.lists_before))
        for pk, d in _pending(session).items()
    }


def rewind(session: AsyncSession, marked: dict[int, _Deal]) -> None:
    session.info[_PENDING] = marked


async def write(session: AsyncSession) -> None:
    """Insert one change row per deal this transaction changed (no statement when none)."""
    pending = session.info.pop(_PENDING, {})
    if not pending:
        return
    who = _principal(session)
    alive = [pk for pk, d in pending.items() if d.kind is not ChangeKind.DELETED]
    after = await fields.rows(session, who.organization_id, alive)
    names = set().union(*(d.lists for pk, d in pending.items() if pk in after))
    lists_after = await fields.lists(session, who.organization_id, names, [pk for pk in alive if pk in after])
    at = utcnow()
    out = []
    for pk, deal in pending.items():
        new = after.get(pk)
        if deal.kind is not ChangeKind.DELETED and new is None:
            continue  # not expected: a deal this transaction touched is still there
        # only the lists this deal noted (another deal of the transaction may have noted more)
        mine = {name: v for name, v in lists_after.get(pk, {}).items() if name in deal.lists}
        out.append(_row(who, pk, deal, new, mine, at))
    if out:
        await session.execute(insert(C).values(seq=_position(session, who.organization_id)), out)


def _position(session: AsyncSession, org: int) -> Any:
    """The feed position of each inserted row, handed out in commit order (docs/changes.md).

    PostgreSQL: the next number of `opportunity_change_seq`, drawn under the organization's
    transaction-level advisory lock, which is held until COMMIT has ended: a writer that
    draws after us waits for our COMMIT, so the positions become visible in their order and
    a reader that sees position n already sees every position below it. The lock is taken
    in the same expression, before the number is drawn (re-taking it per row is free).
    SQLite: writers are serialised (BEGIN IMMEDIATE), so one more than the organization's
    highest position is already commit order.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # pg_notify: the live broker's wake-up (app/live/broker.py), sent by COMMIT, never by a
        # rollback; one per organization per transaction (PostgreSQL folds the repeats)
        return text(
            "(SELECT nextval('opportunity_change_seq') FROM (SELECT pg_advisory_xact_lock(:lock_class, :lock_org),"
            " pg_notify('og_changes', CAST(:lock_org AS text))) AS l)"
        ).bindparams(lock_class=LOCK_CLASS, lock_org=org)
    highest = select(func.coalesce(func.max(C.c.seq), 0) + 1).where(C.c.organization_id == org)
    return highest.scalar_subquery()


def _row(
    who: Principal, pk: int, deal: _Deal, new: Any, lists_after: dict[str, str | None], at: Any
) -> dict[str, Any]:
    old = deal.before
    if deal.kind is ChangeKind.DELETED:
        changes: list[Any] = []
        state = old
    else:
        before_fields = {**fields.scalar_fields(old), **deal.lists_before}
        after_fields = {**fields.scalar_fields(new), **lists_after}
        changes = fields.diff(before_fields, after_fields, creating=deal.kind is ChangeKind.CREATED)
        state = new
    # a stage move (off the board too: it ends the visit), or a create on the board
    moved = deal.kind is ChangeKind.UPDATED and old["stage_id"] != new["stage_id"]
    entered = moved or (deal.kind is ChangeKind.CREATED and new["stage_id"] is not None)
    return {
        "organization_id": who.organization_id,
        "opportunity_id": pk,
        "kind": deal.kind.value,
        # a delete moves the deal to the trash, which bumps its version (app/crud/trash.py)
        "version": int(state["version"]) + (1 if deal.kind is ChangeKind.DELETED else 0),
        "changes": changes,
        "before": None if old is None else fields.snapshot(old),
        "after": None if new is None else fields.snapshot(new),
        "stage_id": None if deal.kind is ChangeKind.DELETED else state["stage_id"],
        "status": state["status"],
        "entered_stage": entered,
        "user_id": who.user_id,
        "api_key_id": who.api_key_id,
        "at": at,
    }
