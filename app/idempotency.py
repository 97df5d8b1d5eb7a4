"""Idempotency keys: a mutation request sent twice with the same `Idempotency-Key` writes once.

The row (`IdempotencyKey`, per API key and key) goes through three moments:

1. **Claim**, before anything runs: `INSERT … ON CONFLICT DO NOTHING` in a transaction of its
   own, committed, so a duplicate on any worker or machine sees it. The unique primary key
   decides who runs; nothing is decided on a read. A duplicate while the claim runs is HTTP
   409 `IDEMPOTENCY_KEY_IN_USE`, the same key with another body 422 `IDEMPOTENCY_KEY_REUSED`,
   and a finished one is answered from the row (`Idempotent-Replayed: true`), writing nothing.
2. **Record**, inside EACH mutation's own transaction, just before its COMMIT
   (app/graphql/mutations/mutate.py): the answer so far, i.e. the answers of the request's
   mutations that committed plus this one. So the row holds exactly the committed writes'
   answers at every instant: a mutation that commits has its answer stored by the same
   COMMIT, one that rolls back leaves the row as it was. (Writing only in the LAST mutation's
   transaction is not possible: which one is last, and whether it will run, is not known
   while the earlier ones commit.)
3. **Settle**, after the response is built: the final (status, body) is stored when it is an
   answer, and the claim is released (deleted) when it is not, so a retry runs again.

The claim is fenced by an owner token: every write to the row names it, so a request that
lost its claim (taken over after its lease) cannot record, and its mutation rolls back
instead of writing twice. A claim whose request died is taken over after its lease
(2 × OG_REQUEST_TIMEOUT) if nothing of it committed, and answered from the row if something did.

What is stored (docs/reliability.md, "Idempotency keys"): every answer in which a mutation
ran to its outcome, committed or refused with `errors: [UserError]` (a final answer: the
same request would be refused the same way, and API.md says the FIRST answer is stored).
Not stored, so a retry runs again: an answer with top-level errors and no committed write
(an outage, the time limit, a refused document): it wrote nothing and is not final.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from sqlalchemy import delete, event, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.db import Database
from app.errors import Code, GatewayError
from app.middleware import error_body
from app.models import IdempotencyKey
from app.outages import is_outage
from app.persisted import PersistedDocuments, PersistedError
from app.settings import Settings
from app.sqltypes import utcnow

log = logging.getLogger("opportunity_gateway")

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
_VALID = re.compile(r"[\x21-\x7e]{1,255}")  # 1–255 visible ASCII characters
RUNNING, DONE = "running", "done"
_GRAPHQL_RESPONSE = "application/graphql-response+json"  # as the view negotiates it
SCOPE_KEY = "idempotency"  # the request's Claim, in scope["state"]
SWEEP_EVERY = timedelta(minutes=1)  # per process, at most this often…
SWEEP_ROWS = 500  # …this many expired rows deleted in a claim's transaction
T = IdempotencyKey.__table__  # type: ignore[attr-defined]  # (SQLModel types columns as values)

Run = Callable[[Request], Awaitable[Response]]


class ClaimLost(GatewayError):
    """This request's claim was taken over (it ran past its lease): its mutation must not commit."""

    code = Code.IDEMPOTENCY_KEY_IN_USE


@dataclass
class Claim:
    """This request's hold on its key: who it is (`owner`), and the answers that committed."""

    api_key_id: int
    key: str
    owner: str = field(default_factory=lambda: secrets.token_hex(16))
    committed: dict[str, Any] = field(default_factory=dict)  # response key -> answer, in order

    def mine(self) -> Any:
        return (T.c.api_key_id == self.api_key_id) & (T.c.key == self.key) & (T.c.owner == self.owner)

    async def record(self, session: AsyncSession, answer: dict[str, Any]) -> None:
        """In a mutation's transaction: the answer so far, committed with it or not at all."""
        data = {**self.committed, **answer}
        body = orjson.dumps({"data": data}).decode()
        result = await session.execute(
            update(T).where(self.mine(), T.c.state == RUNNING).values(status=200, response=body)
        )
        if getattr(result, "rowcount", 1) != 1:
            raise ClaimLost("Another request with this Idempotency-Key took over; this one wrote nothing.")

        def committed(_: Any) -> None:
            self.committed = data

        event.listen(session.sync_session, "after_commit", committed, once=True)


async def record(request: Request | None, session: AsyncSession, answer: dict[str, Any]) -> None:
    """The hook in a mutation's transaction, before COMMIT: nothing without an Idempotency-Key."""
    claim = request.scope.get("state", {}).get(SCOPE_KEY) if request is not None else None
    if claim is not None:
        await claim.record(session, answer)


