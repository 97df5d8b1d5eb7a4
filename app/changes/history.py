"""A deal's own history and stage visits, read through the request's loaders (one statement per batch)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true

from app import models as m
from app import query
from app.changes.types import OpportunityChange, StageVisit
from app.graphql import registry
from app.graphql.common import Connection
from app.graphql.context import Info
from app.graphql.loaders import keys_in

CH = m.OpportunityChange
COLUMNS = tuple(getattr(CH, c.key) for c in CH.__table__.columns)
# the change log as the loaders' generic connection reads it: not a node, no filter of its own
ENTITY = registry.Entity(
    name="OpportunityChange",
    type=OpportunityChange,
    model=CH,
    spec=query.FilterSpec(CH),
    columns=COLUMNS,
    primary_key=(CH.id,),
    is_node=False,
)
# oldest first: ids are handed out while the deal's row lock is held (base.touch), so a deal's
# ids are in the order its changes committed
KEYS = [query.OrderKey(CH.id)]


async def history(
    info: Info, deal_pk: int, first: int | None, after: str | None, last: int | None, before: str | None
) -> Connection[OpportunityChange]:
    """The deal's changes as a connection, its rows scoped by the tenancy hook; the deal is visible."""
    args = query.PageArgs(first, after, last, before, None)
    loader = info.context.loaders.page(
        "Opportunity.history", ENTITY, CH.opportunity_id, true(), KEYS, args, repr(args)
    )
    page: Connection[OpportunityChange] = await loader.load(deal_pk)
    return page


async def stage_history(info: Info, deal_pk: int) -> list[StageVisit]:
    """Each stay in a stage, in time order; a stay ends when the next one starts."""
    loaders = info.context.loaders

    async def batch(keys: list[int]) -> list[list[StageVisit]]:
        stmt = (
            select(CH.opportunity_id, CH.stage_id, CH.at, CH.user_id)
            .where(keys_in(CH.opportunity_id, keys, loaders.db.dialect), CH.entered_stage.is_(True))
            .order_by(CH.opportunity_id, CH.id)
        )
        grouped: dict[int, list[Any]] = {k: [] for k in keys}
        for row in await loaders.db.rows(stmt):
            grouped[row.opportunity_id].append(row)
        return [_visits(grouped[k]) for k in keys]

    # the loaders' own registry of batches (one per key per request), with a batch of ours
    visits: list[StageVisit] = await loaders._get("Opportunity.stageHistory", batch).load(deal_pk)
    return visits


def _visits(rows: list[Any]) -> list[StageVisit]:
    """Moves in order; a move off the board (no stage) only ends the stay before it."""
    out = []
    for i, row in enumerate(rows):
        if row.stage_id is None:
            continue
        left = rows[i + 1].at if i + 1 < len(rows) else None
        out.append(StageVisit(entered_at=row.at, left_at=left, stage_pk=row.stage_id, user_id=row.user_id))
    return out
