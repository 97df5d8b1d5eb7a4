"""Migrations build exactly the schema of app.models, driven from sync or async code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, insert, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers the tables)
from app import migrate
from app.query import SEARCH_INDEXES
from app.sqltypes import utcnow

T = TypeVar("T")


async def schema_diff(database_url: str) -> list[Any]:
    """What autogenerate would still have to write to make the database match the models."""
    return await _inspect(database_url, _diff)


async def table_names(database_url: str) -> set[str]:
    return await _inspect(database_url, lambda conn: set(inspect(conn).get_table_names()))


async def _inspect(database_url: str, fn: Callable[[Connection], T]) -> T:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    diff: list[Any] = compare_metadata(context, SQLModel.metadata)
    # the PostgreSQL-only full-text indexes (migration 0002) are not in the models: see SEARCH_INDEXES
    return [d for d in diff if not (d[0] == "remove_index" and d[1].name in SEARCH_INDEXES)]


def test_revisions_form_one_line() -> None:
    # Two heads mean two branches merged without a merge revision: `upgrade head` refuses.
    assert len(ScriptDirectory.from_config(migrate.make_config()).get_heads()) == 1


@pytest.mark.asyncio
async def test_migrated_database_matches_the_models(database_url: str) -> None:
    assert await schema_diff(database_url) == []
    assert await migrate.current_async(database_url) == migrate.head()


@pytest.mark.asyncio
async def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    await migrate.downgrade_async(database_url, "base")
    assert await table_names(database_url) == {"alembic_version"}
    assert await migrate.current_async(database_url) is None

    await migrate.upgrade_async(database_url)
    assert await schema_diff(database_url) == []


@pytest.mark.asyncio
async def test_sync_api_works_inside_a_running_event_loop(database_url: str) -> None:
    # The CLI's sync functions may be called from async code (e.g. an app lifespan).
    migrate.downgrade(database_url, "base")
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()


def test_sync_api_works_without_an_event_loop(database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()


@pytest.mark.asyncio
@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_starts_with_an_empty_database(database_url: str, run: int) -> None:
    # Runs twice: the second run would see the first one's row if databases were shared.
    table = SQLModel.metadata.tables["organization"]
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0
            await conn.execute(insert(table).values(name="Acme", base_currency="USD", created_at=utcnow()))
    finally:
        await engine.dispose()
