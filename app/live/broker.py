"""Waking this worker's subscribers when a change commits: PostgreSQL LISTEN/NOTIFY, SQLite polling.

The change row is the truth; a notification only says "organization N has new changes".
A woken subscriber reads the change log after its own cursor (app/live/changed.py), so
a lost, late or duplicated wake-up costs a read, never an event: nothing is delivered
from a notification's payload, and nothing is missed because one did not come.

- PostgreSQL: the change log's insert trigger runs `pg_notify('og_changes', '<organization
  id>')` in the mutation's own transaction, so the notification leaves at COMMIT and never
  for a rolled-back change. Each worker holds ONE dedicated asyncpg connection that LISTENs
  (not a pooled one: a pooled connection is reset and shared). When it is lost, the worker
  reconnects with backoff and then wakes every subscriber, which catch up from their cursors.
- SQLite: no notifications; each worker reads the ids and organizations of the change rows
  after the last one it saw every `OG_LIVE_POLL_SECONDS`, one indexed statement per tick
  however many subscribers it has, which works across processes too. (SQLite writers are
  serialised, so ids are assigned in commit order and "after the last id" misses nothing.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.changes.record import C as CHANGES
from app.tenancy import SESSION_KEY, UNSCOPED

log = logging.getLogger("opportunity_gateway")

CHANNEL = "og_changes"
RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


class Hub:
    """The wake-up events of this worker's subscriptions, by organization."""

    def __init__(self) -> None:
        self._events: dict[int, set[asyncio.Event]] = defaultdict(set)
        # wake-ups so far, per organization and for all: the shared read (app/live/fanout.py)
        # reads again when the count moved since its last read
        self._woken: dict[int, int] = defaultdict(int)
        self._all = 0

    @contextlib.contextmanager
    def listen(self, organization_id: int) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._events[organization_id].add(event)
        try:
            yield event
        finally:
            events = self._events.get(organization_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._events[organization_id]

    def wake(self, organization_id: int) -> None:
        self._woken[organization_id] += 1
        for event in self._events.get(organization_id, ()):
            event.set()

    def wake_all(self) -> None:
        self._all += 1
        for events in self._events.values():
            for event in events:
                event.set()

    def generation(self, organization_id: int) -> int:
        """How many wake-ups the organization has had (any that may concern it)."""
        return self._all + self._woken.get(organization_id, 0)

    def organizations(self) -> list[int]:
        return list(self._events)


class PostgresBroker:
    """One LISTEN connection per worker, reconnected when lost; a notification wakes its organization."""

    def __init__(self, database_url: str, hub: Hub) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.hub = hub
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import asyncpg

        failures = 0
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.dsn, timeout=10)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("live: cannot LISTEN (%s); retrying in %g s", error, delay)
                await asyncio.sleep(delay)
                continue
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                failures = 0
                self.connected.set()
                # whatever committed while no one listened: every subscriber reads after its cursor
                self.hub.wake_all()
                await lost.wait()
                log.warning("live: the LISTEN connection was lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("live: the LISTEN connection failed (%s); reconnecting", error)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    conn.terminate()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            self.hub.wake(int(payload))
        else:
            self.hub.wake_all()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class SQLitePoller:
    """Every `interval` seconds, the organizations of the change rows after the last id seen."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub, interval: float) -> None:
        self.sessions = sessions
        self.hub = hub
        self.interval = interval
        self.task: asyncio.Task[None] | None = None
        self.last: int | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        table = CHANGES
        while True:
            try:
                async with self.sessions() as session:
                    session.info[SESSION_KEY] = UNSCOPED  # ids and organizations only, for waking
                    if self.last is None:
                        self.last = (await session.execute(select(func.max(table.c.id)))).scalar() or 0
                        self.connected.set()
                    rows = (
                        await session.execute(
                            select(table.c.id, table.c.organization_id)
                            .where(table.c.id > self.last)
                            .order_by(table.c.id)
                        )
                    ).all()
                if rows:
                    self.last = rows[-1].id
                    for organization_id in {row.organization_id for row in rows}:
                        self.hub.wake(organization_id)
            except Exception as error:
                log.warning("live: polling the change log failed (%s); retrying", error)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
