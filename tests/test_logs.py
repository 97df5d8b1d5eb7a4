"""Log formats: `OG_LOG_FORMAT=json` lines parse as JSON with the request id; text stays uvicorn's default."""

from __future__ import annotations

import io
import logging
import logging.config
import sys

import orjson
import pytest

from app import logs
from app.masking import request_id


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("opportunity_gateway").makeRecord(
        "opportunity_gateway", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )
    logs.RequestIdFilter().filter(record)
    return record


def test_a_json_line_carries_time_level_logger_message_request_id_and_extras() -> None:
    token = request_id.set("req-42")
    try:
        record = _record("stamp %s failed", status=503, error_codes=["SERVICE_UNAVAILABLE"])
        record.args = ("writer",)
        line = orjson.loads(logs.JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line.pop("time").endswith("+00:00")
    assert line == {
        "level": "WARNING",
        "logger": "opportunity_gateway",
        "message": "stamp writer failed",
        "request_id": "req-42",
        "status": 503,
        "error_codes": ["SERVICE_UNAVAILABLE"],
    }


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    line = orjson.loads(text)
    assert line["request_id"] == "-" and "ValueError: boom" in line["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_both_configurations_apply(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = logs.logging_config(fmt, "info")
    stream = io.StringIO()
    logging.config.dictConfig(config)
    try:
        handler = logging.getLogger("opportunity_gateway").handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        token = request_id.set("abc")
        try:
            logging.getLogger("opportunity_gateway.auth").info("hello")
        finally:
            request_id.reset(token)
        written = stream.getvalue().strip()
        if fmt == "json":
            assert orjson.loads(written)["request_id"] == "abc"
            assert logging.getLogger(logs.ACCESS_LOGGER).isEnabledFor(logging.INFO)
        else:
            assert written.endswith("[abc] opportunity_gateway.auth: hello")
            assert not logging.getLogger(logs.ACCESS_LOGGER).isEnabledFor(logging.INFO)
    finally:
        for name in ("opportunity_gateway", logs.ACCESS_LOGGER, "uvicorn", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True


def test_an_unknown_format_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OG_LOG_FORMAT", "xml")
    with pytest.raises(SystemExit, match="OG_LOG_FORMAT must be one of text, json"):
        logs.log_format()
