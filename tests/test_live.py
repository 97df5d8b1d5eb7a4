"""`Subscription.opportunityChanged` over graphql-transport-ws, against a real uvicorn server.

Each test runs the app under uvicorn on a loopback port of its own database and talks to it
with the `websockets` client, frame by frame; changes are made through HTTP mutations, as a
colleague's browser would. What must not arrive is checked by waiting past the delivery of
a later change that must (`nothing_more` is only the last guard).
"""

from __future__ import annotations

import socket as socketlib
from typing import Any

from sqlalchemy import select

from app import models as m
from app.auth import parse_key
from app.enums import Role
from tests.live import CHANGED, Server, live_server, socket
from tests.support import add_user, gid, insert, make_board, make_tenant, opportunity, unscoped

UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { errors { code } opportunity { version } }
}
"""
MOVE = """
mutation ($id: ID!, $stage: ID!) {
  moveOpportunity(id: $id, stageId: $stage) { errors { code } opportunity { version } }
}
"""
ACCESS = """
mutation ($id: ID!, $private: Boolean!) {
  setOpportunityAccess(id: $id, isPrivate: $private, userIds: []) { errors { code } }
}
"""


async def _world(server: Server) -> dict[str, Any]:
    engine = server.app.state.engine
    acme = await make_tenant(engine, "Acme", Role.ADMIN)
    globex = await make_tenant(engine, "Globex", Role.ADMIN)
    board = await make_board(engine, acme.organization_id)
    owner_id, owner = await add_user(engine, "Acme", "owner@acme.test", Role.EDITOR)
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    common = {"stage_id": board.stages[0], "currency": "EUR", "owner_id": owner_id}
    public, secret = await insert(
        engine,
        opportunity(acme.organization_id, title="Public", amount=10, position=1, **common),
        opportunity(acme.organization_id, title="Secret", amount=20, position=2, is_private=True, **common),
    )
    return {
        "acme": acme.key,
        "globex": globex.key,
        "owner": owner,
        "viewer": viewer,
        "board": board,
        "public": gid("Opportunity", public),
        "secret": gid("Opportunity", secret),
    }


async def _amount(server: Server, key: str, deal: str, amount: str) -> None:
    data = await server.graphql(key, UPDATE, {"id": deal, "input": {"amount": amount}})
    assert data["updateOpportunity"]["errors"] == []


async def test_without_a_valid_key_the_socket_closes_before_anything_runs(database_url: str) -> None:
    async with live_server(database_url, ws_init_timeout_seconds=0.5) as server:
        w = await _world(server)
        async with socket(server) as s:  # no payload at all
            await s.send({"type": "connection_init"})
            assert await s.closed() == (4403, 'Forbidden: send {"Authorization": "Bearer <API key>"}')
        async with socket(server) as s:  # a key that is no key
            await s.send({"type": "connection_init", "payload": {"Authorization": "Bearer og_nope_nope"}})
            assert (await s.closed())[0] == 4403
        async with socket(server) as s:  # a subscribe before connection_init
            await s.subscribe("1")
            assert await s.closed() == (4401, "Unauthorized")
        async with socket(server) as s:  # no connection_init in time
            assert await s.closed() == (4408, "Connection initialisation timeout")
        async with socket(server, w["acme"]) as s:  # with the key: acknowledged, pings answered
            await s.send({"type": "ping"})
            assert await s.receive() == {"type": "pong"}


async def test_a_committed_change_is_delivered_once_with_what_changed(database_url: str) -> None:
    async with live_server(database_url) as server:
        w = await _world(server)
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1")
            await _amount(server, w["acme"], w["public"], "15.50")
            event = await s.event()
            assert event["kind"] == "UPDATED"
            assert event["opportunityId"] == w["public"]
            assert event["version"] == 2
            assert event["opportunity"] == {"title": "Public"}
            assert event["changes"] == [{"field": "amount", "oldValue": "10.0000", "newValue": "15.5000"}]
            # a mutation with errors writes nothing, so nothing is delivered
            bad = await server.graphql(w["acme"], UPDATE, {"id": w["public"], "input": {"title": ""}})
            assert bad["updateOpportunity"]["errors"] != []
            await _amount(server, w["acme"], w["public"], "16")
            assert (await s.event())["changes"][0]["newValue"] == "16.0000"
            await s.nothing_more()


async def test_other_organizations_and_private_deals_are_never_delivered(database_url: str) -> None:
    async with live_server(database_url) as server:
        w = await _world(server)
        async with socket(server, w["globex"]) as globex, socket(server, w["viewer"]) as viewer:
            await globex.subscribe("g")
            await viewer.subscribe("v")
            await _amount(server, w["acme"], w["secret"], "21")  # private: the viewer may not see it
            await _amount(server, w["acme"], w["public"], "11")
            seen = await viewer.event("v")
            assert seen["opportunityId"] == w["public"]  # the private change before it never came
            # the public deal turns private: the viewer hears of it once, with nothing in it
            await server.graphql(w["acme"], ACCESS, {"id": w["public"], "private": True})
            gone = await viewer.event("v")
            assert (gone["opportunityId"], gone["opportunity"], gone["changes"]) == (w["public"], None, [])
            await _amount(server, w["acme"], w["public"], "12")  # now private: nothing more of it
            await server.graphql(w["acme"], ACCESS, {"id": w["secret"], "private": False})
            shown = await viewer.event("v")  # the secret deal turned public: the viewer sees it now
            assert (shown["opportunityId"], shown["opportunity"]) == (w["secret"], {"title": "Secret"})
            await viewer.nothing_more()
            await globex.nothing_more()  # Acme's changes never reach Globex, not even their ids


async def test_a_filter_matches_the_deal_before_or_after_the_change(database_url: str) -> None:
    async with live_server(database_url) as server:
        w = await _world(server)
        stages = [gid("Stage", s) for s in w["board"].stages]
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1", {"filter": {"stage": {"id": {"eq": stages[0]}}}})
            await server.graphql(w["acme"], MOVE, {"id": w["public"], "stage": stages[1]})
            left = await s.event()  # the card leaving the column is seen by the column
            assert left["opportunityId"] == w["public"]
            assert "stage" in {c["field"] for c in left["changes"]}
            # the card below it moved up: the column hears of that too, in the same commit
            shifted = await s.event()
            assert (shifted["opportunityId"], shifted["changes"]) == (
                w["secret"],
                [{"field": "position", "oldValue": "2", "newValue": "1"}],
            )
            await server.graphql(w["acme"], MOVE, {"id": w["public"], "stage": stages[0]})  # and back, last
            assert (await s.event())["opportunityId"] == w["public"]
            await server.graphql(w["acme"], MOVE, {"id": w["secret"], "stage": stages[1]})
            assert (await s.event())["opportunityId"] == w["secret"]
            up = await s.event()  # public moves up into the place secret left
            assert (up["opportunityId"], up["changes"]) == (
                w["public"],
                [{"field": "position", "oldValue": "2", "newValue": "1"}],
            )
            await server.graphql(w["acme"], MOVE, {"id": w["secret"], "stage": stages[2]})  # 2 → 3: not ours
            await _amount(server, w["acme"], w["public"], "13")
            assert (await s.event())["changes"][0]["newValue"] == "13.0000"


async def test_after_replays_what_was_missed_then_goes_live_without_gap_or_duplicate(
    database_url: str,
) -> None:
    async with live_server(database_url) as server:
        w = await _world(server)
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1")
            await _amount(server, w["acme"], w["public"], "1")
            cursor = (await s.event())["cursor"]
        for amount in ("2", "3", "4"):  # while no one listens
            await _amount(server, w["acme"], w["public"], amount)
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1", {"after": cursor})
            missed = [await s.event() for _ in range(3)]
            assert [e["changes"][0]["newValue"] for e in missed] == ["2.0000", "3.0000", "4.0000"]
            assert [e["version"] for e in missed] == [3, 4, 5]
            await _amount(server, w["acme"], w["public"], "5")
            live = await s.event()
            assert (live["version"], live["changes"][0]["newValue"]) == (6, "5.0000")
            await s.nothing_more()
            # the cursors are the feed's: opportunityChanges after the first one lists the same four
            feed = await server.graphql(
                w["acme"],
                "query ($after: String) { opportunityChanges(after: $after) { nodes { version } } }",
                {"after": cursor},
            )
            assert [n["version"] for n in feed["opportunityChanges"]["nodes"]] == [3, 4, 5, 6]
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1", {"after": "not a cursor"})
            message = await s.receive()
            assert (
                message["type"] == "next"
                and message["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            )


async def test_subscriptions_are_limited_per_connection_and_per_key(database_url: str) -> None:
    async with live_server(database_url, ws_max_subscriptions=2, ws_max_subscriptions_per_key=3) as server:
        w = await _world(server)
        async with socket(server, w["acme"]) as one, socket(server, w["acme"]) as two:
            await one.subscribe("a")
            await one.subscribe("b")
            await one.subscribe("c")
            refused = await one.receive()
            assert refused["type"] == "error" and refused["id"] == "c"
            assert refused["payload"][0]["extensions"] == {"code": "RATE_LIMITED"}
            assert "OG_WS_MAX_SUBSCRIPTIONS" in refused["payload"][0]["message"]
            await two.subscribe("d")
            await two.subscribe("e")  # the key's fourth
            refused = await two.receive()
            assert (
                refused["id"] == "e" and "OG_WS_MAX_SUBSCRIPTIONS_PER_KEY" in refused["payload"][0]["message"]
            )
            await one.send({"id": "a", "type": "complete"})  # one ends: room for one more
            await two.subscribe("e")
            await _amount(server, w["acme"], w["public"], "7")
            assert (await one.event("b"))["version"] == 2
            both = [await two.receive(), await two.receive()]  # one event each, in either order
            assert sorted((m["id"], m["payload"]["data"]["opportunityChanged"]["version"]) for m in both) == [
                ("d", 2),
                ("e", 2),
            ]
            # queries and mutations are HTTP's
            await two.subscribe("q", query="{ viewer { id } }")
            refused = await two.receive()
            assert refused["type"] == "error" and refused["payload"][0]["extensions"] == {
                "code": "BAD_REQUEST"
            }


async def test_a_revoked_key_closes_its_socket(database_url: str) -> None:
    async with live_server(database_url, key_cache_seconds=0.2) as server:
        w = await _world(server)
        async with unscoped(server.app.state.engine) as session:
            prefix = parse_key(w["viewer"])[0]  # type: ignore[index]
            key_id = (await session.execute(select(m.ApiKey.id).where(m.ApiKey.prefix == prefix))).scalar()
        async with socket(server, w["viewer"]) as s:
            await s.subscribe("1")
            revoke = "mutation ($id: ID!) { revokeApiKey(id: $id) { errors { code } } }"
            assert (await server.graphql(w["acme"], revoke, {"id": gid("ApiKey", key_id)}))[
                "revokeApiKey"
            ] == {"errors": []}
            assert await s.closed() == (4403, "Forbidden: the API key was revoked or expired")


async def test_a_slow_consumer_is_closed_not_buffered(database_url: str) -> None:
    # a client that stops reading: the socket's buffers fill, then the send queue, then it is closed
    settings = {"ws_send_queue": 4, "ws_send_timeout_seconds": 0.5, "ws_ping_interval_seconds": 0}
    async with live_server(database_url, **settings) as server:
        w = await _world(server)
        big = "x" * 20_000  # the longest description, 25 times in every event: 500 kB each
        copies = " ".join(f"d{i}: description" for i in range(25))
        query = CHANGED.replace("opportunity { title }", f"opportunity {{ title {copies} }}")
        # no permessage-deflate (the repeated text would shrink to nothing) and a small receive window
        tiny = socketlib.socket()
        tiny.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)  # before connect: a small window
        tiny.connect(("127.0.0.1", server.port))
        async with socket(server, w["acme"], sock=tiny, max_queue=1, max_size=None, compression=None) as s:
            await s.subscribe("1", query=query)
            described = await server.graphql(
                w["acme"], UPDATE, {"id": w["public"], "input": {"description": big}}
            )
            assert described["updateOpportunity"]["errors"] == []
            for i in range(200):  # the client reads nothing meanwhile
                await _amount(server, w["acme"], w["public"], str(i))
                if server.app.state.live.slow_consumers:
                    break
            assert server.app.state.live.slow_consumers == 1
            code, reason = await s.closed()
            assert (code, reason) == (4008, "Slow consumer: 4 messages unsent for 0.5 s")


async def test_shutdown_closes_every_socket_with_going_away(database_url: str) -> None:
    async with live_server(database_url) as server:
        w = await _world(server)
        async with socket(server, w["acme"]) as s:
            await s.subscribe("1")
            server.stop()
            assert (await s.closed())[0] == 1012  # service restart: reconnect elsewhere
