"""The gateway as an Apollo Federation 2 subgraph: `_service { sdl }` and `_entities`."""

from __future__ import annotations

import re
from typing import Any

from app import models as m
from app.enums import Role
from app.graphql.federation import KEYED
from app.graphql.schema import build_schema
from tests.composition import compose
from tests.support import (
    Api,
    Tenant,
    add_user,
    count_statements,
    gid,
    insert,
    make_board,
    make_tenant,
    opportunity,
)

ENTITIES = """
query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Opportunity { id title }
    ... on Customer { id name }
    ... on Contact { id }
    ... on User { id email }
    ... on Pipeline { id name }
    ... on Stage { id name }
    ... on Lead { id }
    ... on Channel { id }
    ... on CloseReason { id }
    ... on OpportunityType { id }
  }
}
"""


def rep(type_name: str, pk: int | None) -> dict[str, Any]:
    return {"__typename": type_name, "id": gid(type_name, pk)}


async def test_service_sdl_is_the_served_schema_with_a_key_on_each_entity(api: Api) -> None:
    sdl = (await api("{ _service { sdl } }"))["_service"]["sdl"]
    assert sdl == build_schema().as_str()
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])')
    keyed = sorted(
        line.split()[1]
        for line in sdl.splitlines()
        if line.startswith("type ") and '@key(fields: "id")' in line
    )
    assert keyed == sorted(KEYED)
    assert "union _Entity = " + " | ".join(sorted(KEYED)) in sdl


async def test_entities_of_every_keyed_type_in_one_statement_per_type(
    api: Api, tenant: Tenant, engine
) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    deals = await insert(
        engine, *(opportunity(org, title=f"Deal {i}", stage_id=board.stages[0]) for i in range(3))
    )
    representations = [
        *(rep("Opportunity", pk) for pk in deals),
        rep("Customer", board.customer),
        rep("Contact", board.contact),
        rep("User", tenant.user_id),
        rep("Pipeline", board.pipeline),
        *(rep("Stage", pk) for pk in board.stages[:2]),
        rep("Lead", board.lead),
        rep("Channel", board.channel),
        rep("CloseReason", board.won_reason),
        rep("OpportunityType", board.type),
    ]
    await api("{ viewer { id } }")  # the key's first use looks it up (then cached): keep it out of the count
    with count_statements(engine) as statements:
        data = await api(ENTITIES, {"representations": representations})
    found = data["_entities"]
    assert [(e["__typename"], e["id"]) for e in found] == [
        (r["__typename"], r["id"]) for r in representations
    ]
    assert [e["title"] for e in found[:3]] == ["Deal 0", "Deal 1", "Deal 2"]
    assert found[5]["email"] == "owner@acme.test"
    # one statement per type however many representations of it: ten types, ten statements
    tables = sorted(re.search(r'\bFROM\s+"?(\w+)', sql)[1] for sql in statements)  # type: ignore[index]
    assert tables == sorted(
        [
            "opportunity",
            "customer",
            "contact",
            "user",
            "pipeline",
            "stage",
            "lead",
            "channel",
            "close_reason",
            "opportunity_type",
        ]
    ), statements


