"""Global ids named in a mutation's input, resolved in one SELECT per table.

An id that is malformed, of another type, of another organization or of a private deal
the caller may not see is a NOT_FOUND problem at its input path: the tenancy hook makes
such rows invisible to the scoped session, so "not found by a scoped SELECT" is the rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import cols
from app.errors import ErrorCode
from app.ids import from_global_id
from app.validation import Problems

MODELS: dict[str, Any] = {
    "Opportunity": m.Opportunity,
    "Customer": m.Customer,
    "Contact": m.Contact,
    "User": m.User,
    "Pipeline": m.Pipeline,
    "Stage": m.Stage,
    "CloseReason": m.CloseReason,
    "Channel": m.Channel,
    "Lead": m.Lead,
    "OpportunityType": m.OpportunityType,
    "OpportunityItem": m.OpportunityItem,
    "CustomFieldDefinition": m.CustomFieldDefinition,
}


def decode(type_name: str, gid: Any) -> int | None:
    """The primary key of a global id of `type_name`, or None for anything else (None included).

    The one check of an id's type, for crud and the mutations alike.
    """
    decoded = None if gid is None else from_global_id(str(gid))
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]


class Refs:
    """Collect the ids an input names, then look each table up once."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._wanted: list[tuple[tuple[str, ...], str, str]] = []
        self._rows: dict[tuple[str, str], Any] = {}

    def want(self, path: Sequence[str], type_name: str, gid: Any) -> None:
        if gid is not None:
            self._wanted.append((tuple(path), type_name, str(gid)))

    def want_all(self, path: Sequence[str], type_name: str, gids: Sequence[Any]) -> None:
        for i, gid in enumerate(gids):
            self.want([*path, str(i)], type_name, gid)

    async def resolve(self, session: AsyncSession) -> Refs:
        by_type: dict[str, set[int]] = defaultdict(set)
        for _, type_name, gid in self._wanted:
            pk = decode(type_name, gid)
            if pk is not None:
                by_type[type_name].add(pk)
        found: dict[tuple[str, int], Any] = {}
        for type_name, pks in by_type.items():
            model = MODELS[type_name]
            result = await session.execute(select(*cols(model)).where(model.id.in_(sorted(pks))))
            for record in result:
                found[(type_name, record.id)] = record._mapping
        for path, type_name, gid in self._wanted:
            row = found.get((type_name, decode(type_name, gid) or 0))
            if row is None:
                self.problems.add(path, ErrorCode.NOT_FOUND, f"no {type_name} with id {gid!r}", gid)
            else:
                self._rows[(type_name, gid)] = row
        self._wanted.clear()
        return self

    def row(self, type_name: str, gid: Any) -> Any:
        """The resolved row (a mapping), or None when it was not found or not asked for."""
        return None if gid is None else self._rows.get((type_name, str(gid)))

    def pk(self, type_name: str, gid: Any) -> int | None:
        row = self.row(type_name, gid)
        return None if row is None else int(row["id"])
