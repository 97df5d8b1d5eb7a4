"""Faults between the gateway and PostgreSQL, injected with tests/faultproxy.py.

The proxy's own behaviour is checked against an echo server (any database); the gateway's
against PostgreSQL behind the proxy, with setup and checks on a direct connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app import models as m
from app.enums import Role
from app.main import create_app
from app.settings import Settings
from tests.faultproxy import FaultProxy
from tests.support import Api, gid, insert, make_tenant, opportunity, unscoped

GUARD = 10  # seconds: a deadline for a broken proxy to fail on, not a measurement


# ---------------------------------------------------------------- the proxy itself


@dataclass
class Echo:
    """An echo server that records what reached it."""

    port: int
    received: bytearray
    accepted: list[int]


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    received, accepted = bytearray(), [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        try:
            while data := await reader.read(4096):
                received.extend(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield Echo(server.sockets[0].getsockname()[1], received, accepted)
    server.close()


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), GUARD)


async def roundtrip(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes) -> bytes:
    reader, writer = conn
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), GUARD)


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the connection was closed on us (EOF or reset), rather than sending data."""
    try:
        return await asyncio.wait_for(reader.read(1), GUARD) == b""
    except ConnectionError:
        return True


async def test_the_proxy_passes_bytes_both_ways(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        conn = await connect(proxy)
        assert await roundtrip(conn, b"hello") == b"hello"
        assert await roundtrip(conn, b"x" * 200_000) == b"x" * 200_000
        assert proxy.accepted == 1 and len(proxy.links) == 1 and echo.accepted == [1]
        assert proxy.url("postgresql+asyncpg://u:p@db.example:5432/name") == (
            f"postgresql+asyncpg://u:p@127.0.0.1:{proxy.port}/name"
        )


async def test_a_cut_closes_open_connections_and_new_ones_pass(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        first, second = await connect(proxy), await connect(proxy)
        assert await roundtrip(first, b"a") == b"a" and await roundtrip(second, b"b") == b"b"
        assert proxy.cut() == 2
        assert await closed(first[0]) and await closed(second[0])
        assert await roundtrip(await connect(proxy), b"again") == b"again"


async def test_refusing_stops_new_connections_until_restored(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        open_one = await connect(proxy)
        assert await roundtrip(open_one, b"1") == b"1"
        proxy.refuse()
        assert not proxy.listening
        with pytest.raises(ConnectionRefusedError):
            await connect(proxy)
        assert await roundtrip(open_one, b"2") == b"2"  # refusing does not cut what is open
        proxy.restore()
        assert proxy.listening
        assert await roundtrip(await connect(proxy), b"3") == b"3"  # the same port
        assert echo.received == b"123"


async def test_a_stall_holds_bytes_and_new_connections_until_restored(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        open_one = await connect(proxy)
        assert await roundtrip(open_one, b"before") == b"before"
        proxy.stall()
        open_one[1].write(b"held")
        held = await connect(proxy)  # accepted: the connection is made, then held
        held[1].write(b"new")
        await proxy.until(lambda: proxy.accepted == 2 and proxy.held == 1)
        assert echo.received == b"before" and echo.accepted == [1]  # nothing went through
        proxy.restore()
        assert await asyncio.wait_for(open_one[0].readexactly(4), GUARD) == b"held"
        assert await asyncio.wait_for(held[0].readexactly(3), GUARD) == b"new"
        assert echo.accepted == [2]


async def test_a_cut_reaches_held_connections_too(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        proxy.stall()
        held = await connect(proxy)
        await proxy.until(lambda: proxy.accepted == 1)
        assert proxy.cut() == 1
        assert await closed(held[0])
        proxy.restore()
        assert echo.accepted == [0]


async def test_cut_when_cuts_at_the_needle_without_forwarding_it(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        fired = proxy.cut_when(b"COMMIT", after=b"UPDATE")
        other, conn = await connect(proxy), await connect(proxy)
        assert await roundtrip(conn, b"COMMIT 1") == b"COMMIT 1"  # not armed: no UPDATE yet
        assert await roundtrip(conn, b"UPDATE t") == b"UPDATE t"
        assert await roundtrip(other, b"COMMIT 2") == b"COMMIT 2"  # another connection: not armed
        conn[1].write(b"COMM")  # a needle split across reads is still found
        await conn[1].drain()
        assert not fired.is_set()
        conn[1].write(b"IT 3")
        assert await closed(conn[0]) and await closed(other[0])  # every connection is cut
        assert fired.is_set()
        assert bytes(echo.received).endswith(b"UPDATE tCOMMIT 2")  # the needle never arrived
        assert await roundtrip(await connect(proxy), b"COMMIT 4") == b"COMMIT 4"  # it fires once


async def test_cut_when_the_server_sends_forwards_the_client_side(echo: Echo) -> None:
    async with FaultProxy("127.0.0.1", echo.port) as proxy:
        fired = proxy.cut_when(b"COMMIT", sent_by="server")
        conn = await connect(proxy)
        conn[1].write(b"COMMIT")
        assert await closed(conn[0])  # the echo of it, the server's reply, never came back
        assert fired.is_set() and echo.received == b"COMMIT"


# ---------------------------------------------------------------- the gateway behind the proxy

READ = "query ($id: ID!) { opportunity(id: $id) { title version customer { name } } }"
UPDATE = """mutation ($id: ID!, $title: String!) {
  updateOpportunity(id: $id, input: {title: $title}) { opportunity { title version } errors { code } }
}"""


@dataclass
class Proxied:
    proxy: FaultProxy
    api: Api
    direct: AsyncEngine  # to PostgreSQL itself, past the proxy
    deal: str
    pk: int

    async def stored(self) -> tuple[str, int]:
        async with unscoped(self.direct) as s:
            row = (
                await s.execute(
                    select(m.Opportunity.title, m.Opportunity.version).where(m.Opportunity.id == self.pk)
                )
            ).one()
            return row.title, row.version


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[Proxied]:
    """The app on this test's PostgreSQL database through a FaultProxy, and a deal "Alpha"."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip(
            "fault injection runs on PostgreSQL (TEST_DATABASE_URL): SQLite is a file, not a connection"
        )
    direct = create_async_engine(database_url, poolclass=NullPool)
    tenant = await make_tenant(direct, "Acme", Role.ADMIN)
    [pk] = await insert(direct, opportunity(tenant.organization_id, title="Alpha"))
    async with FaultProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        app = create_app(Settings(database_url=proxy.url(database_url)))
        # an app exception is what a client gets as a 500, not an exception in the test
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Proxied(proxy, Api(client, tenant.key), direct, gid("Opportunity", pk), pk)
        finally:
            proxy.restore()
            await app.state.engine.dispose()
            await direct.dispose()


async def outage_answer(request: Awaitable[httpx.Response]) -> dict[str, Any]:
    """An outage is 503 SERVICE_UNAVAILABLE with Retry-After (docs/security.md, "Outages"), never a 500."""
    response = await request
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    body = response.json()
    # no field answered: refused at the key lookup (data absent) or in the resolvers (all null)
    assert all(value is None for value in (body.get("data") or {}).values()), body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
    return body


async def test_a_read_during_an_outage_is_an_error_and_succeeds_after_it(proxied: Proxied) -> None:
    p = proxied
    answer = {"opportunity": {"title": "Alpha", "version": 1, "customer": None}}
    assert await p.api(READ, {"id": p.deal}) == answer  # pooled connections are open now
    p.proxy.refuse()
    p.proxy.cut()  # a stopped server: open connections die, new ones are refused
    for _ in range(3):  # the dead pooled connection, then refused new ones
        await outage_answer(p.api.raw(READ, {"id": p.deal}))
    p.proxy.restore()
    assert await p.api(READ, {"id": p.deal}) == answer


async def test_a_write_cut_before_commit_is_not_committed(proxied: Proxied) -> None:
    p = proxied
    fired = p.proxy.cut_when(b"COMMIT", after=b"UPDATE opportunity")
    response = await p.api.raw(UPDATE, {"id": p.deal, "title": "Cut"})
    assert fired.is_set()  # the UPDATE ran on the server; its COMMIT never reached it
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
    assert await p.stored() == ("Alpha", 1)
    # the connection is gone, the gateway is not: the same write now commits, once
    out = (await p.api(UPDATE, {"id": p.deal, "title": "Kept"}))["updateOpportunity"]
    assert out == {"opportunity": {"title": "Kept", "version": 2}, "errors": []}
    assert await p.stored() == ("Kept", 2)


async def test_a_write_whose_commit_reply_is_lost_is_committed_once(proxied: Proxied) -> None:
    p = proxied
    fired = p.proxy.cut_when(b"COMMIT", after=b"UPDATE opportunity", sent_by="server")
    await p.api.raw(UPDATE, {"id": p.deal, "title": "Committed"})
    assert fired.is_set()
    # The server committed and the gateway never heard. What the client is told is the
    # `conn`/`mutations` helpers' part (issue 10.2); the data is consistent already:
    assert await p.stored() == ("Committed", 2)
    assert await p.api(READ, {"id": p.deal}) == {
        "opportunity": {"title": "Committed", "version": 2, "customer": None}
    }
