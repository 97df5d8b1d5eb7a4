"""Outages are 503: a database that refuses, stalls or drops connections, in the key lookup, a resolver or at begin.

Each answer is SERVICE_UNAVAILABLE with `Retry-After`; the log gets one warning per outage
(not a traceback per request) and one line when the database is back. `/healthz` has its own
connection and deadline, so it answers 503 in time even when the database stalls.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from app.enums import Role
from app.graphql.context import Database
from app.graphql.loaders import Loaders
from app.outages import is_outage
from tests.support import Api, make_tenant, running_app

VIEWER = "{ viewer { email } }"
KEY = {"Authorization": "Bearer og_0123abcd_" + "x" * 32}
OUTAGE_LOG = "opportunity_gateway.outages"


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A PostgreSQL URL to a loopback port nothing listens on: every connect is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"


@pytest.fixture
def stalled_url() -> Iterator[str]:
    """A PostgreSQL URL to a loopback socket that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"postgresql+asyncpg://nobody@127.0.0.1:{server.getsockname()[1]}/none"


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "errors": [
            {
                "message": "The database cannot be reached; retry in a few seconds.",
                "extensions": {"code": "SERVICE_UNAVAILABLE"},
            }
        ]
    }


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == OUTAGE_LOG]


async def test_a_refused_database_is_503_with_one_warning_for_the_burst(
    refusing_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with running_app(refusing_url) as (_, client):
            answers = [await client.post("/graphql", json={"query": VIEWER}, headers=KEY) for _ in range(12)]
            health = await client.get("/healthz")
    for response in answers:
        assert_unavailable(response)
    assert (health.status_code, health.json(), health.headers["retry-after"]) == (
        503,
        {"status": "unavailable"},
        "5",
    )
    [warning] = outage_warnings(caplog)  # 13 refused answers, one line
    assert warning.startswith("database unreachable (ConnectionRefusedError, in the API key lookup")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_stalled_database_is_503_and_health_answers_within_its_deadline(stalled_url: str) -> None:
    async with running_app(stalled_url, request_timeout_seconds=0.2, health_timeout_seconds=0.3) as (
        _,
        client,
    ):
        health = await client.get("/healthz")
        assert_unavailable(await client.post("/graphql", json={"query": VIEWER}, headers=KEY))
    assert health.status_code == 503 and health.json() == {"status": "unavailable"}


async def test_health_does_not_wait_for_an_exhausted_pool(database_url: str) -> None:
    # every connection of the request pool held (as by requests stuck behind a locked table):
    # the health check has connections of its own and still answers at once
    async with running_app(database_url, db_pool_size=1) as (app, client):
        engine = app.state.engine
        held = [await engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
        try:
            for conn in held:
                await conn.exec_driver_sql("SELECT 1")
            response = await asyncio.wait_for(client.get("/healthz"), timeout=30)
        finally:
            for conn in held:
                await conn.close()
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_sqlite_that_cannot_open_its_file_is_503(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/folder/gateway.db"
    async with running_app(url) as (_, client):
        assert_unavailable(await client.post("/graphql", json={"query": VIEWER}, headers=KEY))
        assert (await client.get("/healthz")).status_code == 503
    await aiosqlite_threads_finished()


async def aiosqlite_threads_finished() -> None:
    """Let aiosqlite's worker threads of the failed connects finish while this loop still runs.

    After a failed connect aiosqlite stops its thread without waiting for it; the thread then
    posts to the event loop, and if the test's loop is closed by then, pytest reports an
    unhandled thread exception against whichever test runs next.
    """
    for _ in range(500):
        if not any(t.is_alive() and "_connection_worker_thread" in t.name for t in threading.enumerate()):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)


async def test_a_connection_lost_in_a_resolver_is_503_not_a_masked_500(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def lost(*_: Any, **__: Any) -> Any:
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr(Loaders, "by_id", lost)
    with caplog.at_level(logging.INFO):
        responses = [await api.raw(VIEWER) for _ in range(5)]
    for response in responses:
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        body = response.json()
        assert body["data"] == {"viewer": None}
        assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
            ("SERVICE_UNAVAILABLE", ["viewer"])
        ]
    [warning] = outage_warnings(caplog)
    assert warning.startswith("database unreachable (ConnectionResetError, in a resolver")
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_database_lost_at_begin_is_503(
    api: Api, monkeypatch: pytest.MonkeyPatch, tenant: Any
) -> None:
    @asynccontextmanager
    async def cannot_begin(self: Database) -> AsyncIterator[Any]:
        raise OSError(113, "No route to host")
        yield

    monkeypatch.setattr(Database, "transaction", cannot_begin)
    response = await api.raw('mutation { createOpportunity(input: {title: "x"}) { opportunity { id } } }')
    assert response.status_code == 503
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_the_log_says_when_the_database_is_back(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(database_url) as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        api = Api(client, tenant.key)
        original = Database.rows

        async def down(*_: Any, **__: Any) -> Any:
            raise ConnectionRefusedError(111, "Connect call failed")

        with caplog.at_level(logging.INFO):
            monkeypatch.setattr(Database, "rows", down)
            assert [(await api.raw(VIEWER)).status_code for _ in range(3)] == [503, 503, 503]
            monkeypatch.setattr(Database, "rows", original)
            assert (await api.raw(VIEWER)).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
    down_line, back_line = outage_warnings(caplog)
    assert down_line.startswith("database unreachable (ConnectionRefusedError, in a resolver")
    assert back_line.startswith("database reachable again after ")
    assert back_line.endswith(" s; 3 answers were refused")


def test_what_counts_as_an_outage() -> None:
    import asyncpg
    from sqlalchemy import exc as sa

    assert is_outage(ConnectionRefusedError(111, "refused"))
    assert is_outage(TimeoutError())  # asyncpg's connect timeout
    assert is_outage(sa.TimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    assert is_outage(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert is_outage(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    wrapped = sa.DBAPIError("SELECT 1", {}, Exception("connection is closed"), connection_invalidated=True)
    assert is_outage(wrapped)
    # the caller's or the code's own failures are not outages
    assert not is_outage(
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout")
    )
    assert not is_outage(sa.DBAPIError("SELECT 1", {}, Exception("syntax error")))
    assert not is_outage(RuntimeError("bug"))
    assert not is_outage(None)
