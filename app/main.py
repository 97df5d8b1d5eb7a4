"""The ASGI application: /graphql (GraphiQL in a browser), /healthz, and API-key authentication."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from app.auth import authenticate
from app.db import make_engine, make_sessionmaker
from app.graphql.context import Context, Database
from app.graphql.loaders import Loaders
from app.graphql.schema import build_schema
from app.settings import Settings
from app.tenancy import SESSION_KEY, UNSCOPED, Principal

log = logging.getLogger("opportunity_gateway")

# What an unauthenticated GraphiQL page load runs as: an organization that does not exist.
NOBODY = Principal(organization_id=0, user_id=0, roles=frozenset())
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


class AuthMiddleware:
    """Resolve `Authorization: Bearer <key>` to a principal before any resolver runs.

    A pure ASGI middleware (not BaseHTTPMiddleware, which breaks streaming and
    context variables). Only the GraphiQL page itself is served without a key.
    """

    def __init__(self, app: ASGIApp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or _is_ide_page(scope):
            await self.app(scope, receive, send)
            return
        principal = await self._principal(scope)
        if principal is None:
            response = Response(
                _error_body(
                    "A valid API key is required: send `Authorization: Bearer <key>`.", "UNAUTHENTICATED"
                ),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="opportunity-gateway"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        async with self.sessions() as session:
            session.info[SESSION_KEY] = UNSCOPED  # the key lookup precedes any tenant
            return await authenticate(session, key.strip())


def _is_ide_page(scope: Scope) -> bool:
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson encoding and GraphQL-over-HTTP media types."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.sessions = sessions

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = request.scope.get("state", {}).get("principal", NOBODY)
        db = Database(self.sessions, principal)
        loaders = Loaders(
            db,
            default_page_size=self.settings.default_page_size,
            max_page_size=self.settings.max_page_size,
        )
        return Context(
            request=request,
            settings=self.settings,
            principal=principal,
            db=db,
            loaders=loaders,
            response=response,
        )

    async def get_sub_response(self, request: Any) -> Response:
        sub = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub.media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        return sub

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = str(sub_response.media_type)
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = make_sessionmaker(engine)

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
        yield
        await engine.dispose()

    graphql = GraphQLApp(settings, sessions)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(AuthMiddleware, sessions=sessions)
    app.state.engine = engine
    app.state.settings = settings
    return app
