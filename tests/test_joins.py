"""A root page joins its one-hop to-one relations (app/graphql/joins.py): same answers, fewer statements.

The joined targets go through the tenancy hook like any lookup (its criteria land in the ON
clause), and a page whose statement could correlate to a joined table (a filter, an order by a
related column) is not joined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.enums import Role
from tests.support import Api, Tenant, count_statements, insert, make_board, make_tenant, opportunity

PAGE = """query ($filter: OpportunityFilter, $order: [OpportunityOrder!]) {
  opportunities(first: 10, filter: $filter, orderBy: $order) {
    nodes { title customer { name } stage { name } owner { email } } } }"""


def _joined(sql: str) -> bool:
    return " JOIN " in " ".join(sql.split())


async def test_a_joined_target_the_caller_may_not_see_reads_null_as_a_lookup_does(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    org = tenant.organization_id
    other = await make_tenant(engine, "Elsewhere", Role.ADMIN)
    mine, theirs = await make_board(engine, org), await make_board(engine, other.organization_id)
    # a deal whose customer and stage are another organization's rows (never made by the API,
    # which checks references: the hook must still hide them)
    await insert(
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
