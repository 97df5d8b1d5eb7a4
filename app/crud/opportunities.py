"""Create, update and delete deals, one or many, with every rule of docs/model.md applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.changes import record
from app.crud import board, custom_fields, inserts, items, links, trash
from app.crud.base import (
    O,
    Retry,
    fail,
    fetch,
    fetch_many,
    lock_stages,
    principal,
    touch,
    touch_many,
    write,
    write_many,
)
from app.crud.fields import check, derive, resolve_links
from app.crud.inserts import Checked, NewDeal
from app.crud.refs import Refs
from app.enums import StageType
from app.errors import ErrorCode
from app.ids import to_global_id
from app.validation import Invalid, Problems

MAX_BULK = 1000


async def create(
    session: AsyncSession, *, deals: Sequence[NewDeal], paths: Sequence[Sequence[str]]
) -> list[int]:
    """Create every deal or none; returns their ids in input order."""
    problems = Problems()
    if len(deals) > MAX_BULK:
        problems.add(["inputs"], ErrorCode.OUT_OF_RANGE, f"at most {MAX_BULK} deals at once", len(deals))
        problems.raise_if_any()
    if not deals:
        return []  # an upsert of known keys only: nothing to read
    refs = Refs(problems)
    defs = await custom_fields.definitions(session)
    if any("stage_id" not in deal.fields for deal in deals):
        default = await default_stage(session)
        if default is not None:  # an organization without an open stage makes deals on no board
            deals = [d if "stage_id" in d.fields else _in_stage(d, default) for d in deals]
    checked = [_check_new(problems, refs, defs, deal, path) for deal, path in zip(deals, paths, strict=True)]
    if not principal(session).is_admin:
        _no_private(problems, deals, paths)
    await refs.resolve(session)
    for c, path in zip(checked, paths, strict=True):
        links.only_lost(problems, refs, [*path, "closeReasonIds"], c.deal.lost_reason_ids)
        c.values = _derive_new(problems, refs, c.values, path)
    problems.raise_if_any()
    base_currency = await _base_currency(session, checked)
    # each new deal is noted for the change log before the cards are placed: a new card that a
    # later one pushes down is this create's, not a shift of its own
    return await inserts.insert(
        session,
        refs,
        checked,
        base_currency,
        noted=lambda pk, c: record.created(session, pk, _given_lists(c)),
    )


def _given_lists(c: Checked) -> tuple[str, ...]:
    """The list fields a new deal has: only those are read back for its change."""
    given = {
        "items": c.items,
        "contacts": c.deal.contact_ids,
        "tags": c.tags,
        "customFields": [v for v in c.custom.values() if v is not None],
        "accessList": c.deal.access_user_ids,
        "lostReasons": c.deal.lost_reason_ids,
    }
    return tuple(name for name, values in given.items() if values)


async def default_stage(session: AsyncSession) -> int | None:
    """Where a deal created without a `stageId` goes: the first open stage of the oldest pipeline.

    So a first deal is on a board at once; `updateOpportunity(stageId: null)` takes one off.
    """
    S = m.Stage
    stmt = select(S.id).where(S.type == StageType.OPEN).order_by(S.pipeline_id, S.position, S.id).limit(1)
    return await session.scalar(stmt)


def _in_stage(deal: NewDeal, stage_id: int) -> NewDeal:
    return replace(deal, fields={**deal.fields, "stage_id": to_global_id("Stage", stage_id)})


def _check_new(
    problems: Problems, refs: Refs, defs: Mapping[int, Any], deal: NewDeal, path: Sequence[str]
) -> Checked:
    values = check(problems, refs, {"title": None, **deal.fields}, path)
    problems.position([*path, "position"], deal.position)
    refs.want_all(
        [*path, "contactIds"], "Contact", problems.unique_ids([*path, "contactIds"], deal.contact_ids)
    )
    refs.want_all(
        [*path, "accessUserIds"], "User", problems.unique_ids([*path, "accessUserIds"], deal.access_user_ids)
    )
    reasons = [*path, "closeReasonIds"]
    if len(deal.lost_reason_ids) > links.MAX_LINKS:
        problems.add(
            reasons, ErrorCode.OUT_OF_RANGE, f"at most {links.MAX_LINKS} at once", len(deal.lost_reason_ids)
        )
    refs.want_all(reasons, "CloseReason", problems.unique_ids(reasons, deal.lost_reason_ids))
    problems.moment([*path, "closedAt"], deal.closed_at)
    tags = problems.tags([*path, "tags"], deal.tags)
    custom = custom_fields.check_values(
        problems, defs, [*path, "customFields"], deal.custom_fields, creating=True
    )
    if len(deal.items) > items.MAX_ITEMS:
        problems.add(
            [*path, "items"], ErrorCode.OUT_OF_RANGE, f"at most {items.MAX_ITEMS} line items", len(deal.items)
        )
    lines = [
        items.check_item(problems, [*path, "items", str(i)], item, creating=True)
        for i, item in enumerate(deal.items)
    ]
    return Checked(values, deal, tags, custom, lines)


def _no_private(problems: Problems, deals: Sequence[NewDeal], paths: Sequence[Sequence[str]]) -> None:
    """Private deals and their access lists are an admin's to set (docs/security.md, "Roles"), also on create."""
    for deal, path in zip(deals, paths, strict=True):
        if deal.fields.get("is_private"):
            problems.add([*path, "isPrivate"], ErrorCode.FORBIDDEN, "only admins make deals private", True)
        if deal.access_user_ids:
            problems.add([*path, "accessUserIds"], ErrorCode.FORBIDDEN, "only admins set access lists")


