"""orderBy: every key of OpportunityOrder, NULL placement, several keys, the default, and cursors
that belong to one ordering."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app import models as m
from tests.support import Api, Tenant, insert, make_board, opportunity, unscoped

LIST = """
query ($orderBy: [OpportunityOrder!], $first: Int, $after: String, $offset: Int) {
  opportunities(orderBy: $orderBy, first: $first, after: $after, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { title }
  }
}
"""


async def _deals(engine, tenant: Tenant) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    q, p, won, _ = board.stages
    async with unscoped(engine) as s:
        zed = m.User(organization_id=org, email="zed@acme.test", display_name="Zed")
        bea = m.Customer(organization_id=org, name="Beacon")
        s.add_all([zed, bea])
        await s.flush()
        zed_id, bea_id = zed.id, bea.id
    await insert(
        engine,
        opportunity(org, title="a", amount=Decimal("30"), probability=10, stage_id=p, customer_id=bea_id,
                    owner_id=zed_id, expected_close_date=date(2026, 5, 1), position=2, status="OPEN",
                    closed_at=None, created_at=datetime(2026, 1, 3, tzinfo=UTC)),
        opportunity(org, title="b", amount=None, probability=None, stage_id=q, customer_id=board.customer,
                    owner_id=tenant.user_id, expected_close_date=None, position=1, status="OPEN",
                    created_at=datetime(2026, 1, 1, tzinfo=UTC)),
        opportunity(org, title="c", amount=Decimal("20"), probability=90, stage_id=won, customer_id=None,
                    owner_id=None, expected_close_date=date(2026, 4, 1), position=None, status="WON",
                    closed_at=datetime(2026, 2, 1, tzinfo=UTC), created_at=datetime(2026, 1, 2, tzinfo=UTC)),
        opportunity(org, title="d", amount=Decimal("30"), probability=50, stage_id=None, customer_id=bea_id,
                    owner_id=zed_id, expected_close_date=date(2026, 4, 1), position=3, status="LOST",
                    closed_at=datetime(2026, 3, 1, tzinfo=UTC), created_at=datetime(2026, 1, 4, tzinfo=UTC)),
    )  # fmt: skip


async def titles(api: Api, *order: dict) -> list[str]:
    data = await api(LIST, {"orderBy": list(order) or None})
    return [n["title"] for n in data["opportunities"]["nodes"]]


def key(field: str, direction: str = "ASC", nulls: str | None = None) -> dict:
    return {"field": field, "direction": direction, "nulls": nulls}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ([key("TITLE", "DESC")], ["d", "c", "b", "a"]),
        ([key("AMOUNT")], ["c", "a", "d", "b"]),  # NULL sorts as the largest value; ties by id
        ([key("AMOUNT", "DESC")], ["b", "a", "d", "c"]),  # ties by id ascending, whatever the direction
        ([key("AMOUNT", "DESC", "LAST")], ["a", "d", "c", "b"]),
        ([key("AMOUNT", "ASC", "FIRST")], ["b", "c", "a", "d"]),
        ([key("AMOUNT", "DESC", "LAST"), key("TITLE")], ["a", "d", "c", "b"]),
        ([key("PROBABILITY", nulls="FIRST")], ["b", "a", "d", "c"]),
        ([key("EXPECTED_REVENUE")], ["a", "d", "c", "b"]),  # 3, 15, 18, none
        ([key("EXPECTED_CLOSE_DATE"), key("TITLE", "DESC")], ["d", "c", "a", "b"]),
        ([key("CLOSED_AT", nulls="FIRST")], ["a", "b", "c", "d"]),
        ([key("CREATED_AT")], ["b", "c", "a", "d"]),
        ([key("UPDATED_AT", "DESC")], ["d", "a", "c", "b"]),
        ([key("POSITION")], ["b", "a", "d", "c"]),
        ([key("STATUS"), key("TITLE")], ["d", "a", "b", "c"]),
        ([key("STAGE_POSITION"), key("TITLE")], ["b", "a", "c", "d"]),
        ([key("CUSTOMER_NAME", nulls="FIRST"), key("TITLE")], ["c", "a", "d", "b"]),
        ([key("OWNER_NAME", "DESC", "LAST"), key("TITLE")], ["a", "d", "b", "c"]),
        ([key("ID", "DESC")], ["d", "c", "b", "a"]),
    ],
)
async def test_order_by(api: Api, tenant: Tenant, engine, order: list[dict], expected: list[str]) -> None:
    await _deals(engine, tenant)
    assert await titles(api, *order) == expected


async def test_default_order_is_newest_first(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    assert await titles(api) == ["d", "a", "c", "b"]


async def test_a_cursor_belongs_to_its_ordering(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    page = await api(LIST, {"orderBy": [key("AMOUNT")], "first": 2})
    cursor = page["opportunities"]["pageInfo"]["endCursor"]
    after = await api(LIST, {"orderBy": [key("AMOUNT")], "first": 2, "after": cursor})
    assert [n["title"] for n in after["opportunities"]["nodes"]] == ["d", "b"]
    errors = await api.errors(LIST, {"orderBy": [key("AMOUNT", "DESC")], "first": 2, "after": cursor})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}
    assert "another ordering" in errors[0]["message"]


async def test_offset_pages_for_page_size_clients(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    pages = []
    for offset in (0, 2, 4):
        data = (await api(LIST, {"orderBy": [key("TITLE")], "first": 2, "offset": offset}))["opportunities"]
        pages.append(
            ([n["title"] for n in data["nodes"]], data["pageInfo"]["hasNextPage"], data["totalCount"])
        )
    assert pages == [(["a", "b"], True, 4), (["c", "d"], False, 4), ([], False, 4)]


async def test_other_lists_sort_by_their_own_keys(api: Api, tenant: Tenant, engine) -> None:
    await _deals(engine, tenant)
    data = await api(
        """{
          customers(orderBy: [{field: NAME, direction: DESC}]) { nodes { name } }
          users(orderBy: [{field: DISPLAY_NAME}]) { nodes { displayName } }
          stages(orderBy: [{field: PROBABILITY, direction: DESC}, {field: NAME}]) { nodes { name } }
        }"""
    )
    names = [c["name"] for c in data["customers"]["nodes"]]
    assert names == sorted(names, reverse=True) and "Beacon" in names
    users = [u["displayName"] for u in data["users"]["nodes"]]
    assert users == sorted(users)
    assert [s["name"] for s in data["stages"]["nodes"]] == ["Won", "Propose", "Qualify", "Lost"]


@pytest.mark.parametrize(
    "order",
    [
        [key("AMOUNT"), key("AMOUNT", "DESC")],
        [key("TITLE"), key("AMOUNT"), key("TITLE")],
        [key(f) for f in ("ID", "TITLE", "AMOUNT", "PROBABILITY", "STATUS", "POSITION")],
    ],
)
async def test_contradictory_or_runaway_order_is_bad_user_input(
    api: Api, tenant: Tenant, engine, order: list
) -> None:
    await _deals(engine, tenant)  # customers, so that the nested lists run
    for document in (
        LIST,
        "query ($orderBy: [OpportunityOrder!]) { customers { nodes { opportunities(orderBy: $orderBy) { totalCount } } } }",
    ):
        errors = await api.errors(document, {"orderBy": order})
        assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "orderBy"}
