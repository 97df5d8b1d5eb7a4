"""Telling an outage from a bug: database-unreachable errors become 503, logged once per burst.

When PostgreSQL stops, every request fails the same way; a traceback for each (thousands a
second) drowns the log and tells nothing new. An outage is logged as one warning when it
starts, a summary each minute while it lasts, and one line when the database answers again.
The caller gets SERVICE_UNAVAILABLE (HTTP 503) with `Retry-After`, never INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

import asyncpg
from sqlalchemy import exc as sa

log = logging.getLogger("opportunity_gateway.outages")

# Server-side causes that mean "this database cannot serve now": it is shutting down,
# starting up, out of connection slots, or the connection died under us.
_GONE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (a connect timeout) is one too
    sa.TimeoutError,  # the pool's wait for a connection ran out
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
_SQLITE_GONE = ("unable to open database file", "disk I/O error")


def is_outage(error: BaseException | None) -> bool:
    """True when `error` (or what it wraps) says the database cannot be reached or cannot serve.

    Refused or reset connections and connect timeouts (OSError), asyncpg's connection and
    shutdown errors, a connection SQLAlchemy invalidated, the pool's own wait running out, and
    SQLite failing to open its file. A statement cancelled by `statement_timeout` is not an
    outage: that is the request's time limit (TIMEOUT).
    """
    seen = 0
    while error is not None and seen < 8:
        seen += 1
        if isinstance(error, asyncpg.exceptions.QueryCanceledError):
            return False
        if isinstance(error, _GONE):
            return True
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sqlite3.OperationalError) and any(t in str(error) for t in _SQLITE_GONE):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


# The database's own time limits (per connection, below the request's: app/db.py): the
# statement was cancelled and its transaction rolls back. The request's limit, not an outage.
_TIME_LIMITS: dict[type[BaseException], str] = {
    asyncpg.exceptions.QueryCanceledError: "statement_timeout",  # 57014
    asyncpg.exceptions.LockNotAvailableError: "lock_timeout",  # 55P03 (the gateway never uses NOWAIT)
}


def time_limit_of(error: BaseException | None) -> str | None:
    """The database limit that cancelled `error`'s statement ("statement_timeout", "lock_timeout"), if one did."""
    seen = 0
    while error is not None and seen < 8:
        seen += 1
        for kind, limit in _TIME_LIMITS.items():
            if isinstance(error, kind):
                return limit
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return None


@dataclass
class Outages:
    """One process's view of whether the database is reachable, and its log of outages."""

    retry_after: int = 5  # seconds a refused caller is told to wait (`Retry-After`)
    summary_every: float = 60.0  # while an outage lasts, one summary line this often
    since: float | None = None  # monotonic time the current outage started
    refused: int = 0  # answers refused during the current outage
    _summarised_at: float = 0.0
    _summarised: int = 0

    def record(self, error: BaseException, where: str) -> None:
        """Count one answer refused by an outage; log only its start and a summary each minute."""
        now = time.monotonic()
        self.refused += 1
        if self.since is None:
            self.since = self._summarised_at = now
            self._summarised = 1
            log.warning(
                "database unreachable (%s, in %s: %s); answering 503 until it is back",
                type(error).__name__,
                where,
                str(error)[:200] or "no detail",
            )
        elif now - self._summarised_at >= self.summary_every:
            log.warning(
                "database still unreachable: %d answers refused in the last %.0f s",
                self.refused - self._summarised,
                now - self._summarised_at,
            )
            self._summarised_at, self._summarised = now, self.refused

    def recovered(self) -> None:
        """The database answered: end the outage, if there was one, with one line."""
        if self.since is None:
            return
        log.warning(
            "database reachable again after %.1f s; %d answers were refused",
            time.monotonic() - self.since,
            self.refused,
        )
        self.since, self.refused = None, 0

    @property
    def retry_after_header(self) -> tuple[bytes, bytes]:
        return (b"retry-after", str(self.retry_after).encode())
