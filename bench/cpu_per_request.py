"""In-process CPU per request (time.process_time) for the board query and the 1000-row page.

    DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/cpu_per_request.py KEY [N50] [N1000] [ROUNDS]

Creates the app as the server does (rate limit off, max cost raised), warms up, then runs ROUNDS
rounds of N requests of each peer-kit query through httpx's ASGITransport and prints the median
CPU and wall time per request (the client's share included, the same in every run). With
--profile FILE it writes a cProfile of one round of each instead. A benchmark: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUERIES = Path(os.environ.get("PEER_QUERIES", ROOT.parent.parent / "shared" / "perf" / "queries"))

from app.main import create_app  # noqa: E402
from app.memory import tune_garbage_collector  # noqa: E402
from app.settings import Settings  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("key")
    parser.add_argument("n50", type=int, nargs="?", default=200)
    parser.add_argument("n1000", type=int, nargs="?", default=10)
    parser.add_argument("rounds", type=int, nargs="?", default=5)
    parser.add_argument("--profile")
    parser.add_argument("--only", choices=["50", "1000"])
    args = parser.parse_args()
    app = create_app(Settings(database_url=os.environ["DATABASE_URL"], rate_limit="", max_cost=10**9))
    tune_garbage_collector()
    headers = {"Authorization": f"Bearer {args.key}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=120) as client:
        sizes = [("50", args.n50), ("1000", args.n1000)]
        if args.only:
            sizes = [s for s in sizes if s[0] == args.only]
        bodies = {s: {"query": (QUERIES / f"gateway_board_{s}.graphql").read_text()} for s, _ in sizes}
        for s, _ in sizes:
            for _ in range(3):
                r = await client.post("/graphql", json=bodies[s], headers=headers)
                assert r.status_code == 200 and b'"errors"' not in r.content, r.text[:300]
        if args.profile:
            import cProfile

            for s, n in sizes:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(n):
                    (await client.post("/graphql", json=bodies[s], headers=headers)).raise_for_status()
                prof.disable()
                prof.dump_stats(f"{args.profile}.{s}")
            return
        results: dict[str, list[tuple[float, float]]] = {s: [] for s, _ in sizes}
        for _ in range(args.rounds):
            for s, n in sizes:
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(n):
                    (await client.post("/graphql", json=bodies[s], headers=headers)).raise_for_status()
                results[s].append(
                    ((time.process_time() - c0) / n * 1000, (time.perf_counter() - w0) / n * 1000)
                )
        for s, rows in results.items():
            cpu = statistics.median(r[0] for r in rows)
            wall = statistics.median(r[1] for r in rows)
            spread = ", ".join(f"{r[0]:.1f}" for r in rows)
            best = min(r[0] for r in rows)
            print(
                f"board_{s}: CPU median {cpu:.2f} min {best:.2f} ms/request, wall {wall:.2f} ms (rounds: {spread})"
            )
    await app.state.engine.dispose()


asyncio.run(main())
