"""Reliability runs against `opportunity-gateway serve` on a PostgreSQL server this script may stop.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:PORT/rel \\
    PG_CTL="runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/idem-pg/data" \\
    .venv/bin/python bench/reliability.py KEY {load,outage,soak,faults}

The database is migrated and seeded beforehand (`opportunity-gateway seed --opportunities
10000`); KEY is an admin API key of one organization (`create-api-key`). Each run starts its
own server (`serve --workers N` on a free port, its log to a file) and prints the figures of
bench/results-reliability.md. `outage` stops and starts the server PG_CTL names: never point it
at a server anyone else uses. A benchmark, not a test: it measures and counts; nothing here
decides a pass.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import free_port  # noqa: E402  (bench/ is the script's folder)

from app.ids import to_global_id  # noqa: E402

READ = """query ($after: String) { opportunities(first: 20, after: $after) {
  nodes { id title amount currency status stage { name } customer { name } owner { displayName } }
  pageInfo { endCursor } } }"""
ONE = "query ($id: ID!) { opportunity(id: $id) { id title version items { itemName amount } tags } }"
UPDATE = """mutation ($id: ID!, $title: String!) {
  updateOpportunity(id: $id, input: {title: $title}) { opportunity { id title version } errors { code } } }"""
CREATE = """mutation ($title: String!, $stage: ID) {
  createOpportunity(input: {title: $title, stageId: $stage, amount: "100.00", currency: "EUR", tags: ["bench"]}) {
    opportunity { id title } errors { code } } }"""


def pg_dsn() -> str:
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")


class Server:
    """`opportunity-gateway serve` on a free loopback port; its log kept in a file."""

    def __init__(self, workers: int, log: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log
        command = [str(ROOT / ".venv/bin/opportunity-gateway"), "serve", "--port", str(self.port)]
        command += ["--workers", str(workers)]
        environment = {**os.environ, "OG_RATE_LIMIT": "", "OG_AUTH_FAILURE_LIMIT": "", **env}
        self.process = subprocess.Popen(
            command, env=environment, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise SystemExit(f"the server did not come up; see {self.log}")

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        children = [int(p) for p in out.split()]
        # the supervisor's children: the workers (and multiprocessing's resource tracker, idle)
        return [p for p in children if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


STAGES: list[int] = []  # the open board columns of the key's organization (deal_ids fills it)


async def deal_ids(limit: int) -> list[int]:
    conn = await asyncpg.connect(pg_dsn())
    try:
        org = await conn.fetchval(
            "SELECT organization_id FROM api_key WHERE revoked_at IS NULL ORDER BY id DESC LIMIT 1"
        )
        stages = await conn.fetch("SELECT id FROM stage WHERE organization_id = $1 AND type = 'OPEN'", org)
        STAGES[:] = [r["id"] for r in stages]
        rows = await conn.fetch(
            "SELECT id FROM opportunity WHERE organization_id = $1 AND NOT is_private ORDER BY id LIMIT $2",
            org,
            limit,
        )
    finally:
        await conn.close()
    return [r["id"] for r in rows]


def outcome(response: httpx.Response) -> str:
    """ "ok", or what went wrong: an HTTP status, a top-level code, or a payload's user error."""
    if response.status_code != 200:
        return f"http {response.status_code}"
    body = response.json()
    if body.get("errors"):
        return "error " + ",".join(sorted({e.get("extensions", {}).get("code", "?") for e in body["errors"]}))
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict) and payload.get("errors"):
            return "user error " + ",".join(e["code"] for e in payload["errors"])
    return "ok"


