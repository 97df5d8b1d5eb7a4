"""The one way a mutation runs (one transaction, problems as `errors`), and the payload types."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.maybe import Some

from app.crud.base import Retry
from app.crud.refs import decode
from app.errors import ErrorCode, UserErrorData
from app.graphql.common import UserError, to_global_id
from app.graphql.context import Info
from app.validation import Invalid

T = TypeVar("T")
log = logging.getLogger("opportunity_gateway")
ATTEMPTS = 5
# PostgreSQL's "try again" states: deadlock detected, serialization failure.
RETRYABLE = {"40P01", "40001"}


@dataclass
class Outcome(Generic[T]):
    value: T | None
    errors: list[UserError]


async def run(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
    """Run `work` in one transaction: all of it is written, or none of it.

    `Invalid` raised anywhere inside rolls the transaction back (it leaves the `async with`)
    and comes back as `errors`. A lost race (`Retry`, a deadlock) runs the whole mutation
    again on fresh data. Anything else propagates and becomes a masked top-level error.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with info.context.db.transaction() as session:
                value = await work(session)
        except Invalid as exc:
            return Outcome(None, [UserError.of(p) for p in exc.problems])
        except Retry:
            log.info("mutation lost a race; attempt %d of %d", attempt, ATTEMPTS)
            continue
        except DBAPIError as exc:
            if _sqlstate(exc) not in RETRYABLE or attempt == ATTEMPTS:
                raise
            log.info("mutation hit %s; attempt %d of %d", _sqlstate(exc), attempt, ATTEMPTS)
            continue
        info.context.loaders.clear()
        return Outcome(value, [])
    raise RuntimeError("the mutation kept losing races; try again")


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def not_found(path: str, type_name: str, gid: Any) -> Outcome[Any]:
    data = UserErrorData((path,), f"no {type_name} with id {gid!r}", ErrorCode.NOT_FOUND, gid)
    return Outcome(None, [UserError.of(data)])


def pk_of(type_name: str, gid: Any) -> int | None:
    return decode(type_name, gid)


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
    """A fresh record through the (just cleared) loaders; None when the caller cannot see it."""
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


def deleted(type_name: str, outcome: Outcome[int]) -> DeletePayload:
    gid = None if outcome.value is None else strawberry.ID(to_global_id(type_name, outcome.value))
    return DeletePayload(deleted_id=gid, errors=outcome.errors)


def bulk(outcome: Outcome[list[int]]) -> BulkPayload:
    ids = [strawberry.ID(to_global_id("Opportunity", pk)) for pk in outcome.value or []]
    return BulkPayload(count=len(ids), ids=ids, errors=outcome.errors)


def arg(description: str) -> Any:
    return strawberry.argument(description=description)


DealId = Annotated[strawberry.ID, arg("Global id of the deal.")]
RecordId = Annotated[strawberry.ID, arg("Global id of the record.")]
