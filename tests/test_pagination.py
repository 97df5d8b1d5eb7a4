"""Cursor and offset pagination edge cases: repeated and NULL sort keys, backward pages, bounds."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.support import Api, Tenant, count_statements, insert, opportunity

PAGE = """
query ($first: Int, $after: String, $last: Int, $before: String, $offset: Int, $orderBy: [OpportunityOrder!]) {
  opportunities(first: $first, after: $after, last: $last, before: $before, offset: $offset, orderBy: $orderBy) {
    totalCount
    edges { cursor node { title amount } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

BY_AMOUNT = [{"field": "AMOUNT", "direction": "ASC"}]


async def _deals(engine, tenant: Tenant, amounts: list[str | None]) -> list[str]:
    rows = [
        opportunity(tenant.organization_id, title=f"D{i:02d}", amount=None if a is None else Decimal(a))
        for i, a in enumerate(amounts)
    ]
    await insert(engine, *rows)
    return [r.title for r in rows]


async def _walk(api: Api, size: int, order: list[dict[str, str]] | None) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = (await api(PAGE, {"first": size, "after": after, "orderBy": order}))["opportunities"]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def _walk_back(api: Api, size: int, order: list[dict[str, str]] | None) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        page = (await api(PAGE, {"last": size, "before": before, "orderBy": order}))["opportunities"]
        seen = [e["node"]["title"] for e in page["edges"]] + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            return seen
        before = page["pageInfo"]["startCursor"]


async def test_default_order_is_newest_first(api: Api, tenant: Tenant, engine) -> None:
    titles = await _deals(engine, tenant, ["1", "2", "3"])
    page = (await api(PAGE, {}))["opportunities"]
    assert [e["node"]["title"] for e in page["edges"]] == list(reversed(titles))
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False


async def test_repeated_and_null_keys_walk_forward_and_backward_without_gaps(
    api: Api, tenant: Tenant, engine
) -> None:
    amounts = ["5", None, "5", "1", None, "5", "1", "9", None, "5", "5"]
    titles = await _deals(engine, tenant, amounts)
    # AMOUNT ASC puts NULLs last by default (they sort as the largest value); ties by id
    expected = [
        t
        for a, t in sorted(
            zip(amounts, titles, strict=True), key=lambda p: (p[0] is None, Decimal(p[0] or 0))
        )
    ]
    for size in (1, 2, 3, 4):
        assert await _walk(api, size, BY_AMOUNT) == expected
        assert await _walk_back(api, size, BY_AMOUNT) == expected
    nulls_first = [{"field": "AMOUNT", "direction": "DESC", "nulls": "FIRST"}]
    walked = await _walk(api, 3, nulls_first)
    # the NULLs tie: by id ascending, though the key descends
    assert walked[:3] == [t for a, t in zip(amounts, titles, strict=True) if a is None]
    assert await _walk_back(api, 2, nulls_first) == walked


async def test_first_zero_returns_no_rows_but_knows_more_exist(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant, ["1", "2"])
    page = (await api(PAGE, {"first": 0}))["opportunities"]
    assert page["edges"] == []
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_offset_pages_and_past_the_end(api: Api, tenant: Tenant, engine) -> None:
    titles = await _deals(engine, tenant, ["1", "2", "3", "4", "5"])
    page = (await api(PAGE, {"first": 2, "offset": 2, "orderBy": BY_AMOUNT}))["opportunities"]
    assert [e["node"]["title"] for e in page["edges"]] == titles[2:4]
    assert page["pageInfo"]["hasNextPage"] is True and page["pageInfo"]["hasPreviousPage"] is True
    past = (await api(PAGE, {"first": 2, "offset": 50}))["opportunities"]
    assert past["edges"] == [] and past["pageInfo"]["hasNextPage"] is False and past["totalCount"] == 5


async def test_cursor_from_another_order_is_refused(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant, ["1", "2", "3"])
    cursor = (await api(PAGE, {"first": 1}))["opportunities"]["pageInfo"]["endCursor"]
    errors = await api.errors(PAGE, {"first": 1, "after": cursor, "orderBy": BY_AMOUNT})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    garbage = await api.errors(PAGE, {"first": 1, "after": "not-a-cursor"})
    assert garbage[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_page_size_bounds(api: Api) -> None:
    for variables in ({"first": -1}, {"first": 1, "last": 1}, {"last": 1, "offset": 1}):
        errors = await api.errors(PAGE, variables)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", variables
    for variables in ({"first": 1001}, {"last": 5000}):  # docs/security.md: a page over the limit
        errors = await api.errors(PAGE, variables)
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", variables
    assert (await api(PAGE, {"first": 1000}))["opportunities"]["edges"] == []


def _bounds(sql: str) -> str:
    """The LIMIT/OFFSET tail of a statement, whitespace folded."""
    flat = " ".join(sql.split())
    return flat[flat.rfind(" LIMIT ") :] if " LIMIT " in flat else ""


async def test_a_page_size_is_written_into_the_sql_and_an_offset_is_bound(
    api: Api, tenant: Tenant, engine
) -> None:
    # PostgreSQL keeps a generic plan for a prepared statement only if it costs no more than the
    # custom ones, and `LIMIT $n` is costed as a tenth of the table: the page size must be text.
    await _deals(engine, tenant, ["1", "2", "3", "4", "5"])
    await api("{ viewer { id } }")  # the key's first use looks it up: keep it out of the count
    with count_statements(engine) as statements:
        page = (await api(PAGE, {"first": 2, "orderBy": BY_AMOUNT}))["opportunities"]
    assert [e["node"]["amount"] for e in page["edges"]] == ["1.0000", "2.0000"]
    # no OFFSET 0 either (SQLAlchemy's SQLite dialect always writes one: SQLite has no plan cache)
    no_offset = " LIMIT 3 OFFSET ?" if engine.dialect.name == "sqlite" else " LIMIT 3"
    assert len(statements) == 1 and _bounds(statements[0]) == no_offset
    with count_statements(engine) as statements:
        page = (await api(PAGE, {"first": 2, "offset": 3, "orderBy": BY_AMOUNT}))["opportunities"]
    assert [e["node"]["amount"] for e in page["edges"]] == ["4.0000", "5.0000"]
    # any number can come as an offset: it stays a parameter (`?`, `$2::INTEGER`)
    assert re.fullmatch(r" LIMIT 3 OFFSET (\?|\$\d+::INTEGER)", _bounds(statements[0]))
