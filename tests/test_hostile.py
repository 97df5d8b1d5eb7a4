"""Hostile input: each a clear error (never a 500) and nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from app import models as m
from tests.support import Api, Tenant, gid, insert, opportunity, unscoped

LIST = "query ($f: OpportunityFilter, $first: Int, $last: Int, $offset: Int) { opportunities(filter: $f, first: $first, last: $last, offset: $offset) { totalCount nodes { title } } }"
CREATE = "mutation ($input: CreateOpportunityInput!) { createOpportunity(input: $input) { opportunity { id } errors { field code } } }"
UPDATE = "mutation ($id: ID!, $input: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $input) { opportunity { id } errors { field code } } }"
DELETE = "mutation ($id: ID!) { deleteOpportunity(id: $id) { deletedId errors { field code } } }"


async def _count(engine) -> int:
    async with unscoped(engine) as s:
        return int((await s.execute(select(func.count()).select_from(m.Opportunity))).scalar_one())


async def _titles(engine) -> list[str]:
    async with unscoped(engine) as s:
        return sorted((await s.execute(select(m.Opportunity.title))).scalars())


async def _codes(api: Api, query: str, variables: dict[str, Any] | None = None) -> list[str]:
    response = await api.raw(query, variables)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


@pytest.fixture
async def deal(tenant: Tenant, engine) -> int:
    [oid] = await insert(engine, opportunity(tenant.organization_id, title="Alpha", amount=5))
    return oid


async def test_malformed_json_bodies_are_400(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    for body in (
        b"{not json",
        b"",
        b'{"query": "{ viewer { id } }"',
        b'{"query": NaN}',
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
    ):
        response = await api.client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, body[:20]
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    for document in ({"query": 42}, {"query": "{ viewer { id } }", "variables": [1]}, {"nothing": True}):
        response = await api.client.post("/graphql", content=json.dumps(document), headers=headers)
        assert response.status_code == 400, document
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_deep_nesting_is_refused_before_the_parser_recurses(api: Api, deal: int) -> None:
    deep_literal = "{ opportunities(filter: " + "{not: " * 200 + "{}" + "}" * 200 + ") { totalCount } }"
    errors = await api.errors(deep_literal)
    assert errors[0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "max_nesting"}
    assert "nested too deeply" in errors[0]["message"]
    deep_variable = json.loads('{"not": ' * 200 + "{}" + "}" * 200)
    errors = await api.errors(LIST, {"f": deep_variable})
    assert errors[0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "max_nesting"}
    selections = "{ viewer " * 300 + "{ id }" + " }" * 300
    errors = await api.errors(selections)
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # nesting within the limit still works, and a brace inside a string does not count
    ok = json.loads('{"not": ' * 10 + '{"title": {"ne": "{{{{"}}' + "}" * 10)
    assert (await api(LIST, {"f": ok}))["opportunities"]["totalCount"] == 1


async def test_nan_infinity_and_huge_decimals_are_bad_input_and_write_nothing(
    api: Api, engine, deal: int
) -> None:
    for value in (
        "NaN",
        "-Infinity",
        "Infinity",
        "sNaN",
        "1e999999999",
        "1e16",
        "-1e30",
        "abc",
        "",
        "0x10",
        "1e-999",
    ):
        assert await _codes(api, LIST, {"f": {"amount": {"gt": value}}}) == ["BAD_USER_INPUT"], value
        assert await _codes(api, CREATE, {"input": {"title": "T", "amount": value}}) == ["BAD_USER_INPUT"], (
            value
        )
        literal = '{ opportunities(filter: {amount: {lt: "' + value + '"}}) { totalCount } }'
        assert await _codes(api, literal) == ["BAD_USER_INPUT"], value
    assert await _count(engine) == 1
    # the largest storable amount is fine as a filter bound
    assert (await api(LIST, {"f": {"amount": {"lt": "99999999999999.9999"}}}))["opportunities"][
        "totalCount"
    ] == 1


async def test_filter_bounds_beyond_what_sqlite_stores_are_bad_input_not_a_crash(api: Api, deal: int) -> None:
    # beyond the API's range (10^14) and SQLite's scaled BIGINT (about 9.2 × 10^14)
    codes = await _codes(api, LIST, {"f": {"amount": {"gt": "5e15"}}})
    assert codes == ["BAD_USER_INPUT"]


async def test_giant_strings_are_refused_or_harmless(api: Api, engine, deal: int) -> None:
    huge = "x" * 200_000
    for flt in (
        {"search": huge},
        {"title": {"contains": huge}},
        {"title": {"iContains": huge}},
        {"title": {"eq": huge}},
    ):
        codes = await _codes(api, LIST, {"f": flt})
        assert codes in ([], ["BAD_USER_INPUT"]), flt
    payload = (await api(CREATE, {"input": {"title": huge}}))["createOpportunity"]
    assert payload == {"opportunity": None, "errors": [{"field": ["input", "title"], "code": "TOO_LONG"}]}
    too_big = await api.raw(CREATE, {"input": {"title": "x" * 2_000_000}})
    assert too_big.status_code == 413
    assert await _count(engine) == 1


async def test_control_characters_and_injection_text_are_just_text(api: Api, engine, deal: int) -> None:
    hostile = [
        "'; DROP TABLE opportunity; --",
        '" OR 1=1 --',
        "%",
        "_",
        "\\",
        "Alpha' OR 'a'='a",
        "\x01\x02\x1b[31m\x7f",
        "\u202eAlpha",  # right-to-left override: the word Alpha is still found
        "${jndi:ldap://x}",
        "<script>alert(1)</script>",
    ]
    for text in hostile:
        for flt in ({"title": {"contains": text}}, {"title": {"eq": text}}, {"title": {"iContains": text}}):
            data = await api(LIST, {"f": flt})
            assert data["opportunities"]["totalCount"] == 0, (text, flt)
        # search matches words: text without any matches everything, any word that is not in "Alpha" nothing
        data = await api(LIST, {"f": {"search": text}})
        assert data["opportunities"]["totalCount"] == (1 if text in {"%", "\\", "\u202eAlpha"} else 0), text
    assert (await api(LIST, {"f": {"title": {"startsWith": "Alph"}}}))["opportunities"]["totalCount"] == 1
    assert await _titles(engine) == ["Alpha"]  # nothing dropped, nothing changed


async def test_nul_characters_are_bad_input_everywhere(api: Api, engine, deal: int) -> None:
    assert await _codes(api, LIST, {"f": {"search": "Al\x00pha"}}) == ["BAD_USER_INPUT"]
    assert await _codes(api, '{ opportunities(filter: {title: {eq: "a\\u0000"}}) { totalCount } }') == [
        "BAD_USER_INPUT"
    ]
    assert await _codes(api, CREATE, {"input": {"title": "nul\x00title"}}) == ["BAD_USER_INPUT"]
    assert await _titles(engine) == ["Alpha"]


async def test_garbage_and_cross_type_ids_find_nothing_and_change_nothing(
    api: Api, engine, tenant: Tenant, deal: int
) -> None:
    garbage = [
        "",
        "x",
        "!!!",
        "==",
        "T3Bwb3J0dW5pdHk6",
        "T3Bwb3J0dW5pdHk6LTE",
        "T3Bwb3J0dW5pdHk6MA",
        "T3Bwb3J0dW5pdHk6OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        "a" * 10_000,
        gid("Customer", deal),
        gid("User", tenant.user_id),
        "T3Bwb3J0dW5pdHk6MSBPUiAxPTE",
    ]  # "Opportunity:1 OR 1=1"
    for bad in garbage:
        data = await api(
            "query ($id: ID!) { node(id: $id) { id } opportunity(id: $id) { id } nodes(ids: [$id]) { id } }",
            {"id": bad},
        )
        assert data["opportunity"] is None, bad
        if not bad.startswith(("Q3V", "VXN")):  # a real customer or user id is a node, just not a deal
            assert data == {"node": None, "opportunity": None, "nodes": [None]}, bad
        assert (await api(LIST, {"f": {"id": {"in": [bad]}}}))["opportunities"]["totalCount"] == 0
        assert (await api(LIST, {"f": {"customer": {"id": {"eq": bad}}}}))["opportunities"]["totalCount"] == 0
        update = (await api(UPDATE, {"id": bad, "input": {"title": "Hacked"}}))["updateOpportunity"]
        assert update["opportunity"] is None and [e["code"] for e in update["errors"]] == ["NOT_FOUND"], bad
        delete = (await api(DELETE, {"id": bad}))["deleteOpportunity"]
        assert delete["deletedId"] is None and [e["code"] for e in delete["errors"]] == ["NOT_FOUND"], bad
    assert await _titles(engine) == ["Alpha"]


async def test_negative_and_huge_page_sizes_are_bad_input(api: Api, deal: int) -> None:
    for variables in (
        {"first": -1},
        {"last": -5},
        {"offset": -1},
        {"first": 2**31},
        {"offset": 2**40},
        {"first": "1"},
    ):
        assert await _codes(api, LIST, variables) == ["BAD_USER_INPUT"], variables
    assert await _codes(api, "{ opportunities(first: 99999999999) { totalCount } }") == ["BAD_USER_INPUT"]
    # docs/security.md: a page over the limit
    assert await _codes(api, LIST, {"first": 1001}) == ["QUERY_TOO_COMPLEX"]
    data = await api(LIST, {"first": 0})
    assert data["opportunities"] == {"totalCount": 1, "nodes": []}
    data = await api(LIST, {"offset": 2**31 - 1})
    assert data["opportunities"]["nodes"] == []


async def test_wrong_variable_types_and_unknown_arguments_are_clear_errors(api: Api) -> None:
    assert await _codes(api, LIST, {"f": "title = 'x'"}) == ["BAD_USER_INPUT"]
    assert await _codes(api, LIST, {"f": {"nope": 1}}) == ["BAD_USER_INPUT"]
    assert await _codes(api, LIST, {"f": {"title": {"eq": ["a", "b"]}}}) == ["BAD_USER_INPUT"]
    assert await _codes(api, "{ opportunities(nope: 1) { totalCount } }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert await _codes(api, "query { a: viewer { id } a: opportunities { totalCount } }") == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert await _codes(api, "subscription { viewer { id } }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert await _codes(api, "query A { viewer { id } } query A { viewer { id } }") == [
        "GRAPHQL_VALIDATION_FAILED"
    ]


async def test_overlong_filter_text_and_search_are_bad_input(api: Api, engine, deal: int) -> None:
    for flt in (
        {"title": {"contains": "x" * 20_001}},
        {"title": {"in": ["a", "y" * 20_001]}},
        {"search": "word " * 300},
    ):
        assert await _codes(api, LIST, {"f": flt}) == ["BAD_USER_INPUT"], str(flt)[:40]
    assert await _count(engine) == 1


async def test_reordering_too_many_definitions_is_bad_input(api: Api) -> None:
    document = "mutation ($ids: [ID!]!) { reorderCustomFieldDefinitions(ids: $ids) { errors { code } } }"
    assert await _codes(api, document, {"ids": ["x"] * 1001}) == ["BAD_USER_INPUT"]
