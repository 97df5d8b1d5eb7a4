"""The async engine, its sessions, and the per-request `Database`; SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app import prepared
from app.prepared import is_prepared
from app.settings import Settings
from app.tenancy import SESSION_KEY, Principal

log = logging.getLogger("opportunity_gateway")
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@dataclass(frozen=True)
class Limits:
    """How long the database and the pool may make a request wait, in seconds (None: no limit).

    All three sit below the request timeout, so the database gives up first: the blocked
    statement fails, its transaction rolls back cleanly and the caller gets an answer,
    instead of the request deadline cancelling a coroutine in the middle of a statement.
    """

    statement: float | None = None
    lock: float | None = None
    pool: float | None = None

    @classmethod
    def below(cls, request_timeout: float) -> Limits:
        """The defaults for a request timeout: statements 2/3 of it, locks and the pool 1/3."""
        return cls(statement=request_timeout * 2 / 3, lock=request_timeout / 3, pool=request_timeout / 3)


def limits_for(settings: Settings) -> Limits:
    """The settings' database limits, each checked to sit below the request timeout."""
    derived = Limits.below(settings.request_timeout_seconds)
    chosen = Limits(
        statement=_first(settings.db_statement_timeout_seconds, derived.statement),
        lock=_first(settings.db_lock_timeout_seconds, derived.lock),
        pool=_first(settings.db_pool_timeout_seconds, derived.pool),
    )
    for name, seconds in (("statement", chosen.statement), ("lock", chosen.lock), ("pool", chosen.pool)):
        if seconds is not None and not 0 < seconds < settings.request_timeout_seconds:
            raise ValueError(
                f"OG_DB_{name.upper()}_TIMEOUT must be above 0 and below OG_REQUEST_TIMEOUT "
                f"({settings.request_timeout_seconds:g} s), so the database gives up first; got {seconds:g}"
            )
    return chosen


def _first(value: float | None, default: float | None) -> float | None:
    return default if value is None else value


def make_engine(url: str, *, pool_size: int = 10, limits: Limits | None = None) -> AsyncEngine:
    """An engine; `pool_size` connections are kept, and a quarter more may open under bursts.

    `limits` become per-connection settings (PostgreSQL `statement_timeout` and
    `lock_timeout` in the startup packet, SQLite's busy timeout): they cost no round
    trip per request, unlike a `SET LOCAL` in every transaction.
    """
    limits = limits or Limits()
    pool: dict[str, Any] = {"pool_timeout": limits.pool} if limits.pool is not None else {}
    if is_sqlite(url):
        busy = limits.lock if limits.lock is not None else 30.0
        engine = create_async_engine(url, connect_args={"timeout": busy}, pool_size=pool_size, **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy))
        return engine
    if pool_size <= 0:
        return create_async_engine(url, poolclass=NullPool)
    server = {
        name: str(round(seconds * 1000))
        for name, seconds in (("statement_timeout", limits.statement), ("lock_timeout", limits.lock))
        if seconds is not None
    }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max(1, pool_size // 4),
        pool_pre_ping=False,
        connect_args={"server_settings": server} if server else {},
        **pool,
    )


def _sqlite_pragmas(busy_seconds: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_seconds * 1000)}")
        cursor.close()

    return on_connect


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


def lost_connection(exc: BaseException) -> bool:
    """Did this error come from a connection that died (so nothing ran on it), not from the statement?"""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def read_retrying(read: Callable[[], Awaitable[T]]) -> T:
    """Run a read; if its connection turns out dead before any result, once more on a fresh one.

    A pooled connection can die while idle (a restarted or failed-over server, a
    terminated backend); the first statement on it finds out. Nothing was read, so
    reading again is safe. Writes never come here: a write that lost its connection
    may have committed, and only the caller can decide what to do.
    """
    try:
        return await read()
    except DBAPIError as exc:
        if not lost_connection(exc):
            raise
        log.warning("a pooled database connection was lost; reading again on a fresh one")
        return await read()


# connections given back after their request ended (see Database.close); held so they finish
_CLOSING: set[asyncio.Task[None]] = set()
# PostgreSQL: one snapshot for the whole request, and the server knows nothing will be written.
_SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


class _Rows:
    """Prepared rows, read like a result (`all`, `scalar`)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class Reads(Protocol):
    """What loaders read through: the request's `Database`, or a mutation's own transaction
    (app/graphql/mutations/mutate.py), or the trash's view of either (app/graphql/loaders.py)."""

    @property
    def dialect(self) -> str: ...

    async def rows(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]: ...

    async def scalar(self, stmt: Any) -> Any: ...


