"""The stage funnel of a pipeline over a window, computed in SQL from the change log.

A visit is a change that put a deal into a stage (`entered_stage`); it ends at the deal's
next move (`leftAt` = the next visit's `enteredAt`). Its outcome is the next stage's type
(OPEN: advanced, WON, LOST), or, when the deal did not move on to a stage, the status it
was left with inside the visit (marked won or lost in place). Deals count when the caller
may see them now (the tenancy hook scopes the deals and the log alike); deals since
deleted are left out. Times are whole seconds (half up), over the visits that ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, or_, select

from app import models as m
from app.changes.types import StageFunnelRow
from app.enums import StageType

CH = m.OpportunityChange
S = m.Stage


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def visits_statement(dialect: str, stage_ids: list[int], window: Window) -> Any:
    """One row per visit of the given stages entered in the window: deal, stage, outcome, seconds."""
    order = (CH.id,)
    moves = (
        select(
            CH.id,
            CH.opportunity_id,
            CH.stage_id,
            CH.at,
            func.lead(CH.at).over(partition_by=CH.opportunity_id, order_by=order).label("left_at"),
            func.lead(CH.stage_id).over(partition_by=CH.opportunity_id, order_by=order).label("next_stage"),
            func.lead(CH.id).over(partition_by=CH.opportunity_id, order_by=order).label("next_id"),
        )
        # the deals the caller may see now: the tenancy hook scopes this subquery's deals
        .where(CH.entered_stage.is_(True), CH.opportunity_id.in_(select(m.Opportunity.id)))
        .subquery("moves")
    )
    # plain entities in correlated subqueries (not aliases), so the tenancy hook scopes them
    last_status = (
        select(CH.status)
        .where(
            CH.opportunity_id == moves.c.opportunity_id,
            CH.id >= moves.c.id,
            or_(moves.c.next_id.is_(None), CH.id < moves.c.next_id),
        )
        .order_by(CH.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    kind = select(S.type).where(S.id == moves.c.next_stage).scalar_subquery()
    closed = case((kind.is_(None), last_status), else_=kind)
    where = [moves.c.stage_id.in_(stage_ids)]
    if window.start is not None:
        where.append(moves.c.at >= window.start)
    if window.end is not None:
        where.append(moves.c.at < window.end)
    return (
        select(
            moves.c.opportunity_id,
            moves.c.stage_id,
            case((kind == StageType.OPEN.value, 1), else_=0).label("advanced"),
            case((closed == StageType.WON.value, 1), else_=0).label("won"),
            case((closed == StageType.LOST.value, 1), else_=0).label("lost"),
            cast(_seconds(dialect, moves.c.left_at, moves.c.at), Float).label("seconds"),
        )
        .select_from(moves)
        .where(and_(*where))
    )


def funnel_statement(dialect: str, stage_ids: list[int], window: Window) -> Any:
    """Per stage: entered, advanced, won, lost (distinct deals), median and mean seconds."""
    v = visits_statement(dialect, stage_ids, window).subquery("visits")
    counts = (
        select(
            v.c.stage_id,
            func.count(v.c.opportunity_id.distinct()).label("entered"),
            func.count(case((v.c.advanced == 1, v.c.opportunity_id)).distinct()).label("advanced"),
            func.count(case((v.c.won == 1, v.c.opportunity_id)).distinct()).label("won"),
            func.count(case((v.c.lost == 1, v.c.opportunity_id)).distinct()).label("lost"),
            func.avg(v.c.seconds).label("mean"),
        )
        .group_by(v.c.stage_id)
        .subquery("counts")
    )
    ended = v.c.seconds.is_not(None)
    ranked = (
        select(
            v.c.stage_id,
            v.c.seconds,
            func.row_number().over(partition_by=v.c.stage_id, order_by=v.c.seconds).label("rn"),
            func.count().over(partition_by=v.c.stage_id).label("cnt"),
        )
        .where(ended)
        .subquery("ranked")
    )
    # the middle value, or the mean of the two middle ones: 2·rn is cnt+1 (odd), or cnt and cnt+2
    middle = 2 * ranked.c.rn
    medians = (
        select(ranked.c.stage_id, func.avg(ranked.c.seconds).label("median"))
        .where(or_(middle == ranked.c.cnt, middle == ranked.c.cnt + 1, middle == ranked.c.cnt + 2))
        .group_by(ranked.c.stage_id)
        .subquery("medians")
    )
    return select(
        counts.c.stage_id,
        counts.c.entered,
        counts.c.advanced,
        counts.c.won,
        counts.c.lost,
        counts.c.mean,
        medians.c.median,
    ).outerjoin(medians, medians.c.stage_id == counts.c.stage_id)


def rows_for(stage_ids: list[int], found: list[Any]) -> list[StageFunnelRow]:
    """One row per stage, in the given (position) order; stages nobody entered count zero."""
    by_stage = {r.stage_id: r for r in found}
    out = []
    for pk in stage_ids:
        r = by_stage.get(pk)
        out.append(
            StageFunnelRow(
                entered=int(r.entered) if r else 0,
                advanced=int(r.advanced) if r else 0,
                won=int(r.won) if r else 0,
                lost=int(r.lost) if r else 0,
                median_seconds_in_stage=_whole(r.median) if r else None,
                mean_seconds_in_stage=_whole(r.mean) if r else None,
                stage_pk=pk,
            )
        )
    return out


def _whole(seconds: Any) -> int | None:
    """Whole seconds, half up; first to the millisecond, which drops the float noise of the
    databases' time arithmetic (SQLite's julian days are good to about 10 µs)."""
    if seconds is None:
        return None
    return int(Decimal(str(round(float(seconds), 3))).quantize(Decimal(1), rounding=ROUND_HALF_UP))
