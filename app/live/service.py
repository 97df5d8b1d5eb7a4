"""The live side of one worker: its sockets by API key, its hub of wake-ups, its broker.

Built once per app (app/main.py) and handed to the view; the broker starts with the first
subscription (a worker nobody subscribes to holds no LISTEN connection and polls nothing)
and stops with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Keys
from app.db import Database, is_sqlite
from app.graphql.context import Info
from app.live.broker import Hub, PostgresBroker, SQLitePoller
from app.live.fanout import Fanout
from app.live.leases import Leases
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.tenancy import Principal

if TYPE_CHECKING:
    from app.live.socket import LiveSocket


class Live:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        keys: Keys,
        failures: RateLimiter,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.keys = keys
        self.failures = failures
        self.hub = Hub()
        self.broker: PostgresBroker | SQLitePoller = (
            SQLitePoller(sessions, self.hub, settings.live_poll_seconds)
            if is_sqlite(settings.database_url)
            else PostgresBroker(settings.database_url, self.hub)
        )
        self.fanout = Fanout(settings, sessions, self.hub)
        # the per-key limit across workers (PostgreSQL); SQLite: per process (app/live/socket.py)
        self.leases = (
            None
            if is_sqlite(settings.database_url)
            else Leases(settings.database_url, settings.ws_max_subscriptions_per_key)
        )
        self._sockets: dict[int, set[LiveSocket]] = defaultdict(set)
        # the databases of running subscriptions: an operation still running at shutdown (its
        # task never resumed once the loop stops) must not keep its connection out of the pool
        self.databases: set[Database] = set()
        # subscriptions reading the change log at once (each holds a pooled connection meanwhile)
        self.readers = asyncio.Semaphore(max(1, settings.db_pool_size // 2))
        self.slow_consumers = 0  # sockets closed because their send queue overflowed

    # ------------------------------------------------------------ keys and sockets

    async def principal(self, key: str) -> Principal | None:
        """The same cached lookup as HTTP's, under the same time limit."""
        async with asyncio.timeout(max(1.0, self.settings.request_timeout_seconds)):
            return await self.keys.principal(key)

    @staticmethod
    def address_of(websocket: Any) -> str:
        client = websocket.ws.scope.get("client") or ("-", 0)
        return str(client[0])

    def refused_address(self, address: str) -> object | None:
        return self.failures.refusal(address)

    def failed_attempt(self, address: str) -> None:
        self.failures.hit(address)

    def register(self, socket: LiveSocket) -> None:
        assert socket.principal is not None and socket.principal.api_key_id is not None
        self._sockets[socket.principal.api_key_id].add(socket)

    def forget(self, socket: LiveSocket) -> None:
        if socket.principal is None or socket.principal.api_key_id is None:
            return
        sockets = self._sockets.get(socket.principal.api_key_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[socket.principal.api_key_id]

    def subscriptions_of(self, principal: Principal) -> int:
        """Operations running for this API key in this worker, over all its sockets."""
        return sum(s.subscriptions() for s in self._sockets.get(principal.api_key_id or 0, ()))

    # ------------------------------------------------------------ the broker

    async def started(self) -> None:
        """The broker running (started by the first subscription), and its first listen in place."""
        self.broker.start()
        await self.broker.connected.wait()

    async def close(self) -> None:
        for db in list(self.databases):
            with contextlib.suppress(Exception):
                await db.close()
        self.databases.clear()
        await self.fanout.close()
        await self.broker.close()
        if self.leases is not None:
            await self.leases.close()


def live_of(info: Info) -> Live:
    live = info.context.extras.get("live")
    if not isinstance(live, Live):
        raise RuntimeError("a subscription ran outside a websocket connection")
    return live
