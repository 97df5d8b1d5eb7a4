"""The async engine and its sessions; SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from typing import Any

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
