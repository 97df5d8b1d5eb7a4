"""Prometheus metrics of the GraphQL endpoint, and the per-request observation they are made from.

A request to /graphql is observed by `ObserveMiddleware` (just inside the request id): it
starts an `Observation` in a context variable, which the few hooks fill in as the request
flows (the engine counts statements, the schema hands over each operation's execution
context, the view and the refusals add error codes, the loaders their batch sizes), and at
the end it is recorded once: the counters and histograms below, the operation log line
(app/logs.py). Nothing runs per field; each hook is an attribute update.

With `serve --workers N` every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode, set up by app/serve.py) and a scrape of any worker
reads them all. The metric names are part of the contract (docs/operations.md).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Code
from app.outages import is_outage

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Label values that cannot be GraphQL names (those are /[_A-Za-z][_0-9A-Za-z]*/), so no
# operation can pose as them.
ANONYMOUS = "<anonymous>"  # an operation without a name
UNKNOWN = "<unknown>"  # no operation ran: refused before parsing, or the document did not parse
OTHER = "<other>"  # folded: over the cap of distinct names, or not a plausible name
BATCH = "<batch>"  # a batched request (OG_MAX_BATCH_OPERATIONS > 1) with several operations
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

# Codes that are the server's failure, not the caller's mistake.
FAILURE_CODES = frozenset({Code.INTERNAL_SERVER_ERROR, Code.SERVICE_UNAVAILABLE, Code.TIMEOUT})
# Every code the gateway sends, and graphql-core's two (app/masking.py); any other is folded.
KNOWN_CODES = frozenset({*Code, "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})

REQUESTS = Counter(
    "og_requests_total",
    "GraphQL requests by operation and outcome (ok; error: the caller's; failure: the server's).",
    ["operation_type", "operation_name", "outcome"],
)
DURATION = Histogram(
    "og_request_duration_seconds",
    "Time from the request's arrival to its last byte sent, by operation.",
    ["operation_type", "operation_name"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
)
ERRORS = Counter("og_graphql_errors_total", "GraphQL errors sent, by extensions.code.", ["code"])
STATEMENTS = Histogram(
    "og_sql_statements_per_request",
    "SQL statements (SELECT, INSERT, UPDATE, DELETE, WITH) one request ran.",
    ["operation_type"],
    buckets=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128),
)
BATCHES = Histogram(
    "og_loader_batch_size",
    "Keys per dataloader batch (each batch is one SQL statement), by loader.",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
POOL = Gauge(
    "og_db_pool_connections",
    "Database connections of this worker's pool: in_use, idle, overflow (open beyond the pool size).",
    ["state"],
    multiprocess_mode="livesum",  # summed over the live workers; a dead one's are dropped
)
_IN_USE, _IDLE, _OVERFLOW = (POOL.labels(state) for state in ("in_use", "idle", "overflow"))
_last_pool: tuple[int, int, int] | None = None  # what the gauges hold now
RATE_LIMITED = Counter(
    "og_rate_limited_total",
    "Requests refused with RATE_LIMITED: per API key (api_key) or per address after failed keys.",
    ["limit"],
)


@dataclass(slots=True)
class Observation:
    """What one request did, filled in by the hooks as it flows."""

    started: float
    statements: int = 0
    executions: list[Any] = field(default_factory=list)  # strawberry ExecutionContexts
    codes: list[str] = field(default_factory=list)
    status: int = 0
    operation_type: str = "unknown"
    operation_name: str = UNKNOWN  # the label: bounded (OperationNames)
    name: str | None = None  # the name as sent, for the log line
    outcome: str = "ok"
    seconds: float = 0.0


current: ContextVar[Observation | None] = ContextVar("observation", default=None)


# ---------------------------------------------------------------- hooks (each one attribute update)


def operation_started(execution_context: Any) -> None:
    """The schema made an execution context for one operation (app/graphql/view.py)."""
    obs = current.get()
    if obs is not None:
        obs.executions.append(execution_context)


def errors_sent(codes: list[str]) -> None:
    """Codes of the errors a response carries (the view's results, the middleware's refusals)."""
    obs = current.get()
    if obs is not None:
        obs.codes.extend(codes)


def rate_limited(limit: str) -> None:
    child(RATE_LIMITED, limit).inc()


# `labels()` validates and locks on every call; the children are looked up here instead.
# Bounded like the label values themselves (see OperationNames).
_CHILDREN: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *values: str) -> Any:
    key = (metric, *values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found


def batch_loaded(loader: str, size: int) -> None:
    child(BATCHES, loader).observe(size)


def counts_as_statement(statement: str) -> bool:
    """A statement of the request's own work: not BEGIN, ROLLBACK, PRAGMA or SET."""
    words = statement.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}


def watch_engine(engine: AsyncEngine) -> None:
    """Count the statements each request runs on `engine` (an event listener; no per-row work)."""

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        obs = current.get()
        if obs is not None and counts_as_statement(statement):
            obs.statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", before)


