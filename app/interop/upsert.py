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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.crud import board, custom_fields, items, links
from app.crud import opportunities as deals
from app.crud.base import Retry, fetch, fetch_all, touch, write
from app.crud.fields import NOT_NULL
from app.enums import OpportunityStatus
from app.errors import ErrorCode
from app.ids import to_global_id
from app.interop import keys
from app.validation import Invalid, Problems

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
    # the update rules for all known keys at once; then each list part given, deal by deal
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
    for i in rest:
        ids[i] = await _update(session, known[deals_in[i].external_id], deals_in[i], paths[i])
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


async def _update(session: AsyncSession, pk: int, deal: UpsertDeal, path: Sequence[str]) -> int:
    """Each list part that was given, replaced as a whole (the fields were updated before)."""
    try:
        if deal.tags is not None:
            await links.set_tags(session, opportunity_id=pk, tags=deal.tags)
        if deal.contact_ids is not None:
            await _replace_contacts(session, pk, deal.contact_ids)
        if deal.access_user_ids is not None:
            private = bool(deal.given.get("is_private", False))
            await links.set_access(
                session, opportunity_id=pk, is_private=private, user_gids=deal.access_user_ids
            )
        if deal.custom_fields is not None:
            await _replace_custom_fields(session, pk, deal.custom_fields)
        if deal.items is not None:
            await _replace_items(session, pk, deal.items, path)
        await _lost_reasons(session, pk, deal, path)
        await _close_and_place(session, pk, deal)
    except Invalid as exc:
        raise Invalid([_under(p, path) for p in exc.problems]) from exc
    return pk


async def _close_and_place(session: AsyncSession, pk: int, deal: UpsertDeal) -> None:
    """An import's close time and place in the column for a known deal (a new one is created with
    them): through the version bump, so its change lists them like any other field."""
    if deal.closed_at is None and deal.position is None:
        return
    row = await fetch(session, m.Opportunity, pk)
    if row is None:
        return  # not visible: the update before it said so already
    closed = row["status"] != OpportunityStatus.OPEN
    if deal.closed_at is not None and closed and row["closed_at"] != deal.closed_at:
        await touch(session, pk)
        await write(session, m.Opportunity, pk, {"closed_at": deal.closed_at})
    if deal.position is not None and row["stage_id"] is not None and row["position"] != deal.position:
        stage = to_global_id("Stage", row["stage_id"])
        await board.move(session, opportunity_id=pk, stage_gid=stage, position=deal.position)


def _under(problem: Any, path: Sequence[str]) -> Any:
    """A problem of a one-deal write, at its place in the upsert's input."""
    head = tuple(problem.field)
    if head[: len(path)] == tuple(path):
        return problem
    if head == ("id",):
        return replace(problem, field=(*path, "externalId"))
    return replace(problem, field=(*path, *head))


async def _lost_reasons(session: AsyncSession, pk: int, deal: UpsertDeal, path: Sequence[str]) -> None:
    if deal.lost_reason_ids is not None:
        try:
            await links.set_lost_reasons(session, opportunity_id=pk, reason_gids=deal.lost_reason_ids)
        except Invalid as exc:
            raise Invalid([_under(p, path) for p in exc.problems]) from exc


async def _replace_contacts(session: AsyncSession, pk: int, contact_gids: list[Any]) -> None:
    C = m.OpportunityContact
    rows = await fetch_all(session, C, C.opportunity_id == pk, C.position)
    current = [to_global_id("Contact", r["contact_id"]) for r in rows]
    if current:
        await links.remove_contacts(session, opportunity_id=pk, contact_gids=current)
    if contact_gids:
        await links.add_contacts(session, opportunity_id=pk, contact_gids=contact_gids)


async def _replace_custom_fields(
    session: AsyncSession, pk: int, values: list[tuple[Any, str | None]]
) -> None:
    """The deal's values become exactly `values`: definitions not named are cleared."""
    V = m.CustomFieldValue
    named = {str(d) for d, _ in values}
    have = [
        to_global_id("CustomFieldDefinition", r["definition_id"])
        for r in await fetch_all(session, V, V.opportunity_id == pk)
    ]
    cleared = [(d, None) for d in have if d not in named]
    await custom_fields.set_values(session, opportunity_id=pk, values=[*values, *cleared])


async def _replace_items(
    session: AsyncSession, pk: int, lines: list[dict[str, Any]], path: Sequence[str]
) -> None:
    problems = Problems()
    checked = [
        items.check_item(problems, [*path, "items", str(i)], line, creating=True)
        for i, line in enumerate(lines)
    ]
    problems.raise_if_any()
    line = m.OpportunityItem
    for row in await fetch_all(session, line, line.opportunity_id == pk, line.position):
        await items.remove(session, item_id=row["id"])
    await items.add_many(session, pk, checked)
