"""Prepared reads (app/prepared.py) answer exactly what the ORM session answers, on PostgreSQL.

The same demo organization is read twice through the real app, once with prepared reads and
once with every read through the session (`prepared_reads=False`), by an admin and by a
manager (who sees fewer private deals), live and in the trash: the answers are equal, the
prepared path was taken for every statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from app import base_currency, prepared
from app import models as m
from app.cli import DEMO_ADMIN, DEMO_ORGANIZATION
from app.db import Database, make_sessionmaker
from app.demo import seed_demo
from app.enums import Role
from app.graphql import lists
from app.ids import decode
from app.tenancy import STABLE, Principal
from tests.support import (
    Api,
    Tenant,
    add_user,
    count_statements,
    gid,
    insert,
    make_tenant,
    opportunity,
    running_app,
)
from tests.test_base_currency import ITEMS, _world

DEAL = """
  id title amount currency probability expectedRevenue status position isPrivate createdAt updatedAt
  expectedCloseDate closedAt deletedAt tags version
  pipeline { id name } stage { id name type position pipeline { id name } }
  customer { id name industry annualRevenue createdAt contacts { id displayName } }
  contact { id displayName email customer { id name } } referrer { id } agent { id }
  owner { id displayName avatarUrl } createdBy { id } updatedBy { id }
  lead { id name } channel { id name } closeReason { id name kind } type { id name }
  contacts { id displayName } lostReasons { id name } accessList { id displayName }
  items { id itemName quantity rate amount position }
  customFields { value definition { id label fieldType options } }
  externalIds { source externalId }
"""
EVERYTHING = f"""
query {{
  opportunities(first: 120, orderBy: [{{ field: ID, direction: ASC }}]) {{ totalCount nodes {{ {DEAL} }} }}
  trashedOpportunities(first: 50) {{ totalCount nodes {{ {DEAL} }} }}
}}
"""


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared reads are for asyncpg; SQLite reads through the session")


async def _answers(
    database_url: str, keys: dict[str, str], taken: list[Any], *, prepared_reads: bool
) -> tuple[dict[str, Any], int, int]:
    """Each key's answer to EVERYTHING, and the statements run for them: all, and prepared."""
    async with running_app(database_url, prepared_reads=prepared_reads) as (app, client):
        answers, statements, prepared_count = {}, 0, 0
        for who, key in keys.items():
            await Api(client, key)("{ viewer { id } }")  # the key looked up and cached before counting
            before = len(taken)
            with count_statements(app.state.engine) as seen:
                answers[who] = await Api(client, key)(EVERYTHING)
            statements += len(seen)
            prepared_count += len(taken) - before
        return answers, statements, prepared_count


