"""Live delivery: 100 subscribers on `serve --workers 2` (PostgreSQL), while writers change deals.

    .venv/bin/python bench/bench_live.py --pg-url postgresql+asyncpg://postgres@127.0.0.1:55440/postgres \
        --out bench/results-live.md

A fresh database, an organization with a board and 50 deals; the real command
`opportunity-gateway serve --workers 2` on loopback; 100 graphql-transport-ws subscribers
(`opportunityChanged`, no filter: every subscriber gets every change) spread over the two
workers by the kernel (which worker holds each is read from /proc); `--writers` clients
running `updateOpportunity` back to back for `--seconds`. Every subscriber must receive every
change exactly once, in commit order (checked: a loss or duplicate fails the run).

Latency is from the change's `at` (stamped in the mutation's transaction just before COMMIT,
so it includes the COMMIT) to the moment the subscriber's client has parsed the message;
client, server and PostgreSQL share the machine's clock (and its cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.enums import Role
from app.migrate import upgrade_async
from bench.bench_writes import _cpu, _new_key, post
from bench.harness import free_port, fresh_pg_database
from tests.test_serve import listeners, owner, server_side

COMMAND = str(Path(sys.executable).parent / "opportunity-gateway")
DEALS = 50
SUBSCRIPTION = "subscription { opportunityChanged { cursor at version opportunityId } }"
UPDATE = """
mutation ($id: ID!, $amount: Decimal!) { updateOpportunity(id: $id, input: {amount: $amount}) { errors { code } } }
"""
CREATE = """
mutation ($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } errors { code } } }
"""


class Subscriber:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.cursors: list[str] = []
        self.latencies: list[float] = []
        self.last_at = 0.0

    async def run(self) -> None:
        async for raw in self.ws:
            received = time.time()
            message = json.loads(raw)
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
                continue
            assert message["type"] == "next", message
            change = message["payload"]["data"]["opportunityChanged"]
            self.cursors.append(change["cursor"])
            self.latencies.append(received - datetime.fromisoformat(change["at"]).timestamp())
            self.last_at = received


async def subscribe(port: int, key: str) -> tuple[Subscriber, int]:
    ws = await connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
    sock = ws.transport.get_extra_info("socket")
    return Subscriber(ws), owner(server_side(port, sock)[1])


async def write(client: httpx.AsyncClient, key: str, deals: list[str], until: float, n: int) -> list[float]:
    done: list[float] = []
    i = 0
    while time.monotonic() < until:
        deal = deals[(n + i * 7) % len(deals)]
        try:
            out = await post(client, key, UPDATE, {"id": deal, "amount": f"{1000 + n * 1000 + i}.25"})
        except AssertionError as error:  # a GraphQL error (a lock timeout on an overloaded machine)
            print(f"writer {n}: {error}", file=sys.stderr)
            i += 1
            continue
        assert out["updateOpportunity"]["errors"] == [], out
        done.append(time.time())
        i += 1
    return done


async def run(args: argparse.Namespace) -> str:
    url = await fresh_pg_database(args.pg_url, "og_bench_live")
    await upgrade_async(url)
    key = await _new_key(url, "Bench Live", "bench@live.example", [Role.ADMIN], "bench")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "OG_RATE_LIMIT": "",
        "OG_WS_MAX_SUBSCRIPTIONS_PER_KEY": "1000",
        "OG_LOG_LEVEL": "WARNING",
    }
    log = open(Path(args.log), "wb")  # noqa: SIM115, ASYNC230
    server = subprocess.Popen(  # noqa: ASYNC220
        [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for _ in range(1200):  # both workers up: a loaded machine takes a while
                try:
                    if (await client.get("/healthz")).status_code == 200 and listeners(port) == 2:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            pipeline = await post(
                client,
                key,
                'mutation { createPipeline(input: {name: "Live", currency: "EUR"}) { pipeline { id } } }',
                {},
            )
            pid = pipeline["createPipeline"]["pipeline"]["id"]
            stage_q = 'mutation ($p: ID!) { createStage(input: {pipelineId: $p, name: "Open", probability: 10}) { stage { id } } }'
            stage = (await post(client, key, stage_q, {"p": pid}))["createStage"]["stage"]["id"]
            deals = []
            for i in range(DEALS):
                made = await post(
                    client, key, CREATE, {"i": {"title": f"Live deal {i}", "stageId": stage, "amount": "1"}}
                )
                deals.append(made["createOpportunity"]["opportunity"]["id"])

            pairs = [await subscribe(port, key) for _ in range(args.subscribers)]
            subscribers = [s for s, _ in pairs]
            workers = Counter(pid for _, pid in pairs)
            tasks = [asyncio.create_task(s.run()) for s in subscribers]
            await asyncio.sleep(2.0)  # every subscription started (each reads its starting position)

            started = time.time()
            until = time.monotonic() + args.seconds
            clients = [
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)
                for _ in range(args.writers)
            ]
            commits = await asyncio.gather(*(write(c, key, deals, until, n) for n, c in enumerate(clients)))
            for c in clients:
                await c.aclose()
            writes = sum(len(c) for c in commits)
            wrote_for = max(max(c) for c in commits) - started
            deadline = time.monotonic() + 60
            while any(len(s.cursors) < writes for s in subscribers) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            finished = max(s.last_at for s in subscribers)
            for t in tasks:
                t.cancel()
            for s in subscribers:
                await s.ws.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            print("the server did not stop within 60 s of SIGTERM", file=sys.stderr)
        log.close()

    received = [len(s.cursors) for s in subscribers]
    duplicates = sum(len(s.cursors) - len(set(s.cursors)) for s in subscribers)
    ordered = all(s.cursors == sorted(s.cursors, key=_seq) for s in subscribers)
    latencies = sorted(x for s in subscribers for x in s.latencies)
    total = sum(received)
    p = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000  # noqa: E731
    load = os.getloadavg()[0]
    lines = [
        f"# Live delivery benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores ({_cpu()}), Python {platform.python_version()}; "
        "client, 2 uvicorn workers and PostgreSQL share it. See bench/bench_live.py.",
        f"`opportunity-gateway serve --workers 2` on PostgreSQL; {args.subscribers} subscribers "
        f"(split {sorted(workers.values())} over the two workers), {args.writers} writers running "
        f"`updateOpportunity` back to back for {args.seconds:.0f} s; every subscriber gets every change.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| changes committed | {writes} ({writes / wrote_for:.1f}/s) |",
        f"| events delivered | {total} of {writes * args.subscribers} expected |",
        f"| events delivered per second (first commit → last delivery) | {total / (finished - started):.0f} |",
        f"| commit → delivery p50 | {p(0.5):.1f} ms |",
        f"| commit → delivery p90 | {p(0.9):.1f} ms |",
        f"| commit → delivery p99 | {p(0.99):.1f} ms |",
        f"| commit → delivery max | {latencies[-1] * 1000:.1f} ms |",
        f"| mean | {statistics.mean(latencies) * 1000:.1f} ms |",
        f"| lost / duplicated / out of order | {writes * args.subscribers - total} / {duplicates} / {'none' if ordered else 'SOME'} |",
        "",
        f"1-minute load average after the run: {load:.2f}.",
    ]
    return "\n".join(lines) + "\n"


def _seq(cursor: str) -> int:
    from app.changes import decode_cursor

    return decode_cursor(cursor) or 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"), required=False)
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--log", default="/tmp/og-bench-live.log")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if not args.pg_url:
        sys.exit("--pg-url (or BENCH_PG_URL) is required: the live benchmark runs on PostgreSQL")
    report = asyncio.run(run(args))
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
