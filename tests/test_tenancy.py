"""Tenancy, proven: an Acme key can neither see nor change anything of Globex.

Reads: every list, nested list, aggregate and group, `node`/`nodes`, filters and search
(tests/test_read_isolation.py covers the plain lists). Writes: every mutation of the
schema that takes an id, read from the schema itself, called with Globex's ids (and with
Acme's own record pointing at Globex's): the answer is NOT_FOUND, never FORBIDDEN, and
not a byte of either organization changes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, get_named_type
from sqlalchemy import select

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, gid, insert, make_board, make_tenant, opportunity, unscoped
from tests.test_roles import MUTATIONS, _value

# what an id argument points at, by its name (`id` is the mutation's own record)
TARGETS = {
    "opportunity": "Opportunity",
    "stage": "Stage",
    "closeReason": "CloseReason",
    "contact": "Contact",
    "user": "User",
    "item": "OpportunityItem",
    "customer": "Customer",
    "pipeline": "Pipeline",
    "lead": "Lead",
    "channel": "Channel",
    "type": "OpportunityType",
    "owner": "User",
    "referrer": "Contact",
    "agent": "Contact",
    "definition": "CustomFieldDefinition",
    "accessUser": "User",
}
OWN_RECORD = {
    "OpportunityItem": "OpportunityItem",
    "CustomFieldDefinition": "CustomFieldDefinition",
    "ApiKey": "ApiKey",
    "Customer": "Customer",
    "Contact": "Contact",
    "Lead": "Lead",
    "Pipeline": "Pipeline",
    "Stage": "Stage",
    "CloseReason": "CloseReason",
    "Channel": "Channel",
    "OpportunityType": "OpportunityType",
    "ExchangeRate": "ExchangeRate",
}


def record_type(mutation: str) -> str:
    """The type of a mutation's `id`: updateCustomer → Customer, moveOpportunity → Opportunity."""
    for suffix, t in OWN_RECORD.items():
        if mutation.endswith(suffix):
            return t
    if mutation == "reorderCustomFieldDefinitions":
        return "CustomFieldDefinition"
    return "Opportunity"


def target(mutation: str, arg: str) -> str:
    if arg in ("id", "ids"):
        return record_type(mutation)
    return TARGETS[arg.removesuffix("Ids").removesuffix("Id")]


async def _world(engine, org: Tenant) -> dict[str, int]:
    """One of everything in `org`, by type name: a deal with an item, a custom field value, a tag."""
    board = await make_board(engine, org.organization_id)
    o = org.organization_id
    [deal] = await insert(
        engine,
        opportunity(
            o,
            title=f"Deal of {o}",
            stage_id=board.stages[0],
            customer_id=board.customer,
            contact_id=board.contact,
            owner_id=org.user_id,
            amount=100,
            currency="EUR",
            probability=50,
            expected_close_date=None,
        ),
    )
    [item] = await insert(engine, m.OpportunityItem(organization_id=o, opportunity_id=deal, item_name="Seat"))
    [rate] = await insert(
        engine,
        m.ExchangeRate(organization_id=o, currency="GBP", rate=Decimal("1.1"), valid_from=date(2026, 1, 1)),
    )
    async with unscoped(engine) as s:
        s.add_all(
            [
                m.CustomFieldValue(
                    organization_id=o, opportunity_id=deal, definition_id=board.definitions[0], value="v"
                ),
                m.OpportunityTag(organization_id=o, opportunity_id=deal, tag="hot"),
                m.OpportunityContact(organization_id=o, opportunity_id=deal, contact_id=board.contact),
            ]
        )
        key = (await s.execute(select(m.ApiKey.id).where(m.ApiKey.organization_id == o))).scalar_one()
    return {
        "Opportunity": deal,
        "OpportunityItem": item,
        "Customer": board.customer,
        "Contact": board.contact,
        "User": org.user_id,
        "Pipeline": board.pipeline,
        "Stage": board.stages[1],
        "CloseReason": board.lost_reason,
        "Channel": board.channel,
        "Lead": board.lead,
        "OpportunityType": board.type,
        "CustomFieldDefinition": board.definitions[0],
        "ApiKey": key,
        "ExchangeRate": rate,
    }


async def snapshot(engine) -> list[Any]:
    """Every tenant row of every organization (API keys aside: using one records its use)."""
    rows: list[Any] = []
    async with unscoped(engine) as s:
        for model in m.TENANT_MODELS:
            if model is not m.ApiKey:
                rows += sorted(map(repr, (await s.execute(select(model))).scalars()))
    return rows


@pytest.fixture
async def globex(engine) -> tuple[Tenant, dict[str, int]]:
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    return other, await _world(engine, other)