def sample_pool(engine: AsyncEngine) -> None:
    """This worker's pool now: read at the end of each request and at each scrape."""
    pool: Any = engine.pool
    if not hasattr(pool, "checkedout"):
        return  # NullPool (OG_DB_POOL_SIZE=0): no pool to report
    global _last_pool
    now = (pool.checkedout(), pool.checkedin(), max(0, pool.overflow()))
    if now == _last_pool:
        return  # unchanged: no write (in multiprocess mode each is a write to a mapped file)
    _last_pool = now
    for gauge, value in zip((_IN_USE, _IDLE, _OVERFLOW), now, strict=True):
        gauge.set(value)


# ---------------------------------------------------------------- labels


class OperationNames:
    """Operation names as label values, bounded: names are the caller's input.

    A name gets its own label value when it is a plausible GraphQL name of at most 64
    characters and one of the first `cap` distinct names this process has seen; any
    other is counted as `<other>`. So a client that sends a new name per request adds
    at most `cap` series per worker, however long it runs.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self.seen:
            return name
        if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or len(self.seen) >= self.cap:
            return OTHER
        self.seen.add(name)
        return name


def describe(execution_context: Any) -> tuple[str, str | None] | None:
    """(type, name) of the operation an execution context ran; None when it never got one."""
    try:
        kind = execution_context.operation_type  # needs the parsed document and a matching name
    except Exception:  # no document, or an operationName the document does not have
        return None
    return str(kind.value), execution_context.operation_name


# ---------------------------------------------------------------- the middleware


class ObserveMiddleware:
    """Observe every GraphQL request: time it, and record what the hooks saw when it is answered."""

    def __init__(self, app: ASGIApp, *, engine: AsyncEngine, names: OperationNames, on_done: Any) -> None:
        self.app = app
        self.engine = engine
        self.names = names
        self.on_done = on_done  # the operation log line (app/logs.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or _is_page(scope):
            await self.app(scope, receive, send)
            return
        obs = Observation(started=time.perf_counter())
        token = current.set(obs)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                obs.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception as error:
            if not obs.status:  # the request id middleware answers it: 503 for an outage, else 500
                outage = is_outage(error)
                obs.status = 503 if outage else 500
                obs.codes.append(Code.SERVICE_UNAVAILABLE if outage else Code.INTERNAL_SERVER_ERROR)
            raise
        finally:
            current.reset(token)
            self.record(obs, scope)
            # A timer scheduled during the request (keep-alive, a deadline) holds a copy of the
            # context, and so this observation, past the request: its execution contexts would
            # keep the whole response alive (thousands of objects for the cyclic GC to walk).
            obs.executions.clear()

    def record(self, obs: Observation, scope: Scope) -> None:
        obs.seconds = time.perf_counter() - obs.started
        operations = [d for d in map(describe, obs.executions) if d is not None]
        if len(operations) == 1:
            obs.operation_type, obs.name = operations[0]
            obs.operation_name = self.names.label(obs.name)
        elif len(operations) > 1:
            obs.operation_type, obs.operation_name = "batch", BATCH
        codes = [c if c in KNOWN_CODES else "OTHER" for c in obs.codes]
        if obs.status >= 500 or FAILURE_CODES.intersection(codes):
            obs.outcome = "failure"
        elif codes or obs.status >= 400:
            obs.outcome = "error"
        kind, name = obs.operation_type, obs.operation_name
        child(REQUESTS, kind, name, obs.outcome).inc()
        child(DURATION, kind, name).observe(obs.seconds)
        child(STATEMENTS, kind).observe(obs.statements)
        for code in codes:
            child(ERRORS, code).inc()
        sample_pool(self.engine)
        self.on_done(obs, scope)


def _is_page(scope: Scope) -> bool:
    """The GraphiQL page itself (a browser's GET for HTML), not a GraphQL request."""
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    return any(k == b"accept" and b"text/html" in v for k, v in scope["headers"])


# ---------------------------------------------------------------- GET /metrics


LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in LOOPBACK_NETWORKS)


class MetricsEndpoint:
    """`GET /metrics`: Bearer `token` when one is set, else loopback callers only."""

    def __init__(self, token: str, engine: AsyncEngine) -> None:
        self.token = token.encode()
        self.engine = engine

    async def answer(self, request: Request) -> Response:
        from app.middleware import error_body

        if self.token:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
                body = error_body("Send `Authorization: Bearer <OG_METRICS_TOKEN>`.", Code.UNAUTHENTICATED)
                headers = {"www-authenticate": 'Bearer realm="metrics"'}
                return Response(body, 401, media_type="application/json", headers=headers)
        elif not is_loopback(request.client.host if request.client else None):
            message = "Metrics answer loopback callers only; set OG_METRICS_TOKEN to scrape from elsewhere."
            return Response(error_body(message, Code.FORBIDDEN), 403, media_type="application/json")
        sample_pool(self.engine)
        return Response(await run_in_threadpool(exposition), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def exposition() -> bytes:
    """Every worker's metrics (multiprocess mode) or this process's (one worker, the tests)."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return generate_latest(registry)
