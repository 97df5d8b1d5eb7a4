"""A root page joins its one-hop to-one relations (app/graphql/joins.py): same answers, fewer statements.

The joined targets go through the tenancy hook like any lookup (its criteria land in the ON
clause), and a page whose statement could correlate to a joined table (a filter, an order by a
related column) is not joined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.enums import Role
from tests.support import Api, Tenant, count_statements, gid, insert, make_board, make_tenant, opportunity

PAGE = """query ($filter: OpportunityFilter, $order: [OpportunityOrder!]) {
  opportunities(first: 10, filter: $filter, orderBy: $order) {
    nodes { title customer { name } stage { name } owner { email } } } }"""


def _joined(sql: str) -> bool:
    return " JOIN " in " ".join(sql.split())


async def _crossed_and_mine(engine: Any, tenant: Tenant) -> tuple[Tenant, list[Any]]:
    """Another organization, and two of the tenant's deals: "Crossed", whose customer, stage and
    owner are the other organization's rows (never made by the API, which checks references: the
    hook must still hide them), and "Mine", whose are its own. Returns the other and the deals' ids."""
    org = tenant.organization_id
    other = await make_tenant(engine, "Elsewhere", Role.ADMIN)
    mine, theirs = await make_board(engine, org), await make_board(engine, other.organization_id)
    ids = await insert(
        engine,
        opportunity(
            org,
            title="Crossed",
            customer_id=theirs.customer,
            stage_id=theirs.stages[0],
            owner_id=other.user_id,
        ),
        opportunity(
            org, title="Mine", customer_id=mine.customer, stage_id=mine.stages[0], owner_id=tenant.user_id
        ),
    )
    return other, ids


async def test_a_joined_target_the_caller_may_not_see_reads_null_as_a_lookup_does(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    await _crossed_and_mine(engine, tenant)
    await api("{ viewer { id } }")  # the key's first use looks it up: keep it out of the count
    with count_statements(engine) as statements:
        data = await api(PAGE, {"order": [{"field": "TITLE", "direction": "ASC"}]})
    assert _joined(statements[0]) and len(statements) == 1  # everything rode with the page
    crossed, own = data["opportunities"]["nodes"]
    assert crossed == {"title": "Crossed", "customer": None, "stage": None, "owner": None}
    assert own["customer"]["name"].startswith("Customer") and own["owner"]["email"] == "owner@acme.test"
    # the same answer without the join (a filter keeps the page unjoined): the loaders agree
    with count_statements(engine) as statements:
        unjoined = await api(
            PAGE,
            {
                "filter": {"title": {"in": ["Crossed", "Mine"]}},
                "order": [{"field": "TITLE", "direction": "ASC"}],
            },
        )
    assert not _joined(statements[0])
    assert unjoined == data


async def test_a_page_ordered_by_a_related_column_or_filtered_on_a_relation_is_not_joined(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    await insert(
        engine,
        *(
            opportunity(
                org,
                title=f"D{i}",
                customer_id=board.customer,
                stage_id=board.stages[i % 2],
                amount=Decimal(i),
            )
            for i in range(4)
        ),
    )
    await api("{ viewer { id } }")
    for variables in (
        {"order": [{"field": "CUSTOMER_NAME", "direction": "ASC"}, {"field": "TITLE", "direction": "ASC"}]},
        {"filter": {"customer": {"name": {"startsWith": "Customer"}}}},
        {"filter": {"stage": {"name": {"eq": "Qualify"}}}},
    ):
        with count_statements(engine) as statements:
            data = await api(PAGE, variables)
        assert not _joined(statements[0]), variables
        assert all(n["customer"]["name"].startswith("Customer") for n in data["opportunities"]["nodes"])
    assert len(data["opportunities"]["nodes"]) == 2  # the stage filter: two of four deals


DEAL = """query ($id: ID!) {
  opportunity(id: $id) { title customer { name } stage { name } owner { email } } }"""

DEAL_AS_NODE = """query ($id: ID!) {
  node(id: $id) { ... on Opportunity { title customer { name } stage { name } owner { email } } } }"""


async def test_a_deal_page_joins_its_to_one_relations_and_hides_what_the_caller_may_not_see(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    other, (crossed, own) = await _crossed_and_mine(engine, tenant)
    (elsewhere,) = await insert(engine, opportunity(other.organization_id, title="Theirs"))
    await api("{ viewer { id } }")  # the key's first use looks it up: keep it out of the count
    for pk, expected in (
        (crossed, {"title": "Crossed", "customer": None, "stage": None, "owner": None}),
        (own, None),
        (elsewhere, None),
    ):
        with count_statements(engine) as statements:
            data = await api(DEAL, {"id": gid("Opportunity", pk)})
        assert len(statements) == 1 and _joined(statements[0])  # the deal and its relations at once
        if pk == own:
            deal = data["opportunity"]
            assert deal["customer"]["name"].startswith("Customer") and deal["stage"]["name"]
            assert deal["owner"]["email"] == "owner@acme.test"
        else:
            assert data["opportunity"] == expected  # another organization's deal: null, as before
        # `node`, whose abstract type plans no columns, reads through the loaders: the same answer
        as_node = await api(DEAL_AS_NODE, {"id": gid("Opportunity", pk)})
        assert as_node["node"] == data["opportunity"]


async def test_aliased_deal_lookups_each_join_and_agree(api: Api, tenant: Tenant, engine: Any) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    a, b = await insert(
        engine,
        opportunity(org, title="A", customer_id=board.customer, stage_id=board.stages[0]),
        opportunity(org, title="B", customer_id=board.customer, stage_id=board.stages[1]),
    )
    await api("{ viewer { id } }")
    query = """query ($a: ID!, $b: ID!) {
      a: opportunity(id: $a) { title customer { name } stage { name } }
      b: opportunity(id: $b) { title customer { name } stage { name } }
      again: opportunity(id: $a) { title customer { name } } }"""
    with count_statements(engine) as statements:
        data = await api(query, {"a": gid("Opportunity", a), "b": gid("Opportunity", b)})
    assert [data[k]["title"] for k in ("a", "b", "again")] == ["A", "B", "A"]
    assert data["a"]["customer"] == data["b"]["customer"] == data["again"]["customer"]
    assert data["a"]["stage"] != data["b"]["stage"]
    # root fields start at once, before any lookup has answered: one joined statement per lookup
    # (where the by-id batch would have been one statement plus one per relation)
    assert len(statements) == 3 and all(_joined(sql) for sql in statements)
