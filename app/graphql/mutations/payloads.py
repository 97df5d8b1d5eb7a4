"""What mutations answer: the shared payload types, and the boundary between GraphQL inputs and crud.

crud takes plain dicts: `given` and `present` translate strawberry's omitted-vs-null marker
(`Maybe`/`Some`) here, so the write layer never sees a GraphQL type.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import strawberry
from strawberry.types.maybe import Some

from app.graphql.common import UserError, to_global_id
from app.graphql.context import Info
from app.graphql.mutations.mutate import Outcome, Respond


def given(obj: Any) -> dict[str, Any]:
    """The fields of an update input the caller gave: `Some(None)` is an explicit null."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Some):
            out[f.name] = value.value
    return out


def present(obj: Any) -> dict[str, Any]:
    """The non-null fields of a create input (there, null and omitted mean the same)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if getattr(obj, f.name) is not None}


async def load(info: Info, t: Any, pk: int | None) -> Any:
    """A record through the request's loaders; None when there is none or the caller cannot see it."""
    return None if pk is None else await info.context.loaders.by_id(t).load(pk)


@strawberry.type(description="The result of deleting one record.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="Global id of the deleted record; null on errors."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was deleted."
    )


@strawberry.type(description="The result of a change to many deals at once.")
class BulkPayload:
    count: int = strawberry.field(description="How many deals were changed (or deleted).")
    ids: list[strawberry.ID] = strawberry.field(description="Global ids of those deals.")
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was changed."
    )


def deleted(type_name: str) -> Respond[int, DeletePayload]:
    """The answer of a delete of a `type_name`: its global id (work returns the deleted pk)."""

    async def respond(info: Info, outcome: Outcome[int]) -> DeletePayload:
        gid = None if outcome.value is None else strawberry.ID(to_global_id(type_name, outcome.value))
        return DeletePayload(deleted_id=gid, errors=outcome.errors)

    return respond


async def bulk(info: Info, outcome: Outcome[list[int]]) -> BulkPayload:
    ids = [strawberry.ID(to_global_id("Opportunity", pk)) for pk in outcome.value or []]
    return BulkPayload(count=len(ids), ids=ids, errors=outcome.errors)


def arg(description: str) -> Any:
    return strawberry.argument(description=description)


DealId = Annotated[strawberry.ID, arg("Global id of the deal.")]
RecordId = Annotated[strawberry.ID, arg("Global id of the record.")]
