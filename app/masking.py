"""Every GraphQL error leaves with an `extensions.code`; unexpected ones leave masked.

Errors the gateway means to send (GatewayError subclasses, the limit rules, graphql-core's
own parse, validation and input-coercion errors) keep their message and get a code.
Anything else is a bug or an outage: the caller gets INTERNAL_SERVER_ERROR and the
request id, and the log gets the exception with its traceback under the same id.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError

from app.errors import GatewayError
from app.limits import QUERY_TOO_COMPLEX

log = logging.getLogger("opportunity_gateway.errors")

# Set by the request-id middleware for the whole request, read where errors are logged.
request_id: ContextVar[str] = ContextVar("request_id", default="-")

INTERNAL = "INTERNAL_SERVER_ERROR"
MASKED_MESSAGE = "Unexpected error. It was logged; quote the request id when reporting it."
# Messages graphql-core gives input that does not coerce to the declared types.
_INPUT_PREFIXES = ("Variable '$", "Expected value of type", "Expected type", "Argument '")


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
        too_many = "Document contains more than" in error.message
        return QUERY_TOO_COMPLEX if too_many else "GRAPHQL_PARSE_FAILED"
    if error.message.startswith(_INPUT_PREFIXES):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def policed(error: GraphQLError) -> GraphQLError:
    code = code_of(error)
    if code is not None:
        if (error.extensions or {}).get("code") == code:
            return error
        return GraphQLError(
            error.message,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            error.original_error,
            {**(error.extensions or {}), "code": code},
        )
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
        extensions={"code": INTERNAL, "requestId": rid},
    )


def police(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    """Every error of a result, coded, and masked where unexpected.

    Applied by the HTTP view to each result, not by a schema extension: errors raised
    inside other extensions' hooks (a parse error from the parser cache, say) leave
    the operation by exception, past any extension's post-processing.
    """
    return [policed(e) for e in errors] if errors else errors


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema minus its own error logging: `police` logs what needs logging.

    (Strawberry logs every error with a traceback, validation errors included, and
    before masking; the caller's mistakes are not incidents.)
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None