def log_summary(path: Path) -> str:
    """What the server logged: the app's own lines (warnings and errors; uvicorn's INFO aside), tracebacks."""
    lines = path.read_text(errors="replace").splitlines()
    tracebacks = sum(line.startswith("Traceback (most recent call last)") for line in lines)
    frames = ("  ", "Traceback", "The above exception", "During handling", "INFO:")
    own = [line for line in lines if line and not line.startswith(frames)]
    outage = sum(
        line.startswith(("database unreachable", "database still", "database reachable")) for line in own
    )
    unexpected = sum(line.startswith("unexpected error") for line in own)
    return (
        f"log: {len(lines)} lines, {tracebacks} tracebacks; {len(own)} warning/error lines "
        f"({outage} outage start/summary/end, {unexpected} unexpected errors)"
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


# ---------------------------------------------------------------- load and soak


async def mixed(client: httpx.AsyncClient, ids: list[int], rng: random.Random, tag: str) -> tuple[str, str]:
    """One request of the mix: 60 % a page, 20 % one deal, 15 % an update, 5 % a create."""
    roll = rng.random()
    if roll < 0.60:
        kind, body = "read page", {"query": READ}
    elif roll < 0.80:
        kind, body = (
            "read one",
            {"query": ONE, "variables": {"id": to_global_id("Opportunity", rng.choice(ids))}},
        )
    elif roll < 0.95:
        gid = to_global_id("Opportunity", rng.choice(ids))
        kind, body = (
            "update",
            {"query": UPDATE, "variables": {"id": gid, "title": f"Load {tag} {rng.random()}"}},
        )
    else:
        # into a random open column: every create takes its column's lock (dense positions)
        stage = to_global_id("Stage", rng.choice(STAGES)) if STAGES else None
        variables = {"title": f"Load {tag} {rng.random()}", "stage": stage}
        kind, body = "create", {"query": CREATE, "variables": variables}
    return kind, outcome(await client.post("/graphql", json=body))


async def load(key: str, seconds: float, concurrency: int, workers: int) -> None:
    server = Server(workers, Path("/tmp/idem-reliability-load.log"))
    try:
        await server.ready()
        ids = await deal_ids(6000)
        pids = server.workers()
        cpu0 = {p: cpu_seconds(p) for p in pids}
        latencies: list[float] = []
        outcomes: Counter[tuple[str, str]] = Counter()
        deadline = time.monotonic() + seconds

        async def client_loop(n: int) -> None:
            rng = random.Random(n)
            # one keep-alive connection per client, as a real client pool would hold
            limits = httpx.Limits(max_connections=1)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                base_url=server.url, headers=headers, limits=limits, timeout=60
            ) as c:
                while time.monotonic() < deadline:
                    t0 = time.perf_counter()
                    kind, result = await mixed(c, ids, rng, str(n))
                    latencies.append(time.perf_counter() - t0)
                    outcomes[kind, result] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(client_loop(n) for n in range(concurrency)))
        elapsed = time.monotonic() - t0
        cpu = {p: cpu_seconds(p) - cpu0[p] for p in pids}
        errors = sum(v for (_, r), v in outcomes.items() if r != "ok")
        print(f"{len(latencies)} requests in {elapsed:.1f} s at c={concurrency}, {workers} workers")
        print(
            f"{len(latencies) / elapsed:.0f} req/s; p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms"
        )
        print(f"errors: {errors}")
        for (kind, result), count in sorted(outcomes.items()):
            print(f"  {kind:10} {result:20} {count}")
        for p, seconds_used in cpu.items():
            print(
                f"  worker {p}: {seconds_used:.1f} s CPU ({100 * seconds_used / elapsed:.0f} % of one core)"
            )
    finally:
        server.stop()


async def soak(key: str, requests: int, concurrency: int) -> None:
    server = Server(1, Path("/tmp/idem-reliability-soak.log"))
    try:
        await server.ready()
        ids = await deal_ids(6000)
        (pid,) = server.workers() or [server.process.pid]
        done, errors = 0, 0
        counter = itertools.count(1)
        checkpoints = {1_000, 2_000, 5_000, 10_000, 15_000, 20_000, requests}
        print(f"RSS at start: {rss_mb(pid):.0f} MB")
        print("| requests | RSS MB | elapsed |\n| --- | --- | --- |")
        t0 = time.monotonic()

        async def client_loop(n: int) -> None:
            nonlocal done, errors
            rng = random.Random(n)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
                while next(counter) <= requests:
                    _, result = await mixed(c, ids, rng, f"soak {n}")
                    errors += result != "ok"
                    done += 1
                    if done in checkpoints or done % 2500 == 0:
                        print(f"| {done} | {rss_mb(pid):.0f} | {time.monotonic() - t0:.0f} s |", flush=True)

        await asyncio.gather(*(client_loop(n) for n in range(concurrency)))
        print(f"errors: {errors}")
    finally:
        server.stop()


# ---------------------------------------------------------------- outage