def _derive_new(
    problems: Problems, refs: Refs, values: dict[str, Any], path: Sequence[str]
) -> dict[str, Any]:
    stage = refs.row("Stage", values.get("stage_id"))
    reason = refs.row("CloseReason", values.get("close_reason_id"))
    return derive(problems, path, None, resolve_links(refs, values), stage=stage, reason=reason)


async def _base_currency(session: AsyncSession, checked: Sequence[Checked]) -> str | None:
    if all(c.values.get("currency") or c.values.get("amount") is None for c in checked):
        return None
    org = await fetch(session, m.Organization, principal(session).organization_id)
    return None if org is None else str(org["base_currency"])


# ---------------------------------------------------------------- update


@dataclass(frozen=True)
class Change:
    """One deal's update: the given fields (an explicit None clears one), where its input is,
    and where its id is (NOT_FOUND goes there)."""

    opportunity_id: int
    given: Mapping[str, Any]
    path: Sequence[str] = ("input",)
    id_path: Sequence[str] = ("id",)


async def update(
    session: AsyncSession,
    *,
    opportunity_id: int,
    given: Mapping[str, Any],
    expected: int | None = None,
    path: Sequence[str] = ("input",),
) -> int:
    """Change the given fields (an explicit None clears one); the rest stay as they are."""
    change = Change(opportunity_id, given, path)
    return (await update_all(session, [change], expected=expected))[0]


async def update_all(
    session: AsyncSession, changes: Sequence[Change], *, expected: int | None = None
) -> list[int]:
    """Update every deal by its change, or none: the same checks and rules for one deal or a
    thousand, in statements that do not grow with their number (one per kind of read and
    write), but for each deal that changes column (its card leaves one and joins another).
    `expected` (a compare-and-set of the version) is for a single change."""
    assert expected is None or len(changes) == 1
    if len({c.opportunity_id for c in changes}) < len(changes):  # one deal twice: in turn
        return [pk for c in changes for pk in await update_all(session, [c])]
    problems = Problems()
    refs = Refs(problems)
    checked = [check(problems, refs, c.given, c.path) for c in changes]
    await refs.resolve(session)
    # Only a stage change needs the row before the lock (to lock its columns first);
    # otherwise the version bump is the first touch of the row.
    wanted = [c.opportunity_id for c, v in zip(changes, checked, strict=True) if "stage_id" in v or not v]
    before = await fetch_many(session, O, wanted)
    for c in changes:
        if c.opportunity_id in wanted and c.opportunity_id not in before:
            problems.add(c.id_path, ErrorCode.NOT_FOUND, "no such opportunity")
    problems.raise_if_any()
    values = {c.opportunity_id: resolve_links(refs, v) for c, v in zip(changes, checked, strict=True) if v}
    old = {pk: before[pk]["stage_id"] for pk in values if pk in before}
    moving = {pk for pk, stage in old.items() if values[pk]["stage_id"] != stage}
    await lock_stages(session, [s for pk in sorted(moving) for s in (old[pk], values[pk]["stage_id"])])
    # a deal that stays in its column is bumped and written with the others; one that changes
    # column is bumped, written and moved on its own, after them: its card's place is read as
    # the moves before it left it
    batch = [c for c in changes if c.opportunity_id in values and c.opportunity_id not in moving]
    if expected is not None and batch:
        current = {batch[0].opportunity_id: await touch(session, batch[0].opportunity_id, expected)}
    elif batch:
        current = await touch_many(session, [c.opportunity_id for c in batch], [c.id_path for c in batch])
    for c in batch:
        values[c.opportunity_id] = _derive_change(problems, refs, c, current[c.opportunity_id], values)
    problems.raise_if_any()
    await write_many(session, O, {c.opportunity_id: values[c.opportunity_id] for c in batch})
    for c in changes:
        if c.opportunity_id in moving:
            await _move(session, problems, refs, c, values, old[c.opportunity_id], expected)
        elif c.opportunity_id not in values:
            await _unchanged(before[c.opportunity_id], expected)
    return [c.opportunity_id for c in changes]


