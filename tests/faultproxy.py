"""A TCP proxy for fault tests: pass, cut, stall or refuse connections, switched at run time.

Put it between the gateway and PostgreSQL and point the app at `proxy.url(database_url)`:

    async with FaultProxy("127.0.0.1", 5432) as proxy:
        app = create_app(Settings(database_url=proxy.url(database_url)))
        proxy.cut()        # close every open connection now (both ends); new ones still pass
        proxy.refuse()     # stop listening: new connections are refused (ECONNREFUSED)
        proxy.stall()      # accept new connections and hold them, stop moving bytes on open ones
        proxy.restore()    # pass again: listening, bytes flowing (held bytes and connections go on)
        proxy.cut_when(b"COMMIT", after=b"UPDATE opportunity")  # a cut at an exact protocol moment

`refuse()` then `cut()` is a stopped server: open connections die and nothing reconnects
until `restore()`. `cut_when` cuts all connections at the moment one connection sends the
needle (after it has sent `after`), without forwarding that chunk: cutting on the client's
`COMMIT` means the server never commits; cutting on the server's `COMMIT` reply
(`sent_by="server"`) means the server committed and the client never heard.

Everything runs on the test's event loop (the app under test, in process, shares it), and
the controls are plain calls: each takes effect before the next await of the test.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from sqlalchemy import make_url

CHUNK = 65536
GUARD_SECONDS = 10
Side = Literal["client", "server"]


@dataclass
class _Trigger:
    needle: bytes
    after: bytes | None
    sent_by: Side
    fired: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class _Link:
    """One client connection and, once it flows, its upstream connection."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    tails: dict[str, bytes] = field(default_factory=dict)  # per stream, for needles split across reads
    armed: bool = False  # this connection has sent the trigger's `after`

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    """An asyncio TCP proxy on 127.0.0.1 in front of `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.host, self.port = host, port
        self.accepted = 0  # connections accepted since start
        self.held = 0  # chunks read from open connections and held by a stall
        self._changed = asyncio.Event()  # set (and replaced) when a counter or the links change
        self.links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._sock: socket.socket | None = None
        self._trigger: _Trigger | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FaultProxy:
        self._listen()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.refuse()
        self.cut()
        self._flowing.set()  # release held tasks so they end
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        rendered = make_url(database_url).set(host=self.host, port=self.port)
        return rendered.render_as_string(hide_password=False)

    # ------------------------------------------------------------ controls

    @property
    def listening(self) -> bool:
        return self._sock is not None

    def cut(self) -> int:
        """Abort every open connection, both ends, now; returns how many were cut."""
        links = list(self.links)
        for link in links:
            link.abort()
        self.links.clear()
        return len(links)

    def refuse(self) -> None:
        """Close the listening socket: connecting fails with ECONNREFUSED until `restore`."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def stall(self) -> None:
        """Accept new connections but hold them, and stop moving bytes on open ones."""
        self._flowing.clear()
        if self._sock is None:
            self._listen()

    def restore(self) -> None:
        """Listen and pass bytes again; held connections go on where they stopped."""
        if self._sock is None:
            self._listen()
        self._flowing.set()

    def cut_when(
        self, needle: bytes, *, after: bytes | None = None, sent_by: Side = "client"
    ) -> asyncio.Event:
        """Once: when a connection sends `needle` (having sent `after` first), drop that chunk and
        cut every connection. The returned event is set when it fired."""
        self._trigger = _Trigger(needle, after, sent_by)
        return self._trigger.fired

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition` (on the counters, say) holds, at most GUARD_SECONDS: a deadline
        for a broken test to fail on, not a measurement."""
        async with asyncio.timeout(GUARD_SECONDS):
            while not condition():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------ the proxy

    def _listen(self) -> None:
        # bound, listening and watched synchronously, so a control call takes effect at once
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)
        self._sock = sock

    def _accept(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._handle(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, conn: socket.socket) -> None:
        self.accepted += 1
        self._notify()
        try:
            client_reader, client = await asyncio.open_connection(sock=conn, limit=CHUNK)
        except OSError:
            conn.close()
            return
        link = _Link(client)
        self.links.add(link)
        try:
            await self._flowing.wait()  # a stall holds new connections here
            if link not in self.links:
                return  # cut while held
            server_reader, link.server = await asyncio.open_connection(*self.target, limit=CHUNK)
            if link not in self.links:
                link.abort()
                return
            await asyncio.gather(
                self._pump(link, "client", client_reader, link.server),
                self._pump(link, "server", server_reader, client),
            )
        except OSError:
            pass  # the upstream refused or a side reset: the client sees its end close
        finally:
            self.links.discard(link)
            link.abort()
            self._notify()

    async def _pump(
        self, link: _Link, side: Side, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                if not self._flowing.is_set():
                    self.held += 1
                    self._notify()
                    try:
                        await self._flowing.wait()
                    finally:
                        self.held -= 1
                if link not in self.links or self._fires(link, side, chunk):
                    return
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            link.abort()  # one side ended: so does the other, as a real network path would

    def _fires(self, link: _Link, side: Side, chunk: bytes) -> bool:
        """Whether this chunk sets off the trigger (then it is not forwarded and all is cut)."""
        trigger = self._trigger
        if trigger is None:
            return False
        rest = chunk
        if trigger.after is not None and not link.armed:
            if side != "client":
                return False
            window = _scan(link, "after", chunk, trigger.after)
            if trigger.after not in window:
                return False
            link.armed = True
            rest = window[window.index(trigger.after) + len(trigger.after) :]
        if side != trigger.sent_by or trigger.needle not in _scan(link, side, rest, trigger.needle):
            return False
        trigger.fired.set()
        self._trigger = None
        self.cut()
        return True


def _scan(link: _Link, stream: str, chunk: bytes, needle: bytes) -> bytes:
    """The chunk with the tail of the stream's previous chunks, so a needle split across reads
    is still found; keeps the new tail."""
    window = link.tails.get(stream, b"") + chunk
    link.tails[stream] = window[len(window) - len(needle) + 1 :] if len(needle) > 1 else b""
    return window
