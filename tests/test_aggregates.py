"""opportunityAggregate and opportunityGroups: totals and forecasts in SQL, per currency, scoped."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.enums import Role
from tests.support import (
    Api,
    Tenant,
    add_user,
    count_statements,
    gid,
    insert,
    make_board,
    make_tenant,
    opportunity,
)

AGGREGATE = """
query ($filter: OpportunityFilter) {
  opportunityAggregate(filter: $filter) {
    count
    amount { currency count sum avg min max }
    expectedRevenue { currency count sum avg min max }
    probability { count sum avg min max }
  }
}
"""

GROUPS = """
query ($groupBy: [OpportunityGroupBy!]!, $filter: OpportunityFilter) {
  opportunityGroups(groupBy: $groupBy, filter: $filter) {
    count status expectedCloseMonth
    stage { name } owner { displayName } pipeline { id } customer { name }
    sums { currency count amount expectedRevenue }
  }
}
"""

D = Decimal


async def _deals(engine, tenant: Tenant):
    """Six visible deals in two currencies over three stages, plus rows the caller must not count."""
    org = tenant.organization_id
    board = await make_board(engine, org)
    q, p, won, _lost = board.stages
    seller, _ = await add_user(engine, "Acme", "seller@acme.test", Role.EDITOR)
    rows = [
        # stage, amount, currency, probability, explicit expected revenue, owner, close date
        opportunity(org, stage_id=q, amount=D("100.10"), currency="USD", probability=10,
                    owner_id=tenant.user_id, customer_id=board.customer, expected_close_date=date(2026, 3, 5)),
        opportunity(org, stage_id=q, amount=D("200.00"), currency="USD", probability=15,
                    owner_id=seller, expected_close_date=date(2026, 3, 28)),
        opportunity(org, stage_id=p, amount=D("300.33"), currency="USD", probability=50,
                    expected_revenue=D("250"), owner_id=seller, expected_close_date=date(2026, 4, 1)),
        opportunity(org, stage_id=p, amount=D("1000"), currency="EUR", probability=33,
                    owner_id=tenant.user_id, customer_id=board.customer),
        opportunity(org, stage_id=won, status="WON", amount=D("50"), currency="EUR", probability=100,
                    owner_id=tenant.user_id, expected_close_date=date(2026, 3, 1)),
        opportunity(org, stage_id=None, amount=None, currency=None, probability=None),
    ]  # fmt: skip
    await insert(engine, *rows)
    other = await make_tenant(engine, "Globex")
    await insert(engine, opportunity(other.organization_id, amount=D("999"), currency="USD", probability=90))
    return board, seller


async def test_aggregate_is_per_currency_and_exact(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    data = (await api(AGGREGATE))["opportunityAggregate"]
    assert data["count"] == 6
    assert data["amount"] == [
        {"currency": "EUR", "count": 2, "sum": "1050.0000", "avg": "525.0000", "min": "50.0000", "max": "1000.0000"},
        {"currency": "USD", "count": 3, "sum": "600.4300", "avg": "200.1433", "min": "100.1000", "max": "300.3300"},
    ]  # fmt: skip
    # expectedRevenue is the field's value: the explicit 250, else amount × probability / 100 (half up)
    assert data["expectedRevenue"] == [
        {"currency": "EUR", "count": 2, "sum": "380.0000", "avg": "190.0000", "min": "50.0000", "max": "330.0000"},
        {"currency": "USD", "count": 3, "sum": "290.0100", "avg": "96.6700", "min": "10.0100", "max": "250.0000"},
    ]  # fmt: skip
    assert data["probability"] == {"count": 5, "sum": 208, "avg": "41.6000", "min": 10, "max": 100}


async def test_aggregate_sums_match_the_fields_it_sums(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    nodes = (await api("{ opportunities(first: 100) { nodes { currency amount expectedRevenue } } }"))[
        "opportunities"
    ]["nodes"]
    data = (await api(AGGREGATE))["opportunityAggregate"]
    for stats in data["expectedRevenue"]:
        values = [D(n["expectedRevenue"]) for n in nodes if n["currency"] == stats["currency"]]
        assert D(stats["sum"]) == sum(values)


async def test_aggregate_applies_the_filter_and_an_empty_result_has_nulls(
    api: Api, tenant: Tenant, engine
) -> None:
    await _deals(engine, tenant)
    data = (await api(AGGREGATE, {"filter": {"stage": {"name": {"eq": "Qualify"}}}}))["opportunityAggregate"]
    assert data["count"] == 2
    assert [a["sum"] for a in data["amount"]] == ["300.1000"]
    empty = (await api(AGGREGATE, {"filter": {"title": {"eq": "nothing"}}}))["opportunityAggregate"]
    assert empty == {
        "count": 0,
        "amount": [],
        "expectedRevenue": [],
        "probability": {"count": 0, "sum": None, "avg": None, "min": None, "max": None},
    }


async def test_aggregate_leaves_out_private_deals_the_caller_may_not_see(
    api: Api, tenant: Tenant, engine
) -> None:
    await _deals(engine, tenant)
    org = tenant.organization_id
    viewer, key = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    await insert(
        engine,
        opportunity(org, amount=D("7"), currency="USD", is_private=True, owner_id=tenant.user_id),
        opportunity(org, amount=D("8"), currency="USD", is_private=True, owner_id=viewer),
    )
    as_viewer = (await api(AGGREGATE, key=key))["opportunityAggregate"]
    as_admin = (await api(AGGREGATE))["opportunityAggregate"]
    assert (as_viewer["count"], as_admin["count"]) == (7, 8)
    assert [a["sum"] for a in as_viewer["amount"]] == ["1050.0000", "608.4300"]


async def test_groups_by_stage_in_board_order_with_weighted_forecast(
    api: Api, tenant: Tenant, engine
) -> None:
    await _deals(engine, tenant)
    data = (await api(GROUPS, {"groupBy": ["STAGE"]}))["opportunityGroups"]
    assert [(g["stage"] and g["stage"]["name"], g["count"]) for g in data] == [
        ("Qualify", 2),
        ("Propose", 2),
        ("Won", 1),
        (None, 1),
    ]
    assert data[1]["sums"] == [
        {"currency": "EUR", "count": 1, "amount": "1000.0000", "expectedRevenue": "330.0000"},
        {"currency": "USD", "count": 1, "amount": "300.3300", "expectedRevenue": "250.0000"},
    ]
    assert data[3]["sums"] == [{"currency": None, "count": 1, "amount": None, "expectedRevenue": None}]
    assert all(g["owner"] is None and g["status"] is None for g in data)


async def test_groups_by_status_owner_customer_pipeline(api: Api, tenant: Tenant, engine) -> None:
    board, seller = await _deals(engine, tenant)
    status = (await api(GROUPS, {"groupBy": ["STATUS"]}))["opportunityGroups"]
    assert [(g["status"], g["count"]) for g in status] == [("OPEN", 5), ("WON", 1)]

    owners = (await api(GROUPS, {"groupBy": ["OWNER"]}))["opportunityGroups"]
    users = (await api("{ users { nodes { id displayName } } }"))["users"]["nodes"]
    count_of = {gid("User", tenant.user_id): 3, gid("User", seller): 2}
    expected = sorted((u["displayName"], count_of[u["id"]]) for u in users if u["id"] in count_of)
    assert [(g["owner"] and g["owner"]["displayName"], g["count"]) for g in owners] == [*expected, (None, 1)]

    customers = (await api(GROUPS, {"groupBy": ["CUSTOMER"]}))["opportunityGroups"]
    assert [g["count"] for g in customers] == [2, 4]
    assert customers[1]["customer"] is None

    pipelines = (await api(GROUPS, {"groupBy": ["PIPELINE"]}))["opportunityGroups"]
    assert [(g["pipeline"] and g["pipeline"]["id"], g["count"]) for g in pipelines] == [
        (gid("Pipeline", board.pipeline), 5),
        (None, 1),
    ]


async def test_groups_by_month_and_by_several_keys(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    months = (await api(GROUPS, {"groupBy": ["EXPECTED_CLOSE_MONTH"]}))["opportunityGroups"]
    assert [(g["expectedCloseMonth"], g["count"]) for g in months] == [
        ("2026-03", 3),
        ("2026-04", 1),
        (None, 2),
    ]
    march = months[0]["sums"]
    assert march == [
        {"currency": "EUR", "count": 1, "amount": "50.0000", "expectedRevenue": "50.0000"},
        {"currency": "USD", "count": 2, "amount": "300.1000", "expectedRevenue": "40.0100"},
    ]

    both = await api(
        GROUPS, {"groupBy": ["STAGE", "EXPECTED_CLOSE_MONTH"], "filter": {"status": {"eq": "OPEN"}}}
    )
    keys = [
        (g["stage"] and g["stage"]["name"], g["expectedCloseMonth"], g["count"])
        for g in both["opportunityGroups"]
    ]
    assert keys == [
        ("Qualify", "2026-03", 2),
        ("Propose", "2026-04", 1),
        ("Propose", None, 1),
        (None, None, 1),
    ]


async def test_groups_are_one_statement_plus_one_per_key_object(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    await api("{ viewer { id } }")
    with count_statements(engine) as statements:
        await api(GROUPS, {"groupBy": ["STAGE", "OWNER", "CUSTOMER"]})
    # the GROUP BY, then stages, users and customers by id (one batch each); the key is cached
    assert len(statements) == 4


async def test_group_by_must_name_distinct_keys(api: Api, tenant: Tenant, engine) -> None:
    for group_by in ([], ["STAGE", "STAGE"]):
        errors = await api.errors(GROUPS, {"groupBy": group_by})
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_groups_leave_out_private_deals_and_other_organizations(
    api: Api, tenant: Tenant, engine
) -> None:
    board, _ = await _deals(engine, tenant)
    org = tenant.organization_id
    _, key = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    hidden = opportunity(org, stage_id=board.stages[0], amount=D("7"), currency="USD", is_private=True)
    await insert(engine, hidden)
    as_viewer = (await api(GROUPS, {"groupBy": ["STAGE"]}, key=key))["opportunityGroups"]
    as_admin = (await api(GROUPS, {"groupBy": ["STAGE"]}))["opportunityGroups"]
    assert (as_viewer[0]["count"], as_admin[0]["count"]) == (2, 3)
    assert as_viewer[0]["sums"][0]["amount"] == "300.1000"
    assert sum(g["count"] for g in as_admin) == 7  # Globex's deal is never counted