def _derive_change(
    problems: Problems, refs: Refs, c: Change, current: Any, values: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    stage = refs.row("Stage", c.given.get("stage_id"))
    reason = refs.row("CloseReason", c.given.get("close_reason_id"))
    return derive(problems, c.path, current, values[c.opportunity_id], stage=stage, reason=reason)


async def _move(
    session: AsyncSession,
    problems: Problems,
    refs: Refs,
    c: Change,
    values: dict[int, dict[str, Any]],
    old_stage: int | None,
    expected: int | None,
) -> None:
    """One deal's change that takes its card to another column (both columns locked)."""
    pk = c.opportunity_id
    current = (
        await touch(session, pk, expected, id_path=c.id_path[-1])
        if len(c.id_path) == 1
        else (await touch_many(session, [pk], [c.id_path]))[pk]
    )
    if current["stage_id"] != old_stage:
        raise Retry  # it moved between our read and our lock
    changed = _derive_change(problems, refs, c, current, values)
    problems.raise_if_any()
    await write(session, O, pk, changed)
    await board.close_gap(session, current["stage_id"], current["position"])
    await board.place(session, changed["stage_id"], pk)


async def _unchanged(current: Any, expected: int | None) -> int:
    if expected is not None and expected != current["version"]:
        raise fail(
            ["expectedVersion"],
            ErrorCode.CONFLICT,
            f"the opportunity is at version {current['version']}, not {expected}",
            expected,
        )
    return int(current["id"])


async def matching(session: AsyncSession, where: Any, *, limit: int | None = None) -> list[Any]:
    """Visible deals matching a compiled filter, by id: (id, stage_id)."""
    stmt = select(O.id, O.stage_id).where(where).order_by(O.id)
    if limit is not None:
        stmt = stmt.limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    if limit is not None and len(rows) > limit:
        raise fail(["filter"], ErrorCode.OUT_OF_RANGE, f"the filter matches over {limit} deals; narrow it")
    return list(rows)


async def update_many(session: AsyncSession, *, where: Any, given: Mapping[str, Any]) -> list[int]:
    """Apply the same changes to every matching deal, all or nothing (at most MAX_BULK deals)."""
    rows = await matching(session, where, limit=MAX_BULK)
    if "stage_id" in given:
        # every column involved, locked up front in id order, so per-deal locks add no wait
        stage = Refs(Problems())
        stage.want(["input", "stageId"], "Stage", given["stage_id"])
        await stage.resolve(session)
        await lock_stages(session, [r.stage_id for r in rows] + [stage.pk("Stage", given["stage_id"])])
    for row in rows:
        try:
            await update(session, opportunity_id=row.id, given=given)
        except Invalid as exc:
            # the first deal the changes do not fit stops them all; say which deal it was
            deal = to_global_id("Opportunity", row.id)
            raise Invalid([replace(p, message=f"deal {deal}: {p.message}") for p in exc.problems]) from exc
    return [r.id for r in rows]


# ---------------------------------------------------------------- delete


async def delete_many(session: AsyncSession, *, where: Any) -> list[int]:
    """Move matching deals to the trash (app/crud/trash.py); their columns close ranks."""
    rows = await matching(session, where)
    stages = {r.stage_id for r in rows} - {None}
    await lock_stages(session, list(stages))
    ids = [r.id for r in rows]
    if ids and {r.stage_id for r in await matching(session, O.id.in_(ids))} - {None} - stages:
        raise Retry  # one moved into a column we did not lock
    await record.deleting(session, ids)
    ids = await trash.put(session, ids)
    for stage_id in sorted(stages):
        await board.close_gap(session, stage_id)
    return ids


async def delete_one(session: AsyncSession, *, opportunity_id: int) -> int:
    ids = await delete_many(session, where=O.id == opportunity_id)
    if not ids:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such opportunity")
    return opportunity_id
