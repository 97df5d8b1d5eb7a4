"""Immutable settings, read once from the environment (prefix `OG_`, plus `DATABASE_URL`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./opportunity-gateway.db"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _optional_float(name: str) -> float | None:
    raw = os.environ.get(name)
    return None if raw in (None, "") else float(raw)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return raw


READ_SNAPSHOTS = ("request", "statement")


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # pagination: Nexudus caps pages at 1000; 20 is what Overplane and Twenty default to
    default_page_size: int = 20
    max_page_size: int = 1000
    # query limits (see README "Limits")
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 200_000
    max_filter_terms: int = 300
    max_body_bytes: int = 1_000_000
    max_batch_operations: int = 1
    request_timeout_seconds: float = 15.0
    # a declared body must arrive within this, else 408 (a slow or stalled upload holds a connection)
    body_timeout_seconds: float = 10.0
    # /healthz gives up on the database after this and answers 503: a probe must answer within 1 s
    health_timeout_seconds: float = 0.8
    # what `Retry-After` tells a caller refused because the database cannot be reached
    retry_after_seconds: int = 5
    introspection: bool = True
    graphiql: bool = True
    # set by `serve --demo` on a loopback host: pre-filled in GraphiQL for loopback visitors only
    graphiql_demo_key: str = ""
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    # per API key; "" turns rate limiting off
    rate_limit: str = "600/minute"
    rate_limit_storage: str = "memory://"
    # failed API-key attempts per client address; over it, 429 before the key is looked up
    auth_failure_limit: str = "20/minute"
    # Connections each worker keeps (opened on demand). A request holds at most one at a
    # time (its key lookup, then its read snapshot or a mutation's transaction), so 34 serve
    # c=32 on one worker, beside the last-used stamp writer and /healthz, without opening
    # any of the pool_size/4 overflow ones.
    db_pool_size: int = 34
    # None: derived from request_timeout_seconds (statements 2/3 of it, locks and the wait
    # for a pooled connection 1/3), so the database gives up before the request does
    db_statement_timeout_seconds: float | None = None
    db_lock_timeout_seconds: float | None = None
    db_pool_timeout_seconds: float | None = None
    # how long a verified API key is trusted without a lookup: the bound on a revocation
    # made in another process taking effect (one made in this process applies at once)
    key_cache_seconds: float = 5.0
    # how long a mutation's answer is kept for a retry with the same Idempotency-Key (24 h)
    idempotency_ttl_seconds: int = 86_400
    log_level: str = "INFO"
    # GET /metrics: with a token, `Authorization: Bearer <token>` is required; without, loopback only
    metrics_token: str = ""
    # distinct operation names that get their own metric labels per worker; later ones are "<other>"
    metrics_operation_names: int = 200
    # the planned executor (app/graphql/executor.py); false runs stock graphql-core
    compiled_executor: bool = True
    # on asyncpg, the loaders' batches run as prepared reads (app/prepared.py); false sends
    # every read through the ORM session (same rows, more CPU per statement)
    prepared_reads: bool = True
    # "request": a query reads one snapshot (BEGIN READ ONLY … ROLLBACK: a page, its counts and
    # its relations agree); "statement": each statement reads the latest committed state on
    # its own (autocommit: two round trips fewer per request, no cross-statement consistency)
    read_snapshot: str = "request"
    # subscriptions over graphql-transport-ws (docs/live.md): limits per connection and per
    # API key (per worker), the messages a connection may have waiting to be sent and how long
    # that queue may stay full before the client is closed as a slow consumer, the server's
    # ping interval, the time allowed for connection_init
    ws_max_subscriptions: int = 20
    ws_max_subscriptions_per_key: int = 200
    ws_send_queue: int = 256
    ws_send_timeout_seconds: float = 10.0
    ws_ping_interval_seconds: float = 15.0
    ws_init_timeout_seconds: float = 10.0
    # SQLite has no LISTEN/NOTIFY: each worker polls the change table this often
    live_poll_seconds: float = 0.1
    # persisted documents (app/persisted.py, docs/persisted-documents.md): the path of a JSON
    # manifest {"<sha256 hex>": "<document>"}; with only_trusted_documents nothing else runs
    trusted_documents: str = ""
    only_trusted_documents: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        d = cls()
        return cls(
            database_url=os.environ.get("DATABASE_URL") or d.database_url,
            default_page_size=_int("OG_DEFAULT_PAGE_SIZE", d.default_page_size),
            max_page_size=_int("OG_MAX_PAGE_SIZE", d.max_page_size),
            max_depth=_int("OG_MAX_DEPTH", d.max_depth),
            max_aliases=_int("OG_MAX_ALIASES", d.max_aliases),
            max_tokens=_int("OG_MAX_TOKENS", d.max_tokens),
            max_cost=_int("OG_MAX_COST", d.max_cost),
            max_filter_terms=_int("OG_MAX_FILTER_TERMS", d.max_filter_terms),
            max_body_bytes=_int("OG_MAX_BODY_BYTES", d.max_body_bytes),
            max_batch_operations=_int("OG_MAX_BATCH_OPERATIONS", d.max_batch_operations),
            request_timeout_seconds=_float("OG_REQUEST_TIMEOUT", d.request_timeout_seconds),
            body_timeout_seconds=_float("OG_BODY_TIMEOUT", d.body_timeout_seconds),
            health_timeout_seconds=_float("OG_HEALTH_TIMEOUT", d.health_timeout_seconds),
            retry_after_seconds=_int("OG_RETRY_AFTER", d.retry_after_seconds),
            introspection=_bool("OG_INTROSPECTION", d.introspection),
            graphiql=_bool("OG_GRAPHIQL", d.graphiql),
            graphiql_demo_key=os.environ.get("OG_GRAPHIQL_DEMO_KEY", d.graphiql_demo_key),
            cors_origins=_list("OG_CORS_ORIGINS"),
            rate_limit=os.environ.get("OG_RATE_LIMIT", d.rate_limit),
            rate_limit_storage=os.environ.get("OG_RATE_LIMIT_STORAGE") or d.rate_limit_storage,
            auth_failure_limit=os.environ.get("OG_AUTH_FAILURE_LIMIT", d.auth_failure_limit),
            db_pool_size=_int("OG_DB_POOL_SIZE", d.db_pool_size),
            db_statement_timeout_seconds=_optional_float("OG_DB_STATEMENT_TIMEOUT"),
            db_lock_timeout_seconds=_optional_float("OG_DB_LOCK_TIMEOUT"),
            db_pool_timeout_seconds=_optional_float("OG_DB_POOL_TIMEOUT"),
            key_cache_seconds=_float("OG_KEY_CACHE_SECONDS", d.key_cache_seconds),
            idempotency_ttl_seconds=_int("OG_IDEMPOTENCY_TTL", d.idempotency_ttl_seconds),
            log_level=os.environ.get("OG_LOG_LEVEL", d.log_level),
            prepared_reads=_bool("OG_PREPARED_READS", d.prepared_reads),
            read_snapshot=_choice("OG_READ_SNAPSHOT", d.read_snapshot, READ_SNAPSHOTS),
            metrics_token=os.environ.get("OG_METRICS_TOKEN", d.metrics_token),
            metrics_operation_names=_int("OG_METRICS_OPERATION_NAMES", d.metrics_operation_names),
            compiled_executor=_bool("OG_COMPILED_EXECUTOR", d.compiled_executor),
            ws_max_subscriptions=_int("OG_WS_MAX_SUBSCRIPTIONS", d.ws_max_subscriptions),
            ws_max_subscriptions_per_key=_int(
                "OG_WS_MAX_SUBSCRIPTIONS_PER_KEY", d.ws_max_subscriptions_per_key
            ),
            ws_send_queue=_int("OG_WS_SEND_QUEUE", d.ws_send_queue),
            ws_send_timeout_seconds=_float("OG_WS_SEND_TIMEOUT", d.ws_send_timeout_seconds),
            ws_ping_interval_seconds=_float("OG_WS_PING_INTERVAL", d.ws_ping_interval_seconds),
            ws_init_timeout_seconds=_float("OG_WS_INIT_TIMEOUT", d.ws_init_timeout_seconds),
            live_poll_seconds=_float("OG_LIVE_POLL_SECONDS", d.live_poll_seconds),
            trusted_documents=os.environ.get("OG_TRUSTED_DOCUMENTS", d.trusted_documents),
            only_trusted_documents=_bool("OG_ONLY_TRUSTED_DOCUMENTS", d.only_trusted_documents),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
