"""The shared fan-out: a wake-up costs the same statements for 1 and 20 subscribers of one organization.

After a change commits, the worker reads the organization's new changes once, judges them
once per visibility class and filter, and resolves the events' fields once per class
(app/live/fanout.py); a subscriber of another class, or a private deal it may not see,
is judged apart and never leaks.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from app.enums import Role
from tests.live import Server, Socket, live_server, socket
from tests.support import add_user, count_statements, gid, insert, make_board, make_tenant, opportunity

UPDATE = """
mutation ($id: ID!, $amount: Decimal!) { updateOpportunity(id: $id, input: {amount: $amount}) { errors { code } } }
"""
END = "{ opportunityChanges(first: 1000) { pageInfo { endCursor } } }"
# the SQLite poller's tick (one statement per worker however many subscribers): not a wake-up's
LAST: list[str] = []
POLL = "SELECT opportunity_change.id, opportunity_change.organization_id \nFROM"


async def _world(server: Server) -> dict[str, Any]:
    engine = server.app.state.engine
    acme = await make_tenant(engine, "Acme", Role.ADMIN)
    globex = await make_tenant(engine, "Globex", Role.ADMIN)
    board = await make_board(engine, acme.organization_id)
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    common = {"stage_id": board.stages[0], "currency": "EUR"}
    public, secret = await insert(
        engine,
        opportunity(acme.organization_id, title="Public", amount=10, position=1, **common),
        opportunity(acme.organization_id, title="Secret", amount=20, position=2, is_private=True, **common),
    )
    return {
        "acme": acme.key,
        "globex": globex.key,
        "viewer": viewer,
        "public": gid("Opportunity", public),
        "secret": gid("Opportunity", secret),
    }


async def _subscribers(
    stack: AsyncExitStack, server: Server, key: str, n: int, after: str | None
) -> list[Socket]:
    out = []
    for _ in range(n):
        s = await stack.enter_async_context(socket(server, key))
        await s.subscribe("1", {"after": after})
        out.append(s)
    return out


async def _wake_up(server: Server, w: dict[str, Any], everyone: list[Socket], amount: str) -> list[str]:
    """The statements from a change's mutation to its delivery to every subscriber."""
    engine = server.app.state.engine
    with count_statements(engine) as seen:
        out = await server.graphql(w["acme"], UPDATE, {"id": w["public"], "amount": amount})
        assert out["updateOpportunity"]["errors"] == []
        for s in everyone:
            event = await s.event()
            assert (event["opportunityId"], event["opportunity"]) == (w["public"], {"title": "Public"})
    LAST[:] = [s[:60] + s[-60:] for s in seen if not s.startswith(POLL)]
    return [s for s in seen if not s.startswith(POLL)]


async def _settle(server: Server, w: dict[str, Any], everyone: list[Socket], amount: str) -> None:
    """Every subscription running, the broker listening, the feed warm: two changes delivered
    (a subscription that started after the first commit replays it on its own, and that
    commit's wake-up may come late), then a moment for a late wake-up's read to pass."""
    await _wake_up(server, w, everyone, amount)
    await _wake_up(server, w, everyone, amount + "1")
    await asyncio.sleep(0.3)


async def test_a_wake_up_costs_the_same_statements_for_1_and_20_subscribers(database_url: str) -> None:
    async with live_server(database_url, key_cache_seconds=300) as server:
        w = await _world(server)
        counts = []
        for n in (0, 1, 20):
            end = (await server.graphql(w["acme"], END))["opportunityChanges"]["pageInfo"]["endCursor"]
            async with AsyncExitStack() as stack:
                subs = await _subscribers(stack, server, w["acme"], n, end)
                await _settle(server, w, subs, f"{n}1")
                counts.append(len(await _wake_up(server, w, subs, f"{n}2")))
    mutation, one, twenty = counts
    # the shared read of the new changes, their verdicts for the one class and filter, and
    # the events' `opportunity` through the class's loaders: three statements for all of them
    assert (one - mutation, twenty - mutation) == (3, 3), (counts, LAST)


async def test_two_classes_are_judged_apart_and_nothing_leaks(database_url: str) -> None:
    async with live_server(database_url, key_cache_seconds=300) as server:
        w = await _world(server)
        end = (await server.graphql(w["acme"], END))["opportunityChanges"]["pageInfo"]["endCursor"]
        mutation = len(await _wake_up(server, w, [], "10.5"))  # no subscriber: the mutation alone
        async with AsyncExitStack() as stack:
            admins = await _subscribers(stack, server, w["acme"], 5, end)
            viewers = await _subscribers(stack, server, w["viewer"], 5, end)
            globex = await _subscribers(stack, server, w["globex"], 2, None)
            await _settle(server, w, [*admins, *viewers], "11")
            out = await server.graphql(w["acme"], UPDATE, {"id": w["secret"], "amount": "21"})
            assert out["updateOpportunity"]["errors"] == []
            for s in admins:
                assert (await s.event())["opportunity"] == {"title": "Secret"}
            for s in [*viewers, *globex]:
                await s.nothing_more()  # the private deal's change never reaches them, nor its id
            # the next change reaches both classes: one read, a verdict and a resolution per class
            both = await _wake_up(server, w, [*admins, *viewers], "13")
            assert len(both) - mutation == 1 + 2 + 2, both
            for s in [*admins, *viewers, *globex]:
                await s.nothing_more()
