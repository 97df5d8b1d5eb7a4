"""Error vocabulary shared by validation, CRUD and the GraphQL layer; no GraphQL imports here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Top-level `errors[].extensions.code` values: errors that are not one input field's fault.

    The one list of them; middleware, validation rules, masking and resolvers import these
    instead of writing the strings.
    """

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"  # not a GraphQL request at all (HTTP 400)
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"  # refused before anything runs
    RATE_LIMITED = "RATE_LIMITED"  # HTTP 429
    TIMEOUT = "TIMEOUT"  # ran past its limit and was rolled back (HTTP 504)
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # database unreachable (HTTP 503)
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"  # HTTP 422
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"  # HTTP 409
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"  # details logged, never sent


class ErrorCode(StrEnum):
    """Codes of `UserError`: what was wrong with one part of a mutation's input."""

    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DUPLICATE = "DUPLICATE"


@dataclass(frozen=True)
class UserErrorData:
    """A problem with the caller's input, at `field` (the path into the arguments)."""

    field: tuple[str, ...]
    message: str
    code: ErrorCode
    attempted_value: Any = None


class GatewayError(Exception):
    """An error that is not about one input field; becomes a top-level GraphQL error."""

    code: str = Code.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code, **extensions}


class BadUserInput(GatewayError):
    code = Code.BAD_USER_INPUT


class NotFound(GatewayError):
    code = Code.NOT_FOUND


class Forbidden(GatewayError):
    code = Code.FORBIDDEN


class Unauthenticated(GatewayError):
    code = Code.UNAUTHENTICATED


class QueryTooComplex(GatewayError):
    code = Code.QUERY_TOO_COMPLEX
