"""A committed mutation is answered as committed: its payload is read inside the transaction.

Faults are injected where they would hurt: every read of the request's `Database` fails
after the mutation's transaction (so a payload read after COMMIT would be an error), and the
request is cancelled while COMMIT is in flight (as the request timeout would).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, func, select

from app import models as m
from app.graphql.context import Database
from tests.support import Api, Tenant, gid, make_board, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) {
    opportunity {
      title version
      customer { name }
      stage { name }
      contacts { id }
      items { itemName position }
    }
    errors { field code }
  }
}
"""


def _deal(board: Any) -> dict[str, Any]:
    return {
        "title": "Committed",
        "stageId": gid("Stage", board.stages[0]),
        "customerId": gid("Customer", board.customer),
        "contactIds": [gid("Contact", board.contact)],
        "items": [{"itemName": "a", "rate": "1"}, {"itemName": "b", "rate": "2"}],
    }


def _expected(board: Any, customer: str, stage: str) -> dict[str, Any]:
    return {
        "opportunity": {
            "title": "Committed",
            "version": 1,
            "customer": {"name": customer},
            "stage": {"name": stage},
            "contacts": [{"id": gid("Contact", board.contact)}],
            "items": [{"itemName": "a", "position": 1}, {"itemName": "b", "position": 2}],
        },
        "errors": [],
    }


async def _names(engine: Any, board: Any) -> tuple[str, str]:
    async with unscoped(engine) as s:
        customer = (
            await s.execute(select(m.Customer.name).where(m.Customer.id == board.customer))
        ).scalar_one()
        stage = (await s.execute(select(m.Stage.name).where(m.Stage.id == board.stages[0]))).scalar_one()
    return customer, stage


async def _deals(engine: Any) -> int:
    async with unscoped(engine) as s:
        return int((await s.execute(select(func.count()).select_from(m.Opportunity))).scalar_one())


async def test_a_payload_read_that_would_fail_after_commit_is_not_made(
    api: Api, tenant: Tenant, engine: Any, monkeypatch: Any
) -> None:
    board = await make_board(engine, tenant.organization_id)
    customer, stage = await _names(engine, board)
    original = Database.transaction
    committed: list[bool] = []

    @asynccontextmanager
    async def then_reads_fail(self: Database) -> AsyncIterator[Any]:
        async with original(self) as session:
            yield session
        committed.append(True)

    async def rows(self: Database, stmt: Any, params: Any = None) -> Any:
        if committed:
            raise ConnectionError("the database went away after COMMIT")
        return await original_rows(self, stmt, params)

    original_rows = Database.rows
    monkeypatch.setattr(Database, "transaction", then_reads_fail)
    monkeypatch.setattr(Database, "rows", rows)
    data = await api(CREATE, {"input": _deal(board)})
    assert committed == [True]
    assert data["createOpportunity"] == _expected(board, customer, stage)
    assert await _deals(engine) == 1


async def test_a_cancellation_during_commit_answers_the_committed_payload(
    api: Api, tenant: Tenant, engine: Any, monkeypatch: Any
) -> None:
    board = await make_board(engine, tenant.organization_id)
    customer, stage = await _names(engine, board)
    original = Database.transaction
    cancelled: list[bool] = []

    @asynccontextmanager
    async def cancelled_at_commit(self: Database) -> AsyncIterator[Any]:
        request = asyncio.current_task()
        assert request is not None

        def cancel(_: Any) -> None:  # COMMIT is being issued: the request is cancelled now
            cancelled.append(True)
            request.cancel()

        async with original(self) as session:
            event.listen(session.sync_session, "before_commit", cancel)
            yield session

    monkeypatch.setattr(Database, "transaction", cancelled_at_commit)
    data = await api(CREATE, {"input": _deal(board)})
    assert cancelled == [True]
    assert data["createOpportunity"] == _expected(board, customer, stage)
    assert await _deals(engine) == 1


async def test_a_payload_that_cannot_be_read_rolls_the_write_back(
    api: Api, tenant: Tenant, engine: Any, monkeypatch: Any
) -> None:
    from app.graphql.mutations import mutate

    board = await make_board(engine, tenant.organization_id)

    async def rows(self: Any, stmt: Any, params: Any = None) -> Any:
        raise ConnectionError("the connection dropped while the payload was read")

    monkeypatch.setattr(mutate._TransactionReads, "rows", rows)
    errors = await api.errors(CREATE, {"input": _deal(board)})
    # a lost connection is an outage (503), and the write it interrupted is rolled back
    assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]
    assert await _deals(engine) == 0


async def test_a_user_error_writes_nothing_and_reads_nothing_in_the_transaction(
    api: Api, tenant: Tenant
) -> None:
    data = await api(CREATE, {"input": {"title": " "}})
    assert data["createOpportunity"]["opportunity"] is None
    assert [e["code"] for e in data["createOpportunity"]["errors"]] == ["REQUIRED"]


async def test_two_mutations_with_fragments_and_variables_in_their_payloads(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    board = await make_board(engine, tenant.organization_id)
    document = """
    mutation ($a: CreateOpportunityInput!, $b: CreateOpportunityInput!, $n: Int!, $withItems: Boolean!) {
      first: createOpportunity(input: $a) { ...Answer }
      second: createOpportunity(input: $b) { ...Answer }
    }
    fragment Answer on OpportunityPayload {
      opportunity {
        title
        items @include(if: $withItems) { itemName }
        customer { opportunities(first: $n, orderBy: [{field: TITLE}]) { nodes { title } } }
      }
      errors { code }
    }
    """
    a, b = _deal(board), {**_deal(board), "title": "Second", "items": []}
    data = await api(document, {"a": a, "b": b, "n": 2, "withItems": True})
    # each payload reads the state its own transaction wrote: the second sees both deals
    assert data == {
        "first": {
            "opportunity": {
                "title": "Committed",
                "items": [{"itemName": "a"}, {"itemName": "b"}],
                "customer": {"opportunities": {"nodes": [{"title": "Committed"}]}},
            },
            "errors": [],
        },
        "second": {
            "opportunity": {
                "title": "Second",
                "items": [],
                "customer": {"opportunities": {"nodes": [{"title": "Committed"}, {"title": "Second"}]}},
            },
            "errors": [],
        },
    }
    assert await _deals(engine) == 2
