"""OpenTelemetry traces (the [otel] extra): one span per operation, its SQL statements as child spans,
and nothing per field: the compiled executor and the lean relation resolvers stay as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import event
from starlette.routing import Route

from app import telemetry
from app.graphql.executor import CompiledExecutor
from app.graphql.view import GraphQLApp
from tests.support import Api, insert, make_board, make_tenant, opportunity, running_app
from tests.test_lean_resolvers import _relation_fields

DEALS = (
    "query Deals($n: Int!) { opportunities(first: $n) { nodes { title owner { email } stage { name }"
    " items { itemName } customFields { value } } } }"  # owner, stage ride with the page: items do not
)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "provider_override", provider)
    try:
        yield exporter
    finally:
        SQLAlchemyInstrumentor().uninstrument()


def graphql_view(app: Any) -> GraphQLApp:
    # the HTTP route (the websocket route on the same path serves the same app)
    [route] = [r for r in app.routes if isinstance(r, Route) and r.path == "/graphql"]
    assert isinstance(route.endpoint, GraphQLApp)
    return route.endpoint


async def test_one_span_per_operation_with_its_sql_as_children(
    database_url: str, spans: InMemorySpanExporter
) -> None:
    async with running_app(database_url) as (app, client):
        engine = app.state.engine
        tenant = await make_tenant(engine, "Traced Inc")
        board = await make_board(engine, tenant.organization_id)
        await insert(
            engine,
            *(
                opportunity(
                    tenant.organization_id,
                    stage_id=board.stages[0],
                    owner_id=tenant.user_id,
                    amount=Decimal(i),
                )
                for i in range(3)
            ),
        )
        api = Api(client, tenant.key)
        await api("{ viewer { id } }")  # the key lookup, outside any operation, done once
        spans.clear()
        executed: list[str] = []

        def seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            executed.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            data = await api(DEALS, {"n": 5})
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(data["opportunities"]["nodes"]) == 3
    finished = spans.get_finished_spans()
    [operation] = [s for s in finished if s.name.startswith("query")]
    assert operation.name == "query Deals"
    assert dict(operation.attributes or {}) == {
        "graphql.operation.type": "query",
        "graphql.operation.name": "Deals",
        "graphql.document.hash": hashlib.sha256(DEALS.encode()).hexdigest(),
    }
    sql = [s for s in finished if s is not operation]
    # every statement of the operation is a span (after the pool's "connect"), a child of the operation
    assert [s.name.split()[0] for s in sql] == ["connect", *(e.split()[0] for e in executed)]
    assert len(executed) >= 3
    assert all(s.parent is not None and s.parent.span_id == operation.context.span_id for s in sql)
    assert all(s.context.trace_id == operation.context.trace_id for s in sql)
    assert {s.attributes.get("db.system") or s.attributes.get("db.system.name") for s in sql} == {
        engine.dialect.name
    }


async def test_tracing_adds_no_field_hooks(database_url: str, spans: InMemorySpanExporter) -> None:
    async with running_app(database_url) as (app, _):
        view = graphql_view(app)
        assert view.tracing is not None
        schema = view.schema
        assert schema.execution_context_class is CompiledExecutor
        assert not [e for e in schema.get_extensions() if e._implements_resolve()]
        fields = _relation_fields(schema)
        assert fields  # every relation field (tests/test_lean_resolvers.py pins how many)
        assert [f"{t}.{f}" for t, f, resolve, lean in fields if resolve is not lean] == []


async def test_an_anonymous_operation_and_a_refused_document_are_spans_too(
    database_url: str, spans: InMemorySpanExporter
) -> None:
    async with running_app(database_url) as (app, client):
        tenant = await make_tenant(app.state.engine, "Anon Inc")
        api = Api(client, tenant.key)
        await api("{ viewer { id } }")
        spans.clear()
        await api("{ viewer { email } }")
        await api.errors("{ viewer {")
    operations = [s for s in spans.get_finished_spans() if s.parent is None]
    assert [s.name for s in operations] == ["query", "graphql.operation"]  # the second did not parse
    first, second = (dict(s.attributes or {}) for s in operations)
    assert first["graphql.operation.type"] == "query"
    assert "graphql.operation.name" not in first
    assert second["graphql.document.hash"] == hashlib.sha256(b"{ viewer {").hexdigest()


def test_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert telemetry.tracer_provider() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert telemetry.tracer_provider() is None
    monkeypatch.setattr(telemetry, "provider_override", TracerProvider())
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.tracer_provider() is None


async def test_without_tracing_the_view_has_no_tracer(app_client) -> None:
    app, _ = app_client
    assert graphql_view(app).tracing is None
