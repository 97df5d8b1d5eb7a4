"""The pipeline board: columns kept dense (1..n), stage rules for status, won/lost/reopen.

A column's positions belong to all the organization's deals in it, including private
ones the caller cannot see; so the column is read and renumbered on the table itself,
confined to the caller's organization by an explicit predicate (the tenancy hook only
sees ORM statements), and nothing read here goes back to the caller. Callers hold the
column's lock (`base.lock_stages`) before calling anything that renumbers.

Deals in the trash are not in any column: they keep their stage and their last position
(where a restore puts them back), but every read and shift here leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.changes import record
from app.crud.base import O, Retry, fail, fetch, fetch_all, lock_stages, now, principal, touch, write
from app.crud.refs import Refs
from app.enums import CloseReasonKind, OpportunityStatus, StageType
from app.errors import ErrorCode
from app.validation import Problems

T = m.Opportunity.__table__


async def column(session: AsyncSession, stage_id: int) -> list[tuple[int, int | None]]:
    """(id, position) of every deal in the column, in board order."""
    org = principal(session).organization_id
    stmt = (
        select(T.c.id, T.c.position)
        .where(T.c.stage_id == stage_id, T.c.organization_id == org, T.c.deleted_at.is_(None))
        .order_by(T.c.position.asc().nulls_last(), T.c.id)
    )
    conn = await session.connection()
    return [(r.id, r.position) for r in await conn.execute(stmt)]


async def place(session: AsyncSession, stage_id: int | None, card: int, at: int | None = None) -> None:
    """Put `card` (already in the column) at place `at`, clamped; None: where it is, or last.

    A dense column (the usual case) shifts only the cards between the old and the new
    place, in one UPDATE, without reading the column; a column that is not dense (rows
    written around the API) is read and renumbered whole.
    """
    if stage_id is None:
        return
    stats = await _stats(session, stage_id, card)
    others = stats.total - stats.mine
    old = stats.old if stats.mine else None
    expected = others + (1 if old is not None else 0)
    if not (stats.numbered == stats.distinct == (stats.top or 0) == expected and (stats.low or 1) >= 1):
        await _renumber(session, stage_id, card, at)
        return
    last = others + 1
    new = (old or last) if at is None else max(1, min(at, last))
    if old is None:
        await _shift(session, stage_id, card, +1, new, others)
    elif new < old:
        await _shift(session, stage_id, card, +1, new, old - 1)
    elif new > old:
        await _shift(session, stage_id, card, -1, old + 1, new)
    if new != old:
        stmt = update(T).where(T.c.id == card, T.c.organization_id == _org(session)).values(position=new)
        await (await session.connection()).execute(stmt)


async def ends(session: AsyncSession, stage_ids: list[int]) -> dict[int, int | None]:
    """The last position of each column when it is dense (0 when empty), None when it is not;
    for many columns in one statement (a batch create appends its new cards at once)."""
    if not stage_ids:
        return {}
    pos = T.c.position
    stmt = (
        select(
            T.c.stage_id,
            func.count(),
            func.count(pos),
            func.count(pos.distinct()),
            func.min(pos),
            func.max(pos),
        )
        .where(T.c.stage_id.in_(stage_ids), T.c.organization_id == _org(session), T.c.deleted_at.is_(None))
        .group_by(T.c.stage_id)
    )
    out: dict[int, int | None] = dict.fromkeys(stage_ids, 0)
    for stage_id, total, numbered, distinct, low, top in await (await session.connection()).execute(stmt):
        dense = total == numbered == distinct == (top or 0) and (low or 1) >= 1
        out[stage_id] = top if dense else None
    return out


async def close_gap(session: AsyncSession, stage_id: int | None, old: int | None = None) -> None:
    """Close the gap a card left at place `old` (unknown: renumber the whole column)."""
    if stage_id is None:
        return
    if old is None:
        await _renumber(session, stage_id, None, None)
    else:
        await _shift(session, stage_id, None, -1, old + 1, None)


@dataclass
class _Stats:
    total: int
    numbered: int
    distinct: int
    low: int | None
    top: int | None
    mine: int
    old: int | None


async def _stats(session: AsyncSession, stage_id: int, card: int) -> _Stats:
    """Counts that tell whether a column is dense, and where `card` sits in it, in one statement."""
    pos = T.c.position
    stmt = select(
        func.count(),
        func.count(pos),
        func.count(pos.distinct()),
        func.min(pos),
        func.max(pos),
        func.count(case((T.c.id == card, 1))),
        func.max(case((T.c.id == card, pos))),
    ).where(T.c.stage_id == stage_id, T.c.organization_id == _org(session), T.c.deleted_at.is_(None))
    row = (await (await session.connection()).execute(stmt)).one()
    return _Stats(*row)


async def _shift(
    session: AsyncSession, stage_id: int, card: int | None, delta: int, low: int, high: int | None
) -> None:
    """Move every other card with a position in [low, high] by `delta`."""
    where = [
        T.c.stage_id == stage_id,
        T.c.organization_id == _org(session),
        T.c.deleted_at.is_(None),
        T.c.position >= low,
    ]
    if high is not None:
        if high < low:
            return
        where.append(T.c.position <= high)
    if card is not None:
        where.append(T.c.id != card)
    stmt = update(T).where(*where).values(position=T.c.position + delta, version=_bump(session))
    shifted = (await (await session.connection()).execute(stmt.returning(*T.c))).all()
    record.shifted(session, [r._mapping for r in shifted], {r.id: r.position - delta for r in shifted})


async def _renumber(session: AsyncSession, stage_id: int, card: int | None, at: int | None) -> None:
    rows = await column(session, stage_id)
    current = dict(rows)
    order = [pk for pk, _ in rows if pk != card]
    if card is not None and (card not in current or at is not None):
        index = len(order) if at is None else max(0, min(at - 1, len(order)))
        order.insert(index, card)
    elif card is not None:
        order = [pk for pk, _ in rows]
    await _number(session, order, current)


def _org(session: AsyncSession) -> int:
    return principal(session).organization_id


async def _number(session: AsyncSession, order: list[int], current: dict[int, int | None]) -> None:
    moved = {pk: i for i, pk in enumerate(order, 1) if current.get(pk) != i}
    if moved:
        org = principal(session).organization_id
        stmt = (
            update(T)
            .where(T.c.id.in_(list(moved)), T.c.organization_id == org)
            .values(position=case(moved, value=T.c.id), version=_bump(session))
        )
        renumbered = (await (await session.connection()).execute(stmt.returning(*T.c))).all()
        record.shifted(
            session, [r._mapping for r in renumbered], {r.id: current.get(r.id) for r in renumbered}
        )


def _bump(session: AsyncSession) -> Any:
    """The version of a card a move shifts: one up, as for every change of a deal (its change
    is written with the others', app/changes), unless this transaction already changes the
    deal (the moved card itself, a bulk move's other cards), whose one bump is already taken."""
    already = record.changing(session)
    if not already:
        return T.c.version + 1
    return case((T.c.id.in_(sorted(already)), T.c.version), else_=T.c.version + 1)


def stage_effects(current: Any, stage: Any, *, probability_given: bool, at: datetime) -> dict[str, Any]:
    """What moving the deal `current` into `stage` (a row, or None for off the board) changes.

    Status follows the stage's type (docs/model.md); entering a WON/LOST stage closes the
    deal, entering an OPEN one reopens it; probability takes the stage's default
    unless the caller set one in the same request.
    """
    if stage is None:
        return {"stage_id": None, "position": None, "stage_changed_at": at}
    # position None sorts last: `place` then gives the card its place in the new column
    values: dict[str, Any] = {"stage_id": stage["id"], "position": None, "stage_changed_at": at}
    if not probability_given:
        values["probability"] = stage["probability"]
    kind = stage["type"]
    if kind == StageType.OPEN:
        if current is not None and current["status"] != OpportunityStatus.OPEN:
            values.update(status=OpportunityStatus.OPEN.value, closed_at=None, close_reason_id=None)
        elif current is None:
            values["status"] = OpportunityStatus.OPEN.value
    elif current is None or current["status"] != kind:
        values.update(status=kind, closed_at=at)
        reason = None if current is None else current["close_reason_id"]
        if reason is not None:
            values["close_reason_id"] = None  # a reason of the other kind no longer explains it
    return values


async def closing_stage(session: AsyncSession, stage_id: int | None, kind: str) -> Any:
    """The first stage of type `kind` in the pipeline of `stage_id`, or None."""
    if stage_id is None:
        return None
    pipeline = select(m.Stage.pipeline_id).where(m.Stage.id == stage_id).scalar_subquery()
    rows = await fetch_all(
        session, m.Stage, and_(m.Stage.pipeline_id == pipeline, m.Stage.type == kind), m.Stage.position
    )
    return rows[0] if rows else None


async def reopen_stage(session: AsyncSession, stage_id: int | None) -> Any:
    """Where a reopened deal goes from a closing stage: the pipeline's last OPEN stage."""
    if stage_id is None:
        return None
    pipeline = select(m.Stage.pipeline_id).where(m.Stage.id == stage_id).scalar_subquery()
    where = and_(m.Stage.pipeline_id == pipeline, m.Stage.type == StageType.OPEN.value)
    rows = await fetch_all(session, m.Stage, where, m.Stage.position.desc())
    return rows[0] if rows else None


# ---------------------------------------------------------------- mutations


async def _visible(session: AsyncSession, pk: int) -> Any:
    current = await fetch(session, O, pk)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity")
    return current


async def _moved(session: AsyncSession, pk: int, before: Any, stages: list[int | None]) -> Any:
    """Lock the columns, then the deal; run again if the deal changed column meanwhile."""
    await lock_stages(session, stages)
    current = await touch(session, pk)
    if current["stage_id"] != before["stage_id"]:
        raise Retry
    return current


async def move(session: AsyncSession, *, opportunity_id: int, stage_gid: Any, position: int | None) -> int:
    """Put the deal in column `stage` at `position` (last when omitted), both columns kept dense."""
    problems = Problems()
    problems.position(["position"], position)
    refs = Refs(problems)
    refs.want(["stageId"], "Stage", stage_gid)
    await refs.resolve(session)
    before = await _visible(session, opportunity_id)
    problems.raise_if_any()
    stage = refs.row("Stage", stage_gid)
    current = await _moved(session, opportunity_id, before, [before["stage_id"], stage["id"]])
    if current["stage_id"] == stage["id"]:
        await place(session, stage["id"], opportunity_id, position or current["position"])
        return opportunity_id
    values = stage_effects(current, stage, probability_given=False, at=now())
    await write(session, O, opportunity_id, values)
    await close_gap(session, current["stage_id"], current["position"])
    await place(session, stage["id"], opportunity_id, position)
    return opportunity_id


async def close(
    session: AsyncSession,
    *,
    opportunity_id: int,
    kind: CloseReasonKind,
    reason_gid: Any,
    closed_at: datetime | None,
) -> int:
    """Mark the deal WON or LOST, with a reason of that kind, in the pipeline's closing stage."""
    problems = Problems()
    when = problems.moment(["closedAt"], closed_at) or now()
    refs = Refs(problems)
    refs.want(["closeReasonId"], "CloseReason", reason_gid)
    await refs.resolve(session)
    reason = refs.row("CloseReason", reason_gid)
    if reason is not None and reason["kind"] != kind:
        problems.add(
            ["closeReasonId"],
            ErrorCode.INVALID,
            f"{reason['name']!r} is a {reason['kind']} reason; it cannot close a {kind.lower()} deal",
            reason_gid,
        )
    before = await _visible(session, opportunity_id)
    problems.raise_if_any()
    target = await closing_stage(session, before["stage_id"], kind.value)
    current = await _moved(session, opportunity_id, before, [before["stage_id"], target and target["id"]])
    values: dict[str, Any] = {
        "status": kind.value,
        "closed_at": when,
        "close_reason_id": reason and reason["id"],
    }
    if target is not None and target["id"] != current["stage_id"]:
        values.update(
            stage_id=target["id"], position=None, stage_changed_at=now(), probability=target["probability"]
        )
    elif target is None:
        values["probability"] = 100 if kind == CloseReasonKind.WON else 0
    await write(session, O, opportunity_id, values)
    if "stage_id" in values:
        await close_gap(session, current["stage_id"], current["position"])
        await place(session, target["id"], opportunity_id)
    return opportunity_id


async def reopen(session: AsyncSession, *, opportunity_id: int, stage_gid: Any) -> int:
    """Make the deal OPEN again: no close time or reason; out of a closing stage into an open one."""
    problems = Problems()
    refs = Refs(problems)
    refs.want(["stageId"], "Stage", stage_gid)
    await refs.resolve(session)
    stage = refs.row("Stage", stage_gid)
    if stage is not None and stage["type"] != StageType.OPEN:
        problems.add(
            ["stageId"], ErrorCode.INVALID, f"{stage['name']!r} is a {stage['type']} stage", stage_gid
        )
    before = await _visible(session, opportunity_id)
    problems.raise_if_any()
    if stage is None:
        current_stage = await fetch(session, m.Stage, before["stage_id"]) if before["stage_id"] else None
        if current_stage is not None and current_stage["type"] != StageType.OPEN:
            stage = await reopen_stage(session, before["stage_id"])
    current = await _moved(session, opportunity_id, before, [before["stage_id"], stage and stage["id"]])
    values: dict[str, Any] = {
        "status": OpportunityStatus.OPEN.value,
        "closed_at": None,
        "close_reason_id": None,
    }
    if stage is not None and stage["id"] != current["stage_id"]:
        values.update(
            stage_id=stage["id"], position=None, stage_changed_at=now(), probability=stage["probability"]
        )
    await write(session, O, opportunity_id, values)
    if "stage_id" in values:
        await close_gap(session, current["stage_id"], current["position"])
        await place(session, stage["id"], opportunity_id)
    return opportunity_id