async def test_an_entity_the_caller_may_not_see_is_null(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    owner_id, owner = await add_user(engine, "Acme", "owner@acme.test.example", Role.EDITOR)
    friend_id, friend = await add_user(engine, "Acme", "friend@acme.test", Role.VIEWER)
    _, stranger = await add_user(engine, "Acme", "stranger@acme.test", Role.MANAGER)
    [public, secret] = await insert(
        engine,
        opportunity(org, title="Public", owner_id=owner_id),
        opportunity(org, title="Secret", owner_id=owner_id, is_private=True),
    )
    await insert(engine, m.OpportunityAccess(organization_id=org, opportunity_id=secret, user_id=friend_id))
    other = await make_tenant(engine, "Globex")
    other_board = await make_board(engine, other.organization_id)
    [theirs] = await insert(engine, opportunity(other.organization_id, title="Theirs"))
    representations = [
        rep("Opportunity", public),
        rep("Opportunity", secret),
        rep("Opportunity", theirs),  # another organization's
        rep("Customer", other_board.customer),
        rep("User", other.user_id),
        {"__typename": "Opportunity", "id": gid("Customer", board.customer)},  # another type's id
        {"__typename": "Stage", "id": "not-a-global-id"},
    ]

    async def titles(key: str) -> list[str | None]:
        found = (await api(ENTITIES, {"representations": representations}, key=key))["_entities"]
        return [None if e is None else e.get("title", e["__typename"]) for e in found]

    hidden = [None] * 5
    assert await titles(tenant.key) == ["Public", "Secret", *hidden]  # an admin sees private deals
    assert await titles(owner) == ["Public", "Secret", *hidden]
    assert await titles(friend) == ["Public", "Secret", *hidden]  # on the access list
    assert await titles(stranger) == ["Public", None, *hidden]  # a manager not on it does not


async def test_a_malformed_representation_is_an_error_at_its_place_only(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    response = await api.raw(
        ENTITIES,
        {
            "representations": [
                rep("Customer", board.customer),
                {"__typename": "Organization", "id": gid("Organization", tenant.organization_id)},
                {"__typename": "Customer"},
                "Customer",
            ]
        },
    )
    body = response.json()
    assert body["data"]["_entities"][0] == {
        "__typename": "Customer",
        "id": gid("Customer", board.customer),
        "name": body["data"]["_entities"][0]["name"],
    }
    assert body["data"]["_entities"][1:] == [None, None, None]
    assert [(e["path"], e["extensions"]["code"], e["message"]) for e in body["errors"]] == [
        (["_entities", 1], "BAD_USER_INPUT", "'Organization' is not an entity of this subgraph"),
        (["_entities", 2], "BAD_USER_INPUT", "a Customer representation needs its `id`"),
        (["_entities", 3], "BAD_USER_INPUT", "a representation is an object {__typename, id}"),
    ]


async def test_entities_are_a_query_under_the_same_limits(api: Api, tenant: Tenant) -> None:
    representations = [{"__typename": "Customer", "id": gid("Customer", i)} for i in range(1, 1002)]
    errors = await api.errors(ENTITIES, {"representations": representations})
    assert [(e["extensions"]["code"], e["message"]) for e in errors] == [
        ("BAD_USER_INPUT", "at most 1000 representations at once")
    ]
    mutation = await api.errors("mutation { _entities(representations: []) { __typename } }")
    assert mutation[0]["message"] == "Cannot query field '_entities' on type 'Mutation'."


# A second subgraph, as another team would write it: it extends Opportunity with a field of its
# own and returns deals by reference.
FORECASTS = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])

type Query {
  topDeals: [Opportunity!]!
}

type Opportunity @key(fields: "id") {
  id: ID!
  forecastScore: Int!
}
"""

ACROSS = [
    "{ opportunities(first: 2) { nodes { title forecastScore } } }",
    "{ topDeals { title customer { name } forecastScore } }",
]


async def test_composes_with_a_subgraph_that_extends_opportunity_and_resolves_its_entities(
    api: Api, tenant: Tenant, engine
) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    deals = await insert(
        engine, *(opportunity(org, title=f"Deal {i}", customer_id=board.customer) for i in range(2))
    )
    sdl = (await api("{ _service { sdl } }"))["_service"]["sdl"]
    result = compose(
        [
            {"name": "deals", "url": "http://deals.test/graphql", "sdl": sdl},
            {"name": "forecasts", "url": "http://forecasts.test/graphql", "sdl": FORECASTS},
        ],
        ACROSS,
    )
    assert "errors" not in result, result["errors"]
    supergraph = result["supergraphSdl"]
    for name in KEYED:
        block = supergraph.split(f"\ntype {name} ", 1)[1].split("{", 1)[0]
        assert '@join__type(graph: DEALS, key: "id")' in block, (name, block)
    assert (
        '@join__type(graph: FORECASTS, key: "id")'
        in supergraph.split("\ntype Opportunity ", 1)[1].split("{")[0]
    )

    # deals first, then the forecasts subgraph's entities: the router reads the references from us
    [first, then] = result["plans"][0]
    assert (first["serviceName"], then["serviceName"]) == ("deals", "forecasts")
    page = (await api(first["operation"]))["opportunities"]["nodes"]
    assert [(n["__typename"], n["id"], n["title"]) for n in page] == [
        ("Opportunity", gid("Opportunity", pk), f"Deal {i}") for i, pk in reversed(list(enumerate(deals)))
    ]

    # forecasts first, then ours: the router sends us the references the other subgraph returned
    [first, then] = result["plans"][1]
    assert (first["serviceName"], then["serviceName"], then["path"]) == (
        "forecasts",
        "deals",
        ["topDeals", "@"],
    )
    assert then["operation"] == (
        "query($representations:[_Any!]!){_entities(representations:$representations)"
        "{...on Opportunity{title customer{name}}}}"
    )
    references = [{"__typename": "Opportunity", "id": gid("Opportunity", pk)} for pk in deals]
    found = (await api(then["operation"], {"representations": references}))["_entities"]
    customer = await api(
        "query ($id: ID!) { customer(id: $id) { name } }", {"id": gid("Customer", board.customer)}
    )
    assert found == [{"title": f"Deal {i}", "customer": customer["customer"]} for i in range(2)]
