"""A refused document writes nothing: page arguments are refused before the first mutation runs.

The planner refuses bad page arguments when a connection resolves, which in a mutation's
payload is after the write committed. These documents (from issue 10) were answered with
the refusal while the write stayed; each must now leave the deal as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from app import models as m
from tests.support import Api, Tenant, gid, insert, make_board, opportunity, unscoped

TOO_BIG = {"code": "QUERY_TOO_COMPLEX", "limit": "max_page_size"}


def bad(argument: str) -> dict[str, str]:
    return {"code": "BAD_USER_INPUT", "argument": argument}


def update(args: str, variables: str = "") -> str:
    """`updateOpportunity` whose payload lists the customer's deals with these arguments."""
    return f"""mutation ($id: ID! {variables}) {{
      updateOpportunity(id: $id, input: {{title: "x"}}) {{
        opportunity {{ title customer {{ opportunities({args}) {{ nodes {{ id }} }} }} }}
        errors {{ code }}
      }}
    }}"""


@dataclass
class Deal:
    id: str
    pk: int


@pytest.fixture
async def deal(tenant: Tenant, engine) -> Deal:
    board = await make_board(engine, tenant.organization_id)
    [pk] = await insert(
        engine, opportunity(tenant.organization_id, title="Alpha", customer_id=board.customer)
    )
    return Deal(gid("Opportunity", pk), pk)


async def stored(engine, pk: int) -> tuple[str, int]:
    async with unscoped(engine) as s:
        row = (
            await s.execute(select(m.Opportunity.title, m.Opportunity.version).where(m.Opportunity.id == pk))
        ).one()
        return row.title, row.version


