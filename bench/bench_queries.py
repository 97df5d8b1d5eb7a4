"""Query-language benchmark: filtered board queries, search, board columns, deep pages, aggregates and
groups on N opportunities, with the PostgreSQL plans of the board query.

For each database it migrates, seeds N opportunities into one organization (app.demo, seed 1),
ANALYZEs, then measures each query in process (httpx over the ASGI app, no network): SQL
statements per request and latency p50/p99, as an admin and as a viewer (whose every statement
carries the private-deal visibility rule). On PostgreSQL it also records EXPLAIN (ANALYZE,
BUFFERS) of the statements the board queries run, to show which indexes serve them.

    .venv/bin/python bench/bench_queries.py --opportunities 100000 \\
        --pg-url postgresql+asyncpg://og@127.0.0.1:54329/postgres --sqlite \\
        --out bench/results-queries.md --explain bench/explain.md

A benchmark, not a test: it measures and records; nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import _new_key  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.demo import seed_demo  # noqa: E402
from app.enums import Role  # noqa: E402
from app.graphql.common import to_global_id  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.settings import Settings  # noqa: E402

ORG = "Bench Org"
CARD = "id title amount currency expectedRevenue status position expectedCloseDate owner { displayName }"

BOARD_FILTERED = f"""
query ($pipeline: ID!, $stages: [ID!], $owner: ID!, $from: Date!, $to: Date!) {{
  opportunities(
    filter: {{pipeline: {{id: {{eq: $pipeline}}}}, stage: {{id: {{in: $stages}}}}, owner: {{id: {{eq: $owner}}}},
             status: {{eq: OPEN}}, expectedCloseDate: {{gte: $from, lte: $to}}}}
    orderBy: [{{field: EXPECTED_CLOSE_DATE}}]
    first: 50
  ) {{ totalCount nodes {{ {CARD} stage {{ name }} customer {{ name }} }} }}
}}
"""

BOARD_COLUMNS = f"""
query ($pipeline: ID!, $owner: ID!) {{
  pipeline(id: $pipeline) {{
    stages {{
      name
      opportunities(first: 20, filter: {{owner: {{id: {{eq: $owner}}}}}}) {{ totalCount nodes {{ {CARD} }} }}
    }}
  }}
}}
"""

BOARD_ALL = f"""
query ($pipeline: ID!) {{
  pipeline(id: $pipeline) {{
    stages {{ name opportunities(first: 20) {{ totalCount nodes {{ {CARD} }} }} }}
  }}
}}
"""

NEWEST = f"query {{ opportunities(first: 50) {{ totalCount nodes {{ {CARD} }} }} }}"

DEEP_FILTER = """
query {
  opportunities(first: 50, filter: {customer: {industry: {in: ["Software", "Retail"]}},
                contacts: {some: {jobTitle: {startsWith: "Head"}}}, amount: {gte: "5000"}},
                orderBy: [{field: AMOUNT, direction: DESC, nulls: LAST}]) { totalCount nodes { id title amount } }
}
"""

SEARCH = """
query ($q: String!) { opportunities(first: 20, filter: {search: $q}) { totalCount nodes { id title } } }
"""

OFFSET_PAGE = "query { opportunities(first: 50, offset: 50000) { nodes { id } } }"
CURSOR_PAGE = "query ($after: String!) { opportunities(first: 50, after: $after) { nodes { id } } }"
AGGREGATE = """
query ($pipeline: ID!) {
  opportunityAggregate(filter: {pipeline: {id: {eq: $pipeline}}, status: {eq: OPEN}}) {
    count amount { currency sum avg } expectedRevenue { currency sum } probability { avg }
  }
}
"""
GROUPS = """
query ($groupBy: [OpportunityGroupBy!]!, $filter: OpportunityFilter) {
  opportunityGroups(groupBy: $groupBy, filter: $filter) {
    count stage { name } owner { displayName } expectedCloseMonth sums { currency amount expectedRevenue }
  }
}
"""


async def _database(server_url: str, name: str, reuse: bool) -> tuple[str, bool]:
    """A PostgreSQL database for the run: (url, whether it already holds the seeded data)."""
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    admin = create_async_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and reuse:
                return url, True
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return url, False


async def _seed(url: str, n: int) -> float:
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        await seed_demo(engine, opportunities=n, organization=ORG, seed=1, progress=True)
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return time.perf_counter() - t0
    finally:
        await engine.dispose()


async def _pick(url: str) -> dict[str, Any]:
    """Realistic arguments: the biggest pipeline, its open stages, its busiest owner, a common word."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            async def one(sql: str, **params: Any) -> Any:
                return (await conn.execute(text(sql), params)).first()

            org = (await one("SELECT id FROM organization WHERE name = :n", n=ORG))[0]
            pipeline = (
                await one(
                    "SELECT s.pipeline_id FROM opportunity o JOIN stage s ON s.id = o.stage_id"
                    " WHERE o.organization_id = :o GROUP BY s.pipeline_id ORDER BY count(*) DESC LIMIT 1",
                    o=org,
                )
            )[0]
            stages = (
                await conn.execute(
                    text("SELECT id FROM stage WHERE pipeline_id = :p AND type = 'OPEN' ORDER BY position"),
                    {"p": pipeline},
                )
            ).scalars()
            owner, email = await one(
                "SELECT u.id, u.email FROM opportunity o JOIN stage s ON s.id = o.stage_id"
                " JOIN \"user\" u ON u.id = o.owner_id WHERE s.pipeline_id = :p AND o.status = 'OPEN'"
                " GROUP BY u.id, u.email ORDER BY count(*) DESC LIMIT 1",
                p=pipeline,
            )
            title = (await one("SELECT title FROM opportunity WHERE organization_id = :o LIMIT 1", o=org))[0]
    finally:
        await engine.dispose()
    return {
        "pipeline": to_global_id("Pipeline", pipeline),
        "stages": [to_global_id("Stage", s) for s in stages],
        "owner": to_global_id("User", owner),
        "owner_email": email,
        "word": max(title.split(), key=len),
    }


