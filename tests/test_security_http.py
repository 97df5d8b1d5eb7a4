"""HTTP hygiene: masked errors with request ids, codes on every error, GET never mutates, CORS, CSRF, rate limits, introspection."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.enums import Role
from app.graphql.loaders import Loaders
from tests.support import Api, add_user, make_tenant, running_app
from tests.test_limits import api_with

VIEWER = "{ viewer { email } }"


async def test_unexpected_errors_are_masked_and_logged_under_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("SELECT password FROM secrets WHERE 1=1")

    monkeypatch.setattr(Loaders, "by_id", broken)
    with caplog.at_level(logging.ERROR, logger="opportunity_gateway.errors"):
        response = await api.raw(VIEWER, headers={"X-Request-ID": "trace-42"})
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"viewer": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-42"}
    assert error["path"] == ["viewer"]
    assert (
        "SELECT" not in response.text
        and "Traceback" not in response.text
        and "RuntimeError" not in response.text
    )
    assert response.headers["x-request-id"] == "trace-42"
    [record] = [r for r in caplog.records if "trace-42" in r.getMessage()]
    assert record.exc_info is not None and "SELECT password" in str(record.exc_info[1])


async def test_every_answer_carries_a_request_id_and_unsafe_ones_are_replaced(api: Api) -> None:
    ok = await api.raw(VIEWER)
    refused = await api.raw(VIEWER, key="og_nope_nope")
    assert len(ok.headers["x-request-id"]) == 32 and len(refused.headers["x-request-id"]) == 32
    assert ok.headers["x-request-id"] != refused.headers["x-request-id"]
    hostile = await api.raw(VIEWER, headers={"X-Request-ID": "a\tb<script>" + "x" * 100})
    assert hostile.headers["x-request-id"].isalnum() and "script" not in hostile.headers["x-request-id"]


async def test_expected_errors_keep_their_message_and_carry_a_code(api: Api) -> None:
    cases = {
        "{ viewer { nope } }": "GRAPHQL_VALIDATION_FAILED",
        "{ viewer { ": "GRAPHQL_PARSE_FAILED",
        '{ opportunities(filter: {amount: {eq: "abc"}}) { totalCount } }': "BAD_USER_INPUT",
        '{ opportunities(after: "not-a-cursor") { totalCount } }': "BAD_USER_INPUT",
    }
    for query, code in cases.items():
        errors = await api.errors(query)
        assert [e["extensions"]["code"] for e in errors] == [code] * len(errors), query
    errors = await api.errors("query ($n: Int) { opportunities(first: $n) { totalCount } }", {"n": "ten"})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["message"].startswith("Variable '$n' has invalid value")


async def test_get_runs_queries_but_never_mutations(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}"}
    mutation = 'mutation { deleteOpportunity(id: "T3Bwb3J0dW5pdHk6MQ") { deletedId } }'
    response = await api.client.get("/graphql", params={"query": mutation}, headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = await api.client.get("/graphql", params={"query": VIEWER}, headers=headers)
    assert response.json() == {"data": {"viewer": {"email": "owner@acme.test"}}}


async def test_browser_form_posts_cannot_reach_graphql(api: Api) -> None:
    # A cross-site form can send only these content types; none of them is accepted, and
    # the key travels in a header a form cannot set, so there is no CSRF to ride.
    headers = {"Authorization": f"Bearer {api.key}"}
    for content_type, body in (
        ("application/x-www-form-urlencoded", "query=mutation%7B%7D"),
        ("text/plain", '{"query": "{ viewer { id } }"}'),
        ("multipart/form-data; boundary=x", "--x--"),
    ):
        response = await api.client.post(
            "/graphql", content=body, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = await api.client.post("/graphql", content='{"query": "{ viewer { id } }"}')
    assert response.status_code == 401  # and without the header, nothing at all


async def test_cors_answers_only_configured_origins(database_url: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with running_app(database_url, cors_origins=("https://crm.example",)) as (_, client):
        allowed = await client.options("/graphql", headers={"Origin": "https://crm.example", **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://crm.example"
        assert "Authorization" in allowed.headers["access-control-allow-headers"]
        denied = await client.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
        assert denied.status_code == 400
        assert "access-control-allow-origin" not in denied.headers
    async with running_app(database_url) as (_, client):  # no origins configured: no CORS at all
        response = await client.options("/graphql", headers={"Origin": "https://crm.example", **preflight})
        assert "access-control-allow-origin" not in response.headers


async def test_rate_limits_per_key_with_headers(database_url: str) -> None:
    async with running_app(database_url, rate_limit="3/minute") as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        _, other = await add_user(app.state.engine, "Acme", "b@acme.test", Role.VIEWER)
        api = Api(client, tenant.key)
        seen = [await api.raw(VIEWER) for _ in range(3)]
        assert [r.status_code for r in seen] == [200, 200, 200]
        assert [r.headers["ratelimit-remaining"] for r in seen] == ["2", "1", "0"]
        assert seen[0].headers["ratelimit-limit"] == "3"
        assert 0 < int(seen[0].headers["ratelimit-reset"]) <= 60
        refused = await api.raw(VIEWER)
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        assert (await api.raw(VIEWER, key=other)).status_code == 200  # every key has its own budget


async def test_rate_limiting_can_be_switched_off(database_url: str) -> None:
    async with api_with(database_url, rate_limit="") as api:
        response = await api.raw(VIEWER)
        assert response.status_code == 200 and "ratelimit-limit" not in response.headers


async def test_introspection_can_be_switched_off(database_url: str) -> None:
    query = "{ __schema { queryType { name } } }"
    async with api_with(database_url) as api:
        assert (await api(query))["__schema"]["queryType"]["name"] == "Query"
    async with api_with(database_url, introspection=False) as api:
        errors = await api.errors(query)
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in errors[0]["message"].lower()
        assert await api(VIEWER)  # ordinary queries still work, __typename too
        assert await api("{ viewer { __typename } }")


async def test_graphiql_can_be_switched_off(database_url: str) -> None:
    async with running_app(database_url, graphiql=False) as (_, client):
        response = await client.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_unknown_paths_and_methods_answer_json_with_a_code(api: Api) -> None:
    missing = await api.client.get("/nope")
    assert missing.status_code == 404 and missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    put = await api.client.put(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {api.key}"}
    )
    assert put.status_code == 405 and set(put.headers["allow"].split(", ")) == {"GET", "POST", "HEAD"}
    assert put.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_failure_outside_graphql_is_a_masked_500_with_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.graphql.view import GraphQLApp

    async def broken(*_: Any, **__: Any) -> Any:
        # not a ConnectionError: an unreachable database is a 503 (tests/test_outages.py)
        raise RuntimeError("postgresql://og:hunter2@db/prod said no")

    monkeypatch.setattr(GraphQLApp, "get_context", broken)
    with caplog.at_level(logging.ERROR, logger="opportunity_gateway"):
        response = await api.raw(VIEWER)
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": "Unexpected error.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": rid},
            }
        ]
    }
    assert "hunter2" not in response.text
    assert any(rid in r.getMessage() and r.exc_info for r in caplog.records)
