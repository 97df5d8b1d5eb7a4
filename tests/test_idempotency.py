"""Idempotency keys (docs/operations.md): a retry with the same key and body writes once.

Through the real ASGI app on SQLite and PostgreSQL; the fault test (a COMMIT whose reply is
lost) on PostgreSQL behind tests/faultproxy.py. Time is a fake clock on the app's
`Idempotency`; a request is held inside its transaction by an event, never by a sleep.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, insert, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app import models as m
from app.crud import opportunities as crud
from app.enums import Role
from app.idempotency import T as KEYS
from app.main import create_app
from app.settings import Settings
from app.sqltypes import utcnow
from tests.faultproxy import FaultProxy
from tests.support import Api, Tenant, add_user, gid, make_tenant, opportunity, unscoped
from tests.support import insert as insert_rows

GUARD = 10  # seconds: a deadline for a broken test to fail on, not a measurement

UPDATE = """mutation ($id: ID!, $title: String!, $expected: Int) {
  updateOpportunity(id: $id, input: {title: $title}, expectedVersion: $expected) {
    opportunity { title version } errors { code field }
  }
}"""
CREATE = """mutation ($title: String!) {
  createOpportunity(input: {title: $title}) { opportunity { title version } errors { code } }
}"""
READ = "query ($id: ID!) { opportunity(id: $id) { title version } }"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


class Clock:
    """The app's idempotency clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock(app_client: tuple[Any, httpx.AsyncClient]) -> Clock:
    fake = Clock()
    app_client[0].state.idempotency.clock = fake
    return fake


@pytest.fixture
async def deal(engine: AsyncEngine, tenant: Tenant) -> tuple[str, int]:
    [pk] = await insert_rows(engine, opportunity(tenant.organization_id, title="Alpha"))
    return gid("Opportunity", pk), pk


async def stored(engine: AsyncEngine, pk: int) -> tuple[str, int]:
    async with unscoped(engine) as s:
        row = (
            await s.execute(select(m.Opportunity.title, m.Opportunity.version).where(m.Opportunity.id == pk))
        ).one()
        return row.title, row.version


async def count(engine: AsyncEngine, model: Any) -> int:
    async with unscoped(engine) as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def rows(engine: AsyncEngine) -> list[Any]:
    async with unscoped(engine) as s:
        return list((await s.execute(select(KEYS).order_by(KEYS.c.key))).all())


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# ---------------------------------------------------------------- replay, reuse, the header


async def test_a_retry_gets_the_stored_answer_and_writes_nothing(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], clock: Clock
) -> None:
    gid_, pk = deal
    first = await api.raw(UPDATE, {"id": gid_, "title": "Once"}, headers=key("k-1"))
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    answer = {"updateOpportunity": {"opportunity": {"title": "Once", "version": 2}, "errors": []}}
    assert first.json() == {"data": answer}
    for _ in range(2):
        again = await api.raw(UPDATE, {"id": gid_, "title": "Once"}, headers=key("k-1"))
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
    assert await stored(engine, pk) == ("Once", 2)  # one write: version 2, not 4
    [row] = await rows(engine)
    assert (row.key, row.state, row.status) == ("k-1", "done", 200)
    assert row.expires_at == clock.now + timedelta(hours=24)
    # without the key the same request is a new write
    assert (await api(UPDATE, {"id": gid_, "title": "Once"}))["updateOpportunity"]["opportunity"] == {
        "title": "Once",
        "version": 3,
    }


async def test_a_retried_create_creates_one_deal(api: Api, engine: AsyncEngine) -> None:
    first = await api.raw(CREATE, {"title": "New"}, headers=key("create-1"))
    again = await api.raw(CREATE, {"title": "New"}, headers=key("create-1"))
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert await count(engine, m.Opportunity) == 1


