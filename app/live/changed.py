"""`Subscription.opportunityChanged(filter, after)`: the change feed, followed live.

A subscription is a reader of the feed (app/changes) that waits instead of stopping at its
end. It holds a position: `after`'s, or the organization's newest when it starts. Then, in
a loop: read the changes after the position that the caller may see and the filter selects
(before or after each change: `changes_after`, the feed's own function, so feed and
subscription can never disagree), send them, move the position on, and when the feed is
exhausted wait for the broker to say the organization has new changes (app/live/broker.py).
The wake-up is armed before each read, so a change committed during a read wakes the next.

Hence: each change after commit only (a reader sees committed rows only), once (the
position only moves forward, past what was sent), in commit order, with no gap between the
replay of `after` and live delivery (they are the same loop), and never a change the caller
may not see (the feed decides on the deal's states before and after the change).

The reads are shared (app/live/fanout.py): after a wake-up the organization's new changes
are read once per worker, judged once per visibility class and filter, and the events
resolve on one snapshot per class; a subscriber further behind than the worker keeps
(a replay from an old `after`) reads on its own with `changes_after` until it is within
them. Snapshots are let go (their connections back to the pool) before the subscriptions
wait: a thousand idle subscribers hold no connection. Every event's `opportunity` is the
deal as of a snapshot opened after the change committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from sqlalchemy import func, select

from app import models as m
from app.changes import changes_after, decode_cursor
from app.changes.feed import decide
from app.changes.types import OpportunityChange
from app.graphql.context import Info
from app.graphql.lists import filter_where
from app.graphql.loaders import Loaders
from app.graphql.opportunities import OpportunityFilter
from app.live.service import live_of
from app.outages import is_outage

# changes read (and sent) per page; a subscriber behind by more catches up page by page
PAGE = 100
# a subscriber reads the feed at least this often even without a wake-up: the bound on a
# notification lost in transit (the broker reconnecting is covered: it wakes everyone)
RECHECK_SECONDS = 30.0
RETRY_SECONDS = 1.0
log = logging.getLogger("opportunity_gateway")


async def follow(info: Info, flt: Any, after: str | None) -> AsyncGenerator[OpportunityChange, None]:
    """The deliveries for this subscriber, for as long as it stays subscribed."""
    ctx = info.context
    live = live_of(info)
    principal = ctx.principal
    position = decode_cursor(after) if after is not None else None  # BAD_USER_INPUT if not a cursor
    where = await filter_where(info, flt)
    # subscribers whose filters are equal (as given) share their verdicts (app/live/fanout.py)
    flt_key = repr(flt)
    await live.started()
    org = principal.organization_id
    with live.hub.listen(org) as wake, live.fanout.follow(org) as feed:
        if position is None:
            # from now on: the newest position of the organization (tenancy scopes it)
            position = int(await ctx.db.scalar(select(func.coalesce(func.max(m.OpportunityChange.seq), 0))))
        while True:
            wake.clear()
            more = False
            try:
                # at most half the pool reads for subscribers at once: a wake-up of a thousand
                # of them queues here, not in the pool, where HTTP requests would starve
                async with live.readers:
                    rows = await feed.after(position)
                    if rows is None:
                        # further behind than this worker keeps (a replay): read on our own
                        page = await changes_after(ctx.db, principal, position, PAGE, where)
                        for delivery in page.deliveries:
                            yield OpportunityChange.from_row(delivery.row, gone=delivery.gone)
                            position = delivery.seq
                        position, more = page.last_seq, page.more
                    elif rows:
                        verdicts = await feed.verdicts(principal, flt_key, where, rows)
                        deliveries = [d for r in rows if (d := decide(r, verdicts.get(r.id, {}))) is not None]
                        last = int(rows[-1].seq)
                        if deliveries:
                            # the events resolve on the class's shared snapshot and loaders
                            own = ctx.db, ctx.loaders
                            shared = feed.acquire(principal, last)
                            ctx.db, ctx.loaders = shared.db, shared.loaders
                            try:
                                for delivery in deliveries:
                                    yield OpportunityChange.from_row(delivery.row, gone=delivery.gone)
                                    position = delivery.seq
                            finally:
                                ctx.db, ctx.loaders = own
                                feed.release(principal, shared)
                        position, more = last, True  # ask again: costs nothing when nothing is new
            except Exception as error:
                if not is_outage(error):
                    raise
                # the database is away: the position stands, the log keeps what it missed
                log.warning(
                    "live: reading the change log failed (%s); retrying in %g s", error, RETRY_SECONDS
                )
                await _fresh_snapshot(info)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            # (not in a `finally`: a cancelled subscription's snapshot is closed, with a time
            # limit, by the operation that ran it: app/live/socket.py)
            await _fresh_snapshot(info)
            if not more:
                try:
                    await asyncio.wait_for(wake.wait(), RECHECK_SECONDS)
                except TimeoutError:
                    live.hub.wake(org)  # the recheck: the shared read reads again


async def _fresh_snapshot(info: Info) -> None:
    """Let the page's snapshot go; the next page reads (and resolves) on a new one."""
    ctx = info.context
    await ctx.db.end_snapshot()
    ctx.loaders = Loaders(
        ctx.db, default_page_size=ctx.settings.default_page_size, max_page_size=ctx.settings.max_page_size
    )


@strawberry.type(description="Live updates over graphql-transport-ws on /graphql (docs/live.md).")
class Subscription:
    @strawberry.subscription(
        description=(
            "Every committed change to a deal the caller may see, as it happens, in commit order. "
            "A change is delivered when the deal matches the filter before or after it; a deal "
            "that leaves the caller's sight is delivered once with `opportunity: null` and no "
            "changes. `after` (a cursor of opportunityChanges or of an earlier event) replays "
            "what came since, then goes on live. The API key goes in connection_init's payload: "
            '{"Authorization": "Bearer <key>"}.'
        )
    )
    async def opportunity_changed(
        self,
        info: Info,
        filter: Annotated[  # noqa: A002
            OpportunityFilter | None,
            strawberry.argument(description="Only changes of deals matching it before or after the change."),
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Resume after this cursor; omitted: from now on.")
        ] = None,
    ) -> AsyncGenerator[OpportunityChange, None]:
        async for change in follow(info, filter, after):
            yield change
