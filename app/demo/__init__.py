"""Deterministic, realistic demo data, inserted fast with Core executemany.

`seed_demo` fills one organization, or a few demo ones, with users, pipelines,
customers, contacts, leads and opportunities, with their line items, custom
field values, participants, tags, lost reasons and access lists.

The same seed gives the same rows on an empty database: every choice comes from
a `random.Random` seeded per organization, every timestamp is relative to
BASE_DATE (never the clock), and primary keys are handed out here, above each
table's current maximum, instead of by the database. That also lets children
point at their parents without a round trip. Rows are plain dicts inserted with
`insert(table)` executemany, one transaction per chunk of opportunities. Seeding
assumes nobody else inserts into the same database while it runs.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterable

from sqlalchemy import Table, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel
from tqdm import tqdm

from app.demo.refs import BASE_DATE, CHUNK, TABLES, Ids, OrgRef, Pending, SeedReport, load_organization
from app.demo.seeder import Seeder
from app.demo.words import DEMO_ORGANIZATIONS, DEMO_SHARES
from app.migrate import analyze

__all__ = ["BASE_DATE", "TABLES", "SeedReport", "has_data", "seed_demo"]

# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


async def seed_demo(
    engine: AsyncEngine,
    *,
    opportunities: int,
    organization: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> SeedReport:
    """Insert `opportunities` demo opportunities and everything they refer to (see the module docstring)."""
    if opportunities < 0:
        raise ValueError("opportunities must be zero or more")
    started = time.perf_counter()
    async with engine.connect() as conn:
        ids = Ids(await max_ids(conn))
    pending, done = Pending(), []
    with tqdm(total=opportunities, disable=not progress, file=sys.stderr, unit="opp", desc="seeding") as bar:
        for name, currency, count in plan(opportunities, organization):
            # one generator per organization: its rows do not depend on the others'
            rng = random.Random(f"{seed}:{name}")
            org = await seed_organization(engine, Seeder(rng, pending, ids), name, currency, count, bar)
            done.append((org.id, org.name))
    counts = {table: n for table, n in pending.counts.items() if n}
    if engine.dialect.name == "postgresql":
        await reset_sequences(engine, counts)
        await analyze(engine, counts)  # its reads are planned as for empty tables until then
    return SeedReport(done, counts, round(time.perf_counter() - started, 3))


async def has_data(engine: AsyncEngine) -> bool:
    """Whether any opportunity exists, in any organization."""
    async with engine.connect() as conn:
        return bool(await conn.scalar(select(exists().select_from(TABLES["opportunity"]))))


def plan(opportunities: int, organization: str | None) -> list[tuple[str, str, int]]:
    """(organization name, base currency, opportunities) for each organization to fill."""
    if organization is not None:
        return [(organization, "USD", opportunities)]
    rest = [int(opportunities * share) for share in DEMO_SHARES]
    counts = [opportunities - sum(rest), *rest]
    return [(name, cur, n) for (name, cur), n in zip(DEMO_ORGANIZATIONS, counts, strict=True)]


async def seed_organization(
    engine: AsyncEngine, seeder: Seeder, name: str, currency: str, count: int, bar: tqdm
) -> OrgRef:
    """The organization (loaded, or created), its lookups and customers, then its opportunities."""
    async with engine.connect() as conn:
        existing = await load_organization(conn, name)
    seeder.org = existing or seeder.new_organization(name, currency)
    seeder.add_lookups()
    seeder.add_customers(max(20, count // 10))
    seeder.add_agents(max(8, count // 400))
    await seeder.pending.flush(engine)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        for _ in range(size):
            seeder.add_opportunity()
        await seeder.pending.flush(engine)
        bar.update(size)
    return seeder.org


async def max_ids(conn: AsyncConnection) -> dict[str, int]:
    return {t.name: await conn.scalar(select(func.max(t.c.id))) or 0 for t in id_tables()}


def id_tables() -> list[Table]:
    return [t for t in SQLModel.metadata.sorted_tables if "id" in t.c and t.c.id.primary_key]


async def reset_sequences(engine: AsyncEngine, tables: Iterable[str]) -> None:
    # Explicit ids leave PostgreSQL's sequences behind: the next plain insert would collide.
    quote = engine.dialect.identifier_preparer.quote
    async with engine.begin() as conn:
        for name in (t.name for t in id_tables() if t.name in tables):
            q = quote(name)  # "user" is a reserved word
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{q}', 'id'), max(id)) FROM {q}"))
