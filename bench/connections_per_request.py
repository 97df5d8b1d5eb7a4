"""Per board request, in process: pool checkouts, new connections, transactions and statements.

    .venv/bin/python bench/connections_per_request.py DATABASE_URL KEY QUERYFILE [REQUESTS] [CONCURRENCY]

Counted with SQLAlchemy's pool and connection events around REQUESTS requests (default 48) sent
CONCURRENCY (default 8) at a time after one warm-up; round trips on PostgreSQL are statements
+ begin + rollback + commit. Run it with PYTHONPATH pointing at another checkout's `app` to
compare (bench/results-reads.md compares daecf19 with this branch).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from sqlalchemy import event

from app.main import create_app
from app.settings import Settings


async def main(url: str, key: str, query: str, n: int, concurrency: int) -> None:
    app = create_app(Settings(database_url=url, rate_limit="", max_cost=10**9))
    counts = dict.fromkeys(("checkout", "connect", "begin", "statements", "rollback", "commit"), 0)

    def bump(name: str):  # type: ignore[no-untyped-def]
        return lambda *_, **__: counts.__setitem__(name, counts[name] + 1)

    sync = app.state.engine.sync_engine
    for name in ("checkout", "connect", "begin", "rollback", "commit"):
        event.listen(sync, name, bump(name))
    event.listen(sync, "before_cursor_execute", bump("statements"))
    body = {"query": query}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:

        async def one() -> None:
            r = await client.post("/graphql", json=body, headers=headers)
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]

        await one()
        counts.update(dict.fromkeys(counts, 0))
        for _ in range(n // concurrency):
            await asyncio.gather(*(one() for _ in range(concurrency)))
    per = ", ".join(f"{k} {v / n:.2f}" for k, v in counts.items())
    print(f"per request: {per}; new connections in {n} requests: {counts['connect']}")
    await app.state.engine.dispose()


if __name__ == "__main__":
    args = sys.argv[1:]
    text = Path(args[2]).read_text()
    asyncio.run(
        main(
            args[0],
            args[1],
            text,
            int(args[3]) if len(args) > 3 else 48,
            int(args[4]) if len(args) > 4 else 8,
        )
    )
