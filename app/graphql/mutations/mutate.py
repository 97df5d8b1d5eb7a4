"""The one shape of every mutation: its role, its ids, one transaction, and its payload.

    @mutation(EDIT, "Move a deal to a place in a column …")
    async def move_opportunity(self, info: Info, id: DealId, stage_id: StageId) -> OpportunityPayload:
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.move(s, opportunity_id=pk, stage_gid=stage_id),
            Ref("id", "Opportunity", id),
        )

`mutation` declares the role on the root field (checked once per field, never per row).
`mutate` decodes each `Ref` (an id that is malformed or of another type is NOT_FOUND at its
input path, and nothing runs), runs `work` in one transaction, and builds the payload with
`respond` INSIDE that transaction: the payload object, then every field the caller selected
on it, read through the request's loaders pointed at the transaction's own session. Only
then is COMMIT issued, shielded from cancellation. After COMMIT the answer comes from the
loaders' caches, so a failure there (a lost connection, the request timeout) cannot turn a
committed write into an error; a payload that cannot be read rolls the write back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import FieldExtension

from app import idempotency
from app.changes import record as changes
from app.crud.base import Retry
from app.crud.refs import decode
from app.db import Database
from app.enums import Role
from app.errors import ErrorCode, UserErrorData
from app.graphql.common import UserError
from app.graphql.context import Context, Info
from app.graphql.permissions import needs
from app.graphql.prefetch import coerced_variables
from app.validation import Invalid

T = TypeVar("T")
P = TypeVar("P")
log = logging.getLogger("opportunity_gateway")
ATTEMPTS = 5
# PostgreSQL's "try again" states: deadlock detected, serialization failure. Both are raised
# before COMMIT, by a statement of the transaction, so nothing of it was written.
RETRYABLE = {"40P01", "40001"}
# context.extras keys: the payload a mutation built, handed to its own read-back execution;
# the answers of the request's mutations that committed
_BUILT = "mutation.payload"
_COMMITTED = "mutation.committed"


@dataclass
class Outcome(Generic[T]):
    """What a mutation's work returned, or the problems that rolled it back."""

    value: T | None
    errors: list[UserError]


@dataclass(frozen=True)
class Ref:
    """A global id among a mutation's arguments, at `path`, that must name a `type_name`."""

    path: str
    type_name: str
    gid: Any


Respond = Callable[[Info, Outcome[T]], Awaitable[P]]


def mutation(role: Role, description: str, *, name: str | None = None, resolver: Any = None) -> Any:
    """A root Mutation field that needs `role` (FORBIDDEN otherwise, before anything runs)."""
    extensions = [needs(role), _ReadBack()]
    if resolver is not None:
        return strawberry.mutation(
            resolver=resolver, name=name, description=description, extensions=extensions
        )
    return strawberry.mutation(name=name, description=description, extensions=extensions)


def committed_answers(context: Context) -> dict[str, Any]:
    """The answers of this request's committed mutations, by response key, as read before COMMIT.

    For the edge when it stops a request (the time limit) after some mutation committed: that
    mutation is answered with this, never reported as failed.
    """
    answers: dict[str, Any] = context.extras.get(_COMMITTED, {})
    return answers


def not_found(ref: Ref) -> Outcome[Any]:
    data = UserErrorData((ref.path,), f"no {ref.type_name} with id {ref.gid!r}", ErrorCode.NOT_FOUND, ref.gid)
    return Outcome(None, [UserError.of(data)])


async def mutate(info: Info, respond: Respond[T, P], work: Callable[..., Awaitable[T]], *refs: Ref) -> P:
    """Run one mutation: `work(session, *pks)` in one transaction, answered by `respond`.

    `Invalid` raised anywhere in `work` rolls the transaction back and comes back as
    `errors` (nothing is written). A lost race (`Retry`, a deadlock) runs the whole
    mutation again on fresh data. Anything else propagates as a top-level error, after
    the rollback.
    """
    pks = []
    for ref in refs:
        pk = decode(ref.type_name, ref.gid)
        if pk is None:
            return await respond(info, not_found(ref))
        pks.append(pk)
    for attempt in range(1, ATTEMPTS + 1):
        transaction = info.context.db.transaction()
        session = await transaction.__aenter__()
        try:
            value = await work(session, *pks)
            await changes.write(session)  # the change log, in this transaction (app/changes)
            payload, answer = await _read_back(info, session, respond, Outcome(value, []))
            # an Idempotency-Key's stored answer, written by this same COMMIT (app/idempotency.py)
            await idempotency.record(info.context.request, session, answer)
        except BaseException as exc:
            await transaction.__aexit__(type(exc), exc, exc.__traceback__)  # ROLLBACK
            if isinstance(exc, Invalid):
                return await respond(info, Outcome(None, [UserError.of(p) for p in exc.problems]))
            if isinstance(exc, Retry):
                log.info("mutation lost a race; attempt %d of %d", attempt, ATTEMPTS)
                continue
            if isinstance(exc, DBAPIError) and _sqlstate(exc) in RETRYABLE and attempt < ATTEMPTS:
                log.info("mutation hit %s; attempt %d of %d", _sqlstate(exc), attempt, ATTEMPTS)
                continue
            raise
        await _commit(transaction, session)
        info.context.extras.setdefault(_COMMITTED, {}).update(answer)
        return payload
    raise RuntimeError("the mutation kept losing races; try again")