def _codes(body: dict[str, Any], name: str) -> list[str]:
    codes = [e["extensions"]["code"] for e in body.get("errors") or []]
    payload = (body.get("data") or {}).get(name) or {}
    return codes + [e["code"] for e in payload.get("errors") or []]


def _document(name: str, field: Any) -> tuple[str, dict[str, Any]]:
    ids = {a for a, _ in _id_args(field)}
    args = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull) or a in ids}
    decl = ", ".join(f"${a}: {arg.type}" for a, arg in args.items())
    payload = get_named_type(field.type)
    wanted = " ".join(
        f for f in ("deletedId", "count", "errors { field code }") if f.split()[0] in payload.fields
    )
    doc = f"mutation({decl}) {{ {name}({', '.join(f'{a}: ${a}' for a in args)}) {{ __typename {wanted} }} }}"
    return doc, {a: _value(arg.type) for a, arg in args.items() if a not in ids}


def _id_args(field: Any) -> list[tuple[str, bool]]:
    """(argument, is a list) for every top-level id argument."""
    out = []
    for a, arg in field.args.items():
        t = arg.type.of_type if isinstance(arg.type, GraphQLNonNull) else arg.type
        is_list = isinstance(t, GraphQLList)
        if get_named_type(t).name == "ID":
            out.append((a, is_list))
    return out


ID_MUTATIONS = [(name, field) for name, field in MUTATIONS if _id_args(field)]


async def test_every_mutation_that_takes_an_id_finds_nothing_of_another_organization(
    api: Api, tenant: Tenant, engine, globex: tuple[Tenant, dict[str, int]]
) -> None:
    _, theirs = globex
    ours = await _world(engine, tenant)
    await api("{ viewer { id } }")  # the key's first use is recorded; keep it out of the snapshot
    before = await snapshot(engine)
    assert len(ID_MUTATIONS) >= 30
    leaks: list[str] = []
    for name, field in ID_MUTATIONS:
        doc, variables = _document(name, field)
        for own_record in (False, True):
            for arg, is_list in _id_args(field):
                kind = target(name, arg)
                mine = own_record and arg in ("id", "opportunityId")
                value = gid(kind, (ours if mine else theirs)[kind])
                variables[arg] = [value] if is_list else value
            if own_record and not any(a in ("id", "opportunityId") for a, _ in _id_args(field)):
                continue
            if own_record and all(a in ("id", "opportunityId") for a, _ in _id_args(field)):
                continue  # nothing of Globex left in the call
            response = await api.raw(doc, variables)
            body = response.json()
            codes = _codes(body, name)
            if "FORBIDDEN" in codes or "INTERNAL_SERVER_ERROR" in codes or "NOT_FOUND" not in codes:
                leaks.append(f"{name} {variables}: {codes}")
    assert leaks == []
    assert await snapshot(engine) == before


async def test_links_in_inputs_to_another_organization_are_not_found(
    api: Api, tenant: Tenant, engine, globex: tuple[Tenant, dict[str, int]]
) -> None:
    _, theirs = globex
    ours = await _world(engine, tenant)
    await api("{ viewer { id } }")
    before = await snapshot(engine)
    links = {
        f"{r}Id": gid(TARGETS[r], theirs[TARGETS[r]])
        for r in ("type", "stage", "customer", "contact", "referrer", "agent", "owner", "lead", "channel")
    }
    cases = [
        (
            "updateOpportunity",
            "mutation($id: ID!, $input: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $input) { errors { field code } } }",
            {"id": gid("Opportunity", ours["Opportunity"]), "input": links},
            len(links),
        ),
        (
            "createOpportunity",
            "mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) { errors { field code } } }",
            {
                "input": {
                    "title": "T",
                    **links,
                    "contactIds": [links["contactId"]],
                    "accessUserIds": [links["ownerId"]],
                }
            },
            len(links) + 2,
        ),
        (
            "createContact",
            "mutation($input: CreateContactInput!) { createContact(input: $input) { errors { field code } } }",
            {"input": {"displayName": "C", "customerId": links["customerId"]}},
            1,
        ),
        (
            "createLead",
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { errors { field code } } }",
            {"input": {"name": "L", "customerId": links["customerId"], "contactId": links["contactId"]}},
            2,
        ),
        (
            "createStage",
            "mutation($input: CreateStageInput!) { createStage(input: $input) { errors { field code } } }",
            {"input": {"name": "S", "pipelineId": gid("Pipeline", theirs["Pipeline"])}},
            1,
        ),
        (
            "setOpportunityCustomFields",
            "mutation($id: ID!, $v: [CustomFieldValueInput!]!) { setOpportunityCustomFields(id: $id, values: $v) { errors { field code } } }",
            {
                "id": gid("Opportunity", ours["Opportunity"]),
                "v": [
                    {
                        "definitionId": gid("CustomFieldDefinition", theirs["CustomFieldDefinition"]),
                        "value": "x",
                    }
                ],
            },
            1,
        ),
    ]
    for name, doc, variables, expected in cases:
        body = (await api.raw(doc, variables)).json()
        codes = _codes(body, name)
        assert codes == ["NOT_FOUND"] * expected, (name, body)
    bulk = 'mutation($f: OpportunityFilter!) { updateOpportunities(filter: $f, input: {title: "Pwned"}) { count ids } deleteOpportunities(filter: $f) { count ids } }'
    for flt in (
        {"id": {"in": [gid("Opportunity", theirs["Opportunity"])]}},
        {"customer": {"id": {"eq": gid("Customer", theirs["Customer"])}}},
        {"title": {"eq": f"Deal of {globex[0].organization_id}"}},
    ):
        data = await api(bulk, {"f": flt})
        assert data == {
            "updateOpportunities": {"count": 0, "ids": []},
            "deleteOpportunities": {"count": 0, "ids": []},
        }, flt
    after = await snapshot(engine)
    theirs_before = [r for r in before if f"organization_id={globex[0].organization_id}" in r]
    theirs_after = [r for r in after if f"organization_id={globex[0].organization_id}" in r]
    assert theirs_after == theirs_before