async def refused(api: Api, document: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors of a document that must be refused as a whole: no data at all."""
    response = await api.raw(document, variables)
    body = response.json()
    assert body.get("data") is None and body.get("errors"), body
    return body["errors"]


NOT_A_CURSOR = "bm90IGEgY3Vyc29y"  # base64 of "not a cursor"

CASES = [
    # (connection arguments, variable declarations, variables, extensions, message)
    (
        "first: 5000",
        "",
        {},
        {**TOO_BIG, "argument": "first"},
        "`first` is 5000, over the maximum page size of 1000",
    ),
    (
        "last: 1001",
        "",
        {},
        {**TOO_BIG, "argument": "last"},
        "`last` is 1001, over the maximum page size of 1000",
    ),
    ("first: $n", ", $n: Int", {"n": 5000}, {**TOO_BIG, "argument": "first"}, "`first` is 5000"),
    ("first: -1", "", {}, bad("first"), "`first` cannot be negative (got -1)"),
    ("last: $n", ", $n: Int", {"n": -3}, bad("last"), "`last` cannot be negative (got -3)"),
    ("first: $n", ", $n: Int = -1", {}, bad("first"), "`first` cannot be negative (got -1)"),
    ("offset: -1", "", {}, bad("offset"), "`offset` cannot be negative (got -1)"),
    ("first: 1, last: 1", "", {}, bad("last"), "give `first` or `last`, not both"),
    ("first: $f, last: $l", ", $f: Int, $l: Int", {"f": 1, "l": 1}, bad("last"), "not both"),
    ("last: 1, offset: $o", ", $o: Int", {"o": 2}, bad("offset"), "`offset` works with `first`"),
    ('after: "not-a-cursor"', "", {}, bad("after"), "`after` is not a cursor this API issued"),
    ("before: $c", ", $c: String", {"c": NOT_A_CURSOR}, bad("before"), "`before` is not a cursor"),
    ("orderBy: [{field: TITLE}, {field: TITLE}]", "", {}, bad("orderBy"), "`orderBy` names TITLE more"),
    (
        "orderBy: [{field: $f}, {field: AMOUNT}]",
        ", $f: OpportunityOrderField!",
        {"f": "AMOUNT"},
        bad("orderBy"),
        "`orderBy` names AMOUNT more than once",
    ),
    (
        'filter: {amount: {isNull: true, eq: "5"}}',
        "",
        {},
        bad("filter"),
        "`filter.amount`: `isNull: true` contradicts eq",
    ),
    (
        "filter: {or: [{title: {eq: $t}}, {stage: {name: {in: $names}}}]}",
        ", $t: String, $names: [String!]",
        {"t": "x", "names": ["n"] * 1001},
        bad("filter"),
        "`filter.or[1].stage.name.in` has 1001 values",
    ),
    (
        "orderBy: $o",
        ", $o: [OpportunityOrder!]",
        {
            "o": [
                {"field": f}
                for f in ("TITLE", "AMOUNT", "PROBABILITY", "CREATED_AT", "UPDATED_AT", "EXPECTED_CLOSE_DATE")
            ]
        },
        bad("orderBy"),
        "`orderBy` has 6 keys; at most 5",
    ),
]


@pytest.mark.parametrize(
    ("args", "declared", "variables", "extensions", "message"), CASES, ids=[c[0] for c in CASES]
)
async def test_a_refused_payload_writes_nothing(
    api: Api, engine, deal: Deal, args: str, declared: str, variables: dict, extensions: dict, message: str
) -> None:
    errors = await refused(api, update(args, declared), {"id": deal.id, **variables})
    assert [e["extensions"] for e in errors] == [extensions]
    assert message in errors[0]["message"]
    assert await stored(engine, deal.pk) == ("Alpha", 1)


async def test_the_same_payloads_with_good_arguments_write(api: Api, engine, deal: Deal) -> None:
    # the checks refuse only what the planner would: each of these runs and writes once
    page = await api(
        f'{{ opportunity(id: "{deal.id}") {{ customer {{ opportunities(first: 1) {{ pageInfo {{ endCursor }} }} }} }} }}'
    )
    cursor = page["opportunity"]["customer"]["opportunities"]["pageInfo"]["endCursor"]
    accepted = [
        ("first: 1000", "", {}),
        ("first: $n", ", $n: Int", {"n": 0}),
        ("last: 2", "", {}),
        ("first: 2, offset: $o", ", $o: Int", {"o": 1}),
        ("after: $c", ", $c: String", {"c": cursor}),
        (f'before: "{cursor}"', "", {}),
        ("orderBy: [{field: TITLE}, {field: AMOUNT, direction: DESC}]", "", {}),
        ("first: $n", ", $n: Int", {"n": None}),
        ('filter: {amount: {isNull: $null, ne: "5"}}', ", $null: Boolean", {"null": True}),
    ]
    for version, (args, declared, variables) in enumerate(accepted, start=2):
        out = (await api(update(args, declared), {"id": deal.id, **variables}))["updateOpportunity"]
        assert out["errors"] == [] and out["opportunity"]["title"] == "x", args
        assert await stored(engine, deal.pk) == ("x", version), args


async def test_a_document_refused_for_one_request_is_not_refused_for_the_next(
    api: Api, engine, deal: Deal
) -> None:
    # validation verdicts are cached per document; the variables' verdict must not be
    document = update("first: $n", ", $n: Int")
    assert (await api(document, {"id": deal.id, "n": 5}))["updateOpportunity"]["errors"] == []
    assert await stored(engine, deal.pk) == ("x", 2)
    errors = await refused(api, document, {"id": deal.id, "n": 5000})
    assert errors[0]["extensions"] == {**TOO_BIG, "argument": "first"}
    assert await stored(engine, deal.pk) == ("x", 2)
    assert (await api(document, {"id": deal.id, "n": 7}))["updateOpportunity"]["errors"] == []
    assert await stored(engine, deal.pk) == ("x", 3)


TWO_MUTATIONS = """mutation ($id: ID! %s) {
  first: updateOpportunity(id: $id, input: {title: "first"}) { opportunity { title } errors { code } }
  made: createOpportunity(input: {title: "made"}) { opportunity { id } errors { code } }
  second: updateOpportunity(id: $id, input: {title: "second"}) {
    opportunity { customer { opportunities(%s) { nodes { id } } } }
    errors { code }
  }
}"""


@pytest.mark.parametrize(
    ("declared", "args", "variables", "extensions"),
    [
        ("", "first: 5000", {}, {**TOO_BIG, "argument": "first"}),
        (", $n: Int", "first: $n", {"n": 5000}, {**TOO_BIG, "argument": "first"}),
        (", $c: String", "after: $c", {"c": "%%%"}, bad("after")),
    ],
)
async def test_a_refused_later_mutation_leaves_the_earlier_ones_unwritten(
    api: Api, engine, deal: Deal, declared: str, args: str, variables: dict, extensions: dict
) -> None:
    errors = await refused(api, TWO_MUTATIONS % (declared, args), {"id": deal.id, **variables})
    assert [e["extensions"] for e in errors] == [extensions]
    assert await stored(engine, deal.pk) == ("Alpha", 1)
    async with unscoped(engine) as s:
        assert (await s.execute(select(func.count()).select_from(m.Opportunity))).scalar_one() == 1


async def test_arguments_in_fragments_are_checked_with_the_variables(api: Api, engine, deal: Deal) -> None:
    document = """mutation ($id: ID!, $n: Int) {
      updateOpportunity(id: $id, input: {title: "x"}) { opportunity { customer { ...Deals } } errors { code } }
    }
    fragment Deals on Customer { opportunities(first: $n) { nodes { id } } }"""
    errors = await refused(api, document, {"id": deal.id, "n": -2})
    assert [e["extensions"] for e in errors] == [bad("first")]
    assert await stored(engine, deal.pk) == ("Alpha", 1)
    literal = document.replace(", $n: Int", "").replace("$n", "2000")
    errors = await refused(api, literal, {"id": deal.id})
    assert [e["extensions"] for e in errors] == [{**TOO_BIG, "argument": "first"}]
    assert await stored(engine, deal.pk) == ("Alpha", 1)
    assert (await api(document, {"id": deal.id, "n": 3}))["updateOpportunity"]["errors"] == []
    assert await stored(engine, deal.pk) == ("x", 2)


async def test_only_the_operation_that_runs_is_judged_by_its_variables(api: Api, engine, deal: Deal) -> None:
    document = """
    query List($n: Int = -1) { opportunities(first: $n) { nodes { id } } }
    mutation Rename($id: ID!, $n: Int = 3) {
      updateOpportunity(id: $id, input: {title: "x"}) {
        opportunity { customer { opportunities(first: $n) { nodes { id } } } } errors { code }
      }
    }"""
    response = await api.client.post(
        "/graphql",
        json={"query": document, "variables": {"id": deal.id}, "operationName": "Rename"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.json()["data"]["updateOpportunity"]["errors"] == []
    assert await stored(engine, deal.pk) == ("x", 2)
    response = await api.client.post(
        "/graphql",
        json={"query": document, "operationName": "List"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.json()["errors"][0]["extensions"] == bad("first")


async def test_variables_that_do_not_coerce_are_left_to_coercion(api: Api, engine, deal: Deal) -> None:
    errors = await refused(api, update("first: $n", ", $n: Int"), {"id": deal.id, "n": 2**31})
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert errors[0]["message"].startswith("Variable '$n'")
    assert await stored(engine, deal.pk) == ("Alpha", 1)
