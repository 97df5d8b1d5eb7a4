"""The fault runs of bench/reliability.py: every error-answered write must be uncommitted.

1. **A lock released just before the deadline.** A connection of the script's own holds the row
   locks of 15 deals (`SELECT … FOR UPDATE`) while 15 updates of them wait, and releases them a
   moment before a time limit: the lock timeout (the derived settings), and the request deadline
   itself (with the database's own limits set just inside it, so the three race).
2. **Backends terminated every 0.5 s under write load.** 16 clients update (each request its own
   deal, never used again) and create (each its own title; with an `Idempotency-Key`) while a
   loop calls `pg_terminate_backend` on every client backend of the database every 0.5 s.
   Afterwards the database is read: an answered write must be committed, an error-answered one
   not. Then every error-answered create is retried with its key until it is answered, and each
   title must exist exactly once.
3. **/healthz beside an exhausted pool.** A table locked for 8 s under 60 concurrent updates (more
   than the pool holds): every probe must answer within 1 s, every update must end uncommitted.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
from reliability import CREATE, UPDATE, Server, deal_ids, log_summary, outcome, pg_dsn

from app.ids import to_global_id

TIMEOUT = 3.0  # OG_REQUEST_TIMEOUT for the lock run: the derived lock timeout is 1 s, statements 2 s


async def titles(ids: list[int]) -> dict[int, str]:
    conn = await asyncpg.connect(pg_dsn())
    try:
        rows = await conn.fetch("SELECT id, title FROM opportunity WHERE id = ANY($1)", ids)
    finally:
        await conn.close()
    return {r["id"]: r["title"] for r in rows}


async def lock_run(key: str, ids: list[int], release_after: float, env: dict[str, str], label: str) -> None:
    server = Server(
        1, Path(f"/tmp/idem-reliability-lock-{label}.log"), OG_REQUEST_TIMEOUT=str(TIMEOUT), **env
    )
    try:
        await server.ready()
        holder = await asyncpg.connect(pg_dsn())
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT id FROM opportunity WHERE id = ANY($1) FOR UPDATE", ids)
        sent = {i: f"Lock {label} {uuid.uuid4().hex[:8]}" for i in ids}
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:

            async def update(i: int) -> tuple[int, str]:
                variables = {"id": to_global_id("Opportunity", i), "title": sent[i]}
                r = await client.post("/graphql", json={"query": UPDATE, "variables": variables})
                return i, outcome(r)

            async def release() -> None:
                await asyncio.sleep(release_after)
                await tx.rollback()

            results, _ = await asyncio.gather(asyncio.gather(*(update(i) for i in ids)), release())
        await holder.close()
        stored = await titles(ids)
        tally: Counter[str] = Counter()
        for i, result in results:
            committed = stored[i] == sent[i]
            tally[f"{result}, {'committed' if committed else 'not committed'}"] += 1
        print(f"lock released after {release_after:.2f} s ({label}): {dict(tally)}")
    finally:
        server.stop()


async def terminate_run(key: str, seconds: float) -> None:
    server = Server(2, Path("/tmp/idem-reliability-terminate.log"))
    try:
        await server.ready()
        pool = iter(await deal_ids(6000))
        updates: list[tuple[int, str, str]] = []  # (deal, title sent, outcome)
        creates: list[tuple[str, str, str]] = []  # (title, key, outcome)
        deadline = time.monotonic() + seconds
        kills = 0
        headers = {"Authorization": f"Bearer {key}"}

        async def killer() -> None:
            nonlocal kills
            conn = await asyncpg.connect(pg_dsn())
            try:
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                    kills += await conn.fetchval(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"
                    )
            finally:
                await conn.close()

        async def writer(n: int) -> None:
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
                for turn in itertools.count():
                    if time.monotonic() >= deadline:
                        return
                    try:
                        if turn % 3 == 2:
                            title, idem = f"Terminate {n} {uuid.uuid4().hex[:12]}", uuid.uuid4().hex
                            body = {"query": CREATE, "variables": {"title": title}}
                            r = await c.post("/graphql", json=body, headers={"Idempotency-Key": idem})
                            creates.append((title, idem, outcome(r)))
                        else:
                            deal = next(pool)
                            title = f"Terminate {n} {uuid.uuid4().hex[:12]}"
                            variables = {"id": to_global_id("Opportunity", deal), "title": title}
                            r = await c.post("/graphql", json={"query": UPDATE, "variables": variables})
                            updates.append((deal, title, outcome(r)))
                    except StopIteration:
                        return

        await asyncio.gather(killer(), *(writer(n) for n in range(16)))
        stored = await titles([u[0] for u in updates])
        conn = await asyncpg.connect(pg_dsn())
        try:
            rows = await conn.fetch(
                "SELECT title, count(*) AS n FROM opportunity WHERE title = ANY($1) GROUP BY title",
                [c[0] for c in creates],
            )
        finally:
            await conn.close()
        created = {r["title"]: r["n"] for r in rows}
        print(f"terminate every 0.5 s for {seconds:.0f} s: {kills} backends terminated")
        tally: Counter[str] = Counter()
        for deal, title, result in updates:
            tally[f"update {result}, {'committed' if stored[deal] == title else 'not committed'}"] += 1
        for title, _, result in creates:
            tally[f"create {result}, {'committed' if created.get(title) else 'not committed'}"] += 1
        for line, count in sorted(tally.items()):
            print(f"  {line}: {count}")
        # every error-answered create retried with its key until it is answered
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
            retried = Counter()
            for title, idem, result in creates:
                if result == "ok":
                    continue
                for _ in range(20):
                    body = {"query": CREATE, "variables": {"title": title}}
                    r = await c.post("/graphql", json=body, headers={"Idempotency-Key": idem})
                    if outcome(r) == "ok":
                        retried["replayed" if r.headers.get("idempotent-replayed") else "ran"] += 1
                        break
                    await asyncio.sleep(0.2)
        conn = await asyncpg.connect(pg_dsn())
        try:
            rows = await conn.fetch(
                "SELECT title, count(*) AS n FROM opportunity WHERE title = ANY($1) GROUP BY title",
                [c[0] for c in creates],
            )
        finally:
            await conn.close()
        counts = Counter(r["n"] for r in rows)
        print(f"  error-answered creates retried with their key: {dict(retried)}")
        print(
            f"  creates: {len(creates)} titles sent, rows per title after the retries: {dict(counts)},"
            f" missing {len(creates) - len(rows)}"
        )
    finally:
        server.stop()
    print("  " + log_summary(Path("/tmp/idem-reliability-terminate.log")))


async def health_under_lock(key: str, hold: float, writers: int) -> None:
    """/healthz while a locked table holds every pooled connection (and more requests wait for one)."""
    server = Server(1, Path("/tmp/idem-reliability-health.log"))
    try:
        await server.ready()
        ids = (await deal_ids(6000))[:writers]
        holder = await asyncpg.connect(pg_dsn())
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE opportunity IN ACCESS EXCLUSIVE MODE")
        sent = {i: f"Health {uuid.uuid4().hex[:8]}" for i in ids}
        probes: list[tuple[float, int]] = []
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client,
            httpx.AsyncClient(base_url=server.url, timeout=60) as prober,
        ):

            async def update(i: int) -> tuple[int, str]:
                variables = {"id": to_global_id("Opportunity", i), "title": sent[i]}
                return i, outcome(
                    await client.post("/graphql", json={"query": UPDATE, "variables": variables})
                )

            async def probe() -> None:
                end = time.monotonic() + hold
                while time.monotonic() < end:
                    t0 = time.perf_counter()
                    r = await prober.get("/healthz")
                    probes.append((time.perf_counter() - t0, r.status_code))
                    await asyncio.sleep(0.2)
                await tx.rollback()

            results, _ = await asyncio.gather(asyncio.gather(*(update(i) for i in ids)), probe())
        await holder.close()
        stored = await titles(ids)
        tally = Counter(
            f"{r}, {'committed' if stored[i] == sent[i] else 'not committed'}" for i, r in results
        )
        statuses = dict(Counter(status for _, status in probes))
        print(f"table locked {hold:.0f} s under {writers} concurrent updates (pool 34 + 8 overflow):")
        print(f"  /healthz: {len(probes)} probes {statuses}, max {max(t for t, _ in probes) * 1000:.0f} ms")
        print("  each (ms, status): " + ", ".join(f"{t * 1000:.0f} {s}" for t, s in probes))
        print(f"  updates: {dict(tally)}")
    finally:
        server.stop()
    print("  " + log_summary(Path("/tmp/idem-reliability-health.log")))


async def faults(key: str) -> None:
    ids = await deal_ids(6000)
    batches = iter([ids[i : i + 15] for i in range(3000, 6000, 15)])
    # the derived limits: locks give up after TIMEOUT/3, statements after 2*TIMEOUT/3
    for release in (TIMEOUT / 3 - 0.05, TIMEOUT / 3 + 0.02, TIMEOUT - 0.1):
        await lock_run(key, next(batches), release, {}, "derived")
    # the database's limits just inside the deadline (they may not reach it): the lock wait,
    # the database's limit and the request deadline end within 100 ms of one another
    high = {"OG_DB_LOCK_TIMEOUT": str(TIMEOUT - 0.1), "OG_DB_STATEMENT_TIMEOUT": str(TIMEOUT - 0.05)}
    for release in (TIMEOUT - 0.15, TIMEOUT - 0.1, TIMEOUT - 0.05, TIMEOUT):
        await lock_run(key, next(batches), release, high, "deadline")
    await health_under_lock(key, hold=8, writers=60)
    await terminate_run(key, 30)
