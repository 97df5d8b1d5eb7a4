"""Write benchmark: createOpportunity and updateOpportunity throughput, on SQLite and PostgreSQL.

For each database it migrates an empty database, makes a board (pipeline, stages, customer)
through the API itself, counts the SQL statements of one of each mutation in process, then
drives uvicorn (1 worker, loopback) at concurrency 8 for a bounded time and count:

- create: createOpportunity with a stage, a customer, two tags and two line items, all into
  one board column (every create takes that column's lock) or spread over 8 columns;
- update (spread): updateOpportunity of one field, each request on a different deal;
- update (one hot deal): every worker updates the same deal (row lock / BEGIN IMMEDIATE queue);
- update with expectedVersion on the hot deal: compare-and-set; conflicts are counted, not retried.

    .venv/bin/python bench/bench_writes.py \
        --pg-url postgresql+asyncpg://og@127.0.0.1:54329/postgres --out bench/results-writes.md

A benchmark, not a test: it measures and records; nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import fresh_pg_database, serving  # noqa: E402  (bench/ is the script's folder)

from app.cli import _new_key  # noqa: E402
from app.enums import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.settings import Settings  # noqa: E402

ORG = "Bench Writes"
CONCURRENCY = 8

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id version } errors { code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!, $v: Int) {
  updateOpportunity(id: $id, input: $input, expectedVersion: $v) { opportunity { id version } errors { code } }
}
"""
SETUP = {
    "pipeline": ('mutation { createPipeline(input: {name: "Bench", currency: "EUR"}) { pipeline { id } } }',),
    "customer": ('mutation { createCustomer(input: {name: "Bench Customer"}) { customer { id } } }',),
}
STAGE = """
mutation ($p: ID!, $name: String!, $prob: Int!) {
  createStage(input: {pipelineId: $p, name: $name, probability: $prob}) { stage { id } }
}
"""


@dataclass
class Run:
    done: int
    seconds: float
    latencies: list[float]
    conflicts: int = 0
    server_cpu_ms: float = 0.0  # the uvicorn process's CPU time per request

    @property
    def rps(self) -> float:
        return self.done / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def deal_input(i: int, stage: str, customer: str) -> dict[str, Any]:
    return {
        "title": f"Bench deal {i}",
        "amount": f"{1000 + i}.50",
        "stageId": stage,
        "customerId": customer,
        "tags": ["bench", f"t{i % 7}"],
        "items": [
            {"itemName": "Seat", "quantity": "3", "rate": "19.99"},
            {"itemName": "Setup", "rate": "250"},
        ],
    }


async def post(client: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


async def setup_board(client: httpx.AsyncClient, key: str) -> tuple[list[str], str]:
    pipeline = (await post(client, key, SETUP["pipeline"][0], {}))["createPipeline"]["pipeline"]["id"]
    customer = (await post(client, key, SETUP["customer"][0], {}))["createCustomer"]["customer"]["id"]
    stages = []
    for i in range(CONCURRENCY):
        out = await post(client, key, STAGE, {"p": pipeline, "name": f"Stage {i + 1}", "prob": 10 * i})
        stages.append(out["createStage"]["stage"]["id"])
    return stages, customer


async def statements(url: str, key: str, stage: str, customer: str) -> tuple[int, int]:
    """SQL statements of one createOpportunity and one updateOpportunity, in process."""
    app = create_app(Settings(database_url=url, rate_limit=""))
    seen: list[str] = []
    engine = app.state.engine
    counter = lambda *a: seen.append(a[2])  # noqa: E731
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
        made = await post(client, key, CREATE, {"input": deal_input(0, stage, customer)})
        deal = made["createOpportunity"]["opportunity"]["id"]
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        await post(client, key, CREATE, {"input": deal_input(1, stage, customer)})
        created = len(seen)
        await post(client, key, UPDATE, {"id": deal, "input": {"amount": "5"}})
        event.remove(engine.sync_engine, "before_cursor_execute", counter)
    await engine.dispose()
    return created, len(seen) - created


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    client: httpx.AsyncClient,
    key: str,
    make: Any,
    seconds: float,
    limit: int,
    *,
    conflicts_ok: bool = False,
    pid: int = 0,
) -> Run:
    """`CONCURRENCY` workers posting `make(i)` (query, variables) until the time or the count runs out."""
    counter = itertools.count()
    latencies: list[float] = []
    conflicts = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal conflicts
        while time.perf_counter() < deadline:
            i = next(counter)
            if i >= limit:
                return
            query, variables = make(i)
            t0 = time.perf_counter()
            data = await post(client, key, query, variables)
            latencies.append((time.perf_counter() - t0) * 1000)
            errors = next(iter(data.values()))["errors"]
            if errors:
                assert conflicts_ok and errors[0]["code"] == "CONFLICT", errors
                conflicts += 1

    start, cpu = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    run = Run(len(latencies), time.perf_counter() - start, latencies, conflicts)
    run.server_cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / max(1, run.done)
    return run


