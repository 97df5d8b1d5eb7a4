"""What the change log costs a mutation: SQL statements and time, with it and without it.

In process (httpx over ASGI, no sockets), one caller at a time, on SQLite and PostgreSQL. For
each mutation kind it runs blocks of N mutations alternately with the change log switched
off (app.changes.record's hooks replaced by no-ops: exactly the code before the log) and on,
and reports the statements of one mutation and the median and p90 time per mutation.

    .venv/bin/python bench/bench_changes.py \
        --pg-url postgresql+asyncpg://postgres@127.0.0.1:55440/postgres --out bench/results-changes.md

A benchmark, not a test: it measures and records; nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_writes import CREATE, UPDATE, deal_input, post, setup_board  # noqa: E402
from harness import fresh_pg_database  # noqa: E402

from app.changes import record  # noqa: E402
from app.cli import _new_key  # noqa: E402
from app.enums import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.settings import Settings  # noqa: E402

ORG = "Bench Changes"
MOVE = "mutation ($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { opportunity { version } errors { code } } }"
TAGS = "mutation ($id: ID!, $t: [String!]!) { setOpportunityTags(id: $id, tags: $t) { opportunity { version } errors { code } } }"


async def _noop(*_: Any, **__: Any) -> None:
    return None


@contextmanager
def log_off() -> Iterator[None]:
    """The code as it was before the change log: its hooks do nothing."""
    saved = {name: getattr(record, name) for name in ("touch", "write", "deleting", "created")}
    record.touch, record.write, record.deleting = _noop, _noop, _noop  # type: ignore[assignment]
    record.created = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(record, name, fn)


Mutation = Callable[[int], tuple[str, dict[str, Any]]]


def kinds(deals: list[str], stages: list[str], customer: str) -> dict[str, Mutation]:
    return {
        "updateOpportunity (one field)": lambda i: (
            UPDATE,
            {"id": deals[i % len(deals)], "input": {"amount": str(i)}},
        ),
        "createOpportunity (2 tags, 2 items)": lambda i: (
            CREATE,
            {"input": deal_input(i, stages[i % 4], customer)},
        ),
        "moveOpportunity": lambda i: (MOVE, {"id": deals[i % len(deals)], "s": stages[i % 4]}),
        "setOpportunityTags": lambda i: (TAGS, {"id": deals[i % len(deals)], "t": [f"x{i % 5}", "y"]}),
    }


async def measure(url: str, key: str, block: int, rounds: int) -> list[dict[str, Any]]:
    app = create_app(Settings(database_url=url, rate_limit=""))
    engine = app.state.engine
    seen: list[str] = []
    counter = lambda *a: seen.append(a[2])  # noqa: E731
    out = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
        stages, customer = await setup_board(client, key)
        deals = []
        for i in range(20):
            made = await post(client, key, CREATE, {"input": deal_input(i, stages[0], customer)})
            deals.append(made["createOpportunity"]["opportunity"]["id"])
        n = 0
        for name, make in kinds(deals, stages, customer).items():
            times: dict[bool, list[float]] = {False: [], True: []}
            statements: dict[bool, int] = {}
            for r in range(rounds * 2):
                on = r % 2 == 1
                with log_off() if not on else _nothing():
                    if on not in statements:
                        seen.clear()
                        event.listen(engine.sync_engine, "before_cursor_execute", counter)
                        await post(client, key, *make(n))
                        event.remove(engine.sync_engine, "before_cursor_execute", counter)
                        statements[on] = len(seen)
                        n += 1
                    for _ in range(block):
                        query, variables = make(n)
                        n += 1
                        started = time.perf_counter()
                        await post(client, key, query, variables)
                        times[on].append(time.perf_counter() - started)
            out.append({"mutation": name, "statements": statements, "times": times})
    await engine.dispose()
    return out


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _ms(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))] * 1000


async def main() -> tuple[str, str]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-changes.md"))
    args = parser.parse_args()
    lines = [
        f"# The change log's cost per mutation ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        "In process (httpx over ASGI), one caller, the key cached; "
        f"{args.rounds} alternating blocks of {args.block} mutations with the log off and on per row. "
        "See bench/bench_changes.py.",
        "",
        "| database | mutation | statements off | statements on | p50 ms off | p50 ms on | p90 ms off | p90 ms on | p50 added |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db")]
        if args.pg_url:
            targets.append(("PostgreSQL", await fresh_pg_database(args.pg_url, "og_bench_changes")))
        for label, url in targets:
            await upgrade_async(url)
            key = await _new_key(url, ORG, "bench@bench.example", [Role.ADMIN], "bench")
            before = os.getloadavg()[0]
            for row in await measure(url, key, args.block, args.rounds):
                off, on = row["times"][False], row["times"][True]
                p50_off, p50_on = _ms(off, 0.5), _ms(on, 0.5)
                lines.append(
                    f"| {label} | {row['mutation']} | {row['statements'][False]} | {row['statements'][True]} | "
                    f"{p50_off:.2f} | {p50_on:.2f} | {_ms(off, 0.9):.2f} | {_ms(on, 0.9):.2f} | "
                    f"{p50_on - p50_off:+.2f} ({(p50_on / p50_off - 1) * 100:+.0f} %) |"
                )
            loads.append(
                f"- {label}: 1-minute load average {before:.2f} before, {os.getloadavg()[0]:.2f} after"
            )
    lines += ["", "Machine load while measuring (other work on the machine skews the figures):", *loads, ""]
    return args.out, "\n".join(lines) + "\n"


def run() -> None:
    out, report = asyncio.run(main())
    Path(out).write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    run()
