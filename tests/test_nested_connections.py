"""Nested connections take filter, orderBy and pages, per parent, in one statement per level."""

from __future__ import annotations

from decimal import Decimal

from app import models as m
from tests.support import Api, Tenant, count_statements, gid, insert, make_board, opportunity

CUSTOMERS = """
query ($filter: OpportunityFilter, $first: Int) {
  customers(first: 100) {
    nodes {
      name
      opportunities(filter: $filter, orderBy: [{field: AMOUNT, direction: DESC}], first: $first) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { title amount }
      }
    }
  }
}
"""

ONE_CUSTOMER = """
query ($id: ID!, $filter: OpportunityFilter, $after: String) {
  customer(id: $id) {
    opportunities(filter: $filter, orderBy: [{field: AMOUNT, direction: DESC}], first: 2, after: $after) {
      pageInfo { hasNextPage hasPreviousPage endCursor }
      nodes { title }
    }
  }
}
"""

BOARD = """
query {
  pipelines(first: 100) {
    nodes {
      stages {
        name
        opportunities(first: 2) { totalCount pageInfo { hasNextPage } nodes { title position } }
      }
    }
  }
}
"""


async def _customers(engine, tenant: Tenant, count: int) -> list[int]:
    """`count` customers, customer i with i + 1 deals of amounts 10, 20, …, named c<i>-<amount>."""
    org = tenant.organization_id
    ids = await insert(engine, *(m.Customer(organization_id=org, name=f"cust {i:03}") for i in range(count)))
    deals = [
        opportunity(org, customer_id=cid, title=f"c{i}-{10 * (k + 1)}", amount=Decimal(10 * (k + 1)))
        for i, cid in enumerate(ids)
        for k in range(i + 1)
    ]
    await insert(engine, *deals)
    return ids


async def test_each_parent_gets_its_own_filtered_sorted_first_page(api: Api, tenant: Tenant, engine) -> None:
    await _customers(engine, tenant, 4)
    data = await api(CUSTOMERS, {"filter": {"amount": {"gte": "20"}}, "first": 2})
    pages = [c["opportunities"] for c in data["customers"]["nodes"]]
    assert [[n["title"] for n in p["nodes"]] for p in pages] == [
        [],
        ["c1-20"],
        ["c2-30", "c2-20"],
        ["c3-40", "c3-30"],
    ]
    assert [p["totalCount"] for p in pages] == [0, 1, 2, 3]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [False, False, False, True]


async def test_a_nested_cursor_continues_that_parents_list(api: Api, tenant: Tenant, engine) -> None:
    ids = await _customers(engine, tenant, 5)
    first = (await api(CUSTOMERS, {"first": 2}))["customers"]["nodes"][4]["opportunities"]
    seen = [n["title"] for n in first["nodes"]]
    cursor, more = first["pageInfo"]["endCursor"], first["pageInfo"]["hasNextPage"]
    while more:
        page = (await api(ONE_CUSTOMER, {"id": gid("Customer", ids[4]), "after": cursor}))["customer"]
        info = page["opportunities"]["pageInfo"]
        assert info["hasPreviousPage"]
        seen += [n["title"] for n in page["opportunities"]["nodes"]]
        cursor, more = info["endCursor"], info["hasNextPage"]
    assert seen == ["c4-50", "c4-40", "c4-30", "c4-20", "c4-10"]


async def test_nested_lists_cost_the_same_statements_for_1_or_30_parents(
    api: Api, tenant: Tenant, engine
) -> None:
    counts = []
    for n in (1, 30):
        await _customers(engine, tenant, n)
        await api("{ viewer { id } }")
        with count_statements(engine) as statements:
            data = await api(CUSTOMERS, {"filter": {"amount": {"gte": "20"}}, "first": 3})
        assert len(data["customers"]["nodes"]) >= n
        counts.append(len(statements))
        # each parent's window is cut at a number written into the SQL, as a root page's LIMIT
        # (app/query/pages.py `fixed`): PostgreSQL then keeps one plan for the statement
        windowed = [" ".join(sql.split()) for sql in statements if "_rn" in sql]
        assert len(windowed) == 1 and "_rn <= 4 ORDER BY" in windowed[0]
    # customers page, one windowed page for all customers' deals, one grouped count (key cached)
    assert counts == [3, 3]