async def _commit(transaction: AbstractAsyncContextManager[AsyncSession], session: AsyncSession) -> None:
    """Leave the transaction (COMMIT) in a task of its own, shielded once COMMIT is issued.

    The payload is already built. A cancellation (the request timeout) that arrives before
    COMMIT is issued still stops the mutation: the exit is cancelled and rolls back. One
    that arrives after waits for COMMIT and is then absorbed, so the committed mutation is
    answered with what it wrote. A failing COMMIT propagates (its outcome is unknown, and a
    write is never retried blindly).
    """
    issued: list[bool] = []

    def mark(_: Any) -> None:
        issued.append(True)

    sync = session.sync_session
    event.listen(sync, "before_commit", mark)
    leaving = asyncio.ensure_future(transaction.__aexit__(None, None, None))
    try:
        await asyncio.shield(leaving)
    except asyncio.CancelledError:
        if not issued:
            leaving.cancel()
            with suppress(asyncio.CancelledError):
                await leaving
            raise
        await leaving
        log.info("a cancellation arrived during COMMIT; the committed mutation is answered")
    finally:
        event.remove(sync, "before_commit", mark)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


async def _read_back(
    info: Info, session: AsyncSession, respond: Respond[T, P], outcome: Outcome[T]
) -> tuple[P, dict[str, Any]]:
    """The payload and everything the caller selected on it, read in the transaction.

    The selection is executed once here, on the built payload, with the request's loaders
    reading through `session` (so they see this transaction's writes). Their caches then
    hold every row the answer needs, and the request's own completion of the field, after
    COMMIT, reads nothing. An error here (a refused page, a lost connection) rolls back.
    """
    ctx = info.context
    loaders, db = ctx.loaders, ctx.db
    loaders.clear()  # rows cached before this write are stale now
    own = _TransactionReads(session, db)
    # the loaders' side is checked (Reads); resolvers that read ctx.db directly use only the
    # same three members
    loaders.db, ctx.db = own, cast(Database, own)
    try:
        payload = await respond(info, outcome)
        answer = await _select(info, payload)
    except BaseException:
        # Loader batches run in tasks of their own, which the request deadline does not
        # cancel: the caller's ROLLBACK must wait for a statement still running on the
        # connection (statement_timeout bounds it), or asyncpg refuses it mid-operation.
        await own.settled()
        raise
    finally:
        loaders.db, ctx.db = db, db
    return payload, answer


async def _select(info: Info, payload: Any) -> dict[str, Any]:
    """Execute the mutation field's selection on `payload`: its answer, or the first error it meets.

    A one-field mutation document of the request's own field nodes and fragments, run by
    the schema's executor with the request's already coerced variables (so the field's
    arguments are not coerced twice); `_ReadBack` answers the field with `payload`.
    """
    raw = info._raw_info
    operation = OperationDefinitionNode(
        operation=OperationType.MUTATION,
        variable_definitions=(),  # the variables are given coerced, below
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(raw.field_nodes)),
    )
    document = DocumentNode(definitions=(operation, *raw.fragments.values()))
    executor = info.schema.execution_context_class.build(
        raw.schema, document, context_value=info.context, is_awaitable=raw.is_awaitable
    )
    if isinstance(executor, list):  # not expected: the request's own document was valid
        raise executor[0]
    executor.variable_values = VariableValues({}, dict(coerced_variables(raw)))
    info.context.extras[_BUILT] = payload
    try:
        result = executor.execute_operation(True)
        if raw.is_awaitable(result):
            result = await result
    finally:
        info.context.extras.pop(_BUILT, None)
    assert isinstance(result, ExecutionResult)  # no @defer/@stream in the schema: never incremental
    errors: Sequence[GraphQLError] = result.errors or ()
    if errors:
        raise errors[0].original_error or errors[0]
    answer: dict[str, Any] = result.data or {}
    return answer


class _ReadBack(FieldExtension):
    """In the read-back execution, the mutation field answers the payload it already built."""

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        built = info.context.extras.pop(_BUILT, None)
        if built is not None:
            return built
        return await next_(source, info, **kwargs)


class _TransactionReads:
    """The reads of `Database`, on a mutation's own session while it builds its payload.

    Loader batches dispatch concurrently and one connection runs one statement at a time,
    so they queue on a lock.
    """

    def __init__(self, session: AsyncSession, db: Database) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self._over = False
        self.principal = db.principal
        self.dialect = db.dialect

    async def settled(self) -> None:
        """No statement of these reads runs on the session any more, and none will start."""
        self._over = True
        waiting = asyncio.ensure_future(self._lock.acquire())
        try:
            await asyncio.shield(waiting)  # a second cancellation must not skip the wait
        except asyncio.CancelledError:
            await waiting
            raise
        finally:
            if waiting.done() and not waiting.cancelled():
                self._lock.release()

    async def rows(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        async with self._lock:
            self._check()
            return (await self._session.execute(stmt, params)).all()

    async def scalar(self, stmt: Any) -> Any:
        async with self._lock:
            self._check()
            return (await self._session.execute(stmt)).scalar()

    def _check(self) -> None:
        if self._over:
            raise RuntimeError("the mutation's transaction is ending; its reads are over")
