"""The async engine and its sessions; SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=pool_size)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if pool_size <= 0:
        return create_async_engine(url, poolclass=NullPool)
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_WRITE_LOCKS: WeakKeyDictionary[Any, asyncio.Lock] = WeakKeyDictionary()


@asynccontextmanager
async def serialised_writes(engine: AsyncEngine) -> AsyncIterator[None]:
    """On SQLite, one write transaction at a time per process, queued in the event loop.

    SQLite allows one writer anyway; without this queue, concurrent writers wait in
    SQLite's busy handler, which sleeps in growing steps and made p99 seconds long in
    bench/results-writes.md. Other processes (more workers) still queue on busy_timeout.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _WRITE_LOCKS.setdefault(engine.sync_engine, asyncio.Lock())
    async with lock:
        yield


async def begin_write(session: AsyncSession) -> None:
    """Start a write transaction that serialises with other writers.

    pysqlite opens its transaction lazily at the first INSERT/UPDATE, as a deferred
    one: two writers that both read first then deadlock on the upgrade ("database is
    locked") or act on stale reads. `BEGIN IMMEDIATE` takes the write lock up front,
    so concurrent mutations queue on `busy_timeout` and each sees the last one's
    commit. sqlite3 notices the explicit BEGIN and commits or rolls it back as usual.
    PostgreSQL needs nothing: row locks and compare-and-set updates do the work there.
    """
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        conn = await session.connection()
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
