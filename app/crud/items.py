"""Line items of a deal: add, change, remove and reorder, positions always 1..n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import camel, fail, fetch, fetch_all, insert_rows, principal, set_positions, touch, write
from app.crud.refs import Refs
from app.errors import ErrorCode
from app.validation import MAX_MONEY, Problems

I = m.OpportunityItem  # noqa: E741
MAX_ITEMS = 500
TEXTS = {
    "item_code": 140,
    "item_name": 255,
    "item_group": 140,
    "brand": 140,
    "uom": 32,
    "description": 4000,
    "image_url": 2048,
}


def check_item(
    problems: Problems, path: Sequence[str], given: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """Clean an item's given fields. Rates may be negative (a discount line); quantities not."""
    out: dict[str, Any] = {}
    if creating and given.get("item_name") is None:
        given = {**given, "item_name": None}
    for key, value in given.items():
        at = [*path, camel(key)]
        if key in TEXTS:
            out[key] = problems.text(at, value, required=key == "item_name", max_length=TEXTS[key])
        elif key in ("quantity", "rate") and value is None:
            problems.add(at, ErrorCode.REQUIRED, f"{camel(key)} cannot be null")
        elif key == "quantity":
            out[key] = problems.money(at, value)
        elif key in ("rate", "base_rate"):
            out[key] = problems.money(at, value, minimum=-MAX_MONEY)
    return out


async def _items(session: AsyncSession, opportunity_id: int) -> list[Any]:
    return await fetch_all(session, I, I.opportunity_id == opportunity_id, I.position)


async def _place(session: AsyncSession, opportunity_id: int, pk: int | None, at: int | None) -> None:
    items = await _items(session, opportunity_id)
    order = [row["id"] for row in items if row["id"] != pk]
    if pk is not None:
        index = len(order) if at is None else max(0, min(at - 1, len(order)))
        order.insert(index, pk)
    await set_positions(session, I, order, {row["id"]: row["position"] for row in items})


async def add(session: AsyncSession, *, opportunity_id: int, given: Mapping[str, Any]) -> int:
    problems = Problems()
    values = check_item(
        problems, ["input"], {k: v for k, v in given.items() if k != "position"}, creating=True
    )
    problems.position(["input", "position"], given.get("position"))
    problems.raise_if_any()
    # the version bump is also the deal's lock: its items change one writer at a time
    await touch(session, opportunity_id, id_path="opportunityId", lists=("items",))
    if len(await _items(session, opportunity_id)) >= MAX_ITEMS:
        raise fail(["opportunityId"], ErrorCode.OUT_OF_RANGE, f"a deal has at most {MAX_ITEMS} line items")
    org = principal(session).organization_id
    values.setdefault("quantity", Decimal(1))
    values.setdefault("rate", Decimal(0))
    row = I(organization_id=org, opportunity_id=opportunity_id, position=2**31 - 1, **values)
    session.add(row)
    await session.flush()
    await _place(session, opportunity_id, row.id, given.get("position"))
    return int(row.id)


def rows(org: int, opportunity_id: int, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a deal's items, already checked, in the given order (inserted with others')."""
    return [
        {
            "quantity": Decimal(1),
            "rate": Decimal(0),
            **values,
            "organization_id": org,
            "opportunity_id": opportunity_id,
            "position": i,
        }
        for i, values in enumerate(items, 1)
    ]


async def add_many(session: AsyncSession, opportunity_id: int, items: Sequence[Mapping[str, Any]]) -> None:
    """Items of a deal that has none, already checked, in the given order."""
    await insert_rows(session, I, rows(principal(session).organization_id, opportunity_id, items))


async def update(session: AsyncSession, *, item_id: int, given: Mapping[str, Any]) -> int:
    current = await fetch(session, I, item_id)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such line item")
    problems = Problems()
    values = check_item(
        problems, ["input"], {k: v for k, v in given.items() if k != "position"}, creating=False
    )
    problems.position(["input", "position"], given.get("position"))
    problems.raise_if_any()
    await touch(session, current["opportunity_id"], lists=("items",))
    await write(session, I, item_id, values)
    if given.get("position") is not None:
        await _place(session, current["opportunity_id"], item_id, given["position"])
    return int(current["opportunity_id"])


async def remove(session: AsyncSession, *, item_id: int) -> int:
    current = await fetch(session, I, item_id)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such line item")
    await touch(session, current["opportunity_id"], lists=("items",))
    await session.execute(delete(I).where(I.id == item_id).execution_options(synchronize_session=False))
    await _place(session, current["opportunity_id"], None, None)
    return int(current["opportunity_id"])


async def reorder(session: AsyncSession, *, opportunity_id: int, item_gids: Sequence[Any]) -> int:
    """Put the items in the given order; the list must be exactly the deal's items."""
    problems = Problems()
    problems.unique_ids(["itemIds"], item_gids)
    refs = Refs(problems)
    refs.want_all(["itemIds"], "OpportunityItem", item_gids)
    await refs.resolve(session)
    problems.raise_if_any()
    await touch(session, opportunity_id, id_path="opportunityId", lists=("items",))
    items = await _items(session, opportunity_id)
    wanted = [refs.pk("OpportunityItem", g) for g in item_gids]
    if set(wanted) != {row["id"] for row in items} or len(wanted) != len(items):
        raise fail(
            ["itemIds"],
            ErrorCode.INVALID,
            f"list each of the deal's {len(items)} items exactly once",
            len(wanted),
        )
    await set_positions(
        session, I, [w for w in wanted if w is not None], {r["id"]: r["position"] for r in items}
    )
    return opportunity_id