async def outage(key: str, before: float, down: float, after: float) -> None:
    pg_ctl = shlex.split(os.environ["PG_CTL"])
    log = Path("/tmp/idem-reliability-outage.log")
    server = Server(2, log)
    try:
        await server.ready()
        ids = await deal_ids(1000)
        events: list[tuple[float, str, str, bool]] = []  # (time, phase, outcome, Retry-After)
        health: list[tuple[str, float, int]] = []
        phase = "before"
        stop = False
        t_start = time.monotonic()
        restarted_at: float | None = None

        async def client_loop(n: int) -> None:
            rng = random.Random(n)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
                while not stop:
                    seen = phase
                    try:
                        r = await c.post("/graphql", json=(await _pick(rng, ids)))
                        result = outcome(r) if r.status_code == 200 else f"http {r.status_code}"
                        if r.status_code != 200 and "application/json" in r.headers.get("content-type", ""):
                            codes = {e.get("extensions", {}).get("code") for e in r.json().get("errors", [])}
                            result += " " + ",".join(sorted(str(c) for c in codes))
                        events.append((time.monotonic(), seen, result, "retry-after" in r.headers))
                    except httpx.TransportError as error:
                        events.append((time.monotonic(), seen, type(error).__name__, False))
                    await asyncio.sleep(0.01)

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
                while not stop:
                    t0 = time.perf_counter()
                    r = await c.get("/healthz")
                    health.append((phase, time.perf_counter() - t0, r.status_code))
                    await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(client_loop(n)) for n in range(8)] + [asyncio.create_task(probe())]
        await asyncio.sleep(before)
        phase = "down"
        stopped = await asyncio.to_thread(
            subprocess.run, [*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True
        )
        assert stopped.returncode == 0, stopped.stderr
        await asyncio.sleep(down)
        phase = "after"
        started = await asyncio.to_thread(
            subprocess.run, [*pg_ctl, "-w", "-l", "/tmp/idem-pg/postgres.log", "start"], capture_output=True
        )
        assert started.returncode == 0, started.stderr
        restarted_at = time.monotonic()
        await asyncio.sleep(after)
        stop = True
        await asyncio.gather(*tasks)
        for name in ("before", "down", "after"):
            mine = [e for e in events if e[1] == name]
            print(f"{name}: {len(mine)} requests: {dict(Counter(e[2] for e in mine))}")
            failures = [e for e in mine if e[2] != "ok"]
            if failures:
                print(
                    f"  of those not ok, with Retry-After: {sum(e[3] for e in failures)} of {len(failures)}"
                )
            probes = [h for h in health if h[0] == name]
            if probes:
                statuses = dict(Counter(h[2] for h in probes))
                print(
                    f"  /healthz: {len(probes)} probes {statuses}, max {max(h[1] for h in probes) * 1000:.0f} ms"
                )
        assert restarted_at is not None
        first_ok = min(
            (e[0] for e in events if e[1] == "after" and e[2] == "ok" and e[0] > restarted_at), default=None
        )
        last_bad = max((e[0] for e in events if e[2] != "ok"), default=None)
        if first_ok is not None:
            print(f"first ok answer {first_ok - restarted_at:.2f} s after pg_ctl start returned")
        if last_bad is not None:
            print(f"last not-ok answer {last_bad - restarted_at:.2f} s after pg_ctl start returned")
        print(f"run length {time.monotonic() - t_start:.0f} s")
    finally:
        server.stop()
    print(log_summary(log))


async def _pick(rng: random.Random, ids: list[int]) -> dict[str, Any]:
    if rng.random() < 0.75:
        return {"query": ONE, "variables": {"id": to_global_id("Opportunity", rng.choice(ids))}}
    gid = to_global_id("Opportunity", rng.choice(ids))
    return {"query": UPDATE, "variables": {"id": gid, "title": f"Outage {rng.random()}"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("key")
    ap.add_argument("run", choices=["load", "outage", "soak", "faults", "health"])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=20_000)
    args = ap.parse_args()
    if args.run == "load":
        asyncio.run(load(args.key, args.seconds, args.concurrency, args.workers))
    elif args.run == "soak":
        asyncio.run(soak(args.key, args.requests, args.concurrency))
    elif args.run == "outage":
        asyncio.run(outage(args.key, before=5, down=10, after=10))
    elif args.run == "health":
        from faults import health_under_lock  # /healthz beside an exhausted pool, alone

        asyncio.run(health_under_lock(args.key, hold=8, writers=60))
    else:
        from faults import faults  # the fault runs, bench/faults.py (it imports this module)

        asyncio.run(faults(args.key))


if __name__ == "__main__":
    main()
