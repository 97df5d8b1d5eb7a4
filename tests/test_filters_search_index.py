"""The `search` filter's SQL is exactly what migration 0002 indexes, so PostgreSQL can use the GIN indexes."""

from __future__ import annotations

from sqlalchemy import select, text

from app import models as m
from app.query import SEARCH_INDEXES
from app.query.predicates import search as _search
from tests.support import Tenant, unscoped


async def test_search_indexes_exist_only_on_postgresql(engine, tenant: Tenant) -> None:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = await conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_search'")
            )
        else:
            rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE '%_search'"))
        names = {r[0] for r in rows}
    assert names == (set(SEARCH_INDEXES) if engine.dialect.name == "postgresql" else set())


async def test_postgresql_can_answer_search_from_the_indexes(engine, tenant: Tenant) -> None:
    if engine.dialect.name != "postgresql":
        return  # SQLite's search is a substring match, with no index to use
    stmt = select(m.Opportunity.id).where(_search("acme deal"))
    async with unscoped(engine) as session:
        # with sequential scans priced out, only an index on the very same expression can answer
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in await session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_opportunity_search" in plan, plan
    assert "ix_customer_search" in plan, plan