def _queries(p: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    board = {"pipeline": p["pipeline"], "stages": p["stages"], "owner": p["owner"]}
    year = {"from": "2026-01-01", "to": "2026-12-31"}
    in_pipeline = {"pipeline": {"id": {"eq": p["pipeline"]}}}
    return [
        ("board, filtered (pipeline, stages, owner, OPEN, close date), 50 rows", BOARD_FILTERED, board | year),
        ("board columns of a pipeline for one owner, 20 per column", BOARD_COLUMNS, board),
        ("board columns of a pipeline, 20 per column (no filter)", BOARD_ALL, {"pipeline": p["pipeline"]}),
        ("newest first, 50 rows + totalCount", NEWEST, {}),
        ("customer.industry + contacts.some + amount range, by amount", DEEP_FILTER, {}),
        (f"search {p['word']!r}", SEARCH, {"q": p["word"]}),
        ("page at offset 50 000", OFFSET_PAGE, {}),
        ("page after a cursor 50 000 rows in", CURSOR_PAGE, {"after": p["cursor"]}),
        ("opportunityAggregate (pipeline, OPEN)", AGGREGATE, {"pipeline": p["pipeline"]}),
        ("opportunityGroups by STAGE (pipeline)", GROUPS, {"groupBy": ["STAGE"], "filter": in_pipeline}),
        ("opportunityGroups by OWNER (all)", GROUPS, {"groupBy": ["OWNER"]}),
        ("opportunityGroups by EXPECTED_CLOSE_MONTH (all)", GROUPS, {"groupBy": ["EXPECTED_CLOSE_MONTH"]}),
        ("opportunityGroups by STAGE, OWNER (pipeline)", GROUPS, {"groupBy": ["STAGE", "OWNER"], "filter": in_pipeline}),
        ("opportunityGroups by PIPELINE, STATUS (all)", GROUPS, {"groupBy": ["PIPELINE", "STATUS"]}),
    ]  # fmt: skip


class Runner:
    """One app over one database; posts queries and records the SQL they run."""

    def __init__(self, url: str) -> None:
        # limits off: this measures the queries, not the guards
        self.app = create_app(Settings(database_url=url, rate_limit="", max_cost=10**9))
        self.engine: AsyncEngine = self.app.state.engine
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://b")
        self.seen: list[tuple[str, Any]] = []

    def _record(self, _c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.seen.append((statement, parameters))

    async def post(self, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        body = r.json()
        assert "errors" not in body, str(body)[:500]
        return body["data"]  # type: ignore[no-any-return]

    async def measure(
        self, key: str, query: str, variables: dict[str, Any], rounds: int
    ) -> tuple[int, float, float]:
        for _ in range(2):
            await self.post(key, query, variables)
        statements = await self.statements(key, query, variables)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await self.post(key, query, variables)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return len(statements), statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]

    async def statements(self, key: str, query: str, variables: dict[str, Any]) -> list[tuple[str, Any]]:
        self.seen = []
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._record)
        try:
            await self.post(key, query, variables)
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", self._record)
        return [(s, p) for s, p in self.seen if "api_key" not in s.split("WHERE")[0]]

    async def explain(self, statement: str, parameters: Any) -> str:
        async with self.engine.connect() as conn:
            result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", tuple(parameters))
            return "\n".join(row[0] for row in result)

    async def close(self) -> None:
        await self.client.aclose()
        await self.engine.dispose()


async def _cursor_deep_in(runner: Runner, key: str) -> str:
    """The cursor of the 50 000th deal of the default order, as a client paging by cursor would hold it."""
    query = "query { opportunities(first: 1, offset: 49999) { edges { cursor } } }"
    return (await runner.post(key, query, {}))["opportunities"]["edges"][0]["cursor"]  # type: ignore[no-any-return]


async def run_target(
    name: str, url: str, seeded: bool, args: argparse.Namespace
) -> tuple[list[str], list[str]]:
    notes = []
    if not seeded:
        notes.append(f"- {name}: migrated and seeded in {await _seed(url, args.opportunities):.1f} s")
    admin = await _new_key(url, ORG, "bench@bench.example", [Role.ADMIN], "bench")
    params = await _pick(url)
    viewer = await _new_key(url, ORG, params["owner_email"], [Role.VIEWER], "bench viewer")
    runner = Runner(url)
    rows, plans = [], []
    try:
        params["cursor"] = await _cursor_deep_in(runner, admin)
        for label, query, variables in _queries(params):
            for who, key in (("admin", admin), ("viewer", viewer)):
                n, p50, p99 = await runner.measure(key, query, variables, args.rounds)
                rows.append(f"| {name} | {label} | {who} | {n} | {p50:.1f} | {p99:.1f} |")
                print(rows[-1], file=sys.stderr)
        if url.startswith("postgresql"):
            plans = await _plans(runner, admin, viewer, params)
    finally:
        await runner.close()
    return rows + notes, plans


async def _plans(runner: Runner, admin: str, viewer: str, params: dict[str, Any]) -> list[str]:
    out = []
    board = {"pipeline": params["pipeline"], "stages": params["stages"], "owner": params["owner"]}
    cases = [
        ("Board query filtered by pipeline, stage, owner, status and expectedCloseDate (admin)", admin,
         BOARD_FILTERED, board | {"from": "2026-01-01", "to": "2026-12-31"}),
        ("The same board query as a viewer (private-deal visibility rule added)", viewer,
         BOARD_FILTERED, board | {"from": "2026-01-01", "to": "2026-12-31"}),
        ("Board columns: every stage's first 20 for one owner, one windowed statement (admin)", admin,
         BOARD_COLUMNS, board),
        ("Board columns of a whole pipeline, 20 per column, no filter (admin)", admin, BOARD_ALL,
         {"pipeline": params["pipeline"]}),
        (f"search {params['word']!r} (GIN full-text indexes)", admin, SEARCH, {"q": params["word"]}),
        ("opportunityGroups by STAGE in one pipeline (admin)", admin, GROUPS,
         {"groupBy": ["STAGE"], "filter": {"pipeline": {"id": {"eq": params["pipeline"]}}}}),
        ("The same groups as a viewer: the visibility rule's cost on a 50k-row aggregate", viewer, GROUPS,
         {"groupBy": ["STAGE"], "filter": {"pipeline": {"id": {"eq": params["pipeline"]}}}}),
        ("customer.industry + contacts.some + amount range, sorted by amount (admin)", admin, DEEP_FILTER, {}),
        ("A page 50 000 rows in by cursor (admin)", admin, CURSOR_PAGE, {"after": params["cursor"]}),
    ]  # fmt: skip
    summary = ["| query | statement | indexes used | execution ms |", "| --- | --- | --- | --- |"]
    for title, key, query, variables in cases:
        out += [f"## {title}", "", "```graphql", query.strip(), "```", ""]
        for statement, parameters in await runner.statements(key, query, variables):
            if (
                not statement.lstrip().upper().startswith(("SELECT", "WITH"))
                or "FROM opportunity" not in statement
            ):
                continue  # the plans of interest: the statements over deals
            plan = await runner.explain(statement, parameters)
            out += ["```sql", statement.strip(), "```", f"parameters: `{list(parameters)}`", "", "```"]
            out += [plan, "```", ""]
            summary.append(f"| {title} | {_kind(statement)} | {_indexes(plan)} | {_execution_ms(plan)} |")
    return [*summary, "", *out]


def _kind(statement: str) -> str:
    if "row_number()" in statement:
        return "page per parent (window)"
    if statement.lstrip().startswith("SELECT count(*)"):
        return "count"
    return "GROUP BY" if "GROUP BY" in statement else "page"


def _indexes(plan: str) -> str:
    found = re.findall(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)", plan)
    seq = ["seq scan of opportunity"] if re.search(r"Seq Scan on opportunity\b", plan) else []
    return ", ".join(dict.fromkeys(found + seq)) or "-"


def _execution_ms(plan: str) -> str:
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return match.group(1) if match else "?"


async def run(args: argparse.Namespace) -> tuple[str, str]:
    targets: list[tuple[str, str, bool]] = []
    if args.pg_url:
        url, seeded = await _database(args.pg_url, "og_bench_queries", args.reuse)
        targets.append(("PostgreSQL", url, seeded))
    if args.sqlite:
        targets.append(("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='og-bq-')}/bench.db", False))
    header = [
        f"# Query-language benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"{args.opportunities} opportunities seeded (app.demo, seed 1) into one organization, {ORG!r};"
        f" machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        f"In process (httpx over the ASGI app), {args.rounds} requests each after 2 warm-ups; limits off.",
        f"Load average when it started: {os.getloadavg()[0]:.1f} (a shared machine: other runs add noise).",
        "`viewer` is the busiest owner with the viewer role: every statement also checks private-deal",
        "visibility. Statements exclude the API-key lookup. Queries: bench/bench_queries.py.",
        "",
        "| database | query | as | SQL statements | p50 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows, plans = [], []
    for name, url, seeded in targets:
        target_rows, target_plans = await run_target(name, url, seeded, args)
        rows += target_rows
        plans += target_plans
    table = [r for r in rows if r.startswith("|")]
    notes = [r for r in rows if not r.startswith("|")]
    report = "\n".join([*header, *table, "", *notes]) + "\n"
    explain = "\n".join(
        [
            f"# PostgreSQL plans on {args.opportunities} opportunities ({time.strftime('%Y-%m-%d')})",
            "",
            "EXPLAIN (ANALYZE, BUFFERS) of the statements over deals that each query runs, with the",
            "parameters it bound, captured from a real request (bench/bench_queries.py). First the",
            "indexes each statement used, then every statement and its full plan.",
            "",
            *plans,
        ]
    )
    return report, explain + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--opportunities", type=int, default=100_000)
    p.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL"), help="a PostgreSQL server database URL"
    )
    p.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    p.add_argument("--reuse", action="store_true", help="reuse an already seeded og_bench_queries database")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--out", default=None, help="write the results table here (Markdown)")
    p.add_argument("--explain", default=None, help="write the PostgreSQL plans here (Markdown)")
    args = p.parse_args()
    report, explain = asyncio.run(run(args))
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")
    if args.explain and args.pg_url:
        Path(args.explain).write_text(explain, encoding="utf-8")


if __name__ == "__main__":
    main()
