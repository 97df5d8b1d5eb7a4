"""Read benchmark: the board query and a 1000-row page, on SQLite and PostgreSQL.

For each database it seeds N opportunities (app.demo), then reports, per query:
SQL statements per request, in-process latency p50/p99 (httpx over the ASGI app, no
network), and requests/s over HTTP against uvicorn on loopback at concurrency 8.

    .venv/bin/python bench/bench_reads.py --opportunities 10000 \
        --pg-url postgresql+asyncpg://og@127.0.0.1:54329/postgres --out bench/results-reads.md

A benchmark, not a test: it measures and records; nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
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
from app.db import make_engine  # noqa: E402
from app.demo import seed_demo  # noqa: E402
from app.enums import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.memory import tune_garbage_collector  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.settings import Settings  # noqa: E402

ORG = "Bench Org"

BOARD = """
query Board($first: Int!) {
  opportunities(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id title amount currency probability expectedRevenue status position expectedCloseDate
      customer { id name industry }
      contact { id displayName email }
      owner { id displayName avatarUrl }
      stage { id name type position }
      items { itemName quantity rate amount }
      customFields { value definition { label fieldType options } }
    }
  }
}
"""


@dataclass
class Figures:
    statements: int
    p50_ms: float
    p99_ms: float
    rps: float


async def _prepare(url: str, n: int) -> str:
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed_demo(engine, opportunities=n, organization=ORG, seed=1, progress=True)
    finally:
        await engine.dispose()
    return await _new_key(url, ORG, "bench@bench.example", [Role.ADMIN], "bench")


async def _in_process(url: str, key: str, first: int, rounds: int) -> tuple[int, float, float]:
    # limits off: this measures the query, not the guards (a 1000-row board is over the default cost)
    app = create_app(Settings(database_url=url, rate_limit="", max_cost=10**9))
    tune_garbage_collector()  # what the server's lifespan does; httpx's ASGI transport has no lifespan
    seen: list[str] = []
    engine = app.state.engine

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    headers = {"Authorization": f"Bearer {key}"}
    body = {"query": BOARD, "variables": {"first": first}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
        for _ in range(3):  # warm caches, pools and the key's last-used stamp
            (await client.post("/graphql", json=body, headers=headers)).raise_for_status()
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        r = await client.post("/graphql", json=body, headers=headers)
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert "errors" not in r.json(), r.text[:500]
        assert len(r.json()["data"]["opportunities"]["nodes"]) == first
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            (await client.post("/graphql", json=body, headers=headers)).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
    await engine.dispose()
    times.sort()
    return len(seen), statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def _over_http(url: str, key: str, first: int, seconds: float, concurrency: int = 8) -> float:
    # limits off: this measures the query, not the guards
    async with serving(url, OG_RATE_LIMIT="", OG_MAX_COST=str(10**9)) as (client, _):
        headers = {"Authorization": f"Bearer {key}"}
        body = {"query": BOARD, "variables": {"first": first}}
        deadline = time.perf_counter() + seconds
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.post("/graphql", json=body, headers=headers)
                response.raise_for_status()
                assert b'"errors"' not in response.content[:200], response.text[:300]
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def run(args: argparse.Namespace) -> str:
    targets: list[tuple[str, str]] = []
    tmp = tempfile.mkdtemp(prefix="og-bench-")
    targets.append(("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    if args.pg_url:
        targets.append(("PostgreSQL", await fresh_pg_database(args.pg_url, "og_bench_reads")))
    lines = [
        f"# Read benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"{args.opportunities} opportunities seeded (app.demo, seed 1) into organization {ORG!r};"
        f" machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "Board query = first N opportunities with customer, contact, owner, stage, items and custom field",
        "values with their definitions (see bench/bench_reads.py). In-process = httpx over the ASGI app",
        f"({args.rounds} requests for 50 rows, {max(5, args.rounds // 10)} for 1000). HTTP = uvicorn, 1 worker,",
        f"loopback, concurrency 8, {args.seconds:.0f} s.",
        "",
        "| database | page | SQL statements | p50 ms | p99 ms | requests/s (HTTP, c=8) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    seeded = []
    for name, url in targets:
        t0 = time.perf_counter()
        key = await _prepare(url, args.opportunities)
        seeded.append(
            f"- {name}: migrated and seeded {args.opportunities} opportunities in {time.perf_counter() - t0:.1f} s"
        )
        print(seeded[-1], file=sys.stderr)
        for first, rounds in ((50, args.rounds), (1000, max(5, args.rounds // 10))):
            statements, p50, p99 = await _in_process(url, key, first, rounds)
            rps = await _over_http(url, key, first, args.seconds)
            row = f"| {name} | {first} | {statements} | {p50:.1f} | {p99:.1f} | {rps:.1f} |"
            print(row, file=sys.stderr)
            lines.append(row)
    return "\n".join([*lines, "", "Seeding (`opportunity-gateway seed`'s code path):", *seeded]) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--opportunities", type=int, default=10_000)
    p.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL"), help="a PostgreSQL server database URL"
    )
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", default=None, help="write the results table here (Markdown)")
    args = p.parse_args()
    report = asyncio.run(run(args))
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
