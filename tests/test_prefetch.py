"""Planned prefetch: relations a query selects are loaded before graphql-core reaches them.

A relation field that finds its value in the request's loader cache returns it as a plain
object; one that does not returns an awaitable. `pending` records every such awaitable,
so a query the plan foresees entirely leaves it empty, and one it cannot foresee still
resolves, through the same loaders.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest

from app import models as m
from app.graphql.loaders import Loader
from tests.support import Api, Tenant, count_statements, gid, insert, make_board, opportunity, unscoped


@pytest.fixture
def pending(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The keys relation fields had to wait for (not prefetched)."""
    seen: list[Any] = []
    original = Loader.get

    def get(self: Loader, key: Any) -> Any:
        value = original(self, key)
        if inspect.isawaitable(value):
            seen.append(key)
        return value

    monkeypatch.setattr(Loader, "get", get)
    return seen


async def _deals(engine: Any, tenant: Tenant, count: int, api: Api, pending: list[Any]) -> list[int]:
    """`count` deals with an item, a tag and a custom field value each; then the key's first use
    (it stamps last_used_at) is made, and `pending` emptied, so a test sees only its own query."""
    org = tenant.organization_id
    board = await make_board(engine, org)
    ids = await insert(
        engine,
        *(
            opportunity(
                org,
                stage_id=board.stages[0],
                customer_id=board.customer,
                contact_id=board.contact,
                owner_id=tenant.user_id,
                amount=Decimal("10"),
                position=i + 1,
            )
            for i in range(count)
        ),
    )
    async with unscoped(engine) as s:
        for oid in ids:
            s.add_all(
                [
                    m.OpportunityItem(
                        organization_id=org,
                        opportunity_id=oid,
                        item_name="Seat",
                        quantity=Decimal(2),
                        rate=Decimal(3),
                    ),
                    m.OpportunityTag(organization_id=org, opportunity_id=oid, tag="hot"),
                    m.CustomFieldValue(
                        organization_id=org, opportunity_id=oid, definition_id=board.definitions[0], value="x"
                    ),
                ]
            )
    await api("{ viewer { id } }")
    pending.clear()
    return ids


SHAPES = """
query ($yes: Boolean!, $no: Boolean!) {
  opportunities(first: 10) {
    edges { node { ...Deal boss: owner { displayName } } }
    nodes {
      ... on Opportunity { stage { name pipeline { name } } }
      contact @include(if: $yes) { displayName customer { name } }
      referrer @include(if: $no) { displayName }
      agent @skip(if: $yes) { displayName }
      tags itemsTotal pipeline { name }
      customFields { label fieldType definition { position } }
    }
  }
}
fragment Deal on Opportunity { customer { name } items { itemName opportunity { id } } }
"""


