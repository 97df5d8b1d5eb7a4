"""Each statement selects the columns its operation reads (app/graphql/reads.py), never fewer.

tests/test_executor_differential.py compares planned operations' answers with the stock
executor's, which selects every column; these pin what is selected, and the cases that must
select everything.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from app import models as m
from app.enums import Role
from app.graphql import reads, registry
from app.graphql.common import READS
from tests.support import (
    Api,
    Tenant,
    count_statements,
    insert,
    make_board,
    make_tenant,
    opportunity,
    running_app,
)

BOARD = """{ opportunities(first: 10, orderBy: [{ field: ID, direction: ASC }]) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { id title amount expectedRevenue customer { name } stage { name }
          items { itemName quantity rate } customFields { value definition { label } } } } }"""


def _flat(sql: str) -> str:
    """`sql` on one line, parenthesized parts (subqueries, casts' arguments) taken out."""
    sql = " ".join(sql.split())
    while (unnested := re.sub(r"\([^()]*\)", "", sql)) != sql:
        sql = unnested
    return sql


def _selected(sql: str) -> list[str]:
    """The column names a SELECT lists (`table.column` or `... AS name`), in order."""
    head = _flat(sql).split(" FROM ", 1)[0].removeprefix("SELECT ")
    names = []
    for part in head.split(", "):
        part = part.strip()
        names.append(part.rsplit("AS ", 1)[1] if "AS " in part else part.rsplit(".", 1)[-1])
    return names


async def _board(engine: Any, tenant: Tenant) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    [deal] = await insert(
        engine,
        opportunity(
            org, stage_id=board.stages[0], customer_id=board.customer, amount=Decimal("10"), probability=50
        ),
    )
    await insert(
        engine,
        m.OpportunityItem(
            organization_id=org, opportunity_id=deal, item_name="Seat", quantity=Decimal(2), rate=Decimal(3)
        ),
        m.CustomFieldValue(
            organization_id=org, opportunity_id=deal, definition_id=board.definitions[0], value="x"
        ),
    )


def _by_table(statements: list[str]) -> dict[str, list[str]]:
    flat = [_flat(sql) for sql in statements]
    return {
        sql.split(" FROM ", 1)[1].split()[0].strip('"'): _selected(sql) for sql in flat if " FROM " in sql
    }


async def test_the_board_selects_the_columns_its_fields_read_and_the_keys(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    await _board(engine, tenant)
    with count_statements(engine) as statements:
        data = await api(BOARD)
    [node] = data["opportunities"]["nodes"]
    assert node["expectedRevenue"] == "5.0000" and node["items"][0]["itemName"] == "Seat"
    selected = _by_table(statements)
    # the page joins customer and stage (app/graphql/joins.py): their columns ride as `_j<n>_<name>`
    joined: dict[str, set[str]] = {}
    for name in selected["opportunity"]:
        if name.startswith("_j"):
            index, column = name[2:].split("_", 1)
            joined.setdefault(index, set()).add(column)
    deal = {name for name in selected["opportunity"] if not name.startswith(("_k", "_j"))}  # cursor keys
    # the fields' columns (expectedRevenue declares its three), the page's total and cursor key
    assert {"title", "amount", "expected_revenue", "probability", "_total"} <= deal
    # every foreign key stays (relations and their hops read them); nothing else does
    keys = {c.key for c in m.Opportunity.__table__.columns if c.primary_key or c.foreign_keys}
    assert deal == keys | {"title", "amount", "expected_revenue", "probability", "_total"}
    assert "description" not in deal and "utm_source" not in deal
    assert sorted(map(sorted, joined.values())) == [
        ["id", "name", "organization_id"],  # customer
        ["id", "name", "organization_id", "pipeline_id"],  # stage
    ]
    assert "customer" not in selected and "stage" not in selected
    assert set(selected["opportunity_item"]) == {
        "id",
        "organization_id",
        "opportunity_id",
        "item_name",
        "quantity",
        "rate",
        "_parent",
    }  # not base_rate: its correlated subquery is not run for a board
    assert set(selected["custom_field_definition"]) == {"id", "organization_id", "label"}


async def test_an_undeclared_computed_field_or_a_mutation_selects_every_column(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    await _board(engine, tenant)
    every = len(m.Opportunity.__table__.columns)
    # `opportunityAggregate` is a root field that declares no reads: nothing is planned
    with count_statements(engine) as statements:
        await api("{ opportunities(first: 1) { nodes { title } } opportunityAggregate { count } }")
    [page] = [
        sql for sql in map(" ".join, map(str.split, statements)) if sql.startswith("SELECT opportunity.id")
    ]
    assert len(_selected(page)) >= every
    # a field of an abstract type other than `id` (the Node interface's own)
    with count_statements(engine) as statements:
        await api("{ opportunities(first: 1) { nodes { ... on Node { id } title } } }")
    [page] = [
        sql for sql in map(" ".join, map(str.split, statements)) if sql.startswith("SELECT opportunity.id")
    ]
    assert len(_selected(page)) < every  # `id` on Node is planned ...
    assert reads.current.get() is None  # ... and the plan is the operation's alone (not this task's)


async def test_operations_of_one_batch_read_their_own_columns(database_url: str) -> None:
    # The operations of a batch run at once over one request's loaders: each must get objects
    # with its own columns, never the other's.
    async with running_app(database_url, max_batch_operations=2) as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        await _board(app.state.engine, tenant)
        response = await client.post(
            "/graphql",
            json=[
                {"query": "{ opportunities(first: 5) { nodes { title customer { name } } } }"},
                {
                    "query": "{ opportunities(first: 5) { nodes { amount probability customer { website industry } } } }"
                },
            ],
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
    first, second = response.json()
    assert "errors" not in first and "errors" not in second
    assert first["data"]["opportunities"]["nodes"][0]["customer"]["name"].startswith("Customer")
    assert second["data"]["opportunities"]["nodes"][0] == {
        "amount": "10.0000",
        "probability": 50,
        "customer": second["data"]["opportunities"]["nodes"][0]["customer"],
    }
    assert set(second["data"]["opportunities"]["nodes"][0]["customer"]) == {"website", "industry"}


def test_every_declared_read_is_a_column_of_its_type() -> None:
    declared = 0
    for e in registry.ENTITIES.values():
        names = {c.key for c in e.columns}
        for field in e.type.__strawberry_definition__.fields:
            for column in (field.metadata or {}).get(READS, ()):
                assert column in names, (e.name, field.python_name, column)
                declared += 1
    assert declared >= 10
