"""The ASGI application: /graphql (GraphiQL in a browser), /healthz, and the HTTP guards around them.

From the outside in: a request id for every answer and log line, CORS (when origins
are configured), a body size limit, API-key authentication with per-key rate limits,
then strawberry's view with a per-request timeout. All middleware is pure ASGI (not
BaseHTTPMiddleware, which breaks streaming and context variables).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from app.auth import Keys
from app.db import Database, limits_for, make_engine, make_sessionmaker
from app.graphql.context import Context
from app.graphql.loaders import Loaders
from app.graphql.schema import build_schema
from app.limits import QUERY_TOO_COMPLEX
from app.masking import INTERNAL, police, request_id
from app.memory import tune_garbage_collector
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.tenancy import Principal

log = logging.getLogger("opportunity_gateway")

# What an unauthenticated GraphiQL page load runs as: an organization that does not exist.
NOBODY = Principal(organization_id=0, user_id=0, roles=frozenset())
GRAPHQL_RESPONSE = "application/graphql-response+json"
REQUEST_ID_HEADER = b"x-request-id"
# A caller's own request id is kept when it is this tame; anything else is replaced.
_TAME_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def _error_body(message: str, code: str, **extensions: Any) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]})


async def _send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    **ext: Any,
) -> None:
    body = _error_body(message, code, **ext)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


class RequestIdMiddleware:
    """Give every request an id: in the `X-Request-ID` response header and in every log line.

    Also the last line of defence: an exception nothing else caught becomes a masked
    500 with the id, and its traceback goes to the log under the same id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        rid = given.decode() if _TAME_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error (request %s)", rid)
            if started:
                raise
            await _send_error(send_with_id, 500, "Unexpected error.", INTERNAL, requestId=rid)
        finally:
            request_id.reset(token)


class BodyLimitMiddleware:
    """Refuse a request body over `max_bytes` with 413 before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _send_error(
            send,
            413,
            f"The request body is over the limit of {self.max_bytes} bytes (OG_MAX_BODY_BYTES).",
            QUERY_TOO_COMPLEX,
            limit="max_body_bytes",
        )


class AuthMiddleware:
    """Resolve `Authorization: Bearer <key>` to a principal before any resolver runs, then rate-limit.

    Only the GraphiQL page itself is served without a key.
    """

    def __init__(self, app: ASGIApp, keys: Keys, limiter: RateLimiter) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or _is_ide_page(scope):
            await self.app(scope, receive, send)
            return
        principal = await self._principal(scope)
        if principal is None:
            await _send_error(
                send,
                401,
                "A valid API key is required: send `Authorization: Bearer <key>`.",
                "UNAUTHENTICATED",
                [(b"www-authenticate", b'Bearer realm="opportunity-gateway"')],
            )
            return
        decision = self.limiter.hit(str(principal.api_key_id))
        if decision is not None and not decision.allowed:
            await _send_error(
                send,
                429,
                f"Too many requests for this API key; retry in {decision.reset_after} s.",
                "RATE_LIMITED",
                decision.headers(),
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        if decision is None:
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *decision.headers()]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    async def _principal(self, scope: Scope) -> Principal | None:
        header = _header(scope, b"authorization").decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return await self.keys.principal(key.strip())


def _is_ide_page(scope: Scope) -> bool:
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    return b"text/html" in _header(scope, b"accept")


# strawberry's refusals of the HTTP request itself, as (status, code) by their reason
_HTTP_REFUSALS = {
    "Unsupported content type": (415, "BAD_REQUEST"),
    "Too many operations": (400, QUERY_TOO_COMPLEX),
    "Not Found": (404, "NOT_FOUND"),  # the GraphiQL page when it is switched off
}


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson, GraphQL-over-HTTP media types, JSON errors."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal", NOBODY)
        # the request's one read connection: taken at its first read, given back here
        async with Database.for_request(self.sessions, principal) as db:
            scope.setdefault("state", {})["db"] = db
            try:
                response = await self.run(Request(scope, receive))
            except HTTPException as exc:
                await self._refuse(send, exc)
                return
        await response(scope, receive, send)

    async def _refuse(self, send: Send, exc: HTTPException) -> None:
        reason = str(exc.reason)
        if reason.startswith("mutations are not allowed"):
            # GraphQL over HTTP: GET is for queries; a mutation must be POSTed
            await _send_error(
                send, 405, "Mutations must be sent with POST.", "BAD_REQUEST", [(b"allow", b"POST")]
            )
            return
        status, code = _HTTP_REFUSALS.get(reason, (exc.status_code, "BAD_REQUEST"))
        if reason == "Unsupported content type":
            reason = "Send GraphQL requests as `application/json` (POST) or as URL parameters (GET)."
        elif reason == "Too many operations":
            reason = (
                f"A batch may hold at most {self.settings.max_batch_operations} operations "
                "(OG_MAX_BATCH_OPERATIONS)."
            )
        await _send_error(send, status, reason, code)

    async def get_context(self, request: Any, response: Any) -> Context:
        db: Database = request.scope["state"]["db"]
        principal = db.principal
        loaders = Loaders(
            db,
            default_page_size=self.settings.default_page_size,
            max_page_size=self.settings.max_page_size,
        )
        # graphql-core's execution context is cyclic garbage after the request; emptying the
        # loaders lets reference counting free the rows they hold at once, not a full GC later
        db.at_close(loaders.clear)
        return Context(
            request=request,
            settings=self.settings,
            principal=principal,
            db=db,
            loaders=loaders,
            response=response,
        )

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """The operation(s) of one request, stopped (and a mutation rolled back) at the time limit."""
        seconds = self.settings.request_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                return await super().execute_operation(*args, **kwargs)
        except TimeoutError:
            message = f"The request took longer than the limit of {seconds:g} s (OG_REQUEST_TIMEOUT)."
            error = GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX, "limit": "request_timeout"})
            return ExecutionResult(data=None, errors=[error])

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        result.errors = police(result.errors)
        return await super().process_result(request, result)

    async def get_sub_response(self, request: Any) -> Response:
        sub = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub.media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        return sub

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = str(sub_response.media_type)
        return response

    def decode_json(self, data: str | bytes) -> object:
        # orjson: fast, refuses NaN/Infinity literals, and stops at 1024 levels of nesting
        # with a decode error instead of a RecursionError
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, limits=limits_for(settings))
    sessions = make_sessionmaker(engine)
    keys = Keys(sessions, ttl=settings.key_cache_seconds)

    async def healthz(_: Request) -> Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not healthy"
            log.exception("health check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tune_garbage_collector()
        yield
        await keys.close()  # the last-used stamps still pending
        await engine.dispose()

    async def http_error(_: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        code = {404: "NOT_FOUND", 405: "BAD_REQUEST"}.get(status, "BAD_REQUEST")
        headers = getattr(exc, "headers", None)
        body = _error_body(str(getattr(exc, "detail", "")) or "Bad request.", code)
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    graphql = GraphQLApp(settings, sessions)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
        # every error answer is JSON with a code, the router's 404 and 405 too
        exception_handlers={404: http_error, 405: http_error},
    )
    # added innermost first: the request id wraps everything, CORS answers preflights
    # before authentication, the body limit applies before the key is even looked up
    app.add_middleware(
        AuthMiddleware,
        keys=keys,
        limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        )
    app.add_middleware(RequestIdMiddleware)
    app.state.engine = engine
    app.state.keys = keys
    app.state.settings = settings
    return app
