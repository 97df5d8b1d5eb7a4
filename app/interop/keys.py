"""External ids: (kind, source, external id) → row id, unique per organization.

Claims are `INSERT … ON CONFLICT DO NOTHING`: of two transactions claiming one new key, the
unique constraint lets one win; the other's INSERT waits for it and then inserts nothing,
which the caller sees (the key is missing from what was claimed) and answers by retrying.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import now, principal

X: Any = m.ExternalId  # columns, as the tenancy hook sees them
DEAL = "Opportunity"
CHUNK = 500  # keys per statement: well under SQLite's 32766 parameters


async def lookup(
    session: AsyncSession, kind: str, source: str, external_ids: Iterable[str]
) -> dict[str, int]:
    """The rows the given keys name (in the caller's organization), by external id."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for at in range(0, len(wanted), CHUNK):
        stmt = select(X.external_id, X.record_id).where(
            X.kind == kind, X.source == source, X.external_id.in_(wanted[at : at + CHUNK])
        )
        found.update({r.external_id: r.record_id for r in await session.execute(stmt)})
    return found


async def of_rows(session: AsyncSession, kind: str, source: str, row_ids: Iterable[int]) -> dict[int, str]:
    """The external id of `source` each row has, by row id (for exports)."""
    wanted = list(dict.fromkeys(row_ids))
    found: dict[int, str] = {}
    for at in range(0, len(wanted), CHUNK):
        stmt = (
            select(X.record_id, X.external_id)
            .where(X.kind == kind, X.source == source, X.record_id.in_(wanted[at : at + CHUNK]))
            .order_by(X.id)
        )
        for r in await session.execute(stmt):
            found.setdefault(r.record_id, r.external_id)
    return found


async def claim(session: AsyncSession, kind: str, source: str, pairs: Sequence[tuple[str, int]]) -> set[str]:
    """Record each (external id, row id); returns the external ids this call inserted.

    A key another transaction holds (committed, or about to) is not inserted and not returned.
    """
    if not pairs:
        return set()
    org, at = principal(session).organization_id, now()
    rows: list[dict[str, Any]] = [
        {
            "organization_id": org,
            "kind": kind,
            "source": source,
            "external_id": ext,
            "record_id": pk,
            "opportunity_id": pk if kind == DEAL else None,
            "created_at": at,
        }
        for ext, pk in pairs
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed: set[str] = set()
    for start in range(0, len(rows), CHUNK):
        stmt = insert(X).values(rows[start : start + CHUNK]).on_conflict_do_nothing()
        result = await session.execute(stmt.returning(X.external_id))
        claimed.update(result.scalars())
    return claimed
