"""Private deals: invisible to everyone but the owner, the access list and admins, everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLNonNull

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, opportunity, unscoped
from tests.test_roles import _value
from tests.test_tenancy import ID_MUTATIONS, _codes, _document, _id_args, snapshot, target

EVERYWHERE = """
query ($id: ID!, $item: ID!) {
  opportunities { totalCount nodes { title canEdit } }
  opportunityAggregate { count amount { sum } }
  opportunityGroups(groupBy: [STAGE]) { count }
  stageGroups: opportunityGroups(groupBy: [OWNER, CUSTOMER]) { count }
  customers { nodes { opportunities { totalCount nodes { title } } } }
  contacts { nodes { opportunities { totalCount } } }
  stages(filter: {position: {eq: 1}}) { nodes { opportunities { totalCount } } }
  users(filter: {email: {startsWith: "owner"}}) { nodes { ownedOpportunities { totalCount } } }
  byCustomer: opportunities(filter: {customer: {name: {startsWith: "Customer"}}}) { totalCount }
  bySearch: opportunities(filter: {search: "Secret"}) { totalCount }
  byTag: opportunities(filter: {tags: {hasAny: ["hush"]}}) { totalCount }
  node(id: $id) { id }
  nodes(ids: [$id, $item]) { id }
  opportunity(id: $id) { title }
  opportunityItem(id: $item) { itemName }
}
"""


@pytest.fixture
async def world(tenant: Tenant, engine) -> dict[str, Any]:
    board = await make_board(engine, tenant.organization_id)
    org = tenant.organization_id
    owner_id, owner = await add_user(engine, "Acme", "owner@acme.test", Role.EDITOR)
    friend_id, friend = await add_user(engine, "Acme", "friend@acme.test", Role.VIEWER)
    _, stranger = await add_user(engine, "Acme", "stranger@acme.test", Role.MANAGER)
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    common = {
        "stage_id": board.stages[0],
        "customer_id": board.customer,
        "contact_id": board.contact,
        "currency": "EUR",
    }
    [public, secret] = await insert(
        engine,
        opportunity(org, title="Public", amount=10, owner_id=owner_id, **common),
        opportunity(org, title="Secret", amount=990, owner_id=owner_id, is_private=True, **common),
    )
    [item] = await insert(
        engine, m.OpportunityItem(organization_id=org, opportunity_id=secret, item_name="Hidden")
    )
    async with unscoped(engine) as s:
        s.add_all(
            [
                m.OpportunityAccess(organization_id=org, opportunity_id=secret, user_id=friend_id),
                m.OpportunityTag(organization_id=org, opportunity_id=secret, tag="hush"),
            ]
        )
    return {
        "board": board,
        "public": public,
        "secret": secret,
        "item": item,
        "keys": {
            "admin": tenant.key,
            "owner": owner,
            "friend": friend,
            "stranger": stranger,
            "viewer": viewer,
        },
    }


def _seen(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "titles": sorted(n["title"] for n in data["opportunities"]["nodes"]),
        "count": data["opportunities"]["totalCount"],
        "aggregate": (data["opportunityAggregate"]["count"], data["opportunityAggregate"]["amount"]),
        "groups": [g["count"] for g in data["opportunityGroups"]],
        "owner_customer_groups": [g["count"] for g in data["stageGroups"]],
        "nested": [
            data["customers"]["nodes"][0]["opportunities"]["totalCount"],
            len(data["customers"]["nodes"][0]["opportunities"]["nodes"]),
            data["contacts"]["nodes"][0]["opportunities"]["totalCount"],
            data["stages"]["nodes"][0]["opportunities"]["totalCount"],
            data["users"]["nodes"][0]["ownedOpportunities"]["totalCount"],
        ],
        "filters": [
            data["byCustomer"]["totalCount"],
            data["bySearch"]["totalCount"],
            data["byTag"]["totalCount"],
        ],
        "direct": [
            data["node"] is not None,
            data["nodes"] != [None, None],
            data["opportunity"] is not None,
            data["opportunityItem"] is not None,
        ],
    }


SEES_ALL = {
    "titles": ["Public", "Secret"],
    "count": 2,
    "aggregate": (2, [{"sum": "1000.0000"}]),
    "groups": [2],
    "owner_customer_groups": [2],
    "nested": [2, 2, 2, 2, 2],
    "filters": [2, 1, 1],
    "direct": [True, True, True, True],
}
SEES_PUBLIC = {
    "titles": ["Public"],
    "count": 1,
    "aggregate": (1, [{"sum": "10.0000"}]),
    "groups": [1],
    "owner_customer_groups": [1],
    "nested": [1, 1, 1, 1, 1],
    "filters": [1, 0, 0],
    "direct": [False, False, False, False],
}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", SEES_ALL),
        ("owner", SEES_ALL),
        ("friend", SEES_ALL),
        ("stranger", SEES_PUBLIC),
        ("viewer", SEES_PUBLIC),
    ],
)
async def test_a_private_deal_is_seen_only_by_owner_access_list_and_admins(
    api: Api, world: dict[str, Any], who: str, expected: dict[str, Any]
) -> None:
    variables = {"id": gid("Opportunity", world["secret"]), "item": gid("OpportunityItem", world["item"])}
    data = await api(EVERYWHERE, variables, key=world["keys"][who])
    assert _seen(data) == expected


async def test_can_edit_follows_role_and_visibility(api: Api, world: dict[str, Any]) -> None:
    query = "{ opportunities { nodes { title canEdit } } }"
    assert (await api(query, key=world["keys"]["owner"]))["opportunities"]["nodes"] == [
        {"title": "Secret", "canEdit": True},
        {"title": "Public", "canEdit": True},
    ]
    # on the access list but only a viewer: sees it, may not change it
    assert (await api(query, key=world["keys"]["friend"]))["opportunities"]["nodes"] == [
        {"title": "Secret", "canEdit": False},
        {"title": "Public", "canEdit": False},
    ]


async def test_no_mutation_reaches_a_private_deal_the_caller_cannot_see(
    api: Api, tenant: Tenant, engine, world: dict[str, Any]
) -> None:
    stranger = world["keys"]["stranger"]  # a manager: may edit and delete, just not this deal
    await api("{ viewer { id } }", key=stranger)
    before = await snapshot(engine)
    ids = {"Opportunity": world["secret"], "OpportunityItem": world["item"]}
    wrong, tried = [], 0
    for name, field in ID_MUTATIONS:
        args = dict(_id_args(field))
        main = next((a for a in ("id", "opportunityId") if a in args), None)
        if main is None or target(name, main) not in ids:
            continue
        doc, variables = _document(name, field)
        tried += 1
        for arg, is_list in args.items():
            kind = target(name, arg)
            if kind in ids:  # the private deal, or its item
                variables[arg] = [gid(kind, ids[kind])] if is_list else gid(kind, ids[kind])
            else:  # anything else: a minimal value (an empty list, an id of nothing, or null)
                t = field.args[arg].type
                variables[arg] = _value(t) if isinstance(t, GraphQLNonNull) else None
        body = (await api.raw(doc, variables, key=stranger)).json()
        codes = _codes(body, name)
        if name in ("setOpportunityAccess", "purgeOpportunity"):
            ok = codes == ["FORBIDDEN"]  # admins only: refused for the role before any lookup
        else:
            ok = "NOT_FOUND" in codes and "FORBIDDEN" not in codes
        if not ok:
            wrong.append(f"{name}: {codes}")
    bulk = 'mutation { updateOpportunities(filter: {title: {eq: "Secret"}}, input: {title: "Seen"}) { count } deleteOpportunities(filter: {isPrivate: true}) { count } }'
    assert await api(bulk, key=stranger) == {
        "updateOpportunities": {"count": 0},
        "deleteOpportunities": {"count": 0},
    }
    assert wrong == []
    assert tried >= 16  # every mutation of a deal or of its line items
    assert await snapshot(engine) == before


async def test_the_owner_and_admins_change_access_and_the_deal_shows_or_hides_at_once(
    api: Api, world: dict[str, Any]
) -> None:
    access = """mutation ($id: ID!, $private: Boolean!, $users: [ID!]!) {
      setOpportunityAccess(id: $id, isPrivate: $private, userIds: $users) { opportunity { isPrivate accessList { email } } errors { code } } }"""
    secret = gid("Opportunity", world["secret"])
    count = "{ opportunities { totalCount } }"
    assert (await api(count, key=world["keys"]["stranger"]))["opportunities"]["totalCount"] == 1
    data = await api(access, {"id": secret, "private": False, "users": []})
    assert data["setOpportunityAccess"] == {
        "opportunity": {"isPrivate": False, "accessList": []},
        "errors": [],
    }
    assert (await api(count, key=world["keys"]["stranger"]))["opportunities"]["totalCount"] == 2
    await api(access, {"id": secret, "private": True, "users": []})
    assert (await api(count, key=world["keys"]["stranger"]))["opportunities"]["totalCount"] == 1
    assert (await api(count, key=world["keys"]["friend"]))["opportunities"][
        "totalCount"
    ] == 1  # taken off the list
    assert (await api(count, key=world["keys"]["owner"]))["opportunities"][
        "totalCount"
    ] == 2  # owners always see theirs


REVERSE = """
{
  customers(filter: {opportunities: {some: {title: {eq: "Secret"}}}}) { totalCount }
  contacts(filter: {opportunities: {some: {isPrivate: true}}}) { totalCount }
  users(filter: {ownedOpportunities: {some: {amount: {gt: "500"}}}}) { totalCount }
  noPublic: customers(filter: {opportunities: {every: {isPrivate: false}}}) { totalCount }
  items: opportunities(filter: {items: {some: {itemName: {eq: "Hidden"}}}}) { totalCount }
}
"""


@pytest.mark.parametrize(
    ("who", "sees"), [("stranger", False), ("viewer", False), ("friend", True), ("admin", True)]
)
async def test_filters_from_other_records_do_not_reveal_a_private_deal(
    api: Api, world: dict[str, Any], who: str, sees: bool
) -> None:
    data = await api(REVERSE, key=world["keys"][who])
    found = 1 if sees else 0
    assert data == {
        "customers": {"totalCount": found},
        "contacts": {"totalCount": found},
        "users": {"totalCount": found},
        "noPublic": {"totalCount": 1 - found},
        "items": {"totalCount": found},
    }
