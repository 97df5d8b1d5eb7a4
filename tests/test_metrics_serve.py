"""`serve --workers 2` for real: /metrics reports both workers whichever one answers the scrape,
a dead worker's gauges stop counting, the metrics directory is removed at exit, and
`OG_LOG_FORMAT=json` writes one JSON object per line with an operation line per request.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.test_serve import (
    api_key,
    listeners,
    owner,
    parent_of,
    pytestmark,  # noqa: F401  (Linux only: reads /proc)
    read_response,
    request,
    server_side,
    serving,
    wait_for,
)

PROBE = orjson.dumps({"query": "query Probe { viewer { email } }"})


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def probes(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "og_requests_total" and sample.labels == {
                "operation_type": "query",
                "operation_name": "Probe",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0


def multiproc_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    [value] = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    return Path(value.decode())


def test_two_workers_report_together_and_log_json(database_url: str, tmp_path: Path) -> None:
    key = asyncio.run(api_key(database_url))
    log = tmp_path / "server.log"
    with serving(database_url, tmp_path, workers=2, OG_LOG_FORMAT="json") as (port, server):
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            request_ids = []
            for client in clients:
                client.sendall(request(key, PROBE) + PROBE)
                status, headers, body = read_response(client)
                assert status == 200, body
                request_ids.append(headers["x-request-id"])
            by_worker: dict[int, socket.socket] = {}
            for client in clients:
                by_worker.setdefault(owner(server_side(port, client)[1]), client)
            assert len(by_worker) == 2  # all 16 on one worker would be a 2^-15 event
            assert all(parent_of(pid) == server.pid for pid in by_worker)
            # each worker answers a scrape with both workers' counts
            for client in by_worker.values():
                client.sendall(get("/metrics"))
                status, headers, body = read_response(client)
                assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
                assert probes(body.decode()) == 16
            directory = multiproc_dir(next(iter(by_worker)))
            assert {f"counter_{pid}.db" for pid in by_worker} <= {p.name for p in directory.iterdir()}

            # one worker dies: the supervisor starts another and drops the dead one's gauges
            dead = next(iter(by_worker))
            assert (directory / f"gauge_livesum_{dead}.db").exists()
            os.kill(dead, signal.SIGKILL)
            wait_for(
                lambda: not (directory / f"gauge_livesum_{dead}.db").exists() and listeners(port) == 2,
                "the dead worker marked and replaced",
                server,
                log,
            )
            for _ in range(4):  # new connections, on the survivor and the new worker alike
                scrape = socket.create_connection(("127.0.0.1", port))
                try:
                    scrape.sendall(get("/metrics"))
                    status, _, body = read_response(scrape)
                finally:
                    scrape.close()
                assert status == 200
                assert probes(body.decode()) == 16  # what the dead worker counted still happened

            refused = socket.create_connection(("127.0.0.1", port))
            try:
                refused.sendall(request("og_0123abcd_" + "x" * 32, PROBE) + PROBE)
                status, headers, _ = read_response(refused)
                assert status == 401
                refused_id = headers["x-request-id"]
            finally:
                refused.close()
        finally:
            for client in clients:
                client.close()
    assert server.wait(timeout=30) == 0
    assert not directory.exists()  # made by serve, removed by serve

    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    operations = [line for line in lines if line["logger"] == "opportunity_gateway.access"]
    assert not [
        line for line in lines if line["logger"] == "uvicorn.access"
    ]  # replaced by the operation line
    # one line per GraphQL request (the scrapes of /metrics are not GraphQL requests)
    assert [line["request_id"] for line in operations] == [*request_ids, refused_id]
    for line in operations[:16]:
        assert line["message"] == "graphql request"
        assert (line["level"], line["method"], line["path"], line["status"]) == (
            "INFO",
            "POST",
            "/graphql",
            200,
        )
        assert (line["operation_type"], line["operation_name"], line["outcome"]) == ("query", "Probe", "ok")
        assert line["error_codes"] == []
        assert isinstance(line["duration_ms"], float)
        assert isinstance(line["sql_statements"], int) and line["sql_statements"] >= 1
    last = operations[16]
    assert (last["status"], last["operation_name"], last["outcome"], last["error_codes"]) == (
        401,
        "<unknown>",
        "error",
        ["UNAUTHENTICATED"],
    )