async def test_a_mutation_sent_by_its_hash_alone_is_idempotent_too(
    api: Api, engine: AsyncEngine, deal: tuple[str, int]
) -> None:
    """APQ: once registered, the hash stands for the text; the key's digest is over that text."""
    gid_, pk = deal
    digest = hashlib.sha256(UPDATE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    variables = {"id": gid_, "title": "Hashed"}
    headers = {"Authorization": f"Bearer {api.key}"}

    async def post(body: dict[str, Any], idem: str) -> httpx.Response:
        return await api.client.post("/graphql", json=body, headers={**headers, **key(idem)})

    registered = await post({"query": UPDATE, "variables": variables, "extensions": extensions}, "h-0")
    assert registered.status_code == 200 and await stored(engine, pk) == ("Hashed", 2)
    first = await post({"variables": variables, "extensions": extensions}, "h-1")
    assert first.json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Hashed", "version": 3}
    again = await post({"variables": variables, "extensions": extensions}, "h-1")
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert await stored(engine, pk) == ("Hashed", 3)  # the retry wrote nothing
    # the same key over the hash with other variables is another body
    other = await post({"variables": {**variables, "title": "Other"}, "extensions": extensions}, "h-1")
    assert (
        other.status_code == 422
        and other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    )
    assert await stored(engine, pk) == ("Hashed", 3)


async def test_the_same_body_is_the_same_after_json_parsing(
    api: Api, app_client: tuple[Any, httpx.AsyncClient], deal: tuple[str, int]
) -> None:
    client = app_client[1]
    gid_ = deal[0]
    auth = {"Authorization": f"Bearer {api.key}", **key("k-json"), "Content-Type": "application/json"}
    first = b'{"query": %s, "variables": {"id": "%s", "title": "T"}}' % (orjson.dumps(UPDATE), gid_.encode())
    again = b'{ "variables" : {"title":"T","id":"%s"},\n "query":%s }' % (gid_.encode(), orjson.dumps(UPDATE))
    assert (await client.post("/graphql", content=first, headers=auth)).status_code == 200
    replay = await client.post("/graphql", content=again, headers=auth)
    assert replay.headers["idempotent-replayed"] == "true"
    # one JSON number, however it is written; a different number is another body
    numbers = b'{"query": %s, "variables": {"id": "%s", "input": {"probability": %s}}}'
    query = orjson.dumps(
        "mutation ($id: ID!, $input: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $input) { errors { code } } }"
    )
    sent = {**auth, **key("k-numbers")}
    for written, replayed in ((b"40", None), (b"40.0", "true"), (b"4e1", "true"), (b"41", None)):
        answer = await client.post(
            "/graphql", content=numbers % (query, gid_.encode(), written), headers=sent
        )
        assert answer.headers.get("idempotent-replayed") == replayed, written
        assert answer.status_code == (422 if written == b"41" else 200), written


async def test_the_same_key_with_another_body_is_422(
    api: Api, engine: AsyncEngine, deal: tuple[str, int]
) -> None:
    gid_, pk = deal
    assert (await api.raw(UPDATE, {"id": gid_, "title": "A"}, headers=key("k-2"))).status_code == 200
    other = await api.raw(UPDATE, {"id": gid_, "title": "B"}, headers=key("k-2"))
    assert other.status_code == 422
    assert other.json() == {
        "errors": [
            {
                "message": "This Idempotency-Key was used with another request body; "
                "use a new key for a new request.",
                "extensions": {"code": "IDEMPOTENCY_KEY_REUSED"},
            }
        ]
    }
    named = await api.client.post(
        "/graphql",
        json={"query": UPDATE, "variables": {"id": gid_, "title": "A"}, "operationName": None},
        headers={"Authorization": f"Bearer {api.key}", **key("k-2")},
    )
    assert named.headers["idempotent-replayed"] == "true"  # an explicit null is no operationName
    assert await stored(engine, pk) == ("A", 2)


@pytest.mark.parametrize("value", [b"", b"x" * 256, b"has space", b"tab\t", "é".encode()])
async def test_a_malformed_key_is_400_and_runs_nothing(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], value: bytes
) -> None:
    gid_, pk = deal
    response = await api.client.post(
        "/graphql",
        json={"query": UPDATE, "variables": {"id": gid_, "title": "No"}},
        headers=[(b"Authorization", f"Bearer {api.key}".encode()), (b"Idempotency-Key", value)],
    )
    assert response.status_code == 400 and codes(response) == ["BAD_REQUEST"]
    assert await stored(engine, pk) == ("Alpha", 1)


