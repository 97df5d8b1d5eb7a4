"""`opportunity-gateway serve` for real, on loopback: workers share the connections, SIGTERM is graceful,
a body that stalls is cut at its deadline.

Which worker holds a connection is read from the kernel (Linux /proc): the server side of each
client's TCP connection and the process whose descriptor it is. No header is added for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from app.db import make_engine
from app.enums import Role
from tests.support import make_tenant

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")

COMMAND = str(Path(sys.executable).parent / "opportunity-gateway")
LISTEN, ESTABLISHED = "0A", "01"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tcp_table() -> list[tuple[int, int, str, int, int]]:
    """(local port, remote port, state, receive queue, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues, inode = fields[1], fields[2], fields[3], fields[4], fields[9]
        rows.append(
            (
                int(local.split(":")[1], 16),
                int(remote.split(":")[1], 16),
                state,
                int(queues.split(":")[1], 16),
                int(inode),
            )
        )
    return rows


def listeners(port: int) -> int:
    return sum(1 for local, _, state, _, _ in tcp_table() if local == port and state == LISTEN)


def server_side(port: int, client: socket.socket) -> tuple[int, int]:
    """(receive queue, inode) of the server's end of `client`'s connection."""
    mine = client.getsockname()[1]
    [(queue, inode)] = [
        (q, i)
        for local, remote, state, q, i in tcp_table()
        if (local, remote, state) == (port, mine, ESTABLISHED)
    ]
    return queue, inode


def owner(inode: int) -> int:
    """The pid of the process holding the socket `inode`."""
    link = f"socket:[{inode}]"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == link for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError(f"no process holds {link}")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_for(condition: object, what: str, server: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        if condition():
            return
        if server.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{what}; server log:\n{log.read_text()}")


@contextmanager
def serving(
    database_url: str, tmp_path: Path, workers: int, **env: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp_path / "server.log"
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: listeners(port) == workers, f"{workers} listening sockets", server, log)
        yield port, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def request(key: str, body: bytes) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(status_line.split()[1]), headers, body


VIEWER = orjson.dumps({"query": "{ viewer { email } }"})


async def api_key(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        return (await make_tenant(engine, "Acme", Role.ADMIN)).key
    finally:
        await engine.dispose()


def test_two_workers_each_get_keep_alive_connections(database_url: str, tmp_path: Path) -> None:
    key = asyncio.run(api_key(database_url))
    with serving(database_url, tmp_path, workers=2) as (port, server):
        # 16 keep-alive clients: with two sockets sharing by hash, all on one worker is a 2^-15 event
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            for _ in range(3):
                for client in clients:
                    client.sendall(request(key, VIEWER) + VIEWER)
                    status, headers, body = read_response(client)
                    assert (status, orjson.loads(body)) == (
                        200,
                        {"data": {"viewer": {"email": "owner@acme.test"}}},
                    )
                    assert headers.get("connection") != "close"
            workers = [owner(server_side(port, client)[1]) for client in clients]
        finally:
            for client in clients:
                client.close()
        assert len(set(workers)) == 2, workers
        assert all(parent_of(pid) == server.pid for pid in workers)
        for pid in set(workers):
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "uvloop" in maps and "httptools" in maps  # the fast loop and parser, loaded in each worker


def test_sigterm_lets_a_request_in_flight_complete(database_url: str, tmp_path: Path) -> None:
    key = asyncio.run(api_key(database_url))
    with serving(database_url, tmp_path, workers=2, OG_BODY_TIMEOUT="60") as (port, server):
        client = socket.create_connection(("127.0.0.1", port))
        try:
            client.sendall(request(key, VIEWER) + VIEWER[:10])
            # the worker has read the headers and half the body: the request is in flight
            wait_for(
                lambda: server_side(port, client)[0] == 0,
                "the worker reading the request",
                server,
                tmp_path / "server.log",
            )
            server.send_signal(signal.SIGTERM)
            wait_for(
                lambda: listeners(port) == 0, "the workers to stop listening", server, tmp_path / "server.log"
            )
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port)).close()  # nothing new is accepted
            client.sendall(VIEWER[10:])
            status, headers, body = read_response(client)
        finally:
            client.close()
        assert (status, orjson.loads(body)) == (200, {"data": {"viewer": {"email": "owner@acme.test"}}})
        assert headers["connection"] == "close"
        assert server.wait(timeout=30) == 0


def test_a_body_that_stalls_is_answered_408_and_the_connection_closed(
    database_url: str, tmp_path: Path
) -> None:
    key = asyncio.run(api_key(database_url))
    with serving(database_url, tmp_path, workers=1, OG_BODY_TIMEOUT="0.5") as (port, _):
        client = socket.create_connection(("127.0.0.1", port))
        try:
            client.settimeout(30)
            client.sendall(request(key, VIEWER) + VIEWER[:10])  # and the rest never
            status, headers, body = read_response(client)
            assert status == 408 and headers["connection"] == "close"
            assert orjson.loads(body)["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
            assert client.recv(1) == b""  # the server closed the connection
        finally:
            client.close()
