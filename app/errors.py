"""Error vocabulary shared by validation, CRUD and the GraphQL layer; no GraphQL imports here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code, **extensions}


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"


class QueryTooComplex(GatewayError):
    code = "QUERY_TOO_COMPLEX"
