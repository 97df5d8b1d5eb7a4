"""Create or update deals by an external id, through the one create and update code.

A key new to the organization creates its deal by the create rules (`title` required, the
required custom fields); a known one updates by the update rules (omitted fields stay,
null clears). The deals of new keys are inserted first, then their keys claimed with
INSERT … ON CONFLICT DO NOTHING: a key another transaction claimed meanwhile raises
`Retry`, and the mutation runs again, finding the key known. So two concurrent upserts of
one new key make one deal, by the unique constraint, never by a read-then-write race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.crud import board, replace
from app.crud import opportunities as deals
from app.crud.base import Retry, fetch, fetch_many, touch_many, write_many
from app.crud.fields import NOT_NULL
from app.enums import OpportunityStatus
from app.errors import ErrorCode
from app.ids import to_global_id
from app.interop import keys
from app.validation import Problems

m: Any = models  # the tables' columns, untyped: SQLModel types them as their values

# The list parts an import also sets (the GraphQL input has none of them: None = untouched).
LIST_PARTS = ("tags", "contact_ids", "lost_reason_ids", "access_user_ids", "custom_fields", "items")


@dataclass
class UpsertDeal:
    """One deal keyed by its external id: `given` as an update input (links as global ids)."""

    external_id: str
    given: dict[str, Any]
    tags: list[str] | None = None
    contact_ids: list[Any] | None = None
    lost_reason_ids: list[Any] | None = None
    access_user_ids: list[Any] | None = None
    custom_fields: list[tuple[Any, str | None]] | None = None
    items: list[dict[str, Any]] | None = None
    # an import's own: where the card goes in its column, and when a closed deal closed
    position: int | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Upserted:
    id: int
    created: bool


async def upsert(
    session: AsyncSession, *, source: str, deals_in: Sequence[UpsertDeal], paths: Sequence[Sequence[str]]
) -> list[Upserted]:
    """Every deal created or updated, or none (an `Invalid` names each problem's input)."""
    problems = Problems()
    if len(deals_in) > deals.MAX_BULK:
        problems.add(
            ["inputs"], ErrorCode.OUT_OF_RANGE, f"at most {deals.MAX_BULK} deals at once", len(deals_in)
        )
        problems.raise_if_any()
    problems.text(["source"], source, required=True, max_length=64)
    seen: dict[str, int] = {}
    for i, (deal, path) in enumerate(zip(deals_in, paths, strict=True)):
        at = [*path, "externalId"]
        if problems.text(at, deal.external_id, required=True, max_length=255) is None:
            continue
        if deal.external_id in seen:
            problems.add(
                at, ErrorCode.DUPLICATE, f"also the key of input {seen[deal.external_id]}", deal.external_id
            )
        seen.setdefault(deal.external_id, i)
    problems.raise_if_any()
    known = await keys.lookup(session, keys.DEAL, source, (d.external_id for d in deals_in))
    fresh = [i for i, d in enumerate(deals_in) if d.external_id not in known]
    created = await deals.create(
        session, deals=[_new(deals_in[i]) for i in fresh], paths=[paths[i] for i in fresh]
    )
    claimed = await keys.claim(
        session,
        keys.DEAL,
        source,
        [(deals_in[i].external_id, pk) for i, pk in zip(fresh, created, strict=True)],
    )
    if len(claimed) < len(fresh):
        raise Retry  # another transaction made a deal for one of these keys first: update it instead
    ids = dict(zip(fresh, created, strict=True))
    rest = [i for i in range(len(deals_in)) if i not in ids]
    # the update rules for all known keys at once, then the lists they give, then the import's
    # close times and places
    await deals.update_all(
        session,
        [
            deals.Change(
                known[deals_in[i].external_id], deals_in[i].given, paths[i], [*paths[i], "externalId"]
            )
            for i in rest
            if _scalar(deals_in[i])
        ],
    )
    await replace.replace(
        session, [_lists(known[deals_in[i].external_id], deals_in[i], paths[i]) for i in rest]
    )
    await _close_and_place(session, [(known[deals_in[i].external_id], deals_in[i], paths[i]) for i in rest])
    ids.update({i: known[deals_in[i].external_id] for i in rest})
    return [Upserted(ids[i], i in set(fresh)) for i in range(len(deals_in))]


def _new(deal: UpsertDeal) -> deals.NewDeal:
    return deals.NewDeal(
        # null is "not given" on create, but for the columns that cannot be null (their default
        # applies); an explicit null elsewhere stays null (a probability not taken from the stage)
        fields={k: v for k, v in deal.given.items() if not (v is None and k in NOT_NULL and k != "title")},
        contact_ids=list(deal.contact_ids or []),
        access_user_ids=list(deal.access_user_ids or []),
        tags=list(deal.tags or []),
        custom_fields=list(deal.custom_fields or []),
        items=list(deal.items or []),
        lost_reason_ids=list(deal.lost_reason_ids or []),
        position=deal.position,
        closed_at=deal.closed_at,
    )


def _scalar(deal: UpsertDeal) -> bool:
    """Whether the deal's update goes through the update rules: fields given, or nothing at all
    (a NOT_FOUND, or a version untouched)."""
    return bool(deal.given) or all(getattr(deal, part) is None for part in LIST_PARTS)


def _lists(pk: int, deal: UpsertDeal, path: Sequence[str]) -> replace.Lists:
    return replace.Lists(
        pk,
        path,
        [*path, "externalId"],
        tags=deal.tags,
        contact_ids=deal.contact_ids,
        lost_reason_ids=deal.lost_reason_ids,
        access_user_ids=deal.access_user_ids,
        is_private=bool(deal.given.get("is_private", False)),
        custom_fields=deal.custom_fields,
        items=deal.items,
    )


async def _close_and_place(
    session: AsyncSession, known: Sequence[tuple[int, UpsertDeal, Sequence[str]]]
) -> None:
    """An import's close times and places in the column for known deals (a new one is created
    with them): through the version bump, so each change lists them like any other field."""
    wanted = [(pk, d, path) for pk, d, path in known if d.closed_at is not None or d.position is not None]
    rows = await fetch_many(session, m.Opportunity, [pk for pk, _, _ in wanted])
    closing = {
        pk: (d.closed_at, path)
        for pk, d, path in wanted
        if pk in rows
        and d.closed_at is not None
        and rows[pk]["status"] != OpportunityStatus.OPEN
        and rows[pk]["closed_at"] != d.closed_at
    }
    if closing:
        await touch_many(session, list(closing), [[*path, "externalId"] for _, path in closing.values()])
        await write_many(session, m.Opportunity, {pk: {"closed_at": at} for pk, (at, _) in closing.items()})
    moved = False  # after a move, the places read above may be stale: read each again
    for pk, d, _ in wanted:
        if d.position is None:
            continue
        row = await fetch(session, m.Opportunity, pk) if moved else rows.get(pk)
        if row is None or row["stage_id"] is None or row["position"] == d.position:
            continue
        stage = to_global_id("Stage", row["stage_id"])
        await board.move(session, opportunity_id=pk, stage_gid=stage, position=d.position)
        moved = True
