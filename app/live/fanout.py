"""One read of an organization's new changes per wake-up, shared by all of this worker's subscribers.

Without it every subscriber read the change log itself on every wake-up (its own snapshot,
the page, the verdicts, its events' deals): the cost of one change grew with the number of
subscribers. Here, per organization per worker (`OrgFeed`):

- the new change rows are read ONCE after a wake-up (`after`): the first subscriber to
  ask reads them under a lock, the others find them in memory. The rows are the whole
  organization's; nothing of them leaves this module unjudged;
- visibility (tenancy, privacy, the trash) and the filter (before or after the change) are
  judged ONCE per visibility class and filter (`verdicts`): one `feed.judge` statement
  over the rows not judged yet for that class, the same statement the feed query uses, so
  feed and subscription cannot disagree. A visibility class is what reads depend on: the
  organization, the user (owner, access list) and the roles (admin sees every private
  deal, `canEdit`); two keys of one user with the same roles are one class;
- the events' own fields (`opportunity`, `by`, …) resolve through ONE read snapshot and one
  set of loaders per visibility class (`shared`), opened after the rows were read, so the
  deal is as of a moment after the change, as before; it is closed when its last user is
  done and a newer one replaces it, or GRACE seconds after its last user.

So a wake-up costs one read, one statement per distinct (class, filter), and the events'
loader batches once per class, however many subscribers there are. A subscriber further
behind than the rows kept in memory (KEEP, e.g. replaying from an old `after`) reads on its
own (`changes_after`) until it is within them.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.changes.feed import judge
from app.changes.record import C as CHANGES
from app.db import Database
from app.graphql.loaders import Loaders
from app.live.broker import Hub
from app.settings import Settings
from app.tenancy import SESSION_KEY, UNSCOPED, Principal

# rows read per statement; more waiting: the next `after` reads again
READ = 500
# rows kept in memory per organization: a subscriber behind them reads on its own
KEEP = 2000
# how long an idle shared snapshot stays open for the stragglers of one wake-up
GRACE = 1.0

Verdict = dict[str, tuple[bool, bool]]


def class_of(principal: Principal) -> Hashable:
    """What the reads of a principal depend on (its API key does not change them)."""
    return (principal.organization_id, principal.user_id, principal.roles)


@dataclass
class Shared:
    """A read snapshot and its loaders for one visibility class, for the events of one wake-up."""

    db: Database
    loaders: Loaders
    head: int  # every change up to here had committed before this snapshot could open
    users: int = 0
    closer: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class OrgFeed:
    """This worker's shared read of one organization's change log (see the module's docstring)."""

    def __init__(self, live: Fanout, organization_id: int) -> None:
        self.live = live
        self.org = organization_id
        self.rows: list[Any] = []  # in seq order: every change after `start`, up to `head`
        self.seqs: list[int] = []
        self.start: int | None = None
        self.head: int | None = None
        self.read_generation = -1
        self.lock = asyncio.Lock()
        self.judged: dict[Hashable, dict[int, Verdict]] = {}
        self.judging: dict[Hashable, asyncio.Lock] = {}
        self.shared: dict[Hashable, Shared] = {}
        self.followers = 0

    async def after(self, position: int) -> list[Any] | None:
        """The organization's changes after `position`, oldest first (at most READ), read once
        per wake-up for every subscriber; None when `position` is older than the rows kept."""
        if self.live.hub.generation(self.org) != self.read_generation:
            async with self.lock:
                generation = self.live.hub.generation(self.org)
                if generation != self.read_generation:
                    await self._read(generation)
        if self.start is None or position < self.start:
            return None
        i = bisect.bisect_right(self.seqs, position)
        return self.rows[i : i + READ]

    async def _read(self, generation: int) -> None:
        table = CHANGES
        async with self.live.sessions() as session:
            session.info[SESSION_KEY] = UNSCOPED  # one organization's rows, judged per class below
            if self.head is None:
                newest = select(func.coalesce(func.max(table.c.seq), 0)).where(
                    table.c.organization_id == self.org
                )
                self.head = self.start = int((await session.execute(newest)).scalar_one())
                self.read_generation = generation
                return
            stmt = (
                select(*table.c)
                .where(table.c.organization_id == self.org, table.c.seq > self.head)
                .order_by(table.c.seq)
                .limit(READ + 1)
            )
            rows = list((await session.execute(stmt)).all())
        more = len(rows) > READ
        rows = rows[:READ]
        if rows:
            self.rows.extend(rows)
            self.seqs.extend(int(r.seq) for r in rows)
            self.head = self.seqs[-1]
            self._trim()
        if not more:  # else stay stale: the next `after` reads the rest
            self.read_generation = generation

    def _trim(self) -> None:
        extra = len(self.rows) - KEEP
        if extra <= 0:
            return
        dropped = self.rows[:extra]
        del self.rows[:extra], self.seqs[:extra]
        self.start = int(dropped[-1].seq)
        gone = {r.id for r in dropped}
        for verdicts in self.judged.values():
            for pk in gone:
                verdicts.pop(pk, None)

    async def verdicts(
        self, principal: Principal, flt: Hashable, where: Any, rows: Sequence[Any]
    ) -> dict[int, Verdict]:
        """(visible, matches) of each state of each change, judged once per (class, filter)."""
        key = (class_of(principal), flt)
        judged = self.judged.setdefault(key, {})
        if any(r.id not in judged for r in rows):
            async with self.judging.setdefault(key, asyncio.Lock()):
                missing = [r for r in rows if r.id not in judged]
                if missing:
                    db = Database(self.live.sessions, principal)
                    try:
                        found = await judge(db, principal, missing, where)
                    finally:
                        await db.close()
                    for r in missing:
                        judged[r.id] = found.get(r.id, {})
        return {r.id: judged[r.id] for r in rows}

    def acquire(self, principal: Principal, upto: int) -> Shared:
        """The class's shared snapshot for events up to `upto` (a new one if it might predate them)."""
        key = class_of(principal)
        shared = self.shared.get(key)
        if shared is None or shared.head < upto:
            if shared is not None and shared.users == 0:
                self._close(shared)
            settings = self.live.settings
            db = Database(self.live.sessions, principal)
            loaders = Loaders(
                db, default_page_size=settings.default_page_size, max_page_size=settings.max_page_size
            )
            shared = self.shared[key] = Shared(db, loaders, max(upto, self.head or 0))
            self.live.open[id(shared)] = shared
        if shared.closer is not None:
            shared.closer.cancel()
            shared.closer = None
        shared.users += 1
        return shared

    def release(self, principal: Principal, shared: Shared) -> None:
        shared.users -= 1
        if shared.users > 0:
            return
        key = class_of(principal)
        if self.shared.get(key) is not shared:
            self._close(shared)  # a newer snapshot replaced it
            return

        def idle() -> None:
            if shared.users == 0 and self.shared.get(key) is shared:
                del self.shared[key]
                self._close(shared)

        shared.closer = asyncio.get_running_loop().call_later(GRACE, idle)

    def _close(self, shared: Shared) -> None:
        if shared.closer is not None:
            shared.closer.cancel()
        self.live.open.pop(id(shared), None)
        task = asyncio.get_running_loop().create_task(shared.db.close())
        self.live.closing.add(task)
        task.add_done_callback(self.live.closing.discard)


class Fanout:
    """The worker's `OrgFeed`s, one per organization that has subscribers here."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub) -> None:
        self.settings = settings
        self.sessions = sessions
        self.hub = hub
        self.feeds: dict[int, OrgFeed] = {}
        self.closing: set[asyncio.Task[None]] = set()
        # every shared snapshot not closed yet, whichever feed made it (a feed is dropped with
        # its last follower while an event may still hold its snapshot)
        self.open: dict[int, Shared] = {}

    async def close(self) -> None:
        """Shutting down: every shared snapshot still open is closed now, in use or not (a GRACE
        timer would not run once the loop stops, and its connection would never go back)."""
        for shared in list(self.open.values()):
            if shared.closer is not None:
                shared.closer.cancel()
                shared.closer = None
            with contextlib.suppress(Exception):
                await shared.db.close()
        self.open.clear()
        for feed in self.feeds.values():
            feed.shared.clear()
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)

    @contextlib.contextmanager
    def follow(self, organization_id: int) -> Any:
        """The organization's feed while a subscriber follows it; dropped with its last follower."""
        feed = self.feeds.get(organization_id)
        if feed is None:
            feed = self.feeds[organization_id] = OrgFeed(self, organization_id)
        feed.followers += 1
        try:
            yield feed
        finally:
            feed.followers -= 1
            if feed.followers == 0 and self.feeds.get(organization_id) is feed:
                del self.feeds[organization_id]
                for shared in list(feed.shared.values()):
                    if shared.users == 0:
                        feed._close(shared)
