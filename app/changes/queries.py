"""The root fields of the change log: the delta feed and the stage funnel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from app import models as m
from app import query
from app.changes import funnel
from app.changes.feed import SCAN_MAX, changes_after, decode_cursor, encode_cursor
from app.changes.types import OpportunityChange, StageFunnelRow
from app.crud.refs import decode
from app.graphql.common import Connection, Edge, GlobalID, PageInfo
from app.graphql.context import Info
from app.graphql.lists import filter_where
from app.graphql.opportunities import OpportunityFilter
from app.query.pages import check_page


async def feed(info: Info, after: str | None, first: int | None, flt: Any) -> Connection[OpportunityChange]:
    ctx = info.context
    check_page(query.PageArgs(first, after, None, None, None), ctx.settings.max_page_size)
    position = decode_cursor(after)
    size = ctx.settings.default_page_size if first is None else first
    where = None if flt is None else await filter_where(info, flt)
    page = await changes_after(ctx.db, ctx.principal, position, size, where)
    edges = [
        Edge(cursor=encode_cursor(d.seq), node=OpportunityChange.from_row(d.row, gone=d.gone))
        for d in page.deliveries
    ]
    # the end cursor is the last change scanned, delivered or not: the next page starts past
    # what this caller does not receive, instead of scanning it again
    end = encode_cursor(page.last_seq) if page.last_seq > position else after
    info_ = PageInfo(
        has_next_page=page.more,
        has_previous_page=position > 0,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=end,
    )

    async def count() -> int:
        """Every change after the cursor this caller receives: read in full, only when asked."""
        total, at = 0, position
        while True:
            rest = await changes_after(ctx.db, ctx.principal, at, SCAN_MAX, where)
            total += len(rest.deliveries)
            if not rest.more:
                return total
            at = rest.last_seq

    return Connection(edges=edges, page_info=info_, count=count)


@strawberry.type
class ChangeQueries:
    @strawberry.field(
        description="Every change to a deal the caller may see, in commit order; a reader following "
        "the cursor never misses a change. A filter matches the deal before or after the change; a "
        "deal that leaves the caller's sight by a change comes once more, with `opportunity: null` "
        "and no `changes`."
    )
    async def opportunity_changes(
        self,
        info: Info,
        after: Annotated[
            str | None,
            strawberry.argument(description="A change's cursor (or an endCursor): resume after it."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="How many changes; default 20.")] = None,
        filter: Annotated[  # noqa: A002
            OpportunityFilter | None,
            strawberry.argument(
                description="Only changes of deals matching this, before or after the change."
            ),
        ] = None,
    ) -> Connection[OpportunityChange]:
        return await feed(info, after, first, filter)

    @strawberry.field(
        description="Per stage of a pipeline, in position order: deals that entered it in "
        "[from, to), how many moved on, won or lost from it, and the time spent in it; no rows for "
        "a pipeline the caller cannot see."
    )
    async def opportunity_funnel(
        self,
        info: Info,
        pipeline_id: GlobalID,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Count stage entries from this moment on."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="…up to, not including, this moment.")
        ] = None,
    ) -> list[StageFunnelRow]:
        db = info.context.db
        pk = decode("Pipeline", pipeline_id)
        found = None if pk is None else await db.scalar(select(m.Pipeline.id).where(m.Pipeline.id == pk))
        if found is None:
            return []  # not there, or another organization's: like a missing record, no rows
        stages = await db.rows(
            select(m.Stage.id).where(m.Stage.pipeline_id == pk).order_by(m.Stage.position, m.Stage.id)
        )
        stage_ids = [r.id for r in stages]
        if not stage_ids:
            return []
        stmt = funnel.funnel_statement(db.dialect, stage_ids, funnel.Window(from_, to))
        return funnel.rows_for(stage_ids, list(await db.rows(stmt)))
