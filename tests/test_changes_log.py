"""The change log: one row per deal per committed mutation, with exact old/new values; none on errors."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import models as m
from app.changes import changes_after
from app.db import Database, make_sessionmaker
from app.enums import Role
from app.tenancy import Principal
from tests.support import Api, Tenant, gid, make_board, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id version } errors { field code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { opportunity { id version } errors { field code } }
}
"""


async def _log(engine: AsyncEngine) -> list[Any]:
    async with unscoped(engine) as s:
        return list((await s.execute(select(m.OpportunityChange).order_by(m.OpportunityChange.id))).scalars())


async def test_create_and_update_are_recorded(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = gid("Stage", board.stages[0])
    out = await api(CREATE, {"input": {"title": "Rocket", "stageId": stage, "amount": "10.5", "tags": ["a"]}})
    deal = out["createOpportunity"]["opportunity"]["id"]
    out = await api(UPDATE, {"id": deal, "input": {"amount": "12", "title": "Rocket 2"}})
    assert out["updateOpportunity"]["errors"] == []
    bad = await api(UPDATE, {"id": deal, "input": {"title": ""}})
    assert bad["updateOpportunity"]["errors"]
    rows = await _log(engine)
    assert [(r.kind, r.version) for r in rows] == [("CREATED", 1), ("UPDATED", 2)]
    assert rows[1].changes == [["title", "Rocket", "Rocket 2"], ["amount", "10.5000", "12.0000"]]
    created = {c[0]: c for c in rows[0].changes}
    assert created["tags"] == ["tags", None, json.dumps(["a"])]
    assert created["stage"] == ["stage", None, stage]
    assert all(r.seq is not None for r in rows)
    me = Principal(tenant.organization_id, tenant.user_id, frozenset({Role.ADMIN}))
    db = Database(make_sessionmaker(engine), me)
    try:
        page = await changes_after(db, me, 0, 10, m.Opportunity.amount > 11)
    finally:
        await db.close()
    assert [d.row.kind for d in page.deliveries] == ["UPDATED"]
