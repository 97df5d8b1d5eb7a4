"""The delta feed: commit order, filters before/after, privacy and tenancy, no change skipped."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, make_board, make_tenant, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { field code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { errors { field code } }
}
"""
FEED = """
query ($after: String, $first: Int, $filter: OpportunityFilter) {
  opportunityChanges(after: $after, first: $first, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { kind opportunityId version cursor opportunity { id } changes { field newValue } } }
  }
}
"""


async def _feed(api: Api, key: str | None = None, **args: Any) -> dict[str, Any]:
    out: dict[str, Any] = (await api(FEED, args, key=key))["opportunityChanges"]
    return out


def _seen(page: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["node"]["kind"], e["node"]["opportunityId"], e["node"]["version"]) for e in page["edges"]]


async def _deal(api: Api, **fields: Any) -> str:
    out = await api(CREATE, {"input": {"title": "Feed", **fields}})
    assert out["createOpportunity"]["errors"] == [], out
    return str(out["createOpportunity"]["opportunity"]["id"])


async def test_feed_pages_in_commit_order_with_cursors(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    a = await _deal(api)
    b = await _deal(api)
    await api(UPDATE, {"id": a, "input": {"title": "A2"}})
    page = await _feed(api, first=2)
    assert _seen(page) == [("CREATED", a, 1), ("CREATED", b, 1)]
    assert page["pageInfo"]["hasNextPage"] is True and page["totalCount"] == 3
    assert page["edges"][1]["cursor"] == page["pageInfo"]["endCursor"] == page["edges"][1]["node"]["cursor"]
    rest = await _feed(api, after=page["pageInfo"]["endCursor"], first=10)
    assert _seen(rest) == [("UPDATED", a, 2)] and rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 1
    empty = await _feed(api, after=rest["pageInfo"]["endCursor"])
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] == rest["pageInfo"]["endCursor"]
    refused = await api.errors(FEED, {"after": "nonsense"})
    assert refused[0]["extensions"]["code"] == "BAD_USER_INPUT"
    refused = await api.errors(FEED, {"first": 100000})
    assert refused[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_filter_matches_before_or_after_the_change(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    board = await make_board(engine, tenant.organization_id)
    first, second = gid("Stage", board.stages[0]), gid("Stage", board.stages[1])
    deal = await _deal(api, stageId=first)
    elsewhere = await _deal(api, stageId=second)
    move = "mutation ($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { errors { code } } }"
    await api(move, {"id": deal, "s": second})  # leaves the column: seen by the column
    await api(UPDATE, {"id": deal, "input": {"title": "in second now"}})  # not the column's any more
    await api("mutation ($id: ID!) { deleteOpportunity(id: $id) { errors { code } } }", {"id": elsewhere})
    column = {"stage": {"id": {"eq": first}}}
    assert _seen(await _feed(api, filter=column)) == [("CREATED", deal, 1), ("UPDATED", deal, 2)]
    # a deleted deal matches as it was, and is no longer there to show
    page = await _feed(api, filter={"stage": {"id": {"eq": second}}})
    assert _seen(page) == [
        ("CREATED", elsewhere, 1),
        ("UPDATED", deal, 2),
        ("UPDATED", deal, 3),
        ("DELETED", elsewhere, 2),  # the version after: the move to the trash bumped it
        ("UPDATED", deal, 4),  # and the column closing ranks moved `deal` up into its place
    ]
    assert page["edges"][-2]["node"]["opportunity"] is None
    by_title = await _feed(api, filter={"title": {"eq": "in second now"}})
    assert _seen(by_title) == [("UPDATED", deal, 3), ("UPDATED", deal, 4)]


async def test_privacy_a_deal_leaving_sight_comes_once_without_content(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    viewer_id, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    globex = await make_tenant(engine, "Globex", Role.ADMIN)
    deal = await _deal(api, amount="5")
    other = await _deal(api)
    access = "mutation ($id: ID!, $p: Boolean!, $u: [ID!]!) { setOpportunityAccess(id: $id, isPrivate: $p, userIds: $u) { errors { code } } }"
    await api(access, {"id": deal, "p": True, "u": []})
    await api(UPDATE, {"id": deal, "input": {"title": "secret plans"}})
    await api(UPDATE, {"id": other, "input": {"title": "public"}})
    page = await _feed(api, key=viewer)
    assert _seen(page) == [
        ("CREATED", deal, 1),
        ("CREATED", other, 1),
        ("UPDATED", deal, 2),
        ("UPDATED", other, 2),
    ]
    gone = page["edges"][2]["node"]
    assert gone["opportunity"] is None and gone["changes"] == []
    # a filter on what the deal became cannot reach it either
    assert _seen(await _feed(api, key=viewer, filter={"title": {"eq": "secret plans"}})) == []
    # the admin sees everything, with content
    admin = await _feed(api)
    assert [e["node"]["changes"][0]["field"] for e in admin["edges"][2:4]] == ["isPrivate", "title"]
    # shared again with the viewer: back in sight, whole
    await api(access, {"id": deal, "p": True, "u": [gid("User", viewer_id)]})
    latest = await _feed(api, key=viewer, after=page["pageInfo"]["endCursor"])
    assert _seen(latest) == [("UPDATED", deal, 4)] and latest["edges"][0]["node"]["opportunity"] == {
        "id": deal
    }
    # another organization sees nothing of Acme: not its feed, not a deal's history
    assert (await _feed(api, key=globex.key))["edges"] == []
    history = "query ($id: ID!) { opportunity(id: $id) { history { totalCount } } }"
    assert (await api(history, {"id": deal}, key=globex.key))["opportunity"] is None
    assert (await api(history, {"id": other}, key=globex.key))["opportunity"] is None
    assert (await api(history, {"id": other}, key=viewer))["opportunity"]["history"]["totalCount"] == 2


async def test_history_pages_oldest_first_and_last_for_the_newest(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    deal = await _deal(api)
    for i in range(4):
        await api(UPDATE, {"id": deal, "input": {"title": f"v{i}"}})
    q = "query ($id: ID!, $f: Int, $a: String, $l: Int) { opportunity(id: $id) { history(first: $f, after: $a, last: $l) { totalCount pageInfo { endCursor hasNextPage hasPreviousPage } nodes { version } } } }"
    page = (await api(q, {"id": deal, "f": 2}))["opportunity"]["history"]
    assert (
        [n["version"] for n in page["nodes"]] == [1, 2]
        and page["pageInfo"]["hasNextPage"]
        and page["totalCount"] == 5
    )
    more = (await api(q, {"id": deal, "f": 2, "a": page["pageInfo"]["endCursor"]}))["opportunity"]["history"]
    assert [n["version"] for n in more["nodes"]] == [3, 4]
    newest = (await api(q, {"id": deal, "l": 2}))["opportunity"]["history"]
    assert [n["version"] for n in newest["nodes"]] == [4, 5] and newest["pageInfo"]["hasPreviousPage"]


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="concurrent writers need PostgreSQL (SQLite serialises writers)",
)
async def test_concurrent_writers_and_a_reader_following_the_cursor_skip_nothing(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    deals = [await _deal(api) for _ in range(6)]
    done = asyncio.Event()

    async def writer(deal: str) -> None:
        for i in range(12):
            out = await api(UPDATE, {"id": deal, "input": {"title": f"t{i}", "amount": str(i)}})
            assert out["updateOpportunity"]["errors"] == []

    seen: list[str] = []
    cursor: str | None = None

    async def reader() -> None:
        nonlocal cursor
        while True:
            finished = done.is_set()
            page = await _feed(api, after=cursor, first=7)
            seen.extend(e["node"]["cursor"] for e in page["edges"])
            cursor = page["pageInfo"]["endCursor"] or cursor
            if finished and not page["pageInfo"]["hasNextPage"]:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(d) for d in deals))
    done.set()
    await reading
    async with unscoped(engine) as s:
        positions = list(
            (await s.execute(select(m.OpportunityChange.seq).order_by(m.OpportunityChange.seq))).scalars()
        )
    assert len(positions) == 6 + 6 * 12
    everything = (await _feed(api, first=100))["edges"]
    assert seen == [e["node"]["cursor"] for e in everything]  # every change, once, in order
