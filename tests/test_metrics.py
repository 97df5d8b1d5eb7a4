"""GET /metrics: scraped and parsed with prometheus-client's own parser, exact deltas after known requests.

The metrics live in the test process's registry across tests, so every assertion is on the
difference between a scrape before and a scrape after.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Api, Tenant, count_statements, insert, make_board, opportunity, running_app

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def changed(before: Samples, after: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every label set of `name` whose value moved, with how much."""
    keys = {k for k in after if k[0] == name} | {k for k in before if k[0] == name}
    moved = {k[1]: after.get(k, 0.0) - before.get(k, 0.0) for k in keys}
    return {labels: value for labels, value in moved.items() if value}


def labels(**given: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(given.items()))


async def test_requests_errors_and_statements_are_counted_exactly(
    api: Api, tenant: Tenant, engine, app_client
) -> None:
    _, client = app_client
    await api("{ viewer { id } }")  # the key is looked up once, before the counted requests
    before = await scrape(client)
    with count_statements(engine) as statements:
        await api("query Board { viewer { displayName } }")
        await api("query Board { viewer { displayName } }")
        await api("{ viewer { email } }")
        assert (await api.errors("query Broken { viewer { nope } }"))[0]["extensions"]["code"] == (
            "GRAPHQL_VALIDATION_FAILED"
        )
        missing = await api.raw('query Gone { node(id: "T3Bwb3J0dW5pdHk6OTk5OTk=") { id } }')
        assert missing.json()["data"] == {"node": None}
        refused = await api.raw("{ viewer { id } }", key="og_0123abcd_" + "x" * 32)
        assert refused.status_code == 401
        assert (await api.raw("{ viewer { id } }", key="")).status_code == 401  # no key at all
    after = await scrape(client)

    assert changed(before, after, "og_requests_total") == {
        labels(operation_type="query", operation_name="Board", outcome="ok"): 2,
        labels(operation_type="query", operation_name="<anonymous>", outcome="ok"): 1,
        labels(operation_type="query", operation_name="Broken", outcome="error"): 1,
        labels(operation_type="query", operation_name="Gone", outcome="ok"): 1,
        labels(operation_type="unknown", operation_name="<unknown>", outcome="error"): 2,
    }
    assert changed(before, after, "og_graphql_errors_total") == {
        labels(code="GRAPHQL_VALIDATION_FAILED"): 1,
        labels(code="UNAUTHENTICATED"): 2,
    }
    assert (
        delta(
            before, after, "og_request_duration_seconds_count", operation_type="query", operation_name="Board"
        )
        == 2
    )
    assert delta(before, after, "og_sql_statements_per_request_count", operation_type="query") == 5
    # every statement the engine ran for these requests, and no other (the failed key lookup included)
    assert delta(before, after, "og_sql_statements_per_request_sum", operation_type="query") + delta(
        before, after, "og_sql_statements_per_request_sum", operation_type="unknown"
    ) == len(statements)
    # /metrics itself is not a GraphQL request
    assert (
        delta(
            before,
            after,
            "og_requests_total",
            operation_type="unknown",
            operation_name="<unknown>",
            outcome="ok",
        )
        == 0
    )


async def test_loader_batches_and_the_pool_are_reported(api: Api, tenant: Tenant, engine, app_client) -> None:
    _, client = app_client
    board = await make_board(engine, tenant.organization_id)
    await insert(
        engine,
        *(
            opportunity(
                tenant.organization_id,
                stage_id=board.stages[i % 2],
                owner_id=tenant.user_id,
                amount=Decimal(i),
            )
            for i in range(7)
        ),
    )
    before = await scrape(client)
    # filtered, so the page joins nothing (app/graphql/joins.py): its relations are loader batches
    data = await api(
        'query Deals { opportunities(first: 10, filter: { title: { startsWith: "Deal" } }) '
        "{ nodes { owner { email } stage { name } } } }"
    )
    after = await scrape(client)
    assert len(data["opportunities"]["nodes"]) == 7
    # one batch per relation, holding the distinct keys of the page: one owner, two stages
    assert changed(before, after, "og_loader_batch_size_count") == {
        labels(loader="id:User"): 1,
        labels(loader="id:Stage"): 1,
    }
    assert changed(before, after, "og_loader_batch_size_sum") == {
        labels(loader="id:User"): 1,
        labels(loader="id:Stage"): 2,
    }
    pool = engine.pool
    assert after[("og_db_pool_connections", labels(state="in_use"))] == pool.checkedout() == 0
    assert after[("og_db_pool_connections", labels(state="idle"))] == pool.checkedin()
    assert after[("og_db_pool_connections", labels(state="overflow"))] == 0


