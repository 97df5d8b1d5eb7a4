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
