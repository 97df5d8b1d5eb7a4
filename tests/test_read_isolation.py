"""Read-side tenancy and privacy: another organization's rows and others' private deals never show."""

from __future__ import annotations

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant, opportunity, unscoped

EVERY_LIST = """
query ($filter: OpportunityFilter) {
  opportunities(filter: $filter) { totalCount nodes { title } }
  customers { totalCount nodes { name opportunities { totalCount } } }
  contacts { totalCount } users { totalCount } pipelines { totalCount nodes { stages { opportunities { totalCount } } } }
  stages { totalCount } closeReasons { totalCount } channels { totalCount } leads { totalCount }
  opportunityTypes { totalCount } customFieldDefinitions { totalCount }
  viewer { ownedOpportunities { totalCount } }
}
"""


async def _other_org(engine) -> tuple[Tenant, dict[str, str]]:
    """Globex, with a full board and a deal; returns its tenant and the global ids of its records."""
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    board = await make_board(engine, other.organization_id)
    [oid] = await insert(
        engine,
        opportunity(
            other.organization_id,
            title="Globex secret",
            stage_id=board.stages[0],
            customer_id=board.customer,
            owner_id=other.user_id,
        ),
    )
    ids = {
        "Opportunity": gid("Opportunity", oid),
        "Customer": gid("Customer", board.customer),
        "Contact": gid("Contact", board.contact),
        "Pipeline": gid("Pipeline", board.pipeline),
        "Stage": gid("Stage", board.stages[0]),
        "User": gid("User", other.user_id),
        "Organization": gid("Organization", other.organization_id),
        "Lead": gid("Lead", board.lead),
        "Channel": gid("Channel", board.channel),
        "CloseReason": gid("CloseReason", board.won_reason),
        "OpportunityType": gid("OpportunityType", board.type),
        "CustomFieldDefinition": gid("CustomFieldDefinition", board.definitions[0]),
    }
    return other, ids


async def test_another_organization_is_invisible_everywhere(api: Api, tenant: Tenant, engine) -> None:
    _, ids = await _other_org(engine)
    data = await api(EVERY_LIST, {"filter": {"title": {"contains": "Globex"}}})
    for name, value in data.items():
        if name != "viewer":  # Acme has no rows of its own but its one user, the caller
            assert value["totalCount"] == (1 if name == "users" else 0), name
    nodes = (await api("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": list(ids.values())}))[
        "nodes"
    ]
    assert nodes == [None] * len(ids)
    for type_name, value in ids.items():
        got = await api("query ($id: ID!) { node(id: $id) { id } }", {"id": value})
        assert got["node"] is None, type_name
    assert (await api("query ($id: ID!) { opportunity(id: $id) { id } }", {"id": ids["Opportunity"]}))[
        "opportunity"
    ] is None
    searched = await api(EVERY_LIST, {"filter": {"search": "secret"}})
    assert searched["opportunities"]["totalCount"] == 0
    related = await api(EVERY_LIST, {"filter": {"customer": {"name": {"startsWith": "Customer"}}}})
    assert related["opportunities"]["totalCount"] == 0


async def test_private_deals_are_seen_by_owner_access_list_and_admins_only(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    viewer_id, viewer_key = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    friend_id, friend_key = await add_user(engine, "Acme", "friend@acme.test", Role.EDITOR)
    [public, secret] = await insert(
        engine,
        opportunity(
            tenant.organization_id, title="Public", stage_id=board.stages[0], customer_id=board.customer
        ),
        opportunity(
            tenant.organization_id,
            title="Secret",
            is_private=True,
            owner_id=tenant.user_id,
            stage_id=board.stages[0],
            customer_id=board.customer,
        ),
    )
    async with unscoped(engine) as s:
        s.add(
            m.OpportunityAccess(
                organization_id=tenant.organization_id, opportunity_id=secret, user_id=friend_id
            )
        )

    async def titles(key: str) -> tuple[list[str], int, int, object]:
        data = await api(
            """query ($id: ID!) { opportunities { nodes { title } }
                 customers { nodes { opportunities { totalCount } } }
                 stages(filter: {position: {eq: 1}}) { nodes { opportunities { totalCount } } }
                 node(id: $id) { id } }""",
            {"id": gid("Opportunity", secret)},
            key=key,
        )
        return (
            sorted(n["title"] for n in data["opportunities"]["nodes"]),
            data["customers"]["nodes"][0]["opportunities"]["totalCount"],
            data["stages"]["nodes"][0]["opportunities"]["totalCount"],
            data["node"],
        )

    assert await titles(viewer_key) == (["Public"], 1, 1, None)
    assert (await titles(friend_key))[:3] == (["Public", "Secret"], 2, 2)
    assert (await titles(tenant.key))[:3] == (["Public", "Secret"], 2, 2)
    [item] = await insert(
        engine,
        m.OpportunityItem(organization_id=tenant.organization_id, opportunity_id=secret, item_name="Hidden"),
    )
    # a private deal's children are as private as the deal
    item_query = "query ($id: ID!) { node(id: $id) { id } }"
    assert (await api(item_query, {"id": gid("OpportunityItem", item)}, key=viewer_key))["node"] is None
    assert (await api(item_query, {"id": gid("OpportunityItem", item)}, key=friend_key))["node"] is not None
    assert viewer_id != friend_id and public != secret