async def test_operation_names_are_bounded(database_url: str, engine) -> None:
    from tests.support import make_tenant

    tenant = await make_tenant(engine, "Names Inc")
    async with running_app(database_url, metrics_operation_names=2) as (_, client):
        api = Api(client, tenant.key)
        before = await scrape(client)
        for name in ("Alpha", "Beta", "Gamma", "Alpha", "L" + "o" * 80):
            await api(f"query {name} {{ viewer {{ id }} }}")
        after = await scrape(client)
    assert changed(before, after, "og_requests_total") == {
        labels(operation_type="query", operation_name="Alpha", outcome="ok"): 2,
        labels(operation_type="query", operation_name="Beta", outcome="ok"): 1,
        labels(operation_type="query", operation_name="<other>", outcome="ok"): 2,
    }


async def test_an_operation_name_the_document_lacks_is_not_a_label(api: Api, app_client) -> None:
    _, client = app_client
    before = await scrape(client)
    response = await api.client.post(
        "/graphql",
        json={"query": "query Real { viewer { id } }", "operationName": "Invented"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    after = await scrape(client)
    assert response.json()["errors"]
    moved = changed(before, after, "og_requests_total")
    assert all(dict(k)["operation_name"] == "<unknown>" for k in moved), moved
    assert sum(moved.values()) == 1


async def test_rate_limit_refusals_are_counted(database_url: str, engine) -> None:
    from tests.support import make_tenant

    tenant = await make_tenant(engine, "Busy Inc")
    async with running_app(database_url, rate_limit="2/minute") as (_, client):
        api = Api(client, tenant.key)
        before = await scrape(client)
        statuses = [(await api.raw("{ viewer { id } }")).status_code for _ in range(3)]
        after = await scrape(client)
    assert statuses == [200, 200, 429]
    assert changed(before, after, "og_rate_limited_total") == {labels(limit="api_key"): 1}
    assert changed(before, after, "og_graphql_errors_total") == {labels(code="RATE_LIMITED"): 1}


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A PostgreSQL URL to a loopback port nothing listens on: every connect is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"


async def test_an_outage_is_a_failure(refusing_url: str) -> None:
    async with running_app(refusing_url) as (_, client):
        before = await scrape(client)
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"Authorization": "Bearer og_0123abcd_" + "x" * 32},
        )
        after = await scrape(client)
    assert response.status_code == 503
    assert changed(before, after, "og_requests_total") == {
        labels(operation_type="unknown", operation_name="<unknown>", outcome="failure"): 1
    }
    assert changed(before, after, "og_graphql_errors_total") == {labels(code="SERVICE_UNAVAILABLE"): 1}


async def test_metrics_answer_loopback_only_without_a_token(app_client) -> None:
    app, client = app_client
    assert (await client.get("/metrics")).status_code == 200  # httpx's ASGI client is 127.0.0.1
    outside = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)), base_url="http://test"
    )
    async with outside:
        refused = await outside.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_metrics_need_the_token_when_one_is_set(database_url: str) -> None:
    async with running_app(database_url, metrics_token="s3cret-scrape") as (app, _):
        outside = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)), base_url="http://test"
        )
        async with outside:
            missing = await outside.get("/metrics")
            wrong = await outside.get("/metrics", headers={"Authorization": "Bearer s3cret-scrapX"})
            right = await outside.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert missing.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "og_requests_total" in right.text
