"""`opportunity-gateway serve`: uvicorn with uvloop and httptools, and workers that each own a socket.

With `--workers N`, uvicorn binds one socket in the supervisor and every worker accepts on
it. The kernel then wakes whichever worker is idle in `accept`, and under keep-alive one
worker took all 8 connections of a load run while the other got none. Here each worker
binds a socket of its own with SO_REUSEPORT, so the kernel spreads new connections across
the workers' sockets (by a hash of the client's address and port). The supervisor is
still uvicorn's: it restarts a worker that dies and, on SIGTERM or SIGINT, stops every
worker gracefully (no new connections; requests in flight complete).

uvloop and httptools are named, not left to "auto", so a missing one fails at start
instead of silently serving on the slower pure-Python loop and parser.

Metrics with several workers (app/metrics.py): the supervisor gives the workers one
PROMETHEUS_MULTIPROC_DIR, emptied at start (stale files of an earlier run would add to the
counts), removed at exit when it made the directory itself, and tells prometheus-client when
a worker died so that worker's gauges stop counting (its counters stay: they happened).
Logging is app/logs.py's configuration, text or JSON, applied in every worker.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from app.logs import log_format, logging_config

log = logging.getLogger("uvicorn.error")

APP = "app.main:create_app"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def server_config(host: str, port: int, workers: int = 1) -> uvicorn.Config:
    fmt = log_format()
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="info",
        log_config=logging_config(fmt, os.environ.get("OG_LOG_LEVEL") or "INFO"),
        access_log=fmt != "json",  # JSON has its own operation line per request
    )


def serve(host: str, port: int, workers: int = 1) -> None:
    config = server_config(host, port, workers)
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    if port == 0:
        raise SystemExit("--workers above 1 needs a fixed --port: each worker binds that port itself")
    # Bound but never listening: it takes no connections (only listening sockets share them),
    # holds the port for this server between worker restarts, and fails here, once, if the
    # port is taken.
    claim = reuseport_socket(host, port)
    try:
        log.info(
            "Uvicorn running on http://%s:%d with %d workers, one SO_REUSEPORT socket each",
            host,
            port,
            workers,
        )
        with metrics_directory():
            Supervisor(config, sockets=WorkerSockets(host, port)).run()
    finally:
        claim.close()


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR for the workers: the operator's (emptied) or a fresh one (removed after)."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="og-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)  # set before any worker starts: they inherit it
    try:
        yield path
    finally:
        if given:
            for spent in path.glob("*.db"):
                spent.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


class Supervisor(Multiprocess):
    """uvicorn's supervisor, telling prometheus-client about each worker that is gone."""

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        self._mark_dead(before)

    def restart_all(self) -> None:
        before = {p.pid for p in self.processes}
        super().restart_all()
        self._mark_dead(before)

    def _mark_dead(self, before: set[int | None]) -> None:
        from prometheus_client.multiprocess import mark_process_dead

        for pid in before - {p.pid for p in self.processes}:
            if pid is not None:
                mark_process_dead(pid)
                log.info("worker [%d] is gone; its gauges no longer count in /metrics", pid)


class WorkerSockets(list[socket.socket]):
    """Empty in the supervisor; unpickled in each worker process as a socket of that worker's own.

    uvicorn hands the supervisor's sockets to each worker by pickling them into the spawned
    process; this list pickles as "bind a new one there" instead of as a shared descriptor.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (worker_sockets, (self.host, self.port))


def worker_sockets(host: str, port: int) -> list[socket.socket]:
    return [reuseport_socket(host, port)]


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT; the server's `listen` comes later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock
