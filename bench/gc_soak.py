"""RSS and GC pauses of one gateway process over many board requests, for a choice of GC thresholds.

    .venv/bin/python bench/gc_soak.py DATABASE_URL KEY [--requests 20000] [--concurrency 8]
        [--thresholds 50000,50,100] [--query /work/shared/perf/queries/gateway_board_50.graphql]

The app runs in this process (httpx over ASGI, no sockets, so the client's allocations are
counted too: a conservative figure), after the same start-up as `serve` (gc.freeze via
tune_garbage_collector, then the thresholds given). Every collection is timed with
gc.callbacks; RSS is read from /proc at the checkpoints. Prints one table row per checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from pathlib import Path

import httpx

from app.main import create_app
from app.memory import tune_garbage_collector
from app.settings import Settings

CHECKPOINTS = (1_000, 2_000, 5_000, 10_000, 15_000, 20_000)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Pauses:
    """Each collection's length in CPU time of this thread (the GC holds the GIL, so that is
    the pause), which a loaded machine does not inflate the way wall time is inflated."""

    def __init__(self) -> None:
        self.started = 0.0
        self.by_gen: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.thread_time()
        else:
            self.by_gen[info["generation"]].append((time.thread_time() - self.started) * 1000)

    def summary(self) -> str:
        parts = []
        for g, ms in self.by_gen.items():
            if ms:
                parts.append(f"gen{g}: {len(ms)} x, max {max(ms):.1f} ms, total {sum(ms):.0f} ms")
        return "; ".join(parts)

    def reset(self) -> None:
        for ms in self.by_gen.values():
            ms.clear()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("database_url")
    ap.add_argument("key")
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--thresholds", default="")
    ap.add_argument("--query", default="/work/shared/perf/queries/gateway_board_50.graphql")
    args = ap.parse_args()
    body = {"query": Path(args.query).read_text()}  # noqa: ASYNC240 (before any load)
    app = create_app(Settings(database_url=args.database_url, rate_limit="", max_cost=1_000_000_000))
    headers = {"Authorization": f"Bearer {args.key}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        first = await client.post("/graphql", json=body, headers=headers)
        assert first.status_code == 200 and "errors" not in first.json(), first.text[:300]
        tune_garbage_collector()
        if args.thresholds:
            gc.set_threshold(*(int(x) for x in args.thresholds.split(",")))
        pauses = Pauses()
        gc.callbacks.append(pauses)
        print(
            f"thresholds {gc.get_threshold()}, concurrency {args.concurrency}, RSS at start {rss_mb():.0f} MB"
        )
        print("| requests | RSS MB | collections since last row |")
        print("| --- | --- | --- |")
        done = 0
        queue = iter(range(args.requests))

        async def worker() -> None:
            nonlocal done
            for _ in queue:
                r = await client.post("/graphql", json=body, headers=headers)
                assert r.status_code == 200, r.text[:200]
                done += 1
                if done in CHECKPOINTS:
                    print(f"| {done} | {rss_mb():.0f} | {pauses.summary()} |", flush=True)
                    pauses.reset()

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        gc.callbacks.remove(pauses)
        t0 = time.perf_counter()
        gc.collect()
        print(
            f"full gc.collect() at the end: {(time.perf_counter() - t0) * 1000:.0f} ms; RSS {rss_mb():.0f} MB"
        )
        print(json.dumps({"gc_counts": gc.get_count(), "gc_stats": gc.get_stats()}))
    await app.state.keys.close()
    await app.state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
