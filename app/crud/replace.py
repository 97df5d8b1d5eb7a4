"""Many deals' lists replaced as a whole, in one batch: one DELETE and one INSERT per table.

An upsert (or an import) of known keys gives each deal's participants, lost reasons, access
list, tags, custom values or line items as whole lists. They are checked as the one-list
mutations check them (and their problems are at the same paths, under each input's path),
the deals bumped once with the change log told which lists change (read before, in one
statement per list), then each table's rows of all those deals replaced at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud import custom_fields, items, links
from app.crud.base import insert_rows, principal, touch_many, write_many
from app.crud.refs import Refs
from app.errors import ErrorCode
from app.ids import to_global_id
from app.validation import Problems


@dataclass
class Lists:
    """One deal's new lists (None: that list stays as it is)."""

    opportunity_id: int
    path: Sequence[str]
    id_path: Sequence[str]
    tags: list[str] | None = None
    contact_ids: list[Any] | None = None
    lost_reason_ids: list[Any] | None = None
    access_user_ids: list[Any] | None = None
    is_private: bool = False  # with the access list: whether it applies
    custom_fields: list[tuple[Any, str | None]] | None = None
    items: list[dict[str, Any]] | None = None


# each list, its name in the change log (the schema's), the table its rows are in
TABLES: dict[str, tuple[str, Any]] = {
    "tags": ("tags", m.OpportunityTag),
    "contact_ids": ("contacts", m.OpportunityContact),
    "lost_reason_ids": ("lostReasons", m.OpportunityLostReason),
    "access_user_ids": ("accessList", m.OpportunityAccess),
    "custom_fields": ("customFields", m.CustomFieldValue),
    "items": ("items", m.OpportunityItem),
}
# where each list's problems are, as the one-list mutations put them
PATHS = {"contact_ids": "contactIds", "lost_reason_ids": "closeReasonIds", "access_user_ids": "userIds"}
KINDS = {"contact_ids": "Contact", "lost_reason_ids": "CloseReason", "access_user_ids": "User"}


async def replace(session: AsyncSession, deals: Sequence[Lists]) -> None:
    """Replace the given lists of every deal, or none (an `Invalid` names each problem)."""
    deals = [d for d in deals if any(getattr(d, part) is not None for part in TABLES)]
    if not deals:
        return
    problems = Problems()
    refs = Refs(problems)
    ids: dict[tuple[int, str], list[Any]] = {}
    tags: dict[int, list[str]] = {}
    lines: dict[int, list[dict[str, Any]]] = {}
    for d in deals:
        if d.tags is not None:
            tags[d.opportunity_id] = problems.tags([*d.path, "tags"], d.tags)
        for part, name in PATHS.items():
            given = getattr(d, part)
            if given is None:
                continue
            at = [*d.path, name]
            if len(given) > links.MAX_LINKS:
                problems.add(at, ErrorCode.OUT_OF_RANGE, f"at most {links.MAX_LINKS} at once", len(given))
            ids[(d.opportunity_id, part)] = problems.unique_ids(at, given)
            refs.want_all(at, KINDS[part], given)
        if d.items is not None:
            if len(d.items) > items.MAX_ITEMS:
                at = [*d.path, "items"]
                problems.add(
                    at, ErrorCode.OUT_OF_RANGE, f"at most {items.MAX_ITEMS} line items", len(d.items)
                )
            lines[d.opportunity_id] = [
                items.check_item(problems, [*d.path, "items", str(i)], line, creating=True)
                for i, line in enumerate(d.items)
            ]
    values = await _custom_values(session, problems, [d for d in deals if d.custom_fields is not None])
    await refs.resolve(session)
    for d in deals:
        if d.lost_reason_ids is not None:
            links.only_lost(problems, refs, [*d.path, "closeReasonIds"], d.lost_reason_ids)
    problems.raise_if_any()
    named = {
        d.opportunity_id: tuple(TABLES[p][0] for p in TABLES if getattr(d, p) is not None) for d in deals
    }
    await touch_many(session, [d.opportunity_id for d in deals], [d.id_path for d in deals], named)
    org = principal(session).organization_id
    rows: dict[str, list[dict[str, Any]]] = {part: [] for part in TABLES}
    for (pk, part), gids in ids.items():
        targets = [refs.pk(KINDS[part], g) for g in gids]
        if part == "access_user_ids":
            rows[part] += links.access_rows(pk, org, targets)
        else:
            column = "contact_id" if part == "contact_ids" else "close_reason_id"
            rows[part] += links.ordered_rows(pk, org, column, targets)
    for pk, cleaned in tags.items():
        rows["tags"] += links.ordered_rows(pk, org, "tag", cleaned)
    for pk, checked in values.items():
        rows["custom_fields"] += custom_fields.value_rows(org, pk, checked)
    for pk, checked_lines in lines.items():
        rows["items"] += items.rows(org, pk, checked_lines)
    for part, (_, model) in TABLES.items():
        pks = [d.opportunity_id for d in deals if getattr(d, part) is not None]
        if pks:
            stmt = delete(model).where(model.opportunity_id.in_(pks))
            await session.execute(stmt.execution_options(synchronize_session=False))
            await insert_rows(session, model, rows[part])
    private = {d.opportunity_id: {"is_private": d.is_private} for d in deals if d.access_user_ids is not None}
    await write_many(session, m.Opportunity, private)


async def _custom_values(
    session: AsyncSession, problems: Problems, deals: Sequence[Lists]
) -> dict[int, dict[int, str | None]]:
    """Each deal's values become exactly the given ones: a definition it has a value of and
    that is not named is cleared, by the rules of clearing it (a required one cannot be)."""
    if not deals:
        return {}
    defs = await custom_fields.definitions(session)
    V = m.CustomFieldValue
    have: dict[int, list[int]] = {d.opportunity_id: [] for d in deals}
    stmt = select(V.opportunity_id, V.definition_id).where(V.opportunity_id.in_(list(have)))
    for pk, definition in await session.execute(stmt.order_by(V.opportunity_id, V.definition_id)):
        have[pk].append(definition)
    out = {}
    for d in deals:
        given = list(d.custom_fields or [])
        named = {str(g) for g, _ in given}
        cleared = [
            (g, None)
            for g in (to_global_id("CustomFieldDefinition", pk) for pk in have[d.opportunity_id])
            if g not in named
        ]
        out[d.opportunity_id] = custom_fields.check_values(
            problems, defs, [*d.path, "values"], [*given, *cleared], creating=False
        )
    return out