class Database:
    """Every statement of a request goes through here, scoped to the request's principal.

    Reads use ONE session, so one pooled connection and one transaction, per request:
    taken at the first read, given back by `close()` when the request ends. The
    transaction is a read-only snapshot (REPEATABLE READ on PostgreSQL, a deferred
    BEGIN in WAL mode on SQLite), so every loader batch of a request sees the same
    committed state: a page, its counts and its relations agree. It costs one BEGIN
    and one ROLLBACK per request, not one per batch; `snapshot=False`
    (OG_READ_SNAPSHOT=statement) reads in autocommit instead, without both.

    Loader batches dispatch concurrently, and one asyncpg connection runs one statement
    at a time ("another operation is in progress", docs/database.md), so statements queue on
    an `asyncio.Lock`; nothing would run in parallel on one connection anyway.

    A mutation takes its own session and one transaction for all it does. The read
    snapshot is given back first, so reads after the mutation see what it wrote and
    a request never holds two connections.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        prepared_reads: bool = True,
        snapshot: bool = True,
    ) -> None:
        self._sessions = sessions
        self.principal = principal
        self._engine: AsyncEngine = sessions.kw["bind"]
        self.dialect: str = self._engine.dialect.name
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None
        self._answered = False  # has the current snapshot returned a result yet?
        self._at_close: list[Callable[[], object]] = []
        self._closed = False  # `close()` ran: a late loader batch must not open a session nobody closes
        # the loaders' STABLE statements skip the ORM session on asyncpg (app/prepared.py)
        self._prepared_reads = prepared_reads and self._engine.dialect.driver == "asyncpg"
        self._snapshot_reads = snapshot  # False: autocommit reads (OG_READ_SNAPSHOT=statement)

    @classmethod
    @asynccontextmanager
    async def for_request(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        prepared_reads: bool = True,
        snapshot: bool = True,
    ) -> AsyncIterator[Database]:
        """The request's database, closed (its connection back in the pool) when the request ends."""
        db = cls(sessions, principal, prepared_reads=prepared_reads, snapshot=snapshot)
        try:
            yield db
        finally:
            await db.close()

    async def rows(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        """The rows of a SELECT; `params` are its bound parameters left to the execution."""
        async with self._lock:
            return (await self._read(stmt, params)).all()

    async def scalar(self, stmt: Any) -> Any:
        async with self._lock:
            return (await self._read(stmt)).scalar()

    async def _read(self, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        try:
            result = await self._execute(stmt, params)
        except DBAPIError as exc:
            # Retry only before the snapshot answered anything: a fresh connection is a
            # fresh snapshot, and mixing two in one response is what the snapshot prevents.
            if not lost_connection(exc) or self._answered:
                raise
            log.warning("a pooled database connection was lost; reading again on a fresh one")
            await self._release()
            result = await self._execute(stmt, params)
        self._answered = True
        return result

    async def _execute(self, stmt: Any, params: dict[str, Any] | None) -> Any:
        session = await self._snapshot()
        if self._prepared_reads and is_prepared(stmt):
            compiled = prepared.prepare(self.principal, stmt, self._engine.dialect)
            if compiled.runnable:
                return _Rows(await prepared.read(await session.connection(), compiled, params))
        return await session.execute(stmt, params)

    async def _snapshot(self) -> AsyncSession:
        if self._closed:
            # a batch dispatched before the end and run after it (its caller gone): reading now
            # would take a connection that no one gives back
            raise RuntimeError("a read after its request ended")
        if self._session is None:
            session = self._sessions()
            session.info[SESSION_KEY] = self.principal
            self._session = session
            if not self._snapshot_reads:
                # autocommit: no BEGIN and no ROLLBACK; each statement sees what is committed
                await session.connection(execution_options=_AUTOCOMMIT)
            elif self.dialect == "postgresql":
                await session.connection(execution_options=_SNAPSHOT)
            elif self.dialect == "sqlite":
                # pysqlite runs SELECTs outside any transaction; an explicit (deferred) BEGIN
                # pins one WAL snapshot from the first read on. rollback() ends it as usual.
                await (await session.connection()).exec_driver_sql("BEGIN")
        return self._session

    async def _release(self) -> None:
        session, self._session = self._session, None
        self._answered = False
        if session is not None:
            # ends the read-only transaction (ROLLBACK) and gives the connection back; a
            # connection that fails to reset is invalidated by the pool, not reused
            await session.close()

    async def end_snapshot(self) -> None:
        """Let the current snapshot go (its connection back to the pool); the next read takes a
        new one. A long-lived reader (a subscription between its pages) calls this, not `close`."""
        await self._end_snapshot()

    async def _end_snapshot(self) -> None:
        async with self._lock:
            await self._release()

    def at_close(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the request ends (after its connection went back to the pool)."""
        self._at_close.append(callback)

    async def close(self) -> None:
        """The request is over: its connection goes back to the pool, its `at_close` callbacks run."""
        self._closed = True
        try:
            if self._lock.locked():
                # A loader batch outlived the request (its deadline passed: batches run in their
                # own tasks, which the deadline does not cancel). Its statement ends within
                # statement_timeout; release the connection then, without holding up the answer.
                task = asyncio.get_running_loop().create_task(self._end_snapshot())
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)
            else:
                await self._end_snapshot()
        finally:
            callbacks, self._at_close = self._at_close, []
            for callback in callbacks:
                callback()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises. Never retried here."""
        await self._end_snapshot()
        async with serialised_writes(self._engine), self._sessions() as session, session.begin():
            session.info[SESSION_KEY] = self.principal
            await begin_write(session)
            yield session
