"""The GraphQL endpoint: strawberry's ASGI view with our context, limits, media types and status codes.

A request reaches it authenticated (app/middleware.py). Here its body is parsed (only a JSON
object is a GraphQL request), its operations run under the request time limit, every error
is coded and masked (app/masking.py), and the HTTP status is chosen: GraphQL-over-HTTP's
rules for `application/graphql-response+json`, 503 for an outage, 504 for a timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from app import metrics, telemetry
from app.db import Database
from app.errors import Code
from app.graphiql import render_page
from app.graphql.context import Context
from app.graphql.loaders import Loaders
from app.idempotency import Idempotency
from app.live import Live, LiveSocket
from app.masking import police, request_id
from app.middleware import send_error, send_unavailable
from app.outages import Outages, is_outage
from app.persisted import PersistedDocuments, PersistedError
from app.settings import Settings
from app.tenancy import Principal

log = logging.getLogger("opportunity_gateway")

# What an unauthenticated GraphiQL page load runs as: an organization that does not exist.
NOBODY = Principal(organization_id=0, user_id=0, roles=frozenset())
GRAPHQL_RESPONSE = "application/graphql-response+json"
_JSON_WHITESPACE = b" \t\r\n"
_REGISTERED = "og.persisted"  # request state: APQ documents to store once the request ran

# strawberry's refusals of the HTTP request itself, as (status, code) by their reason
_HTTP_REFUSALS = {
    "Unsupported content type": (415, Code.BAD_REQUEST),
    "Too many operations": (400, Code.QUERY_TOO_COMPLEX),
    "Not Found": (404, Code.NOT_FOUND),  # the GraphiQL page when it is switched off
}


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema minus its own error logging: the view's `police` logs what needs logging.

    (Strawberry logs every error with a traceback, validation errors included, and
    before masking; the caller's mistakes are not incidents, and an outage is logged once.)
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None

    def _create_execution_context(self, *args: Any, **kwargs: Any) -> Any:
        # the observation hook: each operation's context, read for its name and type at the end
        execution_context = super()._create_execution_context(*args, **kwargs)
        metrics.operation_started(execution_context)
        telemetry.operation_started(execution_context)
        return execution_context


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson, GraphQL-over-HTTP media types, JSON errors."""

    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        outages: Outages,
        live: Live,
        tracing: telemetry.Tracing | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            # subscriptions: graphql-transport-ws only, with our key, limits and queue (app/live/)
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.sessions = sessions
        self.outages = outages
        self.persisted = PersistedDocuments(settings, schema._schema)  # a bad manifest stops start-up
        self.idempotency = Idempotency(settings, self.persisted)
        self.tracing = tracing
        self.graphql_transport_ws_handler_class = type("Socket", (LiveSocket,), {"live": live})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal", NOBODY)
        try:
            # the request's one read connection: taken at its first read, given back here
            async with Database.for_request(
                self.sessions,
                principal,
                prepared_reads=self.settings.prepared_reads,
                snapshot=self.settings.read_snapshot == "request",
            ) as db:
                scope.setdefault("state", {})["db"] = db
                # a request with an Idempotency-Key may be answered from its first run instead
                response = await self.idempotency.answer(Request(scope, receive), db, self.run)
                await self._register(scope, db)
        except HTTPException as exc:
            await self._refuse(send, exc)
            return
        except Exception as error:  # the context or a hook reaching a database that is down
            if not is_outage(error):
                raise
            await send_unavailable(send, self.outages, error, "the GraphQL view")
            return
        await response(scope, receive, send)

    async def _register(self, scope: Scope, db: Database) -> None:
        """Store the APQ documents this request registered and ran (app/persisted.py).

        After the answer is made, in a write transaction of its own: a failure to store costs
        only a later registration, never this answer.
        """
        documents = scope["state"].get(_REGISTERED)
        if not documents:
            return
        try:
            await self.persisted.register(documents, db)
        except Exception as error:
            log.warning("request %s: persisted documents not stored (%s)", request_id.get(), error)

    async def _refuse(self, send: Send, exc: HTTPException) -> None:
        reason = str(exc.reason)
        if reason.startswith("mutations are not allowed"):
            # GraphQL over HTTP: GET is for queries; a mutation must be POSTed
            await send_error(
                send, 405, "Mutations must be sent with POST.", Code.BAD_REQUEST, [(b"allow", b"POST")]
            )
            return
        status, code = _HTTP_REFUSALS.get(reason, (exc.status_code, Code.BAD_REQUEST))
        if reason == "Unsupported content type":
            reason = "Send GraphQL requests as `application/json` (POST) or as URL parameters (GET)."
        elif reason == "Too many operations":
            reason = (
                f"A batch may hold at most {self.settings.max_batch_operations} operations "
                "(OG_MAX_BATCH_OPERATIONS)."
            )
        await send_error(send, status, reason, code)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing, after making sure a JSON body is an object (or, batching, objects).

        Strawberry calls `.get` on whatever the JSON was: `null`, `"x"` or `42` were a 500.
        """
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            body = (await request.get_body()).lstrip(_JSON_WHITESPACE)  # starlette caches the body
            if body[:1] != b"{" and not (body[:1] == b"[" and self._batch_of_objects(body)):
                self.parse_json(body)  # malformed JSON keeps strawberry's own refusal
                raise HTTPException(
                    400,
                    'The body must be a JSON object: {"query": …, "variables": …}'
                    + (", or an array of them." if self.schema.config.batching_config else "."),
                )
        parsed = await super().parse_http_body(request)
        return await self._with_document_ids(request, parsed)

    async def _with_document_ids(
        self, request: Any, parsed: GraphQLRequestData | list[GraphQLRequestData]
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The top-level `documentId` of each operation (persisted documents), which strawberry drops."""
        if request.method == "GET":
            given = request.query_params.get("documentId")
            raw: Any = None if given is None else {"documentId": given}
        elif "application/json" in (request.content_type or ""):
            body = await request.get_body()
            raw = self.parse_json(body) if b'"documentId"' in body else None  # no second parse otherwise
        else:
            raw = None
        if raw is None:
            return parsed
        if isinstance(parsed, list):
            return [_with_document_id(data, item) for data, item in zip(parsed, raw, strict=True)]
        return _with_document_id(parsed, raw)

    def _batch_of_objects(self, body: bytes) -> bool:
        if self.schema.config.batching_config is None:
            return True  # strawberry refuses a batch itself ("Batching is not enabled")
        data = self.parse_json(body)
        return isinstance(data, list) and bool(data) and all(isinstance(item, dict) for item in data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return render_page(request, self.settings.graphiql_demo_key)  # our page, our assets: no CDN

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            # who calls is known at connection_init; each operation gets its own (app/live/socket.py)
            # (this context itself never reads: nothing runs as NOBODY)
            nobody = Database(self.sessions, NOBODY)
            loaders = Loaders(nobody, default_page_size=1, max_page_size=1)
            return Context(None, self.settings, NOBODY, nobody, loaders, response=None)
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
            async with asyncio.timeout(seconds) as deadline:
                return await super().execute_operation(*args, **kwargs)
        except TimeoutError:
            if not deadline.expired():
                raise  # a TimeoutError from inside, not our deadline
            log.warning(
                "request %s (operation %s) ran past the %g s limit (OG_REQUEST_TIMEOUT) and was cancelled",
                request_id.get(),
                _operation_names(kwargs.get("request_data")),
                seconds,
            )
            message = f"The request took longer than the limit of {seconds:g} s (OG_REQUEST_TIMEOUT)."
            error = GraphQLError(message, extensions={"code": Code.TIMEOUT, "limit": "request_timeout"})
            return ExecutionResult(data=None, errors=[error])

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """One operation, its document first resolved when the request names it by hash."""
        try:
            resolved = await self.persisted.document(
                request_data.query,
                request_data.extensions,
                getattr(request_data, "document_id", None),
                context.db,
            )
        except PersistedError as error:
            return ExecutionResult(data=None, errors=[error.graphql_error()])
        if resolved.query is not request_data.query:
            request_data = dataclasses.replace(request_data, query=resolved.query)
        if self.tracing is None:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        else:
            with self.tracing.operation(request_data):  # one span per operation, none per field
                result = await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
        ran = result.data is not None or any(e.path is not None for e in result.errors or ())
        if resolved.register is not None and resolved.query is not None and ran:
            request.scope["state"].setdefault(_REGISTERED, {})[resolved.register] = resolved.query
        return result

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        result.errors = police(result.errors)
        if result.errors:
            metrics.errors_sent([str((e.extensions or {}).get("code")) for e in result.errors])
        unavailable = [
            e for e in result.errors or () if (e.extensions or {}).get("code") == Code.SERVICE_UNAVAILABLE
        ]
        if unavailable:
            self.outages.record(unavailable[0].original_error or unavailable[0], "a resolver")
        else:
            self.outages.recovered()
        return await super().process_result(request, result)

    async def get_sub_response(self, request: Any) -> Response:
        sub = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub.media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        return sub

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        if isinstance(response_data, dict):
            status = _status(response_data, str(sub_response.media_type))
            if status in (400, 403):  # a request error: GraphQL over HTTP says no `data` at all
                response_data.pop("data", None)
            if status != 200:
                sub_response.status_code = status
            if status == 503:
                sub_response.headers["retry-after"] = str(self.outages.retry_after)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = str(sub_response.media_type)
        return response

    def decode_json(self, data: str | bytes) -> object:
        # orjson: fast, refuses NaN/Infinity literals, and stops at 1024 levels of nesting
        # with a decode error instead of a RecursionError
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


@dataclasses.dataclass
class _RequestData(GraphQLRequestData):
    """Strawberry's request data and the top-level `documentId` (a persisted document's name)."""

    document_id: Any = None


def _with_document_id(data: GraphQLRequestData, raw: Any) -> GraphQLRequestData:
    if not isinstance(raw, dict) or "documentId" not in raw:
        return data
    return _RequestData(**vars(data), document_id=raw["documentId"])


def _status(response: dict[str, Any], media_type: str) -> int:
    """The HTTP status of one result.

    An outage is 503 and a timeout that left nothing to answer 504, whatever the media type.
    Under `application/graphql-response+json` a request error (no data, no error with a
    path: the document did not parse or validate, the variables did not coerce, or the
    caller may not run the operation at all) is 4xx: 403 for an operation refused to the
    caller's roles (GraphQL over HTTP: "not permitted to issue the GraphQL request"), else
    400. Under `application/json` it stays 200, as clients of that media type expect.
    """
    errors = response.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if Code.SERVICE_UNAVAILABLE in codes:
        return 503
    if response.get("data") is not None or not errors:
        return 200
    if Code.TIMEOUT in codes:
        return 504
    if media_type == GRAPHQL_RESPONSE and not any("path" in e for e in errors):
        return 403 if codes == {Code.FORBIDDEN} else 400
    return 200


def _operation_names(request_data: Any) -> str:
    """The operation name(s) of a request, for the log: given, else read from the document."""
    items = request_data if isinstance(request_data, list) else [request_data]
    return ",".join(_operation_name(item) for item in items if item is not None) or "-"


def _operation_name(data: GraphQLRequestData) -> str:
    if data.operation_name:
        return str(data.operation_name)
    try:
        operations = [
            d for d in parse(data.query or "").definitions if isinstance(d, OperationDefinitionNode)
        ]
    except GraphQLError:
        return "-"
    named = [op.name.value for op in operations if op.name is not None]
    return named[0] if len(operations) == 1 and named else "<anonymous>"
