"""The stage funnel against a reference computed here, in Python, from the change log's rows."""

from __future__ import annotations

import statistics
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app import models as m
from app.enums import Role
from tests.support import BASE_TIME, Api, Tenant, add_user, gid, make_board, make_tenant, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { field code } }
}
"""
MOVE = "mutation ($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { errors { code } } }"
WON = "mutation ($id: ID!) { markOpportunityWon(id: $id) { errors { code } } }"
LOST = "mutation ($id: ID!) { markOpportunityLost(id: $id) { errors { code } } }"
FUNNEL = """
query ($p: ID!, $from: DateTime, $to: DateTime) { opportunityFunnel(pipelineId: $p, from: $from, to: $to) {
  stage { id } entered advanced won lost medianSecondsInStage meanSecondsInStage
} }
"""


async def _spread_times(engine: AsyncEngine) -> None:
    """Give the log's rows times hours apart, uneven, in id order (so visits have real lengths)."""
    async with unscoped(engine) as s:
        ids = list(
            (await s.execute(select(m.OpportunityChange.id).order_by(m.OpportunityChange.id))).scalars()
        )
        at = BASE_TIME
        for pk in ids:
            at += timedelta(seconds=600 * (pk * 7 % 5 + 1) + pk)
            await s.execute(update(m.OpportunityChange).where(m.OpportunityChange.id == pk).values(at=at))


async def _reference(
    engine: AsyncEngine, stages: list[int], visible: set[int], start: Any, end: Any
) -> list[dict[str, Any]]:
    async with unscoped(engine) as s:
        rows = (await s.execute(select(m.OpportunityChange).order_by(m.OpportunityChange.id))).scalars().all()
        kinds = {st.id: st.type for st in (await s.execute(select(m.Stage))).scalars()}
    by_deal: dict[int, list[Any]] = {}
    for r in rows:
        by_deal.setdefault(r.opportunity_id, []).append(r)
    visits = []
    for deal, changes in by_deal.items():
        if deal not in visible:
            continue
        moves = [c for c in changes if c.entered_stage]
        for i, v in enumerate(moves):
            nxt = moves[i + 1] if i + 1 < len(moves) else None
            if v.stage_id is None or not (start is None or v.at >= start) or not (end is None or v.at < end):
                continue
            within = [c for c in changes if c.id >= v.id and (nxt is None or c.id < nxt.id)]
            outcome = (
                kinds[nxt.stage_id] if nxt is not None and nxt.stage_id is not None else within[-1].status
            )
            advanced = nxt is not None and nxt.stage_id is not None and kinds[nxt.stage_id] == "OPEN"
            seconds = None if nxt is None else (nxt.at - v.at).total_seconds()
            visits.append((deal, v.stage_id, advanced, outcome, seconds))
    out = []
    for stage in stages:
        mine = [v for v in visits if v[1] == stage]
        ended = [v[4] for v in mine if v[4] is not None]
        out.append(
            {
                "stage": {"id": gid("Stage", stage)},
                "entered": len({v[0] for v in mine}),
                "advanced": len({v[0] for v in mine if v[2]}),
                "won": len({v[0] for v in mine if not v[2] and v[3] == "WON"}),
                "lost": len({v[0] for v in mine if not v[2] and v[3] == "LOST"}),
                "medianSecondsInStage": _whole(statistics.median(ended)) if ended else None,
                "meanSecondsInStage": _whole(statistics.mean(ended)) if ended else None,
            }
        )
    return out


def _whole(seconds: float) -> int:
    return int(Decimal(str(seconds)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def test_funnel_matches_a_reference_and_respects_privacy(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    board = await make_board(engine, tenant.organization_id)
    qualify, propose = (gid("Stage", s) for s in board.stages[:2])
    deals = []
    for i in range(7):
        out = await api(CREATE, {"input": {"title": f"f{i}", "stageId": qualify, "isPrivate": i == 6}})
        deals.append(out["createOpportunity"]["opportunity"]["id"])
    for i, deal in enumerate(deals):
        if i % 3 != 2:
            await api(MOVE, {"id": deal, "s": propose})
        if i in (0, 4, 6):
            await api(WON, {"id": deal})
        elif i in (1, 5):
            await api(LOST, {"id": deal})
    await api(MOVE, {"id": deals[2], "s": propose})
    await api(MOVE, {"id": deals[2], "s": qualify})  # back again: a second visit of Qualify
    await _spread_times(engine)
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    all_ids = set(range(1, 8))  # the deals' row ids; the last one is private
    pipeline = gid("Pipeline", board.pipeline)
    for key, visible in ((tenant.key, all_ids), (viewer, all_ids - {7})):
        got = (await api(FUNNEL, {"p": pipeline}, key=key))["opportunityFunnel"]
        assert got == await _reference(engine, board.stages, visible, None, None)
    start, end = BASE_TIME + timedelta(hours=3), BASE_TIME + timedelta(hours=9)
    got = (await api(FUNNEL, {"p": pipeline, "from": start.isoformat(), "to": end.isoformat()}))[
        "opportunityFunnel"
    ]
    assert got == await _reference(engine, board.stages, all_ids, start, end)
    assert [r["entered"] for r in (await api(FUNNEL, {"p": pipeline}))["opportunityFunnel"]] == [7, 6, 3, 2]
    globex = await make_tenant(engine, "Globex", Role.ADMIN)
    assert (await api(FUNNEL, {"p": pipeline}, key=globex.key))["opportunityFunnel"] == []
