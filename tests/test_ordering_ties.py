"""Rows that tie on every sort key come by id ascending, whatever the keys' directions, and keyset
pages (forward and backward) walk across the ties without skipping or repeating a row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support import Api, Tenant, insert, opportunity

PAGE = """
query ($orderBy: [OpportunityOrder!], $first: Int, $after: String, $last: Int, $before: String) {
  opportunities(orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id title }
  }
}
"""

# (title, amount, probability): three-way and two-way ties on amount, ties on both keys too
DEALS = [
    ("a", "20", 10), ("b", "10", 50), ("c", "20", 10), ("d", None, 50), ("e", "10", 10),
    ("f", "20", 50), ("g", None, 10), ("h", "10", 50), ("i", "20", 10),
]  # fmt: skip


async def _deals(engine, tenant: Tenant) -> dict[str, int]:
    rows = [
        opportunity(tenant.organization_id, title=t, amount=None if a is None else Decimal(a), probability=p)
        for t, a, p in DEALS
    ]
    ids = await insert(engine, *rows)
    return {t: pk for (t, _, _), pk in zip(DEALS, ids, strict=True)}


def _expected(ids: dict[str, int], amount_desc: bool, prob_desc: bool | None) -> list[str]:
    """The reference order: amount (NULLs as the largest value), then probability, then id ascending."""

    def amount_key(t: str) -> Decimal:
        a = next(a for title, a, _ in DEALS if title == t)
        value = Decimal("1e30") if a is None else Decimal(a)
        return -value if amount_desc else value

    def prob_key(t: str) -> int:
        if prob_desc is None:
            return 0
        p = next(p for title, _, p in DEALS if title == t)
        return -p if prob_desc else p

    return sorted(ids, key=lambda t: (amount_key(t), prob_key(t), ids[t]))


def _order(amount_desc: bool, prob_desc: bool | None) -> list[dict]:
    keys = [{"field": "AMOUNT", "direction": "DESC" if amount_desc else "ASC"}]
    if prob_desc is not None:
        keys.append({"field": "PROBABILITY", "direction": "DESC" if prob_desc else "ASC"})
    return keys


DIRECTIONS = [(False, None), (True, None), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize(("amount_desc", "prob_desc"), DIRECTIONS)
async def test_ties_come_by_id_ascending_in_one_page(
    engine, tenant: Tenant, api: Api, amount_desc, prob_desc
):
    ids = await _deals(engine, tenant)
    data = await api(PAGE, {"orderBy": _order(amount_desc, prob_desc), "first": 50})
    assert [n["title"] for n in data["opportunities"]["nodes"]] == _expected(ids, amount_desc, prob_desc)


@pytest.mark.parametrize(("amount_desc", "prob_desc"), DIRECTIONS)
async def test_keyset_pages_cross_ties_forward_and_backward(
    engine, tenant: Tenant, api: Api, amount_desc, prob_desc
):
    ids = await _deals(engine, tenant)
    expected = _expected(ids, amount_desc, prob_desc)
    order = _order(amount_desc, prob_desc)
    forward: list[str] = []
    after = None
    for _ in range(10):
        page = (await api(PAGE, {"orderBy": order, "first": 2, "after": after}))["opportunities"]
        forward += [n["title"] for n in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert forward == expected
    backward: list[str] = []
    before = None
    for _ in range(10):
        page = (await api(PAGE, {"orderBy": order, "last": 2, "before": before}))["opportunities"]
        backward = [n["title"] for n in page["nodes"]] + backward
        before = page["pageInfo"]["startCursor"]
        if not page["pageInfo"]["hasPreviousPage"]:
            break
    assert backward == expected


async def test_default_order_breaks_ties_by_id_ascending(engine, tenant: Tenant, api: Api):
    from datetime import UTC, datetime

    same = datetime(2026, 6, 1, tzinfo=UTC)
    rows = [opportunity(tenant.organization_id, title=t, created_at=same) for t in ("x", "y", "z")]
    older = opportunity(tenant.organization_id, title="old", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    await insert(engine, *rows, older)
    data = await api(PAGE, {"first": 10})
    # newest first; the three created at the same instant by id ascending
    assert [n["title"] for n in data["opportunities"]["nodes"]] == ["x", "y", "z", "old"]
