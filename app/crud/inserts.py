"""A batch of new deals written: one multi-row INSERT per table, whatever the batch's size.

`opportunities.create` checks every input first; this writes what it checked. The deals'
columns are locked and their ends read in one statement, each new card gets the next place
at the end of its column, in input order (the deal rows carry their positions, so no
statement places them one by one), and every child table (participants, lost reasons,
access list, tags, items, custom values) takes the rows of the whole batch in one INSERT.
Only what a column asks for beyond appending costs more: an explicit position other than
the end moves that card (two or three statements), and a column that is not dense (rows
written around the API) is renumbered whole, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud import board, custom_fields, items, links
from app.crud.base import O, insert_returning_ids, insert_rows, lock_stages, now, principal
from app.crud.refs import Refs
from app.enums import OpportunityStatus
from app.tenancy import Principal


@dataclass
class NewDeal:
    """One deal to create: its fields (links as global ids) and what hangs off it.

    `lost_reason_ids` and `closed_at` have no place in `CreateOpportunityInput` (a deal is
    closed by its stage, or by `markOpportunityLost`); an import sets them as its file says.
    """

    fields: dict[str, Any]
    position: int | None = None
    contact_ids: list[Any] = field(default_factory=list)
    access_user_ids: list[Any] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    custom_fields: list[tuple[Any, str | None]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    lost_reason_ids: list[Any] = field(default_factory=list)
    closed_at: datetime | None = None


@dataclass
class Checked:
    """A NewDeal after the checks: column values, tags, custom values and items cleaned."""

    values: dict[str, Any]
    deal: NewDeal
    tags: list[str]
    custom: dict[int, str | None]
    items: list[dict[str, Any]]


def _deal_row(c: Checked, who: Principal, at: datetime, base_currency: str | None) -> dict[str, Any]:
    values = dict(c.values)
    values.setdefault("owner_id", who.user_id)
    if values.get("amount") is not None and not values.get("currency"):
        values["currency"] = base_currency  # an amount is always in some currency: the organization's
    if (
        c.deal.closed_at is not None
        and values.get("status", OpportunityStatus.OPEN) != OpportunityStatus.OPEN
    ):
        values["closed_at"] = c.deal.closed_at  # when it closed, as the import's file says
    return {
        **{k: v for k, v in values.items() if k != "is_private"},
        "organization_id": who.organization_id,
        "created_at": at,
        "updated_at": at,
        "created_by_id": who.user_id,
        "updated_by_id": who.user_id,
        "is_private": bool(c.deal.fields.get("is_private")),
        "version": 1,
    }


async def insert(
    session: AsyncSession,
    refs: Refs,
    checked: Sequence[Checked],
    base_currency: str | None,
    *,
    noted: Callable[[int, Checked], object] | None = None,
) -> list[int]:
    """Write the checked deals; returns their ids in input order.

    `noted(id, deal)` runs for each new deal once it has its id, before any card is placed
    (placing one card can shift another new one)."""
    who = principal(session)
    org = who.organization_id
    stages = [c.values.get("stage_id") for c in checked]
    # The columns are locked before their ends are read, and held to COMMIT: the positions
    # handed out below are then the column's next ones for every other writer too.
    await lock_stages(session, stages)
    ends = await board.ends(session, sorted({s for s in stages if s is not None}))
    rows, at = [], now()
    for c in checked:
        row = _deal_row(c, who, at, base_currency)
        stage: int | None = row.get("stage_id")
        top = None if stage is None else ends.get(stage)
        row["position"] = None
        if stage is not None and top is not None:
            ends[stage] = row["position"] = top + 1
        rows.append(row)
    ids = await insert_returning_ids(session, O, rows)
    contacts: list[dict[str, Any]] = []
    reasons: list[dict[str, Any]] = []
    access: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for pk, c in zip(ids, checked, strict=True):
        deal = c.deal
        contacts += links.ordered_rows(
            pk, org, "contact_id", [refs.pk("Contact", g) for g in dict.fromkeys(deal.contact_ids)]
        )
        reasons += links.ordered_rows(
            pk,
            org,
            "close_reason_id",
            [refs.pk("CloseReason", g) for g in dict.fromkeys(deal.lost_reason_ids)],
        )
        access += links.access_rows(
            pk, org, [refs.pk("User", g) for g in dict.fromkeys(deal.access_user_ids)]
        )
        tags += links.ordered_rows(pk, org, "tag", c.tags)
        lines += items.rows(org, pk, c.items)
        values += custom_fields.value_rows(org, pk, c.custom)
    await insert_rows(session, m.OpportunityContact, contacts)
    await insert_rows(session, m.OpportunityLostReason, reasons)
    await insert_rows(session, m.OpportunityAccess, access)
    await insert_rows(session, m.OpportunityTag, tags)
    await insert_rows(session, m.OpportunityItem, lines)
    await insert_rows(session, m.CustomFieldValue, values)
    if noted is not None:
        for pk, c in zip(ids, checked, strict=True):
            noted(pk, c)
    await _place(session, ids, rows, checked, ends)
    return ids


async def _place(
    session: AsyncSession,
    ids: Sequence[int],
    rows: Sequence[dict[str, Any]],
    checked: Sequence[Checked],
    ends: dict[int, int | None],
) -> None:
    """What appending did not do: renumber a column that was not dense (its new cards, with no
    position yet, go to its end in id order), then move each card with its own position there,
    in input order, as if the cards had been created one after another."""
    for stage_id, top in sorted(ends.items()):
        if top is None:
            await board.close_gap(session, stage_id)
    moved: set[int] = set()  # columns where a card already left the end
    for pk, row, c in zip(ids, rows, checked, strict=True):
        stage, at = row.get("stage_id"), c.deal.position
        if stage is None or at is None:
            continue
        if stage not in moved and ends.get(stage) is not None and at == row["position"]:
            continue  # where appending put it, and no card before it moved: nothing to do
        moved.add(stage)
        await board.place(session, stage, pk, at)
