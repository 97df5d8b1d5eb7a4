"""A request reads through one pooled connection and one read-only transaction; the database gives up first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import app.db
from app import models as m
from app.db import Database, Limits, limits_for, make_sessionmaker
from app.enums import Role
from app.settings import Settings
from app.sqltypes import utcnow
from app.tenancy import Principal
from tests.support import Api, Tenant, gid, insert, make_tenant, opportunity, running_app
from tests.test_statement_counts import EVERYTHING, _fill

UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { opportunity { title version } errors { field code } }
}
"""


@dataclass
class PoolLog:
    checkouts: int = 0
    held: int = 0
    most_held: int = 0
    invalidated: int = 0
    transactions: list[str] = field(default_factory=list)  # begin / commit / rollback, in order


@contextmanager
def watch_pool(engine: AsyncEngine) -> Iterator[PoolLog]:
    """Counts checkouts from the pool, connections held at once, and transactions begun and ended."""
    log = PoolLog()
    sync = engine.sync_engine

    def checkout(*_: Any) -> None:
        log.checkouts += 1
        log.held += 1
        log.most_held = max(log.most_held, log.held)

    def checkin(*_: Any) -> None:
        log.held -= 1

    def invalidate(*_: Any) -> None:
        log.invalidated += 1

    listeners = [
        (sync, "checkout", checkout),
        (sync, "checkin", checkin),
        (sync, "invalidate", invalidate),
        (sync, "begin", lambda *_: log.transactions.append("begin")),
        (sync, "commit", lambda *_: log.transactions.append("commit")),
        (sync, "rollback", lambda *_: log.transactions.append("rollback")),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield log
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def _postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")


async def test_a_query_with_many_loaders_reads_through_one_connection(
    api: Api, tenant: Tenant, engine: AsyncEngine
) -> None:
    await _fill(engine, tenant, 20)
    await api("{ viewer { id } }")  # the key's lookup is cached from here on
    with watch_pool(engine) as pool:
        data = await api(EVERYTHING, {"first": 20})
    assert len(data["opportunities"]["nodes"]) == 20
    # 20 statements from ~18 loaders, all on one connection in one read-only transaction
    assert (pool.checkouts, pool.most_held) == (1, 1)
    assert pool.transactions == ["begin", "rollback"]


async def test_a_request_that_reads_nothing_takes_no_connection(api: Api, engine: AsyncEngine) -> None:
    await api("{ viewer { id } }")
    with watch_pool(engine) as pool:
        assert (await api("{ __typename }")) == {"__typename": "Query"}
    assert pool.checkouts == 0


async def test_a_mutation_holds_one_connection_at_a_time_and_reads_what_it_wrote(
    api: Api, tenant: Tenant, engine: AsyncEngine
) -> None:
    [deal] = await insert(engine, opportunity(tenant.organization_id, title="Before"))
    await api("{ viewer { id } }")
    document = """
    mutation ($id: ID!) {
      a: updateOpportunity(id: $id, input: {title: "One"}) { opportunity { title version } }
      b: updateOpportunity(id: $id, input: {title: "Two"}) { opportunity { title version } }
    }"""
    with watch_pool(engine) as pool:
        data = await api(document, {"id": gid("Opportunity", deal)})
    # each payload is read inside its own mutation's transaction, before COMMIT: no snapshot after
    assert data["a"]["opportunity"] == {"title": "One", "version": 2}
    assert data["b"]["opportunity"] == {"title": "Two", "version": 3}
    assert pool.most_held == 1
    assert pool.transactions == ["begin", "commit", "begin", "commit"]


async def test_32_concurrent_requests_open_no_overflow_connection(
    api: Api, tenant: Tenant, engine: AsyncEngine, app_client
) -> None:
    await _fill(engine, tenant, 3)
    keys = app_client[0].state.keys
    await api("{ viewer { id } }")
    with watch_pool(engine) as pool:
        keys.stamps.note(tenant.user_id, utcnow())  # the stamp writer may take one beside them
        results = await asyncio.gather(
            keys.stamps.flush(), *(api(EVERYTHING, {"first": 3}) for _ in range(32))
        )
    assert all(len(r["opportunities"]["nodes"]) == 3 for r in results[1:])
    assert Settings().db_pool_size == 34 and engine.pool.size() == 34
    assert pool.checkouts == 33 and pool.most_held <= 33
    assert engine.pool.overflow() <= 0


async def test_concurrent_loader_batches_share_the_connection_in_turn(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    """On PostgreSQL one connection runs one statement at a time; the request's lock queues them."""
    _postgres_only(engine)
    await insert(engine, *(opportunity(tenant.organization_id, title=f"d{i}") for i in range(5)))
    principal = Principal(tenant.organization_id, tenant.user_id, frozenset({Role.ADMIN}))
    sessions = make_sessionmaker(engine)
    stmt = select(m.Opportunity.title).where(m.Opportunity.title.like("d%")).order_by(m.Opportunity.title)
    with watch_pool(engine) as pool:
        async with Database.for_request(sessions, principal) as db:
            results = await asyncio.gather(*(db.rows(stmt) for _ in range(50)))
    assert all([r.title for r in rows] == [f"d{i}" for i in range(5)] for rows in results)
    assert pool.checkouts == 1

    # the control: the same 50 statements at once on the bare asyncpg connection are refused
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        with pytest.raises(Exception, match="another operation is in progress"):
            await asyncio.gather(*(raw.fetch("SELECT pg_sleep(0.01)") for _ in range(50)))
        await conn.invalidate()


async def test_timeouts_are_per_connection_settings_below_the_request_timeout(database_url: str) -> None:
    assert limits_for(Settings(request_timeout_seconds=15)) == Limits(statement=10, lock=5, pool=5)
    async with running_app(database_url, request_timeout_seconds=15) as (app, _):
        engine: AsyncEngine = app.state.engine
        _postgres_only(engine)
        async with engine.connect() as conn:
            settings = text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
            row = (await conn.execute(settings)).one()
        assert tuple(row) == ("10s", "5s")
        assert engine.pool.timeout() == 5


def test_a_database_limit_at_or_over_the_request_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="OG_DB_LOCK_TIMEOUT must be above 0 and below OG_REQUEST_TIMEOUT"):
        limits_for(Settings(request_timeout_seconds=2, db_lock_timeout_seconds=2))
    assert limits_for(Settings(request_timeout_seconds=3, db_statement_timeout_seconds=1)).statement == 1


async def test_the_lock_timeout_rolls_a_blocked_write_back(database_url: str) -> None:
    async with running_app(database_url, db_lock_timeout_seconds=0.2) as (app, client):
        engine: AsyncEngine = app.state.engine
        _postgres_only(engine)
        tenant = await make_tenant(engine, "Acme", Role.ADMIN)
        [deal] = await insert(engine, opportunity(tenant.organization_id, title="Before"))
        api = Api(client, tenant.key)
        variables = {"id": gid("Opportunity", deal), "input": {"title": "After"}}
        async with engine.connect() as holder:  # a second connection holds the row's lock
            await holder.execute(text("SELECT id FROM opportunity WHERE id = :id FOR UPDATE"), {"id": deal})
            response = await api.raw(UPDATE, variables)
            await holder.rollback()
        body = response.json()
        # the database gave up first: the request's time limit (TIMEOUT, 504), not a bug
        assert response.status_code == 504 and body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "TIMEOUT", "limit": "lock_timeout"}
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT title, version FROM opportunity WHERE id = :id"), {"id": deal}
                )
            ).one()
        assert tuple(row) == ("Before", 1)  # rolled back, nothing half-written
        # the connection that timed out went back to the pool clean: the same write now succeeds
        data = await api(UPDATE, variables)
        assert data["updateOpportunity"]["opportunity"] == {"title": "After", "version": 2}