async def test_relations_in_fragments_aliases_inline_fragments_and_directives_are_prefetched(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    await _deals(engine, tenant, 3, api, pending)
    with count_statements(engine) as statements:
        data = await api(SHAPES, {"yes": True, "no": False})
    edges, nodes = data["opportunities"]["edges"], data["opportunities"]["nodes"]
    assert len(edges) == len(nodes) == 3
    assert edges[0]["node"]["customer"]["name"].startswith("Customer")
    assert edges[0]["node"]["boss"]["displayName"]
    assert edges[0]["node"]["items"][0]["itemName"] == "Seat"
    assert nodes[0]["stage"]["name"] == "Qualify"
    assert nodes[0]["pipeline"] == nodes[0]["stage"]["pipeline"]
    assert nodes[0]["contact"]["customer"]["name"] == edges[0]["node"]["customer"]["name"]
    assert "referrer" not in nodes[0] and "agent" not in nodes[0]
    assert nodes[0]["tags"] == ["hot"]
    assert nodes[0]["itemsTotal"] == "6.0000"
    assert nodes[0]["customFields"][0]["fieldType"] == "TEXT_FIELD"
    assert pending == []
    tables = [sql.split("FROM", 1)[1].split()[0] for sql in statements if "FROM" in sql]
    # skipped and not-included relations are not loaded: contacts are read once (contact, joined
    # into the page), not again for referrer or agent
    assert tables.count("contact") == 0
    assert statements[0].count("JOIN contact ") == 1


async def test_a_relation_the_plan_cannot_foresee_still_resolves(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    [first, second] = await _deals(engine, tenant, 2, api, pending)
    data = await api(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Opportunity { title customer { name } "
        "customFields { label } } } }",
        {"ids": [gid("Opportunity", first), gid("Opportunity", second)]},
    )
    [a, b] = data["nodes"]
    assert a["customer"]["name"] == b["customer"]["name"]
    assert a["customer"]["name"].startswith("Customer")
    assert a["customFields"][0]["label"].startswith("Text_Field")
    assert pending  # behind the `Node` interface: loaded when reached, not planned


async def test_nested_connection_pages_are_planned_below(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    await _deals(engine, tenant, 4, api, pending)
    data = await api(
        "{ pipelines { nodes { stages { opportunities(first: 2) { totalCount "
        "nodes { owner { email } customer { contacts { displayName } } } } } } } }"
    )
    column = data["pipelines"]["nodes"][0]["stages"][0]["opportunities"]
    assert column["totalCount"] == 4
    assert len(column["nodes"]) == 2
    assert column["nodes"][0]["customer"]["contacts"][0]["displayName"].startswith("Contact")
    assert pending == []


async def test_one_root_object_is_planned_below(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    [deal] = await _deals(engine, tenant, 1, api, pending)
    data = await api(
        "query ($id: ID!) { opportunity(id: $id) { stage { pipeline { name } } items { amount } } }",
        {"id": gid("Opportunity", deal)},
    )
    assert data["opportunity"]["items"] == [{"amount": "6.0000"}]
    assert data["opportunity"]["stage"]["pipeline"]["name"].startswith("Pipeline")
    assert pending == []


# The board query of the side-by-side benchmark (50 or 1000 rows by id), as a frontend sends it.
BOARD = """
query Board($first: Int!) {
  opportunities(first: $first, orderBy: [{ field: ID, direction: ASC }]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id title amount currency probability expectedRevenue status position expectedCloseDate
      customer { id name industry }
      contact { id displayName email }
      owner { id displayName avatarUrl }
      stage { id name type position }
      items { itemName quantity rate }
      customFields { value definition { label fieldType options } }
    }
  }
}
"""


@pytest.mark.parametrize("size", [1, 50, 1000])
async def test_the_board_query_waits_for_no_relation(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any], size: int
) -> None:
    await _deals(engine, tenant, size, api, pending)
    with count_statements(engine) as statements:
        data = await api(BOARD, {"first": size})
    assert len(data["opportunities"]["nodes"]) == size
    assert data["opportunities"]["nodes"][0]["customFields"][0]["definition"]["fieldType"] == "TEXT_FIELD"
    assert pending == []
    # the page with its count, joining customer, contact, owner and stage (app/graphql/joins.py);
    # items, custom field values; definitions: 4 statements, no more than the relation levels
    # (the key is cached)
    assert len(statements) == 4
    page = " ".join(statements[0].replace('"', "").split())
    assert all(f"JOIN {t} ON" in page for t in ("customer", "contact", "user", "stage"))


async def test_a_path_relation_through_a_missing_hop_is_null(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    [deal] = await insert(engine, opportunity(tenant.organization_id, title="No stage"))
    data = await api(
        "query ($id: ID!) { opportunity(id: $id) { pipeline { id } stage { id } } "
        "opportunities { nodes { pipeline { name } } } }",
        {"id": gid("Opportunity", deal)},
    )
    assert data["opportunity"] == {"pipeline": None, "stage": None}
    assert data["opportunities"]["nodes"] == [{"pipeline": None}]


async def test_the_total_rides_with_the_page_and_ignores_the_cursor(
    api: Api, tenant: Tenant, engine: Any, pending: list[Any]
) -> None:
    await _deals(engine, tenant, 5, api, pending)
    query = "query ($after: String, $offset: Int) { opportunities(first: 2, after: $after, offset: $offset) "
    query += "{ totalCount pageInfo { endCursor } nodes { title } } }"
    with count_statements(engine) as statements:
        first = (await api(query))["opportunities"]
    assert (first["totalCount"], len(first["nodes"])) == (5, 2)
    assert len(statements) == 1  # the page: no count statement, the page carried it (key cached)
    after = (await api(query, {"after": first["pageInfo"]["endCursor"]}))["opportunities"]
    assert (after["totalCount"], len(after["nodes"])) == (5, 2)
    with count_statements(engine) as statements:
        past_the_end = (await api(query, {"offset": 10}))["opportunities"]
    assert (past_the_end["totalCount"], past_the_end["nodes"]) == (5, [])
    assert len(statements) == 2  # an empty page carries no total: it is counted on its own