async def test_every_board_column_in_one_statement(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    for pipelines in (1, 6):
        boards = [await make_board(engine, org) for _ in range(pipelines)]
        await insert(
            engine,
            *(
                opportunity(org, stage_id=stage, position=p, title=f"{stage}-{p}")
                for b in boards
                for stage in b.stages[:2]
                for p in (3, 1, 2)
            ),
        )
        await api("{ viewer { id } }")
        with count_statements(engine) as statements:
            data = await api(BOARD)
        columns = [s for p in data["pipelines"]["nodes"] for s in p["stages"]]
        first = next(s for s in columns if s["name"] == "Qualify" and s["opportunities"]["totalCount"])
        assert [n["position"] for n in first["opportunities"]["nodes"]] == [1, 2]  # board order
        assert first["opportunities"]["pageInfo"]["hasNextPage"] is True
        # pipelines, stages, one windowed page for every column, one grouped count (key cached)
        assert len(statements) == 4


async def test_distinct_argument_sets_are_one_statement_each(api: Api, tenant: Tenant, engine) -> None:
    await _customers(engine, tenant, 10)
    await api("{ viewer { id } }")
    with count_statements(engine) as statements:
        data = await api(
            """{ customers(first: 100) { nodes {
                 big: opportunities(filter: {amount: {gte: "50"}}, first: 1) { nodes { title } }
                 small: opportunities(filter: {amount: {lt: "50"}}, first: 1) { nodes { title } }
            } } }"""
        )
    nodes = data["customers"]["nodes"]
    assert nodes[9]["big"]["nodes"] and nodes[9]["small"]["nodes"]
    assert len(statements) == 3  # customers, one page per argument set (the key is cached)


async def test_connections_nest_two_levels_deep(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    await insert(
        engine,
        *(
            opportunity(
                org, owner_id=tenant.user_id, customer_id=board.customer, title=f"d{i}", amount=Decimal(i)
            )
            for i in range(5)
        ),
    )
    await api("{ viewer { id } }")
    with count_statements(engine) as statements:
        data = await api(
            """{ users { nodes {
                 ownedOpportunities(first: 3, orderBy: [{field: AMOUNT}]) { nodes {
                   title customer { opportunities(first: 2, orderBy: [{field: AMOUNT, direction: DESC}])
                                    { nodes { title } } }
                 } }
            } } }"""
        )
    owned = data["users"]["nodes"][0]["ownedOpportunities"]["nodes"]
    assert [o["title"] for o in owned] == ["d0", "d1", "d2"]
    assert owned[0]["customer"]["opportunities"]["nodes"] == [{"title": "d4"}, {"title": "d3"}]
    # users, owned deals (windowed), customers by id, customers' deals (windowed); key cached
    assert len(statements) == 4


async def test_total_count_costs_a_statement_only_when_selected(api: Api, tenant: Tenant, engine) -> None:
    await _customers(engine, tenant, 3)
    await api("{ viewer { id } }")
    counts = []
    for selection in ("nodes { title }", "totalCount nodes { title }"):
        with count_statements(engine) as statements:
            await api(
                f"{{ opportunities(first: 2) {{ {selection} }} customers {{ nodes {{ opportunities {{ {selection} }} }} }} }}"
            )
        counts.append(len(statements))
    # deals page, customers page, nested page; with totalCount the root page carries its count as
    # a subquery and the nested lists take one grouped count (the key is cached)
    assert counts == [3, 4]
