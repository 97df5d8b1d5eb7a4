"""OpenTelemetry traces: one span per GraphQL operation, a child span per SQL statement.

Optional: `pip install 'opportunity-gateway[otel]'`, and then on only when configured, by
the standard variables (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SDK_DISABLED=true` turns it off), or when a
tracer provider is installed already (`opentelemetry-instrument opportunity-gateway serve`).
Off, it costs one `is None` test per operation.

The operation span wraps strawberry's `execute_single` (parse, validate, execute): its name
is "<type> <name>" and it carries `graphql.operation.type`, `graphql.operation.name` and
`graphql.document.hash` (the SHA-256 of the document, or the persisted query hash it was
named by). SQL spans come from opentelemetry-instrumentation-sqlalchemy on the engine, so
they are children of the operation that ran them (loader batches included: their tasks copy
the context). There are no per-field spans on purpose: a strawberry tracing extension
wraps every resolver and makes every field async, which undoes the compiled executor.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("opportunity_gateway")

try:
    from opentelemetry import trace
except ImportError:  # the [otel] extra is not installed
    trace = None  # type: ignore[assignment]

# Set by tests (an SDK provider with an in-memory exporter); None: from the environment.
provider_override: Any = None
_from_environment: Any = None  # the provider built from OTEL_* once per process

# the execution context of the operation being traced in this task (set by the view's hook)
_execution: ContextVar[list[Any] | None] = ContextVar("traced_execution", default=None)


def _configured_by_environment() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracer_provider() -> Any:
    """The provider to trace with, or None: not installed, not configured, or disabled."""
    global _from_environment
    if trace is None or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if provider_override is not None:
        return provider_override
    installed = trace.get_tracer_provider()
    if hasattr(installed, "add_span_processor"):  # an SDK provider someone installed already
        return installed
    if not _configured_by_environment():
        return None
    if _from_environment is None:
        _from_environment = _provider_from_environment()
        trace.set_tracer_provider(_from_environment)
    return _from_environment


def _provider_from_environment() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "opportunity-gateway"}
    provider = TracerProvider(resource=Resource.create(defaults))
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    for name in filter(None, names):
        if name == "console":
            exporter: Any = ConsoleSpanExporter()
        elif name == "otlp":
            exporter = _otlp_exporter()
        else:
            raise SystemExit(f"OTEL_TRACES_EXPORTER: {name!r} is not supported here (otlp, console, none)")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _otlp_exporter() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as error:
            raise SystemExit(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc"
            ) from error
        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()  # reads OTEL_EXPORTER_OTLP_* itself


class Tracing:
    """The app's tracer, and the SQLAlchemy instrumentation of its engine."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("opportunity_gateway")

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> Tracing | None:
        provider = tracer_provider()
        if provider is None:
            return None
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        instrumentor = SQLAlchemyInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            # one app per process in production; a second one (tests) gets operation spans only
            log.info("SQLAlchemy is instrumented already; this engine's statements are not traced")
        else:
            # its declared range ends below SQLAlchemy 2.1, which it traces all the same (its
            # engine events are unchanged; tests/test_telemetry.py checks the spans)
            instrumentor.instrument(engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
        return cls(provider)

    @contextmanager
    def operation(self, request_data: Any) -> Iterator[None]:
        """The span of one operation; named and labelled from its execution context at the end."""
        held: list[Any] = []
        token = _execution.set(held)
        try:
            with self.tracer.start_as_current_span("graphql.operation") as span:
                span.set_attribute("graphql.document.hash", document_hash(request_data))
                try:
                    yield
                finally:
                    _describe(span, held)
        finally:
            _execution.reset(token)


def operation_started(execution_context: Any) -> None:
    """The schema made the execution context of the operation being traced (app/graphql/view.py)."""
    held = _execution.get()
    if held is not None:
        held.append(execution_context)


def _describe(span: Any, held: list[Any]) -> None:
    from app.metrics import describe

    described = describe(held[0]) if held else None
    if described is None:
        return
    kind, name = described
    span.update_name(f"{kind} {name}" if name else kind)
    span.set_attribute("graphql.operation.type", kind)
    if name:
        span.set_attribute("graphql.operation.name", name)


def document_hash(request_data: Any) -> str:
    query = getattr(request_data, "query", None)
    if query:
        return hashlib.sha256(query.encode()).hexdigest()
    extensions = getattr(request_data, "extensions", None) or {}
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    given = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    return str(given or "")