class Idempotency:
    """Claims, replays and settles requests that carry an `Idempotency-Key` (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        documents: PersistedDocuments | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # a mutation sent by its hash alone (APQ, trusted documents) is idempotent too: the
        # digest is taken over the text the hash names
        self.documents = documents
        self.ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        # a request cannot run longer than its time limit (plus COMMIT, shielded): past twice
        # that, a claim still running belongs to a request that died
        self.lease = timedelta(seconds=2 * settings.request_timeout_seconds)
        self.max_tokens = settings.max_tokens
        self.clock = clock
        self._swept_at: datetime | None = None

    async def answer(self, request: Request, db: Database, run: Run) -> Response:
        """`run(request)`, unless the request's key says it already ran (or is running)."""
        raw = request.headers.getlist(HEADER)
        if not raw or request.method != "POST":
            return await run(request)  # GET never: it cannot carry a mutation
        if len(raw) != 1 or not _VALID.fullmatch(raw[0]):
            return _refusal(
                400, "Idempotency-Key must be 1 to 255 visible ASCII characters, sent once.", Code.BAD_REQUEST
            )
        digest = await self._mutation_digest(request, db)
        if digest is None or db.principal.api_key_id is None:
            return await run(request)  # not a mutation: simply executed, nothing stored
        if isinstance(digest, Response):
            return digest
        claim = Claim(db.principal.api_key_id, raw[0])
        early = await self._claim(db, claim, digest)
        if early is not None:
            if REPLAYED in early.headers and _GRAPHQL_RESPONSE in request.headers.get("accept", ""):
                early.headers["content-type"] = _GRAPHQL_RESPONSE
            return early
        request.scope.setdefault("state", {})[SCOPE_KEY] = claim
        try:
            response = await run(request)
        except BaseException:
            try:
                await self._settle(db, claim, None)
            except Exception:
                log.exception("could not release an idempotency key after a failed request")
            raise
        await self._settle(db, claim, response)
        return response

    async def _mutation_digest(self, request: Request, db: Database) -> str | Response | None:
        """The hash of the request's query, variables and operationName, when it runs a mutation."""
        if "application/json" not in request.headers.get("content-type", ""):
            return None  # strawberry refuses it (415)
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None  # strawberry refuses it (400)
        if isinstance(data, list):
            return _refusal(
                400, "An Idempotency-Key applies to one operation; send a batch without it.", Code.BAD_REQUEST
            )
        if not isinstance(data, dict):
            return None
        query, name = data.get("query"), data.get("operationName")
        if query is None and self.documents is not None:
            try:
                query = (
                    await self.documents.document(None, data.get("extensions"), data.get("documentId"), db)
                ).query
            except PersistedError:
                return None  # the view answers the miss or the refusal, and nothing runs
        if not isinstance(query, str):
            return None
        try:
            operation = get_operation_ast(parse(query, max_tokens=self.max_tokens), name)
        except (GraphQLError, TypeError):
            return None  # strawberry answers the parse error
        if operation is None or operation.operation != OperationType.MUTATION:
            return None
        same = [query, _json_value(data.get("variables") or {}), name]
        return hashlib.sha256(orjson.dumps(same, option=orjson.OPT_SORT_KEYS)).hexdigest()

    async def _claim(self, db: Database, claim: Claim, digest: str) -> Response | None:
        """Hold the key (None), or the answer for a request that may not run (a replay, 409, 422)."""
        this = (T.c.api_key_id == claim.api_key_id) & (T.c.key == claim.key)
        # A read first: a replay, a 409 or a 422 needs no write transaction (on SQLite, none
        # waits for the running request's write lock). What it finds decides only refusals.
        rows = await db.rows(select(T).where(this))
        if rows:
            early = self._decide(rows[0], digest)
            if early is not None:
                return early
        now = self.clock()
        fresh = {
            "request_hash": digest,
            "owner": claim.owner,
            "state": RUNNING,
            "status": None,
            "response": None,
            "locked_until": now + self.lease,
            "expires_at": now + self.ttl,
            "created_at": now,
        }
        async with db.transaction() as session:
            await self._sweep(session, now)
            for _ in range(3):  # a row released or swept between our statements: try again
                inserted = await session.execute(
                    _insert_new(db.dialect, {"api_key_id": claim.api_key_id, "key": claim.key, **fresh})
                )
                if getattr(inserted, "rowcount", 0) == 1:
                    return None
                row = (await session.execute(select(T).where(this).with_for_update())).one_or_none()
                if row is None:
                    continue
                early = self._decide(row, digest)
                if early is not None:
                    return early
                # expired, or a claim whose request died with nothing committed: take it over
                # (the row is locked: FOR UPDATE on PostgreSQL, the one writer on SQLite)
                taken = await session.execute(update(T).where(this).values(**fresh))
                if getattr(taken, "rowcount", 0) == 1:
                    log.info("an idempotency key was taken over (expired, or its request died uncommitted)")
                    return None
        raise RuntimeError("could not claim the idempotency key; try again")

    def _decide(self, row: Any, digest: str) -> Response | None:
        """What a request finding `row` gets; None when it may (try to) take the key over."""
        now = self.clock()
        if row.expires_at <= now:
            return None
        if row.request_hash != digest:
            return _refusal(
                422,
                "This Idempotency-Key was used with another request body; use a new key for a new request.",
                Code.IDEMPOTENCY_KEY_REUSED,
            )
        if row.state == DONE or (row.response is not None and row.locked_until <= now):
            # done; or its request died after a mutation committed: what committed is the answer
            assert row.status is not None and row.response is not None
            return Response(
                row.response, row.status, headers={REPLAYED: "true"}, media_type="application/json"
            )
        if row.locked_until > now:
            wait = max(1, int((row.locked_until - now).total_seconds()))
            return _refusal(
                409,
                "A request with this Idempotency-Key is still running; retry when it has answered.",
                Code.IDEMPOTENCY_KEY_IN_USE,
                [(b"retry-after", str(min(wait, 5)).encode())],
            )
        return None  # its request died and nothing of it committed

    async def _settle(self, db: Database, claim: Claim, response: Response | None) -> None:
        """Store the final answer, or release the claim when there is none to store."""
        stored = _stored(claim, response)
        mine = claim.mine() & (T.c.state == RUNNING)
        try:
            async with db.transaction() as session:
                if stored is not None:
                    status, body = stored
                    statement = update(T).where(mine).values(state=DONE, status=status, response=body)
                    await session.execute(statement)
                    return
                # Nothing known committed. A mutation whose COMMIT reply was lost may have
                # committed all the same: its row then holds its answer, which is kept.
                await session.execute(delete(T).where(mine, T.c.response.is_(None)))
                await session.execute(update(T).where(mine, T.c.response.is_not(None)).values(state=DONE))
        except Exception as error:
            if not is_outage(error):
                raise
            # the row stays running: its lease ends it (taken over, or answered with what committed)
            log.warning("could not settle an idempotency key (the database is unreachable)")

    async def _sweep(self, session: AsyncSession, now: datetime) -> None:
        """Delete up to SWEEP_ROWS expired rows, at most once a SWEEP_EVERY per process."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        expired = select(T.c.api_key_id, T.c.key).where(T.c.expires_at <= now).limit(SWEEP_ROWS)
        statement = delete(T).where(tuple_(T.c.api_key_id, T.c.key).in_(expired))
        await session.execute(statement)


def _stored(claim: Claim, response: Response | None) -> tuple[int, str] | None:
    """The (status, body) to keep for this request's answer; None to release the claim."""
    if response is None:
        return None  # it raised: whatever committed stays in the row (see _settle)
    try:
        body = orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if claim.committed:
        data = body.get("data") or {}
        if all(data.get(k) is not None for k in claim.committed):
            return response.status_code, bytes(response.body).decode()
        # a later field's error nulled the answer (its payload is non-null): a committed
        # write is never answered as failed, so what committed is kept beside the errors
        merged = {**data, **{k: v for k, v in claim.committed.items() if data.get(k) is None}}
        return 200, orjson.dumps({"data": merged, **({"errors": errors} if errors else {})}).decode()
    if errors or response.status_code != 200:
        return None  # nothing written, and not a final answer: a retry runs again
    return response.status_code, bytes(response.body).decode()


def _json_value(value: Any) -> Any:
    """`value` as a JSON value: JSON has one number type, so `1`, `1.0` and `1e0` are the same."""
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _insert_new(dialect: str, values: dict[str, Any]) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(T).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(T).values(**values).on_conflict_do_nothing()
    return insert(T).values(**values)  # pragma: no cover - the two supported databases


def _refusal(
    status: int, message: str, code: str, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    response = Response(error_body(message, code), status, media_type="application/json")
    for name, value in headers or []:
        response.headers[name.decode()] = value.decode()
    return response
