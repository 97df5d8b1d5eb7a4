"""Across workers: `opportunity-gateway serve --workers 2`, a change made through one reaches subscribers on both.

Which worker holds each connection is read from the kernel (tests/test_serve.py): the test
opens subscribers until both workers hold some, so one of them is on the other worker than
the one that serves the mutation, whichever that is. PostgreSQL delivers through
LISTEN/NOTIFY; SQLite (several processes on one file) through each worker's polling.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from app.db import make_engine
from app.enums import Role
from tests.live import Server, Socket, socket
from tests.support import gid, insert, make_board, make_tenant, opportunity
from tests.test_serve import owner, server_side, serving

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")

UPDATE = """
mutation ($id: ID!, $amount: Decimal!) { updateOpportunity(id: $id, input: {amount: $amount}) { errors { code } } }
"""


async def test_a_change_made_through_one_worker_reaches_subscribers_on_both(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url, pool_size=2)
    acme = await make_tenant(engine, "Acme", Role.ADMIN)
    board = await make_board(engine, acme.organization_id)
    [deal] = await insert(
        engine, opportunity(acme.organization_id, title="Shared", amount=1, stage_id=board.stages[0])
    )
    with serving(database_url, tmp_path, workers=2, OG_LOG_LEVEL="WARNING") as (port, _server):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, AsyncExitStack() as stack:
            server = Server(None, port, http, None)
            subscribers: list[tuple[Socket, int]] = []
            while len({pid for _, pid in subscribers}) < 2:
                assert len(subscribers) < 40, "the kernel put 40 connections on one worker"
                s = await stack.enter_async_context(socket(server, acme.key))
                await s.subscribe("1")
                sock = s.ws.transport.get_extra_info("socket")
                subscribers.append((s, owner(server_side(port, sock)[1])))
            await asyncio.sleep(1.0)  # every subscription has taken its starting position
            await server.graphql(acme.key, UPDATE, {"id": gid("Opportunity", deal), "amount": "2"})
            events = [await s.event() for s, _ in subscribers]
            assert {(e["opportunityId"], e["version"]) for e in events} == {(gid("Opportunity", deal), 2)}
            # and the next one, in order, on both workers
            await server.graphql(acme.key, UPDATE, {"id": gid("Opportunity", deal), "amount": "3"})
            events = [await s.event() for s, _ in subscribers]
            assert {(e["version"], e["changes"][0]["newValue"]) for e in events} == {(3, "3.0000")}
    await engine.dispose()


async def test_the_per_key_limit_holds_across_workers(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("across workers on PostgreSQL (advisory locks); SQLite holds the limit per process")
    engine = make_engine(database_url, pool_size=2)
    acme = await make_tenant(engine, "Acme", Role.ADMIN)
    env = {"OG_LOG_LEVEL": "WARNING", "OG_WS_MAX_SUBSCRIPTIONS_PER_KEY": "3"}
    with serving(database_url, tmp_path, workers=2, **env) as (port, _server):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, AsyncExitStack() as stack:
            server = Server(None, port, http, None)
            sockets: list[tuple[Socket, int]] = []
            while len({pid for _, pid in sockets}) < 2:  # connections on both workers
                assert len(sockets) < 40, "the kernel put 40 connections on one worker"
                s = await stack.enter_async_context(socket(server, acme.key))
                sock = s.ws.transport.get_extra_info("socket")
                sockets.append((s, owner(server_side(port, sock)[1])))
            # three subscriptions on the two workers, then a fourth on each: both refused
            a, b = sockets[0][0], next(s for s, pid in sockets if pid != sockets[0][1])
            await a.subscribe("1")
            await b.subscribe("2")
            await a.subscribe("3")
            await a.nothing_more(1.0)  # all three running
            for s in (a, b):
                await s.subscribe("4")
                refused = await s.receive()
                assert (refused["type"], refused["id"]) == ("error", "4"), refused
                assert refused["payload"][0]["extensions"] == {"code": "RATE_LIMITED"}
                assert "OG_WS_MAX_SUBSCRIPTIONS_PER_KEY" in refused["payload"][0]["message"]
            # one ends on worker A: its slot is free for worker B
            await a.send({"id": "1", "type": "complete"})
            await a.nothing_more(0.5)
            await b.subscribe("5")
            await b.nothing_more(1.0)  # running, not refused
            await b.subscribe("6")
            assert (await b.receive())["id"] == "6"  # the key's fourth again: refused
    await engine.dispose()