async def over_http(
    url: str, key: str, stages: list[str], customer: str, seconds: float, limit: int
) -> dict[str, Run]:
    async with serving(url, OG_RATE_LIMIT="") as (client, server_pid):
        await drive(
            client, key, lambda i: (CREATE, {"input": deal_input(i, stages[0], customer)}), 2, 40
        )  # warm up
        ids: list[str] = []

        def create(i: int) -> tuple[str, dict[str, Any]]:
            return CREATE, {"input": deal_input(i, stages[0], customer)}

        def create_spread(i: int) -> tuple[str, dict[str, Any]]:
            return CREATE, {"input": deal_input(i, stages[i % len(stages)], customer)}

        results = {
            "createOpportunity (one column)": await drive(
                client, key, create, seconds, limit, pid=server_pid
            ),
            "createOpportunity (8 columns)": await drive(
                client, key, create_spread, seconds, limit, pid=server_pid
            ),
        }
        listing = await post(client, key, "{ opportunities(first: 1000) { nodes { id } } }", {})
        ids = [n["id"] for n in listing["opportunities"]["nodes"]]
        spread = lambda i: (UPDATE, {"id": ids[i % len(ids)], "input": {"amount": str(i)}})  # noqa: E731
        results["updateOpportunity (spread)"] = await drive(
            client, key, spread, seconds, limit, pid=server_pid
        )
        hot = lambda i: (UPDATE, {"id": ids[0], "input": {"amount": str(i)}})  # noqa: E731
        results["updateOpportunity (one hot deal)"] = await drive(
            client, key, hot, seconds, limit, pid=server_pid
        )
        version = {"v": await _version(client, key, ids[1])}

        def guarded(i: int) -> tuple[str, dict[str, Any]]:
            return UPDATE, {"id": ids[1], "input": {"amount": str(i)}, "v": version["v"]}

        async def refresh() -> None:
            # a client that re-reads after a conflict: here, one poller keeps the version current
            while True:
                version["v"] = await _version(client, key, ids[1])
                await asyncio.sleep(0.005)

        poller = asyncio.create_task(refresh())
        try:
            results["updateOpportunity (hot, expectedVersion)"] = await drive(
                client, key, guarded, seconds, limit, conflicts_ok=True, pid=server_pid
            )
        finally:
            poller.cancel()
        return results


async def _version(client: httpx.AsyncClient, key: str, gid: str) -> int:
    data = await post(client, key, "query ($id: ID!) { opportunity(id: $id) { version } }", {"id": gid})
    return int(data["opportunity"]["version"])


async def run(args: argparse.Namespace) -> str:
    targets = [("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='og-bench-')}/bench.db")]
    if args.pg_url:
        targets.append(("PostgreSQL", await fresh_pg_database(args.pg_url, "og_bench_writes")))
    lines = [
        f"# Write benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores ({_cpu()}), Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}.",
        f"uvicorn, 1 worker, loopback, concurrency {CONCURRENCY}; each row at most {args.seconds:.0f} s"
        f" or {args.limit} requests. Client and server share the machine. See bench/bench_writes.py.",
        "",
        "| database | mutation | SQL statements | requests | req/s | p50 ms | p99 ms | server CPU ms/req | conflicts |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    loads: list[str] = []
    for name, url in targets:
        await upgrade_async(url)
        key = await _new_key(url, ORG, "bench@bench.example", [Role.ADMIN], "bench")
        app = create_app(Settings(database_url=url, rate_limit=""))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
            stages, customer = await setup_board(client, key)
        await app.state.engine.dispose()
        created_sql, updated_sql = await statements(url, key, stages[0], customer)
        load_before = os.getloadavg()[0]
        results = await over_http(url, key, stages, customer, args.seconds, args.limit)
        loads.append(
            f"- {name}: 1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        for label, r in results.items():
            sql = created_sql if label.startswith("create") else updated_sql
            row = (
                f"| {name} | {label} | {sql} | {r.done} | {r.rps:.1f} | {statistics.median(r.latencies):.1f}"
                f" | {r.pct(0.99):.1f} | {r.server_cpu_ms:.1f} | {r.conflicts} |"
            )
            print(row, file=sys.stderr)
            lines.append(row)
    lines += ["", "Machine load while measuring (other work on the machine skews the figures):", *loads]
    return "\n".join(lines) + "\n"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL"), help="a PostgreSQL server database URL"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="time bound per row")
    p.add_argument("--limit", type=int, default=5000, help="request bound per row")
    p.add_argument("--out", default=None, help="write the results table here (Markdown)")
    args = p.parse_args()
    report = asyncio.run(run(args))
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
