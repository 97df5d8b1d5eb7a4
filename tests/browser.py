"""Headless Chromium driven over the DevTools protocol, with every non-loopback request blocked.

Only the standard library and `websockets` (which uvicorn[standard] brings): no npm, no
Playwright download. `Page` records every request the page makes (Network domain) and fails
every one that does not go to a loopback address (Fetch domain) and keeps it in `blocked`;
the test asserts that list is empty. Chromium is Debian's `chromium` (or `OG_CHROMIUM`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from app.graphiql.page import is_loopback

# what may wait for the page; a guard against a hang, not a measurement
DEADLINE = 60.0

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
    # a second fence behind the request interception: no name but loopback resolves
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


def chromium_path() -> str | None:
    given = os.environ.get("OG_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return is_loopback(parts.hostname)


@dataclass
class Request:
    id: str
    url: str
    method: str
    headers: dict[str, str]
    body: str | None
    status: int | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Page:
    """One tab: commands, its requests, the blocked ones, its uncaught exceptions."""

    ws: ClientConnection
    session: str
    requests: list[Request] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[n] = future
        await self.ws.send(
            json.dumps({"id": n, "method": method, "params": params, "sessionId": self.session})
        )
        async with asyncio.timeout(DEADLINE):
            return await future

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        reply = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, expression: str) -> Any:
        """Poll a JavaScript expression in the page until it is truthy; its value."""
        async with asyncio.timeout(DEADLINE):
            while True:
                value = await self.evaluate(expression)
                if value:
                    return value
                await asyncio.sleep(0.1)

    async def wait_request(self, predicate: Callable[[Request], bool], since: int = 0) -> Request:
        """The first request recorded from index `since` on that matches, once its response arrived."""
        async with asyncio.timeout(DEADLINE):
            while True:
                later = self.requests[since:]
                found = next((r for r in later if predicate(r) and r.status is not None), None)
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def screenshot(self, path: Path) -> Path:
        reply = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(reply["data"]))
        return path

    async def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if is_local(url):
                await self._fire("Fetch.continueRequest", requestId=params["requestId"])
            else:
                self.blocked.append(url)
                await self._fire(
                    "Fetch.failRequest", requestId=params["requestId"], errorReason="BlockedByClient"
                )
        elif method == "Network.requestWillBeSent":
            r = params["request"]
            self.requests.append(
                Request(params["requestId"], r["url"], r["method"], r.get("headers", {}), r.get("postData"))
            )
        elif method == "Network.responseReceived":
            for request in self.requests:
                if request.id == params["requestId"]:
                    request.status = params["response"]["status"]
        elif method == "Network.loadingFailed":
            for request in self.requests:
                if request.id == params["requestId"] and request.status is None:
                    request.status = 0
        elif method == "Network.webSocketCreated" and not is_local(params["url"]):
            self.blocked.append(params["url"])
        elif method == "Runtime.exceptionThrown":
            self.exceptions.append(json.dumps(params["exceptionDetails"])[:2000])
        self._changed.set()

    async def _fire(self, method: str, **params: Any) -> None:
        # answers to interception commands are not awaited: the reader loop must keep reading
        n = next(self._ids)
        await self.ws.send(
            json.dumps({"id": n, "method": method, "params": params, "sessionId": self.session})
        )


async def _read(
    ws: ClientConnection, pages: dict[str, Page], browser: dict[int, asyncio.Future[Any]]
) -> None:
    async for raw in ws:
        message = json.loads(raw)
        page = pages.get(message.get("sessionId", ""))
        if "id" in message:
            target = page._pending if page is not None else browser
            future = target.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(AssertionError(f"DevTools: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
        elif page is not None:
            await page._on_event(message["method"], message.get("params", {}))


@contextlib.asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Callable[[], Any]]:
    """Chromium with a fresh profile; yields `new_page()`, an async maker of guarded tabs."""
    profile = tempfile.mkdtemp(prefix="og-chromium-")
    process = await asyncio.create_subprocess_exec(
        executable,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader: asyncio.Task[None] | None = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        async with asyncio.timeout(DEADLINE):
            while not port_file.is_file() or len(port_file.read_text().splitlines()) < 2:
                if process.returncode is not None:
                    raise AssertionError(f"{executable} exited with {process.returncode} before listening")
                await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 2**20) as ws:
            pages: dict[str, Page] = {}
            browser: dict[int, asyncio.Future[Any]] = {}
            ids = itertools.count(1_000_000)
            reader = asyncio.create_task(_read(ws, pages, browser))

            async def command(method: str, **params: Any) -> dict[str, Any]:
                n = next(ids)
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                browser[n] = future
                await ws.send(json.dumps({"id": n, "method": method, "params": params}))
                async with asyncio.timeout(DEADLINE):
                    return await future

            async def new_page() -> Page:
                target = await command("Target.createTarget", url="about:blank")
                attached = await command("Target.attachToTarget", targetId=target["targetId"], flatten=True)
                page = Page(ws, attached["sessionId"])
                pages[page.session] = page
                await page.send("Network.enable")
                await page.send("Fetch.enable", patterns=[{"urlPattern": "*", "requestStage": "Request"}])
                await page.send("Runtime.enable")
                await page.send("Page.enable")
                return page

            yield new_page
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        await _stop(process)
        shutil.rmtree(profile, ignore_errors=True)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(30):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def uvicorn_serving(database_url: str, **env: str) -> AsyncIterator[str]:
    """The app under a real uvicorn on a free loopback port, once healthy; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = await asyncio.create_subprocess_exec(
        *command, env={**os.environ, "DATABASE_URL": database_url, **env}
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client, asyncio.timeout(DEADLINE):
            while True:
                if server.returncode is not None:
                    raise AssertionError(f"uvicorn exited with {server.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield base
    finally:
        await _stop(server)
