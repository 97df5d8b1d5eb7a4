"""HTTP behaviour: GraphiQL, health, GraphQL-over-HTTP GET and POST, media types, authentication."""

from __future__ import annotations

from tests.support import Api, running_app

VIEWER = "{ viewer { email } }"


async def test_graphiql_page_loads_in_a_browser_without_a_key(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_is_ok_when_the_database_answers(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_health_is_503_when_the_database_does_not_answer() -> None:
    # a PostgreSQL port nothing listens on. (A SQLite file in a missing folder fails too, but
    # aiosqlite's worker thread then dies with an exception pytest reports as unhandled.)
    url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    async with running_app(url) as (_, client):
        response = await client.get("/healthz")
    assert response.status_code == 503


async def test_queries_by_get_and_post(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}"}
    response = await api.client.get("/graphql", params={"query": VIEWER}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"email": "owner@acme.test"}}}
    assert response.headers["content-type"].startswith("application/json")
    response = await api.client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={**headers, "Accept": "application/graphql-response+json"},
    )
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def test_missing_wrong_and_malformed_keys_are_refused_before_any_resolver(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer og_nope_nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {api.key}x"},
        {"Authorization": "Bearer "},
    ):
        response = await api.client.post("/graphql", json={"query": VIEWER}, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "data" not in response.json()


async def test_get_with_a_query_needs_a_key_even_from_a_browser(api: Api) -> None:
    response = await api.client.get("/graphql", params={"query": VIEWER}, headers={"Accept": "text/html"})
    assert response.status_code == 401


async def test_unknown_fields_are_validation_errors_without_data(api: Api) -> None:
    response = await api.raw("{ viewer { nope } }")
    body = response.json()
    assert "nope" in body["errors"][0]["message"]
    assert body.get("data") is None
