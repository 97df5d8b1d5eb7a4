"""A deal's to-many links: participants, lost reasons, access list and tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import fetch_all, insert_rows, principal, touch, write
from app.crud.refs import Refs
from app.enums import CloseReasonKind
from app.errors import ErrorCode
from app.validation import Problems

C = m.OpportunityContact
MAX_LINKS = 500


async def _start(
    session: AsyncSession, problems: Problems, refs: Refs, opportunity_id: int, changes: str
) -> None:
    """Resolve the ids, check the deal, then lock it (the version bump) before reading its links."""
    await refs.resolve(session)
    problems.raise_if_any()
    # NOT_FOUND when the deal is not there or not visible; `changes` is the list field it changes
    await touch(session, opportunity_id, lists=(changes,))


def _bounded(problems: Problems, path: str, ids: Sequence[Any]) -> list[Any]:
    if len(ids) > MAX_LINKS:
        problems.add([path], ErrorCode.OUT_OF_RANGE, f"at most {MAX_LINKS} at once", len(ids))
    return problems.unique_ids([path], ids)


async def add_contacts(session: AsyncSession, *, opportunity_id: int, contact_gids: Sequence[Any]) -> int:
    """Append participants in the given order; ones already on the deal stay where they are."""
    problems = Problems()
    gids = _bounded(problems, "contactIds", contact_gids)
    refs = Refs(problems)
    refs.want_all(["contactIds"], "Contact", contact_gids)
    await _start(session, problems, refs, opportunity_id, "contacts")
    links = await fetch_all(session, C, C.opportunity_id == opportunity_id, C.position)
    have = {row["contact_id"] for row in links}
    org = principal(session).organization_id
    new = [pk for pk in (refs.pk("Contact", g) for g in gids) if pk not in have]
    rows = [_link(opportunity_id, org, len(links) + i, contact_id=pk) for i, pk in enumerate(new, 1)]
    await insert_rows(session, C, rows)
    return opportunity_id


async def remove_contacts(session: AsyncSession, *, opportunity_id: int, contact_gids: Sequence[Any]) -> int:
    """Take participants off the deal; the rest close ranks. Ones not on it are ignored."""
    problems = Problems()
    gids = _bounded(problems, "contactIds", contact_gids)
    refs = Refs(problems)
    refs.want_all(["contactIds"], "Contact", contact_gids)
    await _start(session, problems, refs, opportunity_id, "contacts")
    gone = [refs.pk("Contact", g) for g in gids]
    await session.execute(
        delete(C)
        .where(C.opportunity_id == opportunity_id, C.contact_id.in_(gone))
        .execution_options(synchronize_session=False)
    )
    links = await fetch_all(session, C, C.opportunity_id == opportunity_id, C.position)
    await _renumber(session, C, C.contact_id, opportunity_id, [r["contact_id"] for r in links], links)
    return opportunity_id


async def _renumber(
    session: AsyncSession, model: Any, target: Any, opp: int, order: list[Any], rows: list[Any]
) -> None:
    """Positions 1..n in `order`, in one UPDATE; link rows are keyed by (deal, target)."""
    current = {r[target.key]: r["position"] for r in rows}
    moved = {pk: i for i, pk in enumerate(order, 1) if current.get(pk) != i}
    if moved:
        stmt = (
            update(model)
            .where(model.opportunity_id == opp, target.in_(list(moved)))
            .values(position=case(moved, value=target))
        )
        await session.execute(stmt.execution_options(synchronize_session=False))


async def set_lost_reasons(session: AsyncSession, *, opportunity_id: int, reason_gids: Sequence[Any]) -> int:
    """Replace the ordered list of lost reasons; each must be a LOST reason."""
    problems = Problems()
    gids = _bounded(problems, "closeReasonIds", reason_gids)
    refs = Refs(problems)
    refs.want_all(["closeReasonIds"], "CloseReason", reason_gids)
    await refs.resolve(session)
    only_lost(problems, refs, ["closeReasonIds"], reason_gids)
    await _start(session, problems, refs, opportunity_id, "lostReasons")
    L = m.OpportunityLostReason
    await session.execute(
        delete(L).where(L.opportunity_id == opportunity_id).execution_options(synchronize_session=False)
    )
    org = principal(session).organization_id
    rows = [
        _link(opportunity_id, org, i, close_reason_id=refs.pk("CloseReason", g))
        for i, g in enumerate(gids, 1)
    ]
    await insert_rows(session, L, rows)
    return opportunity_id


def only_lost(problems: Problems, refs: Refs, path: Sequence[str], reason_gids: Sequence[Any]) -> None:
    """Lost reasons are reasons of kind LOST (after `refs` resolved them)."""
    for i, gid in enumerate(reason_gids):
        row = refs.row("CloseReason", gid)
        if row is not None and row["kind"] != CloseReasonKind.LOST:
            problems.add([*path, str(i)], ErrorCode.INVALID, f"{row['name']!r} is a WON reason", gid)


async def set_access(
    session: AsyncSession, *, opportunity_id: int, is_private: bool, user_gids: Sequence[Any]
) -> int:
    """Make the deal private or public and replace the users who may see it while private."""
    problems = Problems()
    gids = _bounded(problems, "userIds", user_gids)
    refs = Refs(problems)
    refs.want_all(["userIds"], "User", user_gids)
    await _start(session, problems, refs, opportunity_id, "accessList")
    await write(session, m.Opportunity, opportunity_id, {"is_private": is_private})
    await replace_access(session, opportunity_id, [refs.pk("User", g) for g in gids], clear=True)
    return opportunity_id


async def replace_access(
    session: AsyncSession, opportunity_id: int, user_ids: Sequence[Any], *, clear: bool
) -> None:
    A = m.OpportunityAccess
    if clear:
        await session.execute(
            delete(A).where(A.opportunity_id == opportunity_id).execution_options(synchronize_session=False)
        )
    await insert_rows(session, A, access_rows(opportunity_id, principal(session).organization_id, user_ids))


async def set_tags(session: AsyncSession, *, opportunity_id: int, tags: Sequence[str]) -> int:
    """Replace the tags: trimmed, unique ignoring case (first spelling wins), at most 20."""
    problems = Problems()
    cleaned = problems.tags(["tags"], tags)
    await _start(session, problems, Refs(problems), opportunity_id, "tags")
    await replace_tags(session, opportunity_id, cleaned, clear=True)
    return opportunity_id


async def replace_tags(
    session: AsyncSession, opportunity_id: int, tags: Sequence[str], *, clear: bool
) -> None:
    T = m.OpportunityTag
    if clear:
        await session.execute(
            delete(T).where(T.opportunity_id == opportunity_id).execution_options(synchronize_session=False)
        )
    org = principal(session).organization_id
    await insert_rows(session, T, ordered_rows(opportunity_id, org, "tag", tags))


def ordered_rows(opportunity_id: int, org: int, key: str, targets: Sequence[Any]) -> list[dict[str, Any]]:
    """A new deal's rows of one ordered link table (participants, lost reasons, tags), 1..n."""
    return [_link(opportunity_id, org, i, **{key: t}) for i, t in enumerate(targets, 1)]


def access_rows(opportunity_id: int, org: int, user_ids: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"opportunity_id": opportunity_id, "organization_id": org, "user_id": pk} for pk in user_ids]


def _link(opportunity_id: int, org: int, position: int, **target: Any) -> dict[str, Any]:
    return {"opportunity_id": opportunity_id, "organization_id": org, "position": position, **target}
