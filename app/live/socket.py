"""One graphql-transport-ws connection on /graphql: its key, its limits, its send queue, its heartbeat.

Strawberry speaks the protocol; this handler adds what a production socket needs:

- the API key comes in `connection_init`'s payload (`{"Authorization": "Bearer <key>"}`) and
  goes through the same cached lookup as HTTP (app/auth.py, failed attempts throttled per
  address the same way); without a valid one the socket is closed with 4403 before any
  operation runs (4401 for a `subscribe` before `connection_init`, as the protocol says);
- the key is looked up again every `OG_KEY_CACHE_SECONDS` / 2: a revoked or expired key's
  socket is closed with 4403 within 1.5 × OG_KEY_CACHE_SECONDS (the lookup itself trusts a
  cached answer for OG_KEY_CACHE_SECONDS);
- only subscriptions run here (queries and mutations are HTTP's, with its timeouts, rate
  limits and idempotency); at most `OG_WS_MAX_SUBSCRIPTIONS` per connection and
  `OG_WS_MAX_SUBSCRIPTIONS_PER_KEY` per API key (across workers and machines on PostgreSQL,
  app/live/leases.py; per process on SQLite), refused with an `error` message;
- every outgoing message waits in ONE bounded queue per connection (`OG_WS_SEND_QUEUE`
  messages), sent in order by one task; a full queue holds the subscriptions back (they
  read the change log at their client's pace), and a client that takes nothing for
  `OG_WS_SEND_TIMEOUT` seconds is closed with 4008 ("slow consumer"): never a buffer
  without limit;
- the server sends a protocol `ping` every `OG_WS_PING_INTERVAL` seconds and answers pings.

Each operation runs with a context of its own (app/live/changed.py swaps its database
snapshot and loaders for every page of events), and its errors are coded and masked like
HTTP's (app/masking.py).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError, OperationType, parse
from graphql.utilities import get_operation_ast
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from app.db import Database
from app.errors import Code
from app.graphql.context import Context
from app.graphql.loaders import Loaders
from app.masking import police
from app.outages import is_outage
from app.tenancy import Principal

if TYPE_CHECKING:
    from app.live.leases import Lease
    from app.live.service import Live

log = logging.getLogger("opportunity_gateway")

# close codes (graphql-transport-ws defines 4400, 4401, 4403, 4406, 4408, 4409, 4429)
FORBIDDEN = 4403
SLOW_CONSUMER = 4008
# how long a close frame may wait for a client that stopped reading before the socket is dropped
CLOSE_GRACE_SECONDS = 5.0


class LiveSocket(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the gateway's key, limits, bounded send queue and heartbeat."""

    live: Live  # set by the view on the class it builds (app/graphql/view.py)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.live.settings
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=settings.ws_send_queue)
        self.key: str | None = None
        self.principal: Principal | None = None
        self.closing = False
        self.stopped = asyncio.Event()
        self.helpers: list[asyncio.Task[None]] = []
        self.leases: dict[Operation[Context, None], Lease] = {}  # slots of the per-key limit

    # ------------------------------------------------------------ the connection

    async def handle(self) -> None:
        self.helpers = [asyncio.create_task(self._send_loop())]
        main = asyncio.create_task(super().handle())
        stop = asyncio.create_task(self.stopped.wait())
        try:
            await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # a connection closed by us (a slow consumer, a revoked key, shutdown) may
            # never see the client's close: its operations end here all the same
            tasks = (main, stop, *self.helpers)
            for task in tasks:
                task.cancel()
            # bounded: a connection must never hold up the server's shutdown
            await asyncio.wait(tasks, timeout=CLOSE_GRACE_SECONDS)
            self.live.forget(self)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_init_received or self.connection_timed_out:
            await super().handle_connection_init(message)  # 4429, as the protocol says
            return
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await super().handle_connection_init(message)  # 4400
            return
        key = _bearer(payload)
        address = self.live.address_of(self.websocket)
        refused = self.live.refused_address(address) if key else None
        if refused is not None:
            await self.close(FORBIDDEN, "Forbidden: too many failed API key attempts; retry later")
            return
        try:
            principal = await self.live.principal(key) if key else None
        except Exception as error:
            if not is_outage(error):
                raise
            await self.close(1011, "The database cannot be reached; retry later")
            return
        if principal is None:
            if key:
                self.live.failed_attempt(address)
            await self.close(FORBIDDEN, 'Forbidden: send {"Authorization": "Bearer <API key>"}')
            return
        self.key, self.principal = key, principal
        self.context.principal = principal
        self.live.register(self)
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        self.connection_init_received = True
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self.helpers.append(asyncio.create_task(self._watch_key()))
        self.helpers.append(asyncio.create_task(self._heartbeat()))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # 4401 / 4409
            return
        refusal = self._refusal(message)
        if refusal is not None:
            error = GraphQLError(refusal[0], extensions={"code": refusal[1]})
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)

    def _refusal(self, message: SubscribeMessage) -> tuple[str, str] | None:
        try:
            document = parse(message["payload"]["query"], max_tokens=self.live.settings.max_tokens)
        except Exception:
            document = None  # strawberry answers (and refuses) a document that does not parse
        operation = (
            None if document is None else get_operation_ast(document, message["payload"].get("operationName"))
        )
        if operation is not None and operation.operation is not OperationType.SUBSCRIPTION:
            return (
                "Only subscriptions run over the websocket; send queries and mutations with HTTP POST.",
                Code.BAD_REQUEST,
            )
        settings = self.live.settings
        if len(self.operations) >= settings.ws_max_subscriptions:
            return (
                f"At most {settings.ws_max_subscriptions} subscriptions per connection "
                "(OG_WS_MAX_SUBSCRIPTIONS).",
                Code.RATE_LIMITED,
            )
        assert self.principal is not None
        # PostgreSQL: across workers, by a slot each running subscription holds (run_operation)
        if (
            self.live.leases is None
            and self.live.subscriptions_of(self.principal) >= settings.ws_max_subscriptions_per_key
        ):
            return _per_key(settings.ws_max_subscriptions_per_key)
        return None

    def subscriptions(self) -> int:
        return len(self.operations)

    # ------------------------------------------------------------ operations

    def operation_context(self) -> Context:
        """A context of the operation's own: its events swap the snapshot and loaders in it."""
        assert self.principal is not None
        settings = self.live.settings
        db = Database(self.live.sessions, self.principal)
        self.live.databases.add(db)  # closed by the operation's end, or by the worker's shutdown
        return replace(
            self.context,
            principal=self.principal,
            db=db,
            loaders=Loaders(
                db, default_page_size=settings.default_page_size, max_page_size=settings.max_page_size
            ),
            extras={"live": self.live},
        )

    async def _lease(self, operation: Operation[Context, None]) -> bool:
        """A slot of the key's limit across workers (PostgreSQL); False: refused, and said so."""
        leases = self.live.leases
        if leases is None:
            return True
        message: str
        code: str
        assert self.principal is not None and self.principal.api_key_id is not None
        try:
            lease = await leases.take(self.principal.api_key_id)
        except Exception as error:
            if not is_outage(error):
                raise
            message, code = "The database cannot be reached; retry later", Code.SERVICE_UNAVAILABLE
        else:
            if lease is not None:
                self.leases[operation] = lease
                return True
            message, code = _per_key(self.live.settings.ws_max_subscriptions_per_key)
        await operation.send_initial_errors([GraphQLError(message, extensions={"code": code})])
        self.operations.pop(operation.id, None)
        return False

    def _give_back(self, operation: Operation[Context, None] | None) -> None:
        lease = self.leases.pop(operation, None) if operation is not None else None
        if lease is not None and self.live.leases is not None:
            self.live.leases.give(lease)

    async def cleanup_operation(self, operation_id: str) -> None:
        # the slot goes back now (queued before any later subscribe's), not when the task ends
        self._give_back(self.operations.get(operation_id))
        await super().cleanup_operation(operation_id)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """The operation, and beside it the take of its slot of the per-key limit (PostgreSQL).

        The subscription starts at once (it takes its starting position now, as without a
        limit), but sends nothing before its slot is taken; refused, it ends with an `error`.
        """
        leased = None if self.live.leases is None else asyncio.create_task(self._lease(operation))
        inner = asyncio.create_task(self._run_operation(operation, leased))
        try:
            if leased is not None and not await leased:
                return
            await asyncio.shield(inner)
        finally:
            for task in (leased, inner):
                if task is not None and not task.done():
                    task.cancel()
            with suppress(Exception):
                await asyncio.wait([inner], timeout=CLOSE_GRACE_SECONDS)
            self._give_back(operation)

    async def _run_operation(
        self, operation: Operation[Context, None], leased: asyncio.Task[bool] | None
    ) -> None:
        context = self.operation_context()
        own = context.db  # the operation's database, whatever the context holds at its end
        try:
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(source):
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        await self._pre_execution_error(operation, result)
                        return
                    first = False
                    if not isinstance(result, ExecutionResult):
                        error = GraphQLError(
                            "Incremental delivery is not supported over graphql-transport-ws"
                        )
                        await operation.send_initial_errors([error])
                        return
                    result.errors = police(result.errors)
                    if leased is not None and not await leased:
                        return  # over the key's limit: refused (run_operation said so)
                    await operation.send_next(result)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
        finally:
            # bounded: a statement cancelled mid-flight must not hold the connection's end
            with suppress(Exception):
                async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                    await own.close()
            self.live.databases.discard(own)

    async def _pre_execution_error(
        self, operation: Operation[Context, None], result: PreExecutionError
    ) -> None:
        assert result.errors
        reason = self._get_pre_execution_close_reason(result.errors[0])
        if reason is not None:
            self.operations.pop(operation.id, None)
            await self.close(4400, reason[:120])
            return
        await operation.send_initial_errors(police(result.errors) or [])

    # ------------------------------------------------------------ sending

    async def send_message(self, message: Message) -> None:
        """Queue a message; wait while the queue is full, and close the socket if it stays full.

        The wait is the back-pressure: a subscription whose client reads slowly reads the
        change log slowly (its position is in the database, not in memory). A client that
        has not taken a message for OG_WS_SEND_TIMEOUT seconds is closed (4008).
        """
        if self.closing:
            return
        try:
            self.queue.put_nowait(message)
            return
        except asyncio.QueueFull:
            pass
        timeout = self.live.settings.ws_send_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await self.queue.put(message)
        except TimeoutError:
            if self.closing:
                return
            log.warning(
                "closing a websocket of API key %s: its %d queued messages were not taken in %g s "
                "(OG_WS_SEND_QUEUE, OG_WS_SEND_TIMEOUT); slow consumer",
                self.principal.api_key_id if self.principal else "-",
                self.queue.qsize(),
                timeout,
            )
            self.live.slow_consumers += 1
            await self.close(
                SLOW_CONSUMER, f"Slow consumer: {self.queue.maxsize} messages unsent for {timeout:g} s"
            )

    async def _send_loop(self) -> None:
        ws = self.websocket.ws  # type: ignore[attr-defined]
        while True:
            message = await self.queue.get()
            if message is None:
                return
            # text frames: graphql-transport-ws is JSON text (orjson gives bytes, i.e. binary frames)
            await ws.send_text(orjson.dumps(message).decode())

    async def close(self, code: int, reason: str) -> None:
        """Close with `code`: queued messages are dropped, operations end, the socket goes."""
        if self.closing:
            return
        self.closing = True
        while not self.queue.empty():
            self.queue.get_nowait()
        for task in self.helpers:
            if task is not asyncio.current_task():
                task.cancel()
        # A client that stopped reading may never let the close frame out: give it a grace
        # period, then stop the connection's tasks; the server drops the socket when we return.
        with suppress(Exception):
            async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                await self.websocket.close(code=code, reason=reason)
        self.stopped.set()

    # ------------------------------------------------------------ keeping it honest

    async def _watch_key(self) -> None:
        """Look the key up again and again: a revoked or expired key closes the socket."""
        interval = max(0.05, self.live.settings.key_cache_seconds / 2)
        while True:
            await asyncio.sleep(interval)
            try:
                principal = await self.live.principal(self.key or "")
            except Exception as error:
                if not is_outage(error):
                    raise
                continue  # the database is down: the key stands until it can be asked again
            if principal is None or principal != self.principal:
                await self.close(FORBIDDEN, "Forbidden: the API key was revoked or expired")
                return

    async def _heartbeat(self) -> None:
        interval = self.live.settings.ws_ping_interval_seconds
        while interval > 0:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})


def _per_key(limit: int) -> tuple[str, str]:
    return (
        f"At most {limit} subscriptions per API key (OG_WS_MAX_SUBSCRIPTIONS_PER_KEY).",
        Code.RATE_LIMITED,
    )


def _bearer(payload: dict[str, object]) -> str | None:
    """The key in `{"Authorization": "Bearer <key>"}` (the name in any case); None without one."""
    for name, value in payload.items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, key = value.partition(" ")
            return key.strip() or None if scheme.lower() == "bearer" else None
    return None