async def test_a_key_sent_twice_is_400_and_255_characters_are_fine(api: Api, deal: tuple[str, int]) -> None:
    gid_ = deal[0]
    body = {"query": UPDATE, "variables": {"id": gid_, "title": "Ok"}}
    auth = ("Authorization", f"Bearer {api.key}")
    twice = await api.client.post(
        "/graphql", json=body, headers=[auth, ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    )
    assert twice.status_code == 400 and codes(twice) == ["BAD_REQUEST"]
    longest = "~" + "!" * 253 + "~"
    assert (
        await api.client.post("/graphql", json=body, headers=[auth, ("Idempotency-Key", longest)])
    ).json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Ok", "version": 2}


async def test_keys_belong_to_one_api_key(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    _, other_key = await add_user(engine, "Acme", "second@acme.test", Role.EDITOR)
    mine = await api.raw(CREATE, {"title": "Mine"}, headers=key("shared"))
    theirs = await api.raw(CREATE, {"title": "Mine"}, key=other_key, headers=key("shared"))
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["data"] == theirs.json()["data"]
    assert await count(engine, m.Opportunity) == 2
    # and another body under the same key is the other key's own business
    assert (await api.raw(CREATE, {"title": "Else"}, key=other_key, headers=key("shared"))).status_code == 422
    assert len(await rows(engine)) == 2


async def test_queries_with_a_key_are_simply_executed_and_get_never_stores(
    api: Api, engine: AsyncEngine, deal: tuple[str, int]
) -> None:
    gid_ = deal[0]
    for _ in range(2):
        response = await api.raw(READ, {"id": gid_}, headers=key("read-1"))
        assert "idempotent-replayed" not in response.headers
        assert response.json() == {"data": {"opportunity": {"title": "Alpha", "version": 1}}}
    got = await api.client.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {api.key}", **key("not even checked on GET \t")},
    )
    assert got.json() == {"data": {"__typename": "Query"}}
    assert await rows(engine) == []


async def test_a_batch_with_a_key_is_400(app_client: tuple[Any, httpx.AsyncClient], api: Api) -> None:
    response = await app_client[1].post(
        "/graphql",
        json=[{"query": CREATE, "variables": {"title": "x"}}],
        headers={"Authorization": f"Bearer {api.key}", **key("batch")},
    )
    assert response.status_code == 400 and codes(response) == ["BAD_REQUEST"]


# ---------------------------------------------------------------- what is stored, what is released


async def test_a_user_error_answer_is_stored_and_replayed(
    api: Api, engine: AsyncEngine, deal: tuple[str, int]
) -> None:
    gid_, pk = deal
    variables = {"id": gid_, "title": "Late", "expected": 7}
    first = await api.raw(UPDATE, variables, headers=key("stale"))
    payload = first.json()["data"]["updateOpportunity"]
    assert payload == {"opportunity": None, "errors": [{"code": "CONFLICT", "field": ["expectedVersion"]}]}
    await api(UPDATE, {"id": gid_, "title": "Moved", "expected": None})  # version 2 now, still not 7
    again = await api.raw(UPDATE, variables, headers=key("stale"))
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert await stored(engine, pk) == ("Moved", 2)


async def test_a_failure_before_commit_releases_the_claim(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gid_, pk = deal
    real = crud.update

    async def broken(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)  # the UPDATE runs, then the transaction fails: ROLLBACK
        raise RuntimeError("boom")

    monkeypatch.setattr(crud, "update", broken)
    failed = await api.raw(UPDATE, {"id": gid_, "title": "Retry"}, headers=key("k-fail"))
    assert codes(failed) == ["INTERNAL_SERVER_ERROR"]
    assert await stored(engine, pk) == ("Alpha", 1) and await rows(engine) == []
    monkeypatch.setattr(crud, "update", real)
    retried = await api.raw(UPDATE, {"id": gid_, "title": "Retry"}, headers=key("k-fail"))
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Retry", "version": 2}
    assert await stored(engine, pk) == ("Retry", 2)


async def test_a_refused_document_is_not_stored(api: Api, engine: AsyncEngine, deal: tuple[str, int]) -> None:
    refused = "mutation ($id: ID!) { updateOpportunity(id: $id, input: {title: 1}) { errors { code } } }"
    for _ in range(2):
        response = await api.raw(refused, {"id": deal[0]}, headers=key("k-refused"))
        assert "idempotent-replayed" not in response.headers and response.json()["errors"]
    assert await rows(engine) == []


async def test_two_mutations_store_both_answers(api: Api, engine: AsyncEngine) -> None:
    document = """mutation ($a: String!, $b: String!) {
      a: createOpportunity(input: {title: $a}) { opportunity { title } }
      b: createOpportunity(input: {title: $b}) { opportunity { title } }
    }"""
    first = await api.raw(document, {"a": "One", "b": "Two"}, headers=key("two"))
    assert first.json() == {
        "data": {"a": {"opportunity": {"title": "One"}}, "b": {"opportunity": {"title": "Two"}}}
    }
    again = await api.raw(document, {"a": "One", "b": "Two"}, headers=key("two"))
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert await count(engine, m.Opportunity) == 2


async def test_a_committed_first_mutation_stays_in_the_answer_when_the_second_fails(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gid_, pk = deal

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(crud, "update", broken)
    document = """mutation ($id: ID!) {
      a: createOpportunity(input: {title: "Kept"}) { opportunity { title } }
      b: updateOpportunity(id: $id, input: {title: "Lost"}) { opportunity { title } }
    }"""
    first = await api.raw(document, {"id": gid_}, headers=key("half"))
    assert codes(first) == ["INTERNAL_SERVER_ERROR"]
    again = await api.raw(document, {"id": gid_}, headers=key("half"))
    assert again.headers["idempotent-replayed"] == "true" and again.status_code == 200
    body = again.json()
    # what committed is answered (never lost), what did not commit is not claimed
    assert body["data"] == {"a": {"opportunity": {"title": "Kept"}}}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert await count(engine, m.Opportunity) == 2 and await stored(engine, pk) == ("Alpha", 1)


# ---------------------------------------------------------------- concurrency, leases, expiry


async def test_a_duplicate_while_the_first_runs_is_409(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gid_, pk = deal
    inside, release = asyncio.Event(), asyncio.Event()
    real = crud.update

    async def held(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        inside.set()  # the first request is in its transaction, its UPDATE made
        await release.wait()
        return result

    monkeypatch.setattr(crud, "update", held)
    variables = {"id": gid_, "title": "Busy"}
    first = asyncio.create_task(api.raw(UPDATE, variables, headers=key("busy")))
    await asyncio.wait_for(inside.wait(), GUARD)
    duplicate = await asyncio.wait_for(api.raw(UPDATE, variables, headers=key("busy")), GUARD)
    assert duplicate.status_code == 409 and codes(duplicate) == ["IDEMPOTENCY_KEY_IN_USE"]
    assert duplicate.headers["retry-after"].isdigit()
    other = await asyncio.wait_for(api.raw(UPDATE, {**variables, "title": "X"}, headers=key("busy")), GUARD)
    assert other.status_code == 422  # another body is refused even while it runs
    release.set()
    done = await asyncio.wait_for(first, GUARD)
    assert done.json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Busy", "version": 2}
    replay = await api.raw(UPDATE, variables, headers=key("busy"))
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == done.content
    assert await stored(engine, pk) == ("Busy", 2)


async def _dead_claim(engine: AsyncEngine, tenant: Tenant, clock: Clock, response: str | None) -> None:
    """A claim whose request died: running, its lease over, maybe with a committed answer."""
    async with unscoped(engine) as s:
        [api_key_id] = (await s.execute(select(m.ApiKey.id))).scalars().all()
        body = orjson.dumps([UPDATE, {"id": "x", "title": "y"}, None], option=orjson.OPT_SORT_KEYS)
        await s.execute(
            insert(KEYS).values(
                api_key_id=api_key_id,
                key="dead",
                request_hash=hashlib.sha256(body).hexdigest(),
                owner="gone",
                state="running",
                status=200 if response else None,
                response=response,
                locked_until=clock.now + timedelta(seconds=30),
                expires_at=clock.now + timedelta(hours=24),
                created_at=clock.now,
            )
        )


async def test_a_claim_whose_request_died_uncommitted_is_taken_over_after_its_lease(
    api: Api, engine: AsyncEngine, tenant: Tenant, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _dead_claim(engine, tenant, clock, None)
    seen: list[Any] = []

    async def update(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return None  # no such deal here: the point is whether the mutation runs

    monkeypatch.setattr(crud, "update", update)
    variables = {"id": "x", "title": "y"}
    assert (await api.raw(UPDATE, variables, headers=key("dead"))).status_code == 409  # leased still
    clock.now += timedelta(seconds=31)
    taken = await api.raw(UPDATE, variables, headers=key("dead"))
    assert taken.status_code == 200 and "idempotent-replayed" not in taken.headers
    [row] = await rows(engine)
    assert row.owner != "gone" and row.state == "done"


async def test_a_claim_whose_request_died_after_commit_is_answered_with_what_committed(
    api: Api, engine: AsyncEngine, tenant: Tenant, clock: Clock
) -> None:
    committed = '{"data":{"updateOpportunity":{"opportunity":{"title":"y","version":2},"errors":[]}}}'
    await _dead_claim(engine, tenant, clock, committed)
    variables = {"id": "x", "title": "y"}
    assert (await api.raw(UPDATE, variables, headers=key("dead"))).status_code == 409
    clock.now += timedelta(seconds=31)
    replay = await api.raw(UPDATE, variables, headers=key("dead"))
    assert replay.headers["idempotent-replayed"] == "true" and replay.text == committed


async def test_a_request_that_lost_its_claim_writes_nothing(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gid_, pk = deal
    real = crud.update

    async def overtaken(session: Any, **kwargs: Any) -> Any:
        # what a takeover after the lease does to the row, as if committed meanwhile (on
        # SQLite no other writer can run while this transaction holds the write lock)
        await session.execute(KEYS.update().values(owner="someone else"))
        return await real(session, **kwargs)

    monkeypatch.setattr(crud, "update", overtaken)
    late = await api.raw(UPDATE, {"id": gid_, "title": "Late"}, headers=key("fenced"))
    assert codes(late) == ["IDEMPOTENCY_KEY_IN_USE"]
    assert await stored(engine, pk) == ("Alpha", 1)


async def test_an_expired_key_runs_again_and_expired_rows_are_swept(
    api: Api, engine: AsyncEngine, deal: tuple[str, int], clock: Clock
) -> None:
    gid_ = deal[0]
    for name in ("old-1", "old-2"):
        await api.raw(CREATE, {"title": name}, headers=key(name))
    await api.raw(UPDATE, {"id": gid_, "title": "Day one"}, headers=key("daily"))
    clock.now += timedelta(hours=24)
    again = await api.raw(UPDATE, {"id": gid_, "title": "Day one"}, headers=key("daily"))
    assert "idempotent-replayed" not in again.headers
    assert again.json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Day one", "version": 3}
    assert [(r.key, r.expires_at) for r in await rows(engine)] == [("daily", clock.now + timedelta(hours=24))]


# ---------------------------------------------------------------- a lost COMMIT reply (PostgreSQL)


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[FaultProxy, Api, AsyncEngine, str, int]]:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("fault injection runs on PostgreSQL (TEST_DATABASE_URL)")
    direct = create_async_engine(database_url, poolclass=NullPool)
    tenant = await make_tenant(direct, "Acme", Role.ADMIN)
    [pk] = await insert_rows(direct, opportunity(tenant.organization_id, title="Alpha"))
    async with FaultProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        app = create_app(Settings(database_url=proxy.url(database_url)))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield proxy, Api(client, tenant.key), direct, gid("Opportunity", pk), pk
        finally:
            proxy.restore()
            await app.state.engine.dispose()
            await direct.dispose()


async def test_a_write_whose_commit_reply_is_lost_is_replayed_not_repeated(
    proxied: tuple[FaultProxy, Api, AsyncEngine, str, int],
) -> None:
    proxy, api, direct, gid_, pk = proxied
    fired = proxy.cut_when(b"COMMIT", after=b"UPDATE opportunity", sent_by="server")
    variables = {"id": gid_, "title": "Committed"}
    lost = await api.raw(UPDATE, variables, headers=key("lost-reply"))
    assert fired.is_set()
    assert lost.status_code == 503 and codes(lost) == ["SERVICE_UNAVAILABLE"]  # the client never heard
    assert await stored(direct, pk) == ("Committed", 2)  # the server committed
    retry = await api.raw(UPDATE, variables, headers=key("lost-reply"))
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == {
        "data": {"updateOpportunity": {"opportunity": {"title": "Committed", "version": 2}, "errors": []}}
    }
    assert await stored(direct, pk) == ("Committed", 2)  # written once


async def test_a_write_cut_before_commit_runs_again_on_retry(
    proxied: tuple[FaultProxy, Api, AsyncEngine, str, int],
) -> None:
    proxy, api, direct, gid_, pk = proxied
    fired = proxy.cut_when(b"COMMIT", after=b"UPDATE opportunity")
    variables = {"id": gid_, "title": "Again"}
    cut = await api.raw(UPDATE, variables, headers=key("cut"))
    assert fired.is_set() and cut.status_code == 503
    assert await stored(direct, pk) == ("Alpha", 1)
    retry = await api.raw(UPDATE, variables, headers=key("cut"))
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["data"]["updateOpportunity"]["opportunity"] == {"title": "Again", "version": 2}
    assert await stored(direct, pk) == ("Again", 2)
