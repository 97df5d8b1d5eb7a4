"""Every GraphQL error leaves with an `extensions.code`; unexpected ones leave masked.

Errors the gateway means to send (GatewayError subclasses, the limit rules, graphql-core's
own parse, validation and input-coercion errors) keep their message and get a code.
A database that cannot be reached is an outage: SERVICE_UNAVAILABLE, logged once per burst
by the view (app/outages.py). A statement the database cancelled at its own time limit
(`statement_timeout`, `lock_timeout`, set below the request's) is TIMEOUT, one warning line.
Anything else is a bug: the caller gets INTERNAL_SERVER_ERROR and the request id, and the
log gets the exception with its traceback under the same id.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from graphql import GraphQLError, GraphQLSyntaxError

from app.errors import Code, GatewayError
from app.outages import is_outage, time_limit_of

log = logging.getLogger("opportunity_gateway.errors")

# Set by the request-id middleware for the whole request, read where errors are logged.
request_id: ContextVar[str] = ContextVar("request_id", default="-")

UNAVAILABLE_MESSAGE = "The database cannot be reached; retry in a few seconds."
TIME_LIMIT_MESSAGE = "The database gave up on this request at its time limit ({}); nothing of it was written."
MASKED_MESSAGE = "Unexpected error. It was logged; quote the request id when reporting it."
# Messages graphql-core gives input that does not coerce to the declared types.
_INPUT_PREFIXES = ("Variable '$", "Expected value of type", "Expected type", "Argument '")
_PARSER_LIMITS = {"Document contains more than": "max_tokens", "Document is nested too deeply": "max_nesting"}


def code_of(error: GraphQLError) -> str | None:
    """The code an error leaves with; None when it must be masked."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError | GatewayError):
        # graphql-core wraps a scalar's parse error in a coercion error: the caller's input
        return "BAD_USER_INPUT" if error.message.startswith(_INPUT_PREFIXES) else None
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        # graphql-core's own guards: the token limit, and its nesting limit for the parser
        too_much = any(text in error.message for text in _PARSER_LIMITS)
        return Code.QUERY_TOO_COMPLEX if too_much else "GRAPHQL_PARSE_FAILED"  # the limit: see _limit_of
    if error.message.startswith(_INPUT_PREFIXES) or " cannot represent " in error.message:
        return "BAD_USER_INPUT"  # a literal argument of the wrong type or out of range
    return "GRAPHQL_VALIDATION_FAILED"


# Database refusals that only a caller's input can cause (the validators and the Decimal
# scalar should stop these first; this keeps a gap in them from becoming a 500).
_DATABASE_REFUSALS = (
    ("too large to convert to SQLite INTEGER", "A number is outside the range this database can store."),
    ("LIKE or GLOB pattern too complex", "A text filter is too long for this database; shorten it."),
)


def _refusal(error: GraphQLError) -> str | None:
    original = error.original_error
    text = f"{original!r} {getattr(original, 'orig', '')!r}" if original is not None else ""
    return next((message for needle, message in _DATABASE_REFUSALS if needle in text), None)


def _limit_of(error: GraphQLError) -> dict[str, str]:
    for text, limit in _PARSER_LIMITS.items():
        if text in error.message:
            return {"limit": limit}
    return {}


def _with(error: GraphQLError, message: str, code: str, **more: str) -> GraphQLError:
    extensions = {**(error.extensions or {}), "code": code, **more}
    if code == Code.QUERY_TOO_COMPLEX and "limit" not in extensions:
        extensions.update(_limit_of(error))
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, error.original_error, extensions
    )


def policed(error: GraphQLError) -> GraphQLError:
    code = code_of(error)
    if code is not None:
        return error if (error.extensions or {}).get("code") == code else _with(error, error.message, code)
    if is_outage(error.original_error):
        return _with(error, UNAVAILABLE_MESSAGE, Code.SERVICE_UNAVAILABLE)
    limit = time_limit_of(error.original_error)
    if limit is not None:
        where = ".".join(map(str, error.path or [])) or "<operation>"
        log.warning(
            "request %s at %s hit the database's %s and was rolled back", request_id.get(), where, limit
        )
        return _with(error, TIME_LIMIT_MESSAGE.format(limit), Code.TIMEOUT, limit=limit)
    refusal = _refusal(error)
    if refusal is not None:
        log.info("refused input (request %s): %s", request_id.get(), error.original_error)
        return _with(error, refusal, "BAD_USER_INPUT")
    rid = request_id.get()
    original = error.original_error
    log.error(
        "unexpected error (request %s) at %s",
        rid,
        ".".join(map(str, error.path or [])) or "<operation>",
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    return GraphQLError(
        MASKED_MESSAGE,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": Code.INTERNAL_SERVER_ERROR, "requestId": rid},
    )


def police(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    """Every error of a result, coded, and masked where unexpected.

    Applied by the HTTP view to each result, not by a schema extension: errors raised
    inside other extensions' hooks (a parse error from the parser cache, say) leave
    the operation by exception, past any extension's post-processing.
    """
    return [policed(e) for e in errors] if errors else errors
