"""The request path's API key lookup: cached within a bound, last-used stamps written in batches, never silently lost."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

import app.main
from app import models as m
from app.auth import KEY_CACHE_SECONDS, Stamps
from app.db import make_engine, make_sessionmaker
from app.enums import Role
from app.main import create_app
from app.settings import Settings
from app.sqltypes import utcnow
from tests.support import Api, Tenant, add_user, count_statements, make_tenant, running_app, unscoped
from tests.test_auth_keys import VIEWER, FakeClock


async def _stamps(engine: AsyncEngine) -> dict[int, object]:
    async with unscoped(engine) as s:
        return {row[0]: row[1] for row in await s.execute(select(m.ApiKey.id, m.ApiKey.last_used_at))}


async def test_a_cached_key_costs_no_statement_and_is_looked_up_again_after_the_bound(
    api: Api, engine: AsyncEngine, app_client
) -> None:
    clock = app_client[0].state.keys.clock = FakeClock()
    await api(VIEWER)
    with count_statements(engine) as statements:
        await api("{ __typename }")
    assert statements == []
    clock.now += app_client[0].state.keys.ttl - 0.001
    with count_statements(engine) as statements:
        await api("{ __typename }")
    assert statements == []
    clock.now += 0.001
    with count_statements(engine) as statements:
        await api("{ __typename }")
    assert len(statements) == 1 and "FROM api_key" in statements[0]


async def test_stamps_are_written_off_the_request_path_in_one_statement(
    api: Api, tenant: Tenant, engine: AsyncEngine, app_client
) -> None:
    keys = [tenant.key] + [
        (await add_user(engine, "Acme", f"u{i}@acme.test", Role.VIEWER))[1] for i in range(3)
    ]
    for key in keys:
        await api(VIEWER, key=key)
    assert set((await _stamps(engine)).values()) == {None}  # nothing written while answering
    stamps: Stamps = app_client[0].state.keys.stamps
    assert len(stamps.pending) == 4
    statements: list[str] = []  # count_statements leaves the stamps out: count them here

    def before(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        await stamps.flush()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
    updates = [s for s in statements if s.startswith("UPDATE")]
    assert len(updates) == 1 and updates[0].startswith("UPDATE api_key SET last_used_at=")
    assert None not in (await _stamps(engine)).values() and stamps.pending == {}
    await api(VIEWER)  # stamped once a minute at most: nothing new pending
    assert stamps.pending == {}


async def test_stamps_are_written_at_shutdown(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        app.main, "tune_garbage_collector", lambda: None
    )  # keep the test process's GC as it is
    async with running_app(database_url) as (gateway, client):
        tenant = await make_tenant(gateway.state.engine, "Acme", Role.ADMIN)
        async with gateway.router.lifespan_context(gateway):
            before = utcnow()
            await Api(client, tenant.key)(VIEWER)
            assert gateway.state.keys.stamps.pending
        # the lifespan's exit wrote the stamp (and disposed the engine, which reconnects on use)
        [stamp] = (await _stamps(gateway.state.engine)).values()
        assert stamp is not None and stamp >= before.replace(microsecond=0)


async def test_a_stamp_that_cannot_be_written_is_kept_then_reported(caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    stamps = Stamps(make_sessionmaker(engine))
    stamps.note(7, utcnow())
    with caplog.at_level(logging.WARNING, "opportunity_gateway"):
        await stamps.flush()
        assert list(stamps.pending) == [7]
        await stamps.close()
    assert [r.getMessage() for r in caplog.records] == [
        "could not write 1 API key last-used stamps; kept for the next try",
        "could not write 1 API key last-used stamps; kept for the next try",
        "lost 1 API key last-used stamps at shutdown",
    ]
    await engine.dispose()


async def test_concurrent_misses_of_one_key_share_one_lookup(
    api: Api, engine: AsyncEngine, app_client
) -> None:
    clock = app_client[0].state.keys.clock = FakeClock()
    await api(VIEWER)
    clock.now += app_client[0].state.keys.ttl
    with count_statements(engine) as statements:
        answers = await asyncio.gather(*(api("{ __typename }") for _ in range(8)))
    assert answers == [{"__typename": "Query"}] * 8
    assert len(statements) == 1 and "FROM api_key" in statements[0]


def test_the_bound_is_5_seconds_unless_configured() -> None:
    assert Settings().key_cache_seconds == KEY_CACHE_SECONDS == 5.0
    assert create_app(Settings(database_url="sqlite+aiosqlite:///unused.db")).state.keys.ttl == 5.0
    assert (
        create_app(Settings(database_url="sqlite+aiosqlite:///unused.db", key_cache_seconds=1)).state.keys.ttl
        == 1
    )