async def _terminate_other_backends(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        killed = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
        await conn.rollback()
    return int(killed)


async def test_a_read_that_lost_its_connection_is_retried_once_on_a_fresh_one(
    api: Api, tenant: Tenant, engine: AsyncEngine
) -> None:
    _postgres_only(engine)
    await insert(engine, opportunity(tenant.organization_id, title="Kept"))
    query = "{ opportunities { nodes { title } } }"
    await asyncio.gather(api(query), api(query))  # two idle pooled connections
    assert await _terminate_other_backends(engine) >= 1
    with watch_pool(engine) as pool:
        data = await api(query)
    assert data == {"opportunities": {"nodes": [{"title": "Kept"}]}}
    assert pool.invalidated == 1 and pool.checkouts == 2


async def test_a_write_that_lost_its_connection_is_not_retried(
    api: Api, tenant: Tenant, engine: AsyncEngine
) -> None:
    _postgres_only(engine)
    [deal] = await insert(engine, opportunity(tenant.organization_id, title="Before"))
    await asyncio.gather(api("{ viewer { id } }"), api("{ viewer { id } }"))  # two idle pooled connections
    assert await _terminate_other_backends(engine) >= 1
    variables = {"id": gid("Opportunity", deal), "input": {"title": "After"}}
    with watch_pool(engine) as pool:
        response = await api.raw(UPDATE, variables)
    assert response.json()["data"] is None
    assert pool.invalidated == 1 and pool.checkouts == 1  # no second attempt
    assert (await api("{ opportunities { nodes { title } } }"))["opportunities"]["nodes"] == [
        {"title": "Before"}
    ]


async def test_a_request_gives_its_connection_back_when_it_ends(api: Api, engine: AsyncEngine) -> None:
    await api("{ viewer { id } }")
    with watch_pool(engine) as pool:
        await api("{ viewer { email } }")
        assert pool.held == 0
    assert pool.checkouts == 1


async def test_a_batch_that_outlives_its_request_gives_the_connection_back_when_it_ends(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    """Loader batches run in their own tasks, which a request's deadline does not cancel."""
    await insert(engine, opportunity(tenant.organization_id, title="Late"))
    principal = Principal(tenant.organization_id, tenant.user_id, frozenset({Role.ADMIN}))
    db = Database(make_sessionmaker(engine), principal)
    with watch_pool(engine) as pool:
        batch = asyncio.create_task(db.rows(select(m.Opportunity.title)))
        await asyncio.sleep(0)  # the batch holds the lock, its statement under way
        await db.close()  # the request's answer does not wait for it ...
        assert not batch.done() and pool.held == 1
        assert [r.title for r in await batch] == ["Late"]
        await asyncio.gather(*app.db._CLOSING)  # ... and the connection goes back once it ends
        assert pool.held == 0 and pool.checkouts == 1


@contextmanager
def count_begins(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every transaction the database itself is asked to begin (asyncpg's, or SQLite's BEGIN)."""
    begun: list[str] = []
    if engine.dialect.name == "postgresql":
        import asyncpg.transaction

        start = asyncpg.transaction.Transaction.start

        async def counted(self: Any) -> None:
            begun.append("BEGIN")
            await start(self)

        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
        yield begun
        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", start)
        return

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.strip().upper().startswith("BEGIN"):
            begun.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield begun
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def test_statement_reads_take_no_transaction_and_answer_the_same(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {}
    for mode in ("request", "statement"):
        async with running_app(database_url, read_snapshot=mode) as (app_, client):
            engine = app_.state.engine
            if mode == "request":
                tenant = await make_tenant(engine, "Acme", Role.ADMIN)
                await _fill(engine, tenant, 3)
            api = Api(client, tenant.key)
            await api("{ viewer { id } }")  # the key lookup is its own read, before counting
            with count_begins(engine, monkeypatch) as begun:
                answers[mode] = await api(EVERYTHING, {"first": 3})
            # one snapshot for the whole request, or none at all
            assert len(begun) == (1 if mode == "request" else 0), begun
    assert answers["request"] == answers["statement"]
    assert len(answers["statement"]["opportunities"]["nodes"]) == 3


def test_read_snapshot_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OG_READ_SNAPSHOT", "Statement")
    assert Settings.from_env().read_snapshot == "statement"
    monkeypatch.setenv("OG_READ_SNAPSHOT", "sometimes")
    with pytest.raises(ValueError, match="OG_READ_SNAPSHOT must be one of request, statement"):
        Settings.from_env()
