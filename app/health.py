"""`/healthz`: is the database answering, decided within a second whatever the request pool does.

A liveness probe that waits behind a pool exhausted by a locked table (14.5 s, measured)
restarts healthy pods. So the check has its own connection budget: a fresh connection of
its own each time (no pool to wait in), a connect timeout, and one deadline for all of it
(`OG_HEALTH_TIMEOUT`, 0.8 s). 200 `{"status": "ok"}` when `SELECT 1` answers in time, else
503 `{"status": "unavailable"}` with `Retry-After`.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.db import is_sqlite
from app.outages import Outages


class HealthCheck:
    def __init__(self, database_url: str, timeout: float, outages: Outages) -> None:
        self.timeout = timeout
        self.outages = outages
        # asyncpg's own connect timeout, a little inside the deadline, so a stalled server
        # fails the connect cleanly rather than by cancellation
        connect_args = {} if is_sqlite(database_url) else {"timeout": timeout * 0.9}
        self.engine: AsyncEngine = create_async_engine(
            database_url, poolclass=NullPool, connect_args=connect_args
        )

    async def answer(self, _: Request) -> Response:
        try:
            async with asyncio.timeout(self.timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as error:  # any failure to reach the database in time means "not healthy"
            self.outages.record(error, "the health check")
            return JSONResponse(
                {"status": "unavailable"},
                status_code=503,
                headers={"retry-after": str(self.outages.retry_after)},
            )
        self.outages.recovered()
        return JSONResponse({"status": "ok"})

    async def close(self) -> None:
        await self.engine.dispose()
