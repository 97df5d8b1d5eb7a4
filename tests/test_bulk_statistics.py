"""A bulk load leaves PostgreSQL the planner statistics of what it loaded, and its pages all-visible."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.demo import seed_demo
from tests.support import unscoped

TABLES = ("opportunity", "opportunity_item", "opportunity_tag", "custom_field_value", "contact")


async def test_a_seed_analyzes_the_tables_it_filled(engine: Any) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without table statistics")
    # without them a batch of deals read by id is planned through the organization's index,
    # every deal of it (an Oro export of 100,000 deals right after the seed: 306 s)
    await seed_demo(engine, opportunities=60, organization="Acme Demo", progress=False)
    async with unscoped(engine) as s:
        rows = await s.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(TABLES)},
        )
        counted: dict[str, float] = dict(rows.all())
    # reltuples is -1 until a table is first analyzed (or vacuumed)
    assert sorted(counted) == sorted(TABLES)
    assert counted["opportunity"] == 60
    assert all(n > 0 for n in counted.values()), counted
    # vacuumed too, so its pages are marked all-visible (once their commits are on disk) and a
    # count reads an index, not the table
    async with unscoped(engine) as s:
        rows = await s.execute(
            text("SELECT relname, last_vacuum FROM pg_stat_user_tables WHERE relname = ANY(:names)"),
            {"names": list(TABLES)},
        )
        vacuumed: dict[str, Any] = dict(rows.all())
    assert sorted(vacuumed) == sorted(TABLES) and all(vacuumed.values()), vacuumed
