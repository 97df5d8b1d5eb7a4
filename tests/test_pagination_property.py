"""Keyset cursors never skip or repeat a row, whatever the sort keys, their NULLs and their repeats.

Hypothesis draws a small set of deals whose sort keys take few values (so most rows tie on
most keys, and many are NULL), an orderBy of one to three keys with any direction and NULL
placement, and a page size. Walking the list forward with first/after, and backward with
last/before, must give exactly the rows of a reference sort done in Python, page by page,
with hasNextPage/hasPreviousPage telling the truth at the ends. Both the root list and a
nested one (a pipeline's deals, paged per parent with a window function) are walked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from app import models as m
from app.money import weighted
from tests.support import Api, Tenant, gid, insert, make_board, unscoped

ROOT = """
query ($orderBy: [OpportunityOrder!], $first: Int, $after: String, $last: Int, $before: String) {
  opportunities(orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id }
  }
}
"""

NESTED = """
query ($p: ID!, $orderBy: [OpportunityOrder!], $first: Int, $after: String, $last: Int, $before: String) {
  pipeline(id: $p) {
    opportunities(orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { id }
    }
  }
}
"""

FIELDS = [
    "AMOUNT",
    "PROBABILITY",
    "EXPECTED_REVENUE",
    "EXPECTED_CLOSE_DATE",
    "TITLE",
    "STATUS",
    "CREATED_AT",
    "POSITION",
    "STAGE_POSITION",
    "CUSTOMER_NAME",
]

# Few distinct values per key, so rows tie often; lowercase names sort alike in every collation.
deal = st.fixed_dictionaries(
    {
        "amount": st.sampled_from([None, Decimal("10"), Decimal("10.5"), Decimal("99")]),
        "probability": st.sampled_from([None, 0, 50, 100]),
        "expected_revenue": st.sampled_from([None, None, Decimal("5")]),
        "expected_close_date": st.sampled_from([None, date(2026, 1, 1), date(2026, 2, 1)]),
        "title": st.sampled_from(["alpha", "beta", "gamma"]),
        "status": st.sampled_from(["OPEN", "WON", "LOST"]),
        "created_at": st.sampled_from([datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2)]),
        "position": st.sampled_from([None, 1, 2]),
        "stage": st.sampled_from([None, 0, 1, 2]),
        "customer": st.sampled_from([None, 0, 1, 2]),
    }
)
order_key = st.fixed_dictionaries(
    {
        "field": st.sampled_from(FIELDS),
        "direction": st.sampled_from(["ASC", "DESC"]),
        "nulls": st.sampled_from([None, "FIRST", "LAST"]),
    }
)
CUSTOMER_NAMES = ["acme", "acme", "zeta"]  # two customers share a name


@dataclass
class Row:
    id: int
    values: dict[str, Any]


def sort_value(row: dict[str, Any], field: str, board: Any) -> Any:
    if field == "EXPECTED_REVENUE":
        er = row["expected_revenue"]
        return er if er is not None else weighted(row["amount"], row["probability"])
    if field == "STAGE_POSITION":
        return None if row["stage"] is None else row["stage"] + 1
    if field == "CUSTOMER_NAME":
        return None if row["customer"] is None else CUSTOMER_NAMES[row["customer"]]
    return row[field.lower()]


def reference(rows: list[Row], order: list[dict[str, Any]], board: Any) -> list[int]:
    """The order the API promises: each key with its NULL placement, then the id ascending whatever
    the keys' directions."""

    def rank(key: dict[str, Any]) -> Any:
        desc = key["direction"] == "DESC"
        nulls_last = key["nulls"] == "LAST" if key["nulls"] else not desc  # default: NULL is largest
        return desc, nulls_last

    ordered = sorted(rows, key=lambda r: r.id)  # Python's sorts are stable, reverse=True too
    for key in reversed(order):  # stable sorts, least significant key first
        desc, nulls_last = rank(key)
        present = [r for r in ordered if sort_value(r.values, key["field"], board) is not None]
        missing = [r for r in ordered if sort_value(r.values, key["field"], board) is None]
        present.sort(key=lambda r: sort_value(r.values, key["field"], board), reverse=desc)
        ordered = present + missing if nulls_last else missing + present
    return [r.id for r in ordered]


async def _fill(engine, tenant: Tenant, board: Any, customers: list[int], deals: list[dict]) -> list[Row]:
    org = tenant.organization_id
    async with unscoped(engine) as s:
        await s.execute(delete(m.Opportunity).where(m.Opportunity.organization_id == org))
    models = [
        m.Opportunity(
            organization_id=org,
            title=d["title"],
            status=d["status"],
            amount=d["amount"],
            currency="USD",
            probability=d["probability"],
            expected_revenue=d["expected_revenue"],
            expected_close_date=d["expected_close_date"],
            created_at=d["created_at"],
            updated_at=d["created_at"],
            position=d["position"],
            stage_id=None if d["stage"] is None else board.stages[d["stage"]],
            customer_id=None if d["customer"] is None else customers[d["customer"]],
        )
        for d in deals
    ]
    ids = await insert(engine, *models)
    return [Row(i, d) for i, d in zip(ids, deals, strict=True)]


async def _page(api: Api, nested: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    if nested is None:
        return (await api(ROOT, variables))["opportunities"]
    return (await api(NESTED, {"p": nested, **variables}))["pipeline"]["opportunities"]


async def _walk(api: Api, nested: str | None, order: list, size: int, forward: bool) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        if forward:
            page = await _page(api, nested, {"orderBy": order, "first": size, "after": cursor})
            seen += [n["id"] for n in page["nodes"]]
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
            assert page["pageInfo"]["hasPreviousPage"] == (len(seen) > len(page["nodes"]))
        else:
            page = await _page(api, nested, {"orderBy": order, "last": size, "before": cursor})
            seen = [n["id"] for n in page["nodes"]] + seen
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
            assert page["pageInfo"]["hasNextPage"] == (len(seen) > len(page["nodes"]))
        assert len(page["nodes"]) == size or not more
        if not more:
            return seen
    raise AssertionError("the walk did not end")


_STATE: dict[int, Any] = {}


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    deals=st.lists(deal, min_size=0, max_size=14),
    order=st.lists(order_key, min_size=1, max_size=3, unique_by=lambda k: k["field"]),
    size=st.integers(min_value=1, max_value=5),
    nested=st.booleans(),
)
async def test_walking_pages_both_ways_gives_the_reference_order(
    api: Api, tenant: Tenant, engine, deals: list[dict], order: list[dict], size: int, nested: bool
) -> None:
    key = id(engine)  # the board and customers are made once per test database
    if key not in _STATE:
        board = await make_board(engine, tenant.organization_id)
        customers = await insert(
            engine, *(m.Customer(organization_id=tenant.organization_id, name=n) for n in CUSTOMER_NAMES)
        )
        _STATE.clear()
        _STATE[key] = (board, customers)
    board, customers = _STATE[key]
    rows = await _fill(engine, tenant, board, customers, deals)
    pipeline = gid("Pipeline", board.pipeline) if nested else None
    if nested:
        rows = [r for r in rows if r.values["stage"] is not None]
    expected = [gid("Opportunity", i) for i in reference(rows, order, board)]

    assert await _walk(api, pipeline, order, size, forward=True) == expected
    assert await _walk(api, pipeline, order, size, forward=False) == expected
