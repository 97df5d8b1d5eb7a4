"""The HTTP guards every request passes before GraphQL, outermost first.

1. `RequestIdMiddleware`: an id in the `X-Request-ID` header and every log line; the last
   line of defence (an outage anywhere is a 503, anything else unexpected a masked 500).
2. CORS (starlette's, when origins are configured; see app/main.py).
3. `BodyLimitMiddleware`: the body read under a size limit (413) and a deadline (408).
4. `AuthMiddleware`: `Authorization: Bearer <key>` to a principal before any resolver runs;
   failed attempts throttled per client address, requests rate-limited per key, and an
   unreachable database answered 503.

All of it is pure ASGI (not BaseHTTPMiddleware, which breaks streaming and context variables).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.auth import Keys
from app.errors import Code
from app.masking import UNAVAILABLE_MESSAGE, request_id
from app.outages import Outages, is_outage
from app.ratelimit import Decision, RateLimiter

log = logging.getLogger("opportunity_gateway")

REQUEST_ID_HEADER = b"x-request-id"
# A caller's own request id is kept when it is this tame; anything else is replaced.
_TAME_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """The JSON of a refusal that never reached GraphQL: `{"errors": [{message, extensions}]}`."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]})


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extensions: Any,
) -> None:
    body = error_body(message, code, **extensions)
    metrics.errors_sent([code])
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


async def send_unavailable(send: Send, outages: Outages, error: BaseException, where: str) -> None:
    """503 SERVICE_UNAVAILABLE with `Retry-After`, counted in the outage log instead of a traceback."""
    outages.record(error, where)
    await send_error(send, 503, UNAVAILABLE_MESSAGE, Code.SERVICE_UNAVAILABLE, [outages.retry_after_header])


def header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


class RequestIdMiddleware:
    """Give every request an id: in the `X-Request-ID` response header and in every log line.

    Also the last line of defence: an exception nothing else caught becomes a masked
    500 with the id, and its traceback goes to the log under the same id; an outage that
    escaped (the database failing where nothing expected it) becomes a 503 instead.
    """

    def __init__(self, app: ASGIApp, outages: Outages) -> None:
        self.app = app
        self.outages = outages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, REQUEST_ID_HEADER)
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
        except Exception as error:
            if started:
                log.exception("unhandled error after the answer started (request %s)", rid)
                raise
            if is_outage(error):
                await send_unavailable(send_with_id, self.outages, error, scope["path"])
                return
            log.exception("unhandled error (request %s)", rid)
            await send_error(
                send_with_id, 500, "Unexpected error.", Code.INTERNAL_SERVER_ERROR, requestId=rid
            )
        finally:
            request_id.reset(token)


class BodyLimitMiddleware:
    """Read a POST body whole before anything parses it: over `max_bytes` is 413, later than `timeout` 408.

    The deadline covers the whole body: a client that declares 1 MB and sends a byte a
    second (or nothing) would otherwise hold a connection and a task for as long as it likes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await send_error(
                send,
                408,
                f"The request body did not arrive within {self.timeout:g} s (OG_BODY_TIMEOUT).",
                Code.BAD_REQUEST,
                [(b"connection", b"close")],
            )
            return
        if body is None:
            await self._too_large(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The body, or None once it is over the limit (counted as it arrives)."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            f"The request body is over the limit of {self.max_bytes} bytes (OG_MAX_BODY_BYTES).",
            Code.QUERY_TOO_COMPLEX,
            limit="max_body_bytes",
        )


class AuthMiddleware:
    """Resolve `Authorization: Bearer <key>` to a principal before any resolver runs, then rate-limit.

    Only the GraphiQL page itself is served without a key. A client address with too many
    failed attempts in the window (`failures`) is refused with 429 before its key is even
    looked up, so guessing keys costs the database nothing. The lookup gets the request's
    time limit; a database that is down or does not answer in it is a 503.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: Keys,
        limiter: RateLimiter,
        failures: RateLimiter,
        outages: Outages,
        lookup_timeout: float,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.failures = failures
        self.outages = outages
        self.lookup_timeout = lookup_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or _is_ide_page(scope):
            await self.app(scope, receive, send)
            return
        key = _bearer(scope)
        address = (scope.get("client") or ("-", 0))[0]
        throttled = self.failures.refusal(address) if key is not None else None
        if throttled is not None:
            await _refuse_throttled(send, throttled)
            return
        try:
            async with asyncio.timeout(self.lookup_timeout):
                principal = await self.keys.principal(key) if key else None
        except Exception as error:
            if not is_outage(error):
                raise
            await send_unavailable(send, self.outages, error, "the API key lookup")
            return
        if principal is None:
            if key is not None:
                self.failures.hit(address)
            await send_error(
                send,
                401,
                "A valid API key is required: send `Authorization: Bearer <key>`.",
                Code.UNAUTHENTICATED,
                [(b"www-authenticate", b'Bearer realm="opportunity-gateway"')],
            )
            return
        decision = self.limiter.hit(str(principal.api_key_id))
        if decision is not None and not decision.allowed:
            metrics.rate_limited("api_key")
            await send_error(
                send,
                429,
                f"Too many requests for this API key; retry in {decision.reset_after} s.",
                Code.RATE_LIMITED,
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


def _bearer(scope: Scope) -> str | None:
    """The presented key: "" for an Authorization header that names none, None without the header."""
    raw = header(scope, b"authorization")
    if not raw:
        return None
    scheme, _, key = raw.decode("latin-1").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


async def _refuse_throttled(send: Send, decision: Decision) -> None:
    metrics.rate_limited("auth_failure")
    await send_error(
        send,
        429,
        f"Too many failed API key attempts from this address; retry in {decision.reset_after} s.",
        Code.RATE_LIMITED,
        [(b"retry-after", str(decision.reset_after).encode())],
    )


def _is_ide_page(scope: Scope) -> bool:
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    return b"text/html" in header(scope, b"accept")
