"""`OG_WS_MAX_SUBSCRIPTIONS_PER_KEY` across workers and machines: a PostgreSQL advisory lock per slot.

An API key has `limit` slots; a running subscription holds one: a session-level advisory
lock `pg_try_advisory_lock(BASE + key id × 65536 + slot)` taken on ONE dedicated connection
per worker (not a pooled one: pooled connections are reset and shared). One statement finds
and takes the first free slot (`generate_series` is read row by row under the LIMIT, so the
first lock that can be taken is the only one taken); the worker's own slots of that key are
left out, because PostgreSQL lets a session take a lock it holds again.

A slot is freed when its subscription ends (`give`), and by PostgreSQL when the session
ends: at once when a worker process dies (its socket closes), and for a machine that
vanished when the server's TCP keepalive gives up on the connection, which this
connection sets to KEEPALIVE_BOUND_SECONDS (idle 10 s, then 3 probes 5 s apart). When the
worker loses the connection, it opens a new one and takes its subscriptions' slots again
(a slot another worker took meanwhile is logged: the key is over its limit until one ends).

Takes and gives run in the order they were asked, by one task, so a slot given back by an
ending subscription is free for the next subscribe on this worker.

SQLite has no such locks: the limit holds per process there (app/live/socket.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("opportunity_gateway")

# the advisory locks' own range of bigint keys ('og' in the top bits); the change log's
# per-organization locks use the two-int form, which PostgreSQL keeps apart from bigint keys
BASE = 0x6F67_5300_0000_0000
SLOTS = 1 << 16
KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
KEEPALIVE_BOUND_SECONDS = 25
TAKE = """
SELECT slot FROM generate_series(0, $2::int - 1) AS slot
WHERE slot <> ALL($3::int[]) AND pg_try_advisory_lock($1::bigint + slot)
LIMIT 1
"""


@dataclass(eq=False)
class Lease:
    key_id: int
    slot: int | None


class Leases:
    """This worker's slots, on its dedicated PostgreSQL connection."""

    def __init__(self, database_url: str, limit: int) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.limit = min(limit, SLOTS)
        self.held: set[Lease] = set()
        self.conn: Any = None
        self.queue: asyncio.Queue[tuple[str, Any, asyncio.Future[Any] | None]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def take(self, key_id: int) -> Lease | None:
        """A slot of the key, or None when all `limit` are held (on any worker)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ask("take", key_id, future)
        result: Lease | None = await future
        return result

    def give(self, lease: Lease) -> None:
        """The subscription ended: its slot goes back (queued now, before any later take)."""
        if lease in self.held:
            self.held.discard(lease)
            self._ask("give", lease, None)

    def _ask(self, what: str, arg: Any, future: asyncio.Future[Any] | None) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait((what, arg, future))

    async def _run(self) -> None:
        while True:
            what, arg, future = await self.queue.get()
            try:
                if what == "take":
                    result = await self._take(arg)
                    if future is not None and not future.done():
                        future.set_result(result)
                    elif result is not None:  # the subscriber went away meanwhile
                        self.give(result)
                else:
                    await self._give(arg)
            except Exception as error:
                self._lost()
                if future is not None and not future.done():
                    future.set_exception(error)

    async def _connection(self) -> Any:
        if self.conn is not None and not self.conn.is_closed():
            return self.conn
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn, timeout=10, server_settings=KEEPALIVE)
        # a new session holds none of the old slots: take back those of running subscriptions
        for lease in self.held:
            lease.slot = None
        for lease in list(self.held):
            lease.slot = await self._free_slot(lease.key_id)
            if lease.slot is None:
                log.warning(
                    "live: a subscription of API key %s kept running over the key's limit: its slot was "
                    "taken while this worker's lease connection was lost",
                    lease.key_id,
                )
        return self.conn

    async def _free_slot(self, key_id: int) -> int | None:
        mine = [lease.slot for lease in self.held if lease.key_id == key_id and lease.slot is not None]
        slot = await self.conn.fetchval(TAKE, BASE + key_id * SLOTS, self.limit, mine)
        return None if slot is None else int(slot)

    async def _take(self, key_id: int) -> Lease | None:
        await self._connection()
        slot = await self._free_slot(key_id)
        if slot is None:
            return None
        lease = Lease(key_id, slot)
        self.held.add(lease)
        return lease

    async def _give(self, lease: Lease) -> None:
        if lease.slot is None or self.conn is None or self.conn.is_closed():
            return  # no lock to give back (lost with the connection)
        await self.conn.execute(
            "SELECT pg_advisory_unlock($1::bigint)", BASE + lease.key_id * SLOTS + lease.slot
        )

    def _lost(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.terminate()
        self.conn = None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.close(), 5)
            self.conn = None
