"""Persisted documents: Apollo's APQ protocol and trusted documents, over HTTP and from `gql`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import ExecutionResult, parse, print_ast
from sqlalchemy import text

from app.enums import Role
from app.main import create_app
from app.persisted import ManifestError
from app.settings import Settings
from tests.support import Api, Tenant, add_user, count_statements, running_app, unscoped

VIEWER = "query Viewer { viewer { email } }"
MUTATION = 'mutation M { createCustomer(input: {name: "Persisted"}) { customer { name } } }'
DEEP = "query Deep { viewer { id " + "ownedOpportunities { nodes { owner { id " * 4 + "} } } " * 4 + "} }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def post(api: Api, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {api.key}", **headers})


def get(api: Api, params: dict[str, Any], **headers: str) -> Any:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return api.client.get(
        "/graphql",
        params=encoded,
        headers={"Authorization": f"Bearer {api.key}", "Accept": "application/json", **headers},
    )


async def stored(engine: Any) -> dict[str, str]:
    async with unscoped(engine) as session:
        rows = await session.execute(text("SELECT sha256, document FROM persisted_query"))
        return {row[0]: row[1] for row in rows}


# a request error: `data: null` under application/json, no `data` under graphql-response+json
NOT_FOUND_ERRORS = [
    {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
]
NOT_FOUND = {"data": None, "errors": NOT_FOUND_ERRORS}


# ---------------------------------------------------------------- APQ over HTTP


async def test_apq_miss_then_registration_then_hash_only_by_post_and_get(api: Api, engine) -> None:
    miss = await post(api, {"extensions": apq(VIEWER)})
    assert (miss.status_code, miss.json()) == (200, NOT_FOUND)
    strict = await post(api, {"extensions": apq(VIEWER)}, Accept="application/graphql-response+json")
    assert (strict.status_code, strict.json()) == (
        400,
        {"errors": NOT_FOUND_ERRORS},
    )  # a request error, nothing ran

    registered = await post(api, {"query": VIEWER, "extensions": apq(VIEWER)})
    assert registered.json() == {"data": {"viewer": {"email": "owner@acme.test"}}}
    assert await stored(engine) == {sha(VIEWER): VIEWER}

    by_post = await post(api, {"extensions": apq(VIEWER)})
    assert by_post.json() == {"data": {"viewer": {"email": "owner@acme.test"}}}
    by_get = await get(api, {"extensions": apq(VIEWER)})
    assert (by_get.status_code, by_get.json()) == (200, {"data": {"viewer": {"email": "owner@acme.test"}}})


async def test_a_persisted_mutation_runs_only_by_post(api: Api, engine) -> None:
    created = await post(api, {"query": MUTATION, "extensions": apq(MUTATION)})
    assert created.json() == {"data": {"createCustomer": {"customer": {"name": "Persisted"}}}}
    by_get = await get(api, {"extensions": apq(MUTATION)})
    assert by_get.status_code == 405
    assert by_get.json()["errors"][0]["message"] == "Mutations must be sent with POST."
    again = await post(api, {"extensions": apq(MUTATION)})
    assert again.json() == {"data": {"createCustomer": {"customer": {"name": "Persisted"}}}}


async def test_a_hash_that_is_not_the_query_s_is_refused_and_nothing_is_stored(api: Api, engine) -> None:
    response = await post(api, {"query": VIEWER, "extensions": apq("{ viewer { id } }")})
    assert (response.status_code, response.json()) == (
        200,
        {
            "data": None,
            "errors": [
                {"message": "provided sha does not match query", "extensions": {"code": "BAD_REQUEST"}}
            ],
        },
    )
    for extensions, message in [
        (
            {"persistedQuery": {"version": 2, "sha256Hash": sha(VIEWER)}},
            "Unsupported persisted query version: extensions.persistedQuery needs version 1.",
        ),
        (
            {"persistedQuery": {"version": 1, "sha256Hash": sha(VIEWER).upper()}},
            "extensions.persistedQuery.sha256Hash must be a SHA-256 hash (64 lower-case hex digits).",
        ),
        (
            {"persistedQuery": "yes"},
            "Unsupported persisted query version: extensions.persistedQuery needs version 1.",
        ),
    ]:
        refused = (await post(api, {"query": VIEWER, "extensions": extensions})).json()
        assert refused == {
            "data": None,
            "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}],
        }
    assert await stored(engine) == {}


async def test_only_a_document_that_runs_is_registered_and_limits_still_apply(api: Api, engine) -> None:
    invalid = "query Invalid { viewer { nope } }"
    response = (await post(api, {"query": invalid, "extensions": apq(invalid)})).json()
    assert [e["message"] for e in response["errors"]] == ["Cannot query field 'nope' on type 'User'."]
    deep = (await post(api, {"query": DEEP, "extensions": apq(DEEP)})).json()
    assert [(e["extensions"]["code"], e["extensions"]["limit"]) for e in deep["errors"]] == [
        ("QUERY_TOO_COMPLEX", "max_depth")
    ]
    assert await stored(engine) == {}
    assert (await post(api, {"extensions": apq(DEEP)})).json() == NOT_FOUND


async def test_a_persisted_document_runs_as_its_caller(api: Api, tenant: Tenant, engine) -> None:
    await post(api, {"query": MUTATION, "extensions": apq(MUTATION)})
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    as_viewer = Api(api.client, viewer)
    refused = (await post(as_viewer, {"extensions": apq(MUTATION)})).json()
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    mine = (await post(as_viewer, {"extensions": apq(VIEWER)})).json()
    assert mine == NOT_FOUND  # not registered yet: registering is open to any caller
    await post(as_viewer, {"query": VIEWER, "extensions": apq(VIEWER)})
    assert (await post(api, {"extensions": apq(VIEWER)})).json() == {
        "data": {"viewer": {"email": "owner@acme.test"}}
    }


async def test_every_worker_shares_the_store_and_a_hit_is_cached_in_process(
    database_url: str, api: Api, engine
) -> None:
    await post(api, {"query": VIEWER, "extensions": apq(VIEWER)})
    async with running_app(database_url) as (other, client):  # another worker: its own cache
        elsewhere = Api(client, api.key)
        await elsewhere("{ viewer { id } }")  # the key's first use looks it up: out of the count
        with count_statements(other.state.engine) as first:
            assert (await post(elsewhere, {"extensions": apq(VIEWER)})).json()["data"] is not None
        with count_statements(other.state.engine) as then:
            assert (await post(elsewhere, {"extensions": apq(VIEWER)})).json()["data"] is not None
    assert [s.split()[0] for s in first] == ["SELECT", "SELECT"]  # the document, then the viewer
    assert "persisted_query" in first[0]
    assert len(then) == 1 and "persisted_query" not in then[0]  # from the cache: only the viewer


# ---------------------------------------------------------------- APQ from a real client: gql


class PersistedQueriesTransport(HTTPXAsyncTransport):
    """gql's httpx transport speaking Apollo's APQ protocol, as Apollo Client's link does.

    The hash alone first; on PERSISTED_QUERY_NOT_FOUND, the hash with the document.
    """

    sent: list[dict[str, Any]]

    async def execute(self, request: GraphQLRequest, *args: Any, **kwargs: Any) -> ExecutionResult:
        text = request.payload["query"]
        hashed = GraphQLRequest(
            request.document, variable_values=request.variable_values, extensions=apq(text)
        )
        self.sent = []
        result = await super().execute(_HashOnly(hashed), *args, **kwargs)
        if any(
            (e.get("extensions") or {}).get("code") == "PERSISTED_QUERY_NOT_FOUND"
            for e in result.errors or []
        ):
            result = await super().execute(hashed, *args, **kwargs)
        return result

    def _prepare_request(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        prepared: dict[str, Any] = super()._prepare_request(request, *args, **kwargs)
        if isinstance(request, _HashOnly):
            prepared["json"].pop("query")
        self.sent.append(dict(prepared["json"]))
        return prepared


class _HashOnly(GraphQLRequest):
    def __init__(self, request: GraphQLRequest) -> None:
        super().__init__(
            request.document, variable_values=request.variable_values, extensions=request.extensions
        )


def gql_client(
    app: Any, key: str, transport: type[HTTPXAsyncTransport] = PersistedQueriesTransport
) -> Client:
    return Client(
        transport=transport(
            url="http://test/graphql",
            transport=httpx.ASGITransport(app=app),
            headers={"Authorization": f"Bearer {key}"},
        )
    )


async def test_gql_with_apq_registers_once_then_sends_only_the_hash(app_client: Any, tenant: Tenant) -> None:
    app, _ = app_client
    query = gql("query Deals($first: Int!) { opportunities(first: $first) { totalCount } }")
    client = gql_client(app, tenant.key)
    async with client as session:
        transport = client.transport
        assert isinstance(transport, PersistedQueriesTransport)
        first = await session.execute(GraphQLRequest(query, variable_values={"first": 5}))
        assert first == {"opportunities": {"totalCount": 0}}
        assert [("query" in s, s["extensions"]["persistedQuery"]["version"]) for s in transport.sent] == [
            (False, 1),
            (True, 1),
        ]
        again = await session.execute(GraphQLRequest(query, variable_values={"first": 5}))
        assert again == first
        assert ["query" in s for s in transport.sent] == [False]  # the hash alone


# ---------------------------------------------------------------- trusted documents


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-documents.json"
    # as a client sends it: gql prints the documents it parsed
    printed = print_ast(parse(VIEWER))
    path.write_text(
        json.dumps({sha(VIEWER): VIEWER, sha(DEEP): DEEP, sha(printed): printed}), encoding="utf-8"
    )
    return path


class DocumentIdTransport(HTTPXAsyncTransport):
    """gql's httpx transport naming trusted documents by `documentId` instead of sending them."""

    def _prepare_request(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        prepared: dict[str, Any] = super()._prepare_request(request, *args, **kwargs)
        text = prepared["json"].pop("query")
        prepared["json"]["documentId"] = f"sha256:{sha(text)}"
        return prepared


async def test_only_trusted_documents_run(database_url: str, tenant: Tenant, manifest: Path) -> None:
    async with running_app(database_url, trusted_documents=str(manifest), only_trusted_documents=True) as (
        app,
        client,
    ):
        api = Api(client, tenant.key)
        ok = {"data": {"viewer": {"email": "owner@acme.test"}}}
        assert (await post(api, {"documentId": f"sha256:{sha(VIEWER)}"})).json() == ok
        assert (await post(api, {"extensions": apq(VIEWER)})).json() == ok
        assert (await post(api, {"query": VIEWER, "extensions": apq(VIEWER)})).json() == ok
        assert (await get(api, {"documentId": f"sha256:{sha(VIEWER)}"})).json() == ok
        deep = (await post(api, {"documentId": f"sha256:{sha(DEEP)}"})).json()
        assert [e["extensions"]["limit"] for e in deep["errors"]] == ["max_depth"]  # limits apply to them too

        async with gql_client(app, tenant.key, DocumentIdTransport) as session:
            assert await session.execute(gql(VIEWER)) == ok["data"]
            with pytest.raises(TransportQueryError) as refused:
                await session.execute(gql("{ viewer { id } }"))
            assert refused.value.errors is not None
            assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

        required = "PERSISTED_QUERY_REQUIRED"
        other = "{ viewer { id } }"
        for body in [
            {"query": other},
            {"query": "{ __schema { queryType { name } } }"},  # introspection too
            {"query": other, "extensions": apq(other)},  # APQ registration too
        ]:
            errors = (await post(api, body)).json()["errors"]
            assert [e["extensions"]["code"] for e in errors] == [required], body
        assert (await post(api, {"extensions": apq(other)})).json() == NOT_FOUND
        unknown = (await post(api, {"documentId": f"sha256:{sha(other)}"})).json()
        assert unknown == NOT_FOUND
        assert (await post(api, {"documentId": sha(VIEWER)})).json() == ok  # codegen's __meta__.hash
        for bad_id in [f"md5:{sha(VIEWER)}", sha(VIEWER)[:40], 42]:
            bad = (await post(api, {"documentId": bad_id})).json()
            assert [e["extensions"]["code"] for e in bad["errors"]] == ["BAD_REQUEST"], bad_id
        both = {"documentId": f"sha256:{sha(VIEWER)}", "extensions": apq(DEEP)}
        assert (await post(api, both)).json()["errors"][0]["message"] == (
            "documentId and extensions.persistedQuery name different documents."
        )
        assert await stored(app.state.engine) == {}


async def test_trusted_documents_beside_other_documents(
    database_url: str, tenant: Tenant, manifest: Path
) -> None:
    async with running_app(database_url, trusted_documents=str(manifest)) as (app, client):
        api = Api(client, tenant.key)
        by_id = (await post(api, {"documentId": f"sha256:{sha(VIEWER)}"})).json()
        assert by_id == {"data": {"viewer": {"email": "owner@acme.test"}}}
        assert await api("{ viewer { id } }")  # any document still runs
        async with gql_client(app, tenant.key) as session:  # and APQ registers others
            assert await session.execute(gql("query Other { viewer { id } }"))
        assert list(await stored(app.state.engine)) == [sha("query Other {\n  viewer {\n    id\n  }\n}")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the manifest"),
        ("{", "the manifest is not JSON"),
        ("[]", 'the manifest must be a JSON object {"<sha256 hex>": "<document>"}'),
        (json.dumps({"abc": VIEWER}), "'abc' is not a SHA-256 hash (64 lower-case hex digits)"),
        (json.dumps({sha(VIEWER): 42}), f"the document of {sha(VIEWER)} is not a string"),
        (
            json.dumps({sha("x"): VIEWER}),
            f"{sha('x')} is not the SHA-256 of its document (a stale manifest?)",
        ),
        (json.dumps({sha("{"): "{"}), f"the document of {sha('{')} does not parse: Syntax Error"),
        (
            json.dumps({sha("{ nope }"): "{ nope }"}),
            f"the document of {sha('{ nope }')} does not validate: Cannot query field 'nope' on type 'Query'.",
        ),
    ],
)
def test_a_bad_manifest_stops_start_up_saying_why(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError) as error:
        create_app(
            Settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", trusted_documents=str(path)
            )
        )
    assert str(error.value).startswith(f"OG_TRUSTED_DOCUMENTS={path}: ")
    assert message in str(error.value)


def test_only_trusted_documents_need_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as error:
        create_app(
            Settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", only_trusted_documents=True
            )
        )
    assert (
        str(error.value)
        == "OG_ONLY_TRUSTED_DOCUMENTS=true needs OG_TRUSTED_DOCUMENTS, the path of the manifest"
    )
