"""Logging for `serve`: text (uvicorn's default) or one JSON object per line (`OG_LOG_FORMAT=json`).

Every line carries the request id of the request it was written in. In JSON, each GraphQL
request also gets one operation line (logger `opportunity_gateway.access`, message
"graphql request") with its method, path, status, operation, outcome, duration, SQL
statement count and error codes; it replaces uvicorn's access line. The fields are listed
in docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Scope

from app.masking import request_id

ACCESS_LOGGER = "opportunity_gateway.access"
FORMATS = ("text", "json")
access_log = logging.getLogger(ACCESS_LOGGER)

# attributes every LogRecord has; anything else on a record came in through `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def log_format() -> str:
    chosen = (os.environ.get("OG_LOG_FORMAT") or "text").strip().lower()
    if chosen not in FORMATS:
        raise SystemExit(f"OG_LOG_FORMAT must be one of {', '.join(FORMATS)}; got {chosen!r}")
    return chosen


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written in ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and key != "color_message":
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(line, default=str).decode()


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` for uvicorn's `log_config`, applied in every worker."""
    level = level.upper()
    filters = {"request_id": {"()": RequestIdFilter}}
    if fmt == "json":
        handler = {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["request_id"],
        }
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": filters,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {"default": handler},
            "loggers": {
                "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
                "opportunity_gateway": {"handlers": ["default"], "level": level, "propagate": False},
                ACCESS_LOGGER: {"level": "INFO"},
            },
        }
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "filters": filters}
    config["formatters"] = {
        **LOGGING_CONFIG["formatters"],
        "app": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s [%(request_id)s] %(name)s: %(message)s",
        },
    }
    config["handlers"] = {
        **LOGGING_CONFIG["handlers"],
        "app": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "app",
            "filters": ["request_id"],
        },
    }
    config["loggers"] = {
        **LOGGING_CONFIG["loggers"],
        "opportunity_gateway": {"handlers": ["app"], "level": level, "propagate": False},
        # text keeps uvicorn's access line; the operation line is JSON's
        ACCESS_LOGGER: {"level": "WARNING"},
    }
    return config


def log_request(obs: Any, scope: Scope) -> None:
    """The operation line of one GraphQL request (see app/metrics.py `Observation`)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info(
        "graphql request",
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": obs.status,
            "operation_type": obs.operation_type,
            "operation_name": obs.name[:200] if obs.name else obs.operation_name,
            "outcome": obs.outcome,
            "duration_ms": round(obs.seconds * 1000, 3),
            "sql_statements": obs.statements,
            "error_codes": list(obs.codes),
        },
    )
