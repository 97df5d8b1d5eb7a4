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
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

log = logging.getLogger("uvicorn.error")

APP = "app.main:create_app"


def server_config(host: str, port: int, workers: int = 1) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="info",
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
        Multiprocess(config, sockets=WorkerSockets(host, port)).run()
    finally:
        claim.close()


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
