"""The ASGI application: /graphql (GraphiQL in a browser), /healthz and /metrics, behind the HTTP guards.

A request flows: app/middleware.py (request id), app/metrics.py (observed: metrics and the
operation log line), app/middleware.py (CORS, body, API key) → app/graphql/view.py
(parse, run under the time limit, code and mask errors, choose the status) → the schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from app import metrics
from app.auth import Keys
from app.db import limits_for, make_engine, make_sessionmaker
from app.errors import Code
from app.graphiql import PREFIX as GRAPHIQL_ASSETS
from app.graphiql import serve_asset
from app.graphql.schema import build_schema
from app.graphql.view import GraphQLApp
from app.health import HealthCheck
from app.live import Live
from app.logs import log_request
from app.memory import tune_garbage_collector
from app.middleware import AuthMiddleware, BodyLimitMiddleware, RequestIdMiddleware, error_body
from app.outages import Outages
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.telemetry import Tracing

# what the browser may send and read across origins, when CORS is on
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "X-Request-ID", "Idempotency-Key"]
CORS_EXPOSED = [
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Idempotent-Replayed",
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, limits=limits_for(settings))
    metrics.watch_engine(engine)  # statements per request
    tracing = Tracing.for_engine(engine)  # None unless OpenTelemetry is installed and configured
    sessions = make_sessionmaker(engine)
    keys = Keys(sessions, ttl=settings.key_cache_seconds)
    outages = Outages(retry_after=settings.retry_after_seconds)
    health = HealthCheck(settings.database_url, settings.health_timeout_seconds, outages)
    # failed key attempts per client address, over HTTP and websockets alike
    failures = RateLimiter(settings.auth_failure_limit, settings.rate_limit_storage, "auth-failure")
    live = Live(settings, sessions, keys, failures)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tune_garbage_collector()
        yield
        await live.close()  # the LISTEN connection or the poller
        await keys.close()  # the last-used stamps still pending
        await health.close()
        await engine.dispose()

    graphql = GraphQLApp(build_schema(settings), settings, sessions, outages, live, tracing)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions: graphql-transport-ws (app/live/)
        Route("/healthz", health.answer, methods=["GET"]),
        Route("/metrics", metrics.MetricsEndpoint(settings.metrics_token, engine).answer, methods=["GET"]),
    ]
    if settings.graphiql:
        routes.append(Route(GRAPHIQL_ASSETS + "/{name}", serve_asset, methods=["GET", "HEAD"]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # every error answer is JSON with a code, the router's 404 and 405 too
        exception_handlers={404: http_error, 405: http_error},
    )
    # added innermost first: the request id wraps everything, CORS answers preflights
    # before authentication, the body is read (under its limits) before the key is looked up
    app.add_middleware(
        AuthMiddleware,
        keys=keys,
        limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage),
        failures=failures,
        outages=outages,
        # one indexed SELECT: the request's time limit bounds it, but never below a second
        lookup_timeout=max(1.0, settings.request_timeout_seconds),
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            max_age=600,
        )
    app.add_middleware(
        metrics.ObserveMiddleware,
        engine=engine,
        names=metrics.OperationNames(settings.metrics_operation_names),
        on_done=log_request,
    )
    app.add_middleware(RequestIdMiddleware, outages=outages)
    app.state.engine = engine
    app.state.health = health
    app.state.keys = keys
    app.state.outages = outages
    app.state.idempotency = graphql.idempotency
    app.state.settings = settings
    app.state.live = live
    return app


async def http_error(_: Request, exc: Exception) -> Response:
    """The router's own 404 and 405, as JSON with a code like every other refusal."""
    status = getattr(exc, "status_code", 500)
    code = Code.NOT_FOUND if status == 404 else Code.BAD_REQUEST
    body = error_body(str(getattr(exc, "detail", "")) or "Bad request.", code)
    headers = getattr(exc, "headers", None)
    return Response(body, status_code=status, media_type="application/json", headers=headers)
