"""Helpers of the live tests: a real uvicorn server on loopback, and a graphql-transport-ws client.

The server runs in the test's own event loop (`live_server`), or as the real command with
workers (`tests/test_live_workers.py`); the client is the `websockets` library speaking
the protocol frame by frame, so every close code and message is what a browser would get.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.main import create_app
from app.settings import Settings

PROTOCOL = "graphql-transport-ws"
# how long a test waits for a message that must come (a hang fails instead of blocking the run)
WAIT = 20.0

CHANGED = """
subscription ($filter: OpportunityFilter, $after: String) {
  opportunityChanged(filter: $filter, after: $after) {
    cursor kind opportunityId version
    opportunity { title }
    changes { field oldValue newValue }
  }
}
"""


@dataclass
class Server:
    app: Any
    port: int
    http: httpx.AsyncClient
    uvicorn: uvicorn.Server

    def stop(self) -> None:
        """What SIGTERM does: uvicorn stops accepting, closes every websocket (1012), shuts the app down."""
        self.uvicorn.should_exit = True

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def graphql(self, key: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


@asynccontextmanager
async def live_server(database_url: str, **settings: Any) -> AsyncIterator[Server]:
    """The app under uvicorn (websockets-sansio, as `serve` runs it) on a free loopback port."""
    settings.setdefault("request_timeout_seconds", 120.0)
    app = create_app(Settings(database_url=database_url, **settings))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=30
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Server(app, port, http, server)
    finally:
        server.should_exit = True
        await task


class Socket:
    """One graphql-transport-ws connection, message by message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, wait: float = WAIT) -> dict[str, Any]:
        """The next message that is not a server ping (those are answered with a pong)."""
        while True:
            async with asyncio.timeout(wait):
                raw = await self.ws.recv()
            assert isinstance(raw, str), "graphql-transport-ws messages are text frames"
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def init(self, key: str | None) -> dict[str, Any]:
        await self.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"} if key else {}}
        )
        return await self.receive()

    async def subscribe(
        self, op_id: str, variables: dict[str, Any] | None = None, query: str = CHANGED
    ) -> None:
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        )

    async def event(self, op_id: str = "1") -> dict[str, Any]:
        """The payload of the next `next` message, which must be for `op_id` and without errors."""
        message = await self.receive()
        assert message["type"] == "next" and message["id"] == op_id, message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["opportunityChanged"]

    async def closed(self, wait: float = WAIT) -> tuple[int, str]:
        """(code, reason) of the close the server sends, skipping any messages before it."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("unreachable")

    async def nothing_more(self, seconds: float = 0.5) -> None:
        """No message arrives for `seconds` (pings aside): what must not be delivered was not."""
        try:
            message = await self.receive(wait=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")


@asynccontextmanager
async def socket(server: Server, key: str | None = None, **options: Any) -> AsyncIterator[Socket]:
    """A connected socket; with `key`, initialised and acknowledged."""
    async with connect(server.ws_url, subprotocols=[PROTOCOL], **options) as ws:  # type: ignore[list-item]
        s = Socket(ws)
        if key is not None:
            ack = await s.init(key)
            assert ack == {"type": "connection_ack"}, ack
        yield s
