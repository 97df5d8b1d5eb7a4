"""HTTP hardening: bodies that are not GraphQL requests, GraphQL-over-HTTP status codes, body deadline,
failed-key throttling per client address, the timeout code, and the server's loop and parser."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from app.enums import Role
from app.main import create_app
from app.settings import Settings
from tests.support import Api, count_statements, make_tenant, running_app

VIEWER = "{ viewer { email } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_a_json_body_that_is_not_an_object_is_400_bad_request(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    for body in ("null", '"x"', "42", "true", "[]", "  \\n [1, 2]", '[{"query": "{ viewer { id } }"}]'):
        response = await api.client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, body
        answer = response.json()
        assert "data" not in answer, body
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["BAD_REQUEST"], body
    malformed = await api.client.post("/graphql", content="{nope", headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_with_batching_on_only_an_array_of_objects_is_a_batch(database_url: str) -> None:
    async with running_app(database_url, max_batch_operations=2) as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
        for body in ("[1, 2]", "[]", '[{"query": "{ viewer { email } }"}, null]', "7"):
            response = await client.post("/graphql", content=body, headers=headers)
            assert response.status_code == 400, body
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
        batch = await client.post("/graphql", json=[{"query": VIEWER}, {"query": VIEWER}], headers=headers)
        assert batch.json() == [{"data": {"viewer": {"email": "owner@acme.test"}}}] * 2


async def test_request_errors_are_400_without_data_under_graphql_response_json(api: Api) -> None:
    cases = {
        "{ viewer { ": ("GRAPHQL_PARSE_FAILED", None),
        "{ viewer { nope } }": ("GRAPHQL_VALIDATION_FAILED", None),
        "query ($n: Int) { opportunities(first: $n) { totalCount } }": ("BAD_USER_INPUT", {"n": "ten"}),
        "query ($n: Int!) { opportunities(first: $n) { totalCount } }": ("BAD_USER_INPUT", {}),
        "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(31)) + " }": ("QUERY_TOO_COMPLEX", None),
    }
    for query, (code, variables) in cases.items():
        strict = await api.raw(query, variables, headers={"Accept": GRAPHQL_RESPONSE})
        assert strict.status_code == 400, query
        assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        body = strict.json()
        assert "data" not in body, query
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], query
        # application/json keeps what its clients expect: 200 and `"data": null`
        legacy = await api.raw(query, variables, headers={"Accept": "application/json"})
        assert legacy.status_code == 200, query
        assert legacy.json()["data"] is None and legacy.json()["errors"] == body["errors"], query


async def test_an_operation_refused_to_the_callers_roles_is_403_under_graphql_response_json(
    database_url: str,
) -> None:
    async with running_app(database_url) as (app, client):
        viewer = Api(client, (await make_tenant(app.state.engine, "Acme", Role.VIEWER)).key)
        mutation = 'mutation { createOpportunity(input: {title: "x"}) { opportunity { id } } }'
        strict = await viewer.raw(mutation, headers={"Accept": GRAPHQL_RESPONSE})
        # GraphQL over HTTP: a client not permitted to issue the request SHOULD get 403 (not 400,
        # which tells it the request is malformed), and a request error has no `data`
        assert strict.status_code == 403
        assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert strict.json() == {
            "errors": [
                {
                    "message": "this needs the editor role",
                    "extensions": {"code": "FORBIDDEN", "required_role": "editor"},
                }
            ]
        }
        legacy = await viewer.raw(mutation, headers={"Accept": "application/json"})
        assert (legacy.status_code, legacy.json()) == (200, {"data": None, **strict.json()})
        # a root field refused during execution has a path: a field error, 200 with its `data`
        editor = Api(client, (await make_tenant(app.state.engine, "Globex", Role.EDITOR)).key)
        field = 'mutation { revokeApiKey(id: "QXBpS2V5OjE=") { errors { code } } }'
        refused = await editor.raw(field, headers={"Accept": GRAPHQL_RESPONSE})
        assert refused.status_code == 200
        assert refused.json()["data"] is None
        assert [(e["path"], e["extensions"]["code"]) for e in refused.json()["errors"]] == [
            (["revokeApiKey"], "FORBIDDEN")
        ]


async def test_errors_during_execution_stay_200_with_data_under_graphql_response_json(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.graphql.loaders import Loaders

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Loaders, "by_id", broken)
    response = await api.raw(VIEWER, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": None}
    monkeypatch.undo()
    ok = await api.raw("{ opportunities { totalCount } }", headers={"Accept": GRAPHQL_RESPONSE})
    assert (ok.status_code, ok.json()) == (200, {"data": {"opportunities": {"totalCount": 0}}})


async def test_a_body_that_does_not_arrive_in_time_is_408(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, body_timeout_seconds=0.2))
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    parts = [{"type": "http.request", "body": b'{"query": ', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop()
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await asyncio.wait_for(app(scope, receive, send), timeout=30)
    finally:
        await app.state.engine.dispose()
    start, body = sent
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert b'"code":"BAD_REQUEST"' in body["body"] and b"OG_BODY_TIMEOUT" in body["body"]


async def test_failed_key_attempts_are_throttled_per_client_address(database_url: str) -> None:
    async with running_app(database_url, auth_failure_limit="3/minute") as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        api = Api(client, tenant.key)
        wrong = [await api.raw(VIEWER, key=f"og_0000000{i}_guess") for i in range(3)]
        assert [r.status_code for r in wrong] == [401, 401, 401]
        assert (
            await client.post("/graphql", json={"query": VIEWER})
        ).status_code == 401  # no key: not a guess
        with count_statements(app.state.engine) as statements:
            throttled = await api.raw(VIEWER, key="og_00000009_guess")
            right_key_too = await api.raw(VIEWER)
        assert statements == []  # refused before any lookup
        for response in (throttled, right_key_too):
            assert response.status_code == 429
            assert 0 < int(response.headers["retry-after"]) <= 60
            [error] = response.json()["errors"]
            assert error["extensions"] == {"code": "RATE_LIMITED"}
            assert error["message"].startswith("Too many failed API key attempts from this address")
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 4000)), base_url="http://test"
        )
        async with other:
            assert (await Api(other, tenant.key).raw(VIEWER)).status_code == 200  # another address


async def test_failed_key_throttling_can_be_switched_off(database_url: str) -> None:
    async with running_app(database_url, auth_failure_limit="") as (_, client):
        answers = [await Api(client).raw(VIEWER, key="og_00000000_guess") for _ in range(25)]
    assert {r.status_code for r in answers} == {401}


async def test_the_timeout_is_its_own_code_504_and_logged_with_request_id_and_operation(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(database_url, request_timeout_seconds=0.000001) as (app, client):
        tenant = await make_tenant(app.state.engine, "Acme", Role.ADMIN)
        api = Api(client, tenant.key)
        with caplog.at_level(logging.WARNING, logger="opportunity_gateway"):
            response = await api.raw(
                "query BoardTotals { opportunities { totalCount } }", headers={"X-Request-ID": "slow-1"}
            )
    assert response.status_code == 504
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "The request took longer than the limit of 1e-06 s (OG_REQUEST_TIMEOUT).",
                "extensions": {"code": "TIMEOUT", "limit": "request_timeout"},
            }
        ],
    }
    [line] = [r.getMessage() for r in caplog.records if "OG_REQUEST_TIMEOUT" in r.getMessage()]
    assert line.startswith("request slow-1 (operation BoardTotals) ran past the 1e-06 s limit")


def test_serve_runs_on_uvloop_and_httptools() -> None:
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from app.serve import server_config

    config = server_config("127.0.0.1", 8000, workers=2)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    loop = config.get_loop_factory()()  # type: ignore[misc]
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
