"""Alembic environment: SQLModel.metadata, async engines, batch-mode scripts for SQLite."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.settings import DEFAULT_DATABASE_URL
from app.sqltypes import ExactDecimal, UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # SQLAlchemy 2.1 reprs a TypeDecorator from its bare impl, which would drop
    # ExactDecimal's scale and precision: spell our types out in full instead.
    # (script.py.mako always imports app.sqltypes.)
    if type_ == "type" and isinstance(obj, ExactDecimal):
        return f"app.sqltypes.ExactDecimal(scale={obj.scale}, precision={obj.precision})"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "app.sqltypes.UTCDateTime()"
    return False


def configure(**kw: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite alters almost nothing in place, so scripts use batch operations (a table
        # copy there, plain ALTERs elsewhere); rendered always, so that a script generated
        # against either database runs on both.
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
        **kw,
    )


def run_migrations_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    # app.migrate passes a connection it opened inside its own event loop; only a bare
    # `alembic` command line gets here without one and may start a loop of its own.
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