async def test_prepared_reads_answer_what_the_session_answers(
    postgres_only: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(database_url) as (app, client):
        engine = app.state.engine
        await seed_demo(engine, opportunities=300, seed=3, progress=False)
        admin = await make_tenant(engine, DEMO_ORGANIZATION, Role.ADMIN, email=DEMO_ADMIN)
        _, manager = await add_user(engine, DEMO_ORGANIZATION, "manager@acme-demo.example", Role.MANAGER)
        api = Api(client, admin.key)
        ids = [
            n["id"]
            for n in (await api("{ opportunities(first: 8) { nodes { id } } }"))["opportunities"]["nodes"]
        ]
        org = admin.organization_id
        await insert(  # external ids on live and trashed deals (the demo has none)
            engine,
            *(
                m.ExternalId(
                    organization_id=org,
                    kind="Opportunity",
                    source="crm",
                    external_id=f"X-{pk}",
                    record_id=pk,
                    opportunity_id=pk,
                )
                for pk in (decode("Opportunity", gid) for gid in ids)
                if pk is not None
            ),
        )
        for gid in ids[::2]:  # some deals into the trash, their children with them
            assert (
                await api(
                    "mutation ($id: ID!) { deleteOpportunity(id: $id) { errors { code } } }", {"id": gid}
                )
            )["deleteOpportunity"]["errors"] == []
    keys = {"admin": admin.key, "manager": manager}

    taken: list[Any] = []
    real = prepared.read

    async def spy(*args: Any) -> Any:
        taken.append(args[1])
        return await real(*args)

    monkeypatch.setattr(prepared, "read", spy)
    fast, fast_statements, fast_prepared = await _answers(database_url, keys, taken, prepared_reads=True)
    assert fast_prepared == fast_statements  # the pages too: root lists' statements are STABLE
    slow, _, slow_prepared = await _answers(database_url, keys, taken, prepared_reads=False)
    assert slow_prepared == 0

    assert fast == slow
    # (statement counts are not compared: whether two loads of one loader share a batch can
    # depend on the tick they land in, on either path)
    # the comparison covered what it is about: privacy, the trash and every relation kind
    admin_deals, manager_deals = (fast[w]["opportunities"] for w in ("admin", "manager"))
    assert manager_deals["totalCount"] < admin_deals["totalCount"]  # private deals
    assert fast["admin"]["trashedOpportunities"]["totalCount"] == 4
    assert fast["manager"]["trashedOpportunities"]["totalCount"] <= 4
    nodes = admin_deals["nodes"]
    for relation in (
        "customer",
        "stage",
        "owner",
        "items",
        "customFields",
        "contacts",
        "tags",
        "externalIds",
    ):
        assert any(n[relation] for n in nodes), relation
    assert any(n["items"] for n in fast["admin"]["trashedOpportunities"]["nodes"])
    assert all(n["externalIds"] for n in fast["admin"]["trashedOpportunities"]["nodes"])


async def test_a_value_read_when_the_statement_runs_is_read_each_time(
    api: Api, tenant: Tenant, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line item's baseRate uses the exchange rate valid *today*: a parameter read per execution,
    not when a statement was first prepared for this (cached, warm) principal."""
    ids, _ = await _world(engine, tenant)  # USD: 0.92 from today, 5 from ten days on
    await insert(
        engine,
        m.OpportunityItem(
            organization_id=tenant.organization_id,
            opportunity_id=ids[0],
            item_name="a",
            position=1,
            quantity=Decimal("1"),
            rate=Decimal("10"),
        ),
    )
    deal = {"id": gid("Opportunity", ids[0])}
    assert (await api(ITEMS, deal))["opportunity"]["items"][0]["baseRate"] == "9.2000"

    class TenDaysOn(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(days=10)

    monkeypatch.setattr(base_currency, "datetime", TenDaysOn)
    assert (await api(ITEMS, deal))["opportunity"]["items"][0]["baseRate"] == "50.0000"


async def test_a_statement_rendered_per_execution_takes_the_session(engine: Any, tenant: Tenant) -> None:
    """An expanding IN is rendered for its values at each execution: it cannot be prepared once,
    so it reads through the session, scoped the same way (another organization's row stays out)."""
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    mine, theirs = await insert(
        engine,
        m.Customer(organization_id=tenant.organization_id, name="Mine"),
        m.Customer(organization_id=other.organization_id, name="Theirs"),
    )
    stmt = (
        select(m.Customer.name)
        .where(col(m.Customer.id).in_([mine, theirs]))
        .execution_options(**{STABLE: True})
    )
    principal = Principal(
        organization_id=tenant.organization_id, user_id=tenant.user_id, roles=frozenset({Role.ADMIN})
    )
    async with Database.for_request(make_sessionmaker(engine), principal) as db:
        assert [r.name for r in await db.rows(stmt)] == ["Mine"]
        assert [r.name for r in await db.rows(stmt)] == ["Mine"]  # and again, from the prepared cache
    if engine.dialect.name == "postgresql":
        assert not prepared.prepare(principal, stmt, engine.dialect).runnable


async def test_root_lists_statements_are_kept_bounded_and_per_arguments(
    api: Api, tenant: Tenant, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root list's statements are kept per set of arguments (the same board again reuses them),
    never answer for other arguments, and at most ROOTS_KEPT are kept."""
    monkeypatch.setattr(lists, "ROOTS_KEPT", 3)
    lists._ROOTS.clear()
    await insert(engine, *(opportunity(tenant.organization_id, title=f"Deal {i}") for i in range(5)))
    query = "query ($t: String) { opportunities(filter: {title: {eq: $t}}) { totalCount nodes { title } } }"
    for i in range(5):
        data = await api(query, {"t": f"Deal {i}"})
        assert data["opportunities"] == {"totalCount": 1, "nodes": [{"title": f"Deal {i}"}]}
        assert len(lists._ROOTS) <= 3
    again = await api(query, {"t": "Deal 4"})  # kept: the same statements, the same answer
    assert again["opportunities"]["nodes"] == [{"title": "Deal 4"}]