AGGREGATES = """
query ($f: OpportunityFilter) {
  opportunityAggregate(filter: $f) { count amount { currency count sum } probability { count } }
  opportunityGroups(groupBy: [STAGE, OWNER, CUSTOMER, PIPELINE, STATUS], filter: $f) { count stage { id } owner { id } customer { id } }
}
"""


async def test_aggregates_groups_and_nested_lists_count_only_the_callers_rows(
    api: Api, tenant: Tenant, engine, globex: tuple[Tenant, dict[str, int]]
) -> None:
    _, theirs = globex
    for flt in (
        None,
        {"customer": {"id": {"eq": gid("Customer", theirs["Customer"])}}},
        {"search": "Deal"},
        {"id": {"in": [gid("Opportunity", theirs["Opportunity"])]}},
        {"stage": {"pipeline": {"name": {"startsWith": "Pipeline"}}}},
    ):
        data = await api(AGGREGATES, {"f": flt})
        assert data["opportunityAggregate"] == {"count": 0, "amount": [], "probability": {"count": 0}}, flt
        assert data["opportunityGroups"] == [], flt
    nested = await api("""{ pipelines { nodes { stages { opportunities { totalCount } } } }
                            customers { nodes { contacts { id } opportunities { totalCount } } }
                            users { nodes { ownedOpportunities { totalCount } } }
                            viewer { organization: __typename } }""")
    assert nested["pipelines"]["nodes"] == [] and nested["customers"]["nodes"] == []
    assert [u["ownedOpportunities"]["totalCount"] for u in nested["users"]["nodes"]] == [0]
    # and the same queries from Globex's side see Globex's deal
    data = await api(AGGREGATES, {"f": None}, key=globex[0].key)
    assert data["opportunityAggregate"]["count"] == 1
    assert data["opportunityAggregate"]["amount"] == [{"currency": "EUR", "count": 1, "sum": "100.0000"}]


async def test_node_and_nested_fields_never_cross_over(
    api: Api, tenant: Tenant, engine, globex: tuple[Tenant, dict[str, int]]
) -> None:
    _, theirs = globex
    ids = [gid(t, pk) for t, pk in theirs.items() if t != "ApiKey"] + [
        gid("Organization", globex[0].organization_id)
    ]
    data = await api("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert data["nodes"] == [None] * len(ids)
    # Acme's deal pointing at Globex rows (as a corrupt or hostile write would) shows nothing of them
    [deal] = await insert(
        engine,
        opportunity(
            tenant.organization_id,
            title="Crossed",
            stage_id=theirs["Stage"],
            customer_id=theirs["Customer"],
            owner_id=globex[0].user_id,
            lead_id=theirs["Lead"],
        ),
    )
    async with unscoped(engine) as s:
        s.add(
            m.OpportunityContact(
                organization_id=globex[0].organization_id, opportunity_id=deal, contact_id=theirs["Contact"]
            )
        )
    data = await api(
        """query ($id: ID!) { opportunity(id: $id) { title stage { id } pipeline { id } customer { id }
                          owner { id } lead { id } contacts { id } } }""",
        {"id": gid("Opportunity", deal)},
    )
    assert data["opportunity"] == {
        "title": "Crossed",
        "stage": None,
        "pipeline": None,
        "customer": None,
        "owner": None,
        "lead": None,
        "contacts": [],
    }
