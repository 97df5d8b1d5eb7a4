"""Test helpers: a GraphQL client over the real ASGI app, tenants with keys, row factories, a statement counter."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from app import models as m
from app.auth import create_api_key, ensure_user
from app.db import make_sessionmaker
from app.enums import Role
from app.graphql.common import to_global_id
from app.main import create_app
from app.metrics import counts_as_statement
from app.settings import Settings
from app.tenancy import SESSION_KEY, UNSCOPED

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_seq = itertools.count(1)


def gid(type_name: str, pk: int | None) -> str:
    assert pk is not None
    return to_global_id(type_name, pk)


@dataclass
class Api:
    """Posts GraphQL documents to the app, as the holder of `key` unless told otherwise."""

    client: httpx.AsyncClient
    key: str | None = None

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        token = key if key is not None else self.key
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        hdrs.update(headers or {})
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=hdrs
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The response body of a request that must succeed without top-level errors: its `data`."""
        response = await self.raw(query, variables, key=key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> list[dict[str, Any]]:
        """The top-level errors of a request that must fail."""
        response = await self.raw(query, variables, key=key)
        body = response.json()
        assert body.get("errors"), body
        return body["errors"]


@asynccontextmanager
async def running_app(database_url: str, **settings: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    # A loaded machine (CI, parallel runs) can take longer than the 15 s production default on the
    # 500-row pins; tests that are about the timeout set their own.
    settings.setdefault("request_timeout_seconds", 120.0)
    # ... and a key looked up once stays cached that long, so no lookup joins a statement or
    # connection count; the tests of the cache bound move a fake clock past `keys.ttl`.
    settings.setdefault("key_cache_seconds", 120.0)
    app = create_app(Settings(database_url=database_url, **settings))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client
    finally:
        await app.state.engine.dispose()


@asynccontextmanager
async def unscoped(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session that may write any organization's rows (test set-up only), committed at the end."""
    async with make_sessionmaker(engine)() as session, session.begin():
        session.info[SESSION_KEY] = UNSCOPED
        yield session


@dataclass
class Tenant:
    """An organization with a user and that user's key."""

    organization_id: int
    user_id: int
    key: str
    keys: dict[str, str] = field(default_factory=dict)  # role name -> key of another user


async def make_tenant(engine: AsyncEngine, name: str, *roles: Role, email: str | None = None) -> Tenant:
    async with unscoped(engine) as session:
        user = await ensure_user(
            session, organization=name, email=email or f"owner@{name.lower().replace(' ', '-')}.test"
        )
        key = await create_api_key(session, user=user, roles=list(roles or (Role.ADMIN,)))
        assert user.id is not None
        return Tenant(organization_id=user.organization_id, user_id=user.id, key=key.key)


async def add_user(engine: AsyncEngine, tenant_name: str, email: str, *roles: Role) -> tuple[int, str]:
    """Another user of an existing organization, with a key of the given roles: (user id, key)."""
    async with unscoped(engine) as session:
        user = await ensure_user(session, organization=tenant_name, email=email)
        key = await create_api_key(session, user=user, roles=list(roles))
        assert user.id is not None
        return user.id, key.key


async def insert(engine: AsyncEngine, *rows: SQLModel) -> list[Any]:
    """Insert rows and return their primary keys (ids), in order."""
    async with unscoped(engine) as session:
        session.add_all(rows)
        await session.flush()
        return [getattr(r, "id", None) for r in rows]


def n() -> int:
    return next(_seq)


def opportunity(org: int, **kw: Any) -> m.Opportunity:
    """An opportunity row with sensible defaults; created_at spaced one minute apart."""
    i = n()
    kw.setdefault("title", f"Deal {i}")
    kw.setdefault("created_at", BASE_TIME + timedelta(minutes=i))
    kw.setdefault("updated_at", kw["created_at"])
    return m.Opportunity(organization_id=org, **kw)


@dataclass
class Board:
    """A pipeline with stages, a customer with a contact, and everything around a deal."""

    pipeline: int
    stages: list[int]
    customer: int
    contact: int
    channel: int
    lead: int
    type: int
    won_reason: int
    lost_reason: int
    definitions: list[int]


async def make_board(engine: AsyncEngine, org: int) -> Board:
    async with unscoped(engine) as s:
        p = m.Pipeline(organization_id=org, name=f"Pipeline {n()}", currency="USD")
        s.add(p)
        await s.flush()
        stages = [
            m.Stage(
                organization_id=org, pipeline_id=p.id, name=name, position=i + 1, probability=prob, type=kind
            )
            for i, (name, prob, kind) in enumerate(
                [("Qualify", 10, "OPEN"), ("Propose", 50, "OPEN"), ("Won", 100, "WON"), ("Lost", 0, "LOST")]
            )
        ]
        customer = m.Customer(organization_id=org, name=f"Customer {n()}", industry="Software", city="Berlin")
        channel = m.Channel(organization_id=org, name="Website", type="web")
        otype = m.OpportunityType(organization_id=org, name="New business")
        won = m.CloseReason(organization_id=org, name="Best price", kind="WON")
        lost = m.CloseReason(organization_id=org, name="No budget", kind="LOST")
        defs = [
            m.CustomFieldDefinition(
                organization_id=org,
                label=f"{t.title()} {n()}",
                field_type=t,
                position=i + 1,
                options=["A", "B"] if t == "SELECT_BOX" else None,
            )
            for i, t in enumerate(["TEXT_FIELD", "TEXT_AREA", "SELECT_BOX", "CHECK_BOX", "HEADING", "DATE"])
        ]
        s.add_all([*stages, customer, channel, otype, won, lost, *defs])
        await s.flush()
        contact = m.Contact(
            organization_id=org, customer_id=customer.id, display_name=f"Contact {n()}", first_name="Ada"
        )
        s.add(contact)
        await s.flush()
        lead = m.Lead(
            organization_id=org, name="Inbound lead", customer_id=customer.id, contact_id=contact.id
        )
        s.add(lead)
        await s.flush()
        return Board(
            pipeline=p.id,
            stages=[st.id for st in stages if st.id is not None],
            customer=customer.id,
            contact=contact.id,
            channel=channel.id,
            lead=lead.id,
            type=otype.id,
            won_reason=won.id,
            lost_reason=lost.id,
            definitions=[d.id for d in defs],  # type: ignore[misc]
        )


_STAMPS = "UPDATE api_key SET last_used_at="


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collects the SQL statements the engine runs inside the block (SELECT/INSERT/UPDATE/DELETE)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(_STAMPS):
            return  # the keys' last-used stamps, written by a timer off every request's path
        if counts_as_statement(statement):  # the same rule as og_sql_statements_per_request
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


__all__ = ["Decimal"]


# ---------------------------------------------------------------- fixtures (imported by conftest)

import pytest  # noqa: E402


@pytest.fixture
async def app_client(database_url: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The real ASGI app on this test's database, and an httpx client talking to it in process."""
    async with running_app(database_url) as pair:
        yield pair


@pytest.fixture
def engine(app_client: tuple[Any, httpx.AsyncClient]) -> AsyncEngine:
    return app_client[0].state.engine


@pytest.fixture
async def tenant(engine: AsyncEngine) -> Tenant:
    """Organization "Acme" with an admin user and key."""
    return await make_tenant(engine, "Acme", Role.ADMIN)


@pytest.fixture
def api(app_client: tuple[Any, httpx.AsyncClient], tenant: Tenant) -> Api:
    """A GraphQL client authenticated as the Acme admin."""
    return Api(app_client[1], tenant.key)
