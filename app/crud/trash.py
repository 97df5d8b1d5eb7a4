"""The trash: deletes that can be undone (docs/trash.md).

`deleteOpportunity`/`deleteOpportunities` only stamp `deleted_at`; from then on the tenancy
hook hides the deal and everything hanging off it from every statement, and the board leaves
it out of its column, which is renumbered without it. The row keeps its stage, its position,
its items, participants, tags, access list and custom values, so a restore puts back exactly
what was there; a purge (or `opportunity-gateway purge-trash`) deletes the row, and the
database's ON DELETE CASCADE its children.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes import record
from app.changes.fields import LISTS
from app.crud import board
from app.crud.base import O, cols, fail, lock_stages, now, principal
from app.errors import ErrorCode
from app.tenancy import ANY_STATE, TRASH, TRASHED

CHUNK = 1000


async def put(session: AsyncSession, ids: Sequence[int]) -> list[int]:
    """Stamp live deals as trashed (the caller renumbers the columns they leave); returns the ids
    this call trashed, in order (one a concurrent delete trashed first is not among them)."""
    who, at = principal(session), now()
    done: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        stmt = (
            update(O)
            .where(O.id.in_(list(ids[start : start + CHUNK])))
            .values(deleted_at=at, version=O.version + 1, updated_at=at, updated_by_id=who.user_id)
            .returning(O.id)
        )
        done.update((await session.execute(stmt.execution_options(synchronize_session=False))).scalars())
    return [pk for pk in ids if pk in done]


async def _row(session: AsyncSession, pk: int, state: str) -> Any:
    stmt = select(*cols(O)).where(O.id == pk).execution_options(**{TRASH: state})
    row = (await session.execute(stmt)).first()
    return None if row is None else row._mapping


async def restore(session: AsyncSession, *, opportunity_id: int) -> int:
    """Bring a trashed deal back: into its stage at its old place when the column still reaches
    that far, else at its end; the column dense; the version bumped."""
    found = await _row(session, opportunity_id, TRASHED)
    if found is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity in the trash")
    # a trashed deal cannot move, so its stage read before the lock is the one it has after
    await lock_stages(session, [found["stage_id"]])
    who, at = principal(session), now()
    stmt = (
        update(O)
        .where(O.id == opportunity_id)
        .values(
            deleted_at=None, position=None, version=O.version + 1, updated_at=at, updated_by_id=who.user_id
        )
        .returning(O.id)
    )
    done = await session.execute(stmt.execution_options(synchronize_session=False, **{TRASH: TRASHED}))
    if done.first() is None:  # restored or purged by someone else since we read it
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity in the trash")
    # For every reader of the history and the feed the deal comes back into existence: a
    # CREATED change listing everything it has (its delete was a DELETED change); noted
    # before placing it, so the cards it pushes down are shifts and it is not
    record.created(session, opportunity_id, LISTS)
    await board.place(session, found["stage_id"], opportunity_id, found["position"])
    return opportunity_id


async def purge(session: AsyncSession, *, opportunity_id: int) -> int:
    """Delete a trashed deal for good; a live one is a CONFLICT (delete it first)."""
    found = await _row(session, opportunity_id, ANY_STATE)
    if found is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity")
    if found["deleted_at"] is None:
        raise fail(["id"], ErrorCode.CONFLICT, "the opportunity is not in the trash; delete it first")
    stmt = delete(O).where(O.id == opportunity_id).returning(O.id)
    done = await session.execute(stmt.execution_options(synchronize_session=False, **{TRASH: TRASHED}))
    if done.first() is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity in the trash")
    return opportunity_id


async def purge_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete for good every deal of every organization trashed before `cutoff` (an unscoped
    session: the `purge-trash` command); returns how many."""
    table = O.__table__
    total = 0
    while True:
        batch = select(table.c.id).where(table.c.deleted_at < cutoff).order_by(table.c.id).limit(CHUNK)
        ids = [r[0] for r in await session.execute(batch)]
        if not ids:
            return total
        await session.execute(delete(table).where(table.c.id.in_(ids)))
        total += len(ids)
