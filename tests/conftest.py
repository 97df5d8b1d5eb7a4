"""Shared fixtures: every test gets its own freshly migrated database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import migrate

T = TypeVar("T")

# ---------------------------------------------------------------------------
# Databases
#
# SQLite by default; PostgreSQL when TEST_DATABASE_URL names a server database
# (e.g. postgresql+asyncpg://og@127.0.0.1:54329/postgres), which is used only to
# create and drop the test databases. Migrating is slow, so each session (each
# xdist worker) migrates one template, and each test gets a copy: a file copy on
# SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL.
# ---------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    _server_url()  # a bad TEST_DATABASE_URL stops the run before the first test


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's migrated template: a SQLite file path, or a PostgreSQL database name."""
    server = _server_url()
    if server is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _in_thread(migrate.upgrade_async(_sqlite_url(path)))
        yield str(path)
        return
    name = _create_database(server, _unique_name("og_tpl"))
    try:
        _in_thread(migrate.upgrade_async(_render(server.set(database=name))))
        yield name
    finally:
        _drop_database(server, name)


@pytest.fixture
def database_url(_database_template: str, tmp_path: Path) -> Iterator[str]:
    """The URL of this test's own migrated database, dropped after the test."""
    server = _server_url()
    if server is None:
        path = tmp_path / "test.db"
        shutil.copyfile(_database_template, path)
        yield _sqlite_url(path)
        return
    name = _create_database(server, _unique_name("og_t"), template=_database_template)
    try:
        yield _render(server.set(database=name))
    finally:
        _drop_database(server, name)


def _server_url() -> URL | None:
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not raw:
        return None
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE_URL must be a PostgreSQL URL, not {url.drivername}")
    return url


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _unique_name(prefix: str) -> str:
    # Unique across xdist workers and across concurrent runs on one shared server.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{uuid.uuid4().hex[:12]}"


def _create_database(server: URL, name: str, *, template: str | None = None) -> str:
    suffix = f' TEMPLATE "{template}"' if template else ""
    _in_thread(_admin(server, f'CREATE DATABASE "{name}"{suffix}'))
    return name


def _drop_database(server: URL, name: str) -> None:
    # FORCE: a test that leaked a connection must not leave its database behind.
    _in_thread(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: URL, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    admin = create_async_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


def _in_thread(coro: Coroutine[Any, Any, T]) -> T:
    # A private event loop in a worker thread: fixtures stay sync and never touch the
    # loop pytest-asyncio runs the test in.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coro).result()


# ---------------------------------------------------------------------------
# The app: app_client, engine, tenant, api (see tests/support.py)
# ---------------------------------------------------------------------------
from tests.support import api, app_client, engine, tenant  # noqa: E402, F401
