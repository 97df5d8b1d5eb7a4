"""Every root query, every relation in both directions, node and nodes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app import models as m
from tests.support import Api, Board, Tenant, gid, insert, make_board, opportunity, unscoped

DEAL = """
query ($id: ID!) {
  opportunity(id: $id) {
    id title description status position amount currency bidType perPeriodValue probability
    expectedRevenue baseAmount conversionRate itemsTotal expectedCloseDate closedAt leadSource priority
    isPrivate interactionCount createdAt updatedAt stageChangedAt version canEdit tags
    utm { source medium campaign content }
    type { name } stage { name type probability position } pipeline { name currency }
    customer { name industry address { city } } contact { displayName }
    contacts { displayName } referrer { id } agent { id } owner { email } createdBy { email }
    lead { name } channel { name isActive } closeReason { name kind } lostReasons { name }
    organization { name baseCurrency } accessList { email }
    items { position itemName quantity rate amount baseAmount }
    customFields { label fieldType value definition { position } }
  }
}
"""


async def _deal(engine, tenant: Tenant, board: Board) -> int:
    org = tenant.organization_id
    [oid] = await insert(
        engine,
        opportunity(
            org,
            title="Big deal",
            description="Multi-year",
            stage_id=board.stages[1],
            position=1,
            amount=Decimal("12000.50"),
            currency="EUR",
            probability=25,
            conversion_rate=Decimal("1.1"),
            customer_id=board.customer,
            contact_id=board.contact,
            referrer_id=board.contact,
            agent_id=board.contact,
            owner_id=tenant.user_id,
            created_by_id=tenant.user_id,
            lead_id=board.lead,
            channel_id=board.channel,
            type_id=board.type,
            close_reason_id=board.lost_reason,
            expected_close_date=date(2026, 3, 31),
            lead_source="REFERRAL",
            priority="HIGH",
            utm_source="newsletter",
            bid_type="PER_MONTH",
            per_period_value=12,
        ),
    )
    async with unscoped(engine) as s:
        s.add_all(
            [
                m.OpportunityItem(
                    organization_id=org,
                    opportunity_id=oid,
                    position=2,
                    item_name="Support",
                    quantity=Decimal("1"),
                    rate=Decimal("0.3333"),
                    base_rate=Decimal("0.5"),
                ),
                m.OpportunityItem(
                    organization_id=org,
                    opportunity_id=oid,
                    position=1,
                    item_name="Licence",
                    quantity=Decimal("2.5"),
                    rate=Decimal("100"),
                ),
                m.OpportunityTag(organization_id=org, opportunity_id=oid, tag="vip", position=2),
                m.OpportunityTag(organization_id=org, opportunity_id=oid, tag="q1", position=1),
                m.OpportunityContact(organization_id=org, opportunity_id=oid, contact_id=board.contact),
                m.OpportunityLostReason(
                    organization_id=org, opportunity_id=oid, close_reason_id=board.lost_reason
                ),
                m.CustomFieldValue(
                    organization_id=org,
                    opportunity_id=oid,
                    definition_id=board.definitions[5],
                    value="2026-02-01",
                ),
                m.CustomFieldValue(
                    organization_id=org, opportunity_id=oid, definition_id=board.definitions[3], value="true"
                ),
            ]
        )
    return oid


async def test_a_deal_with_every_field_and_relation(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    oid = await _deal(engine, tenant, board)
    deal = (await api(DEAL, {"id": gid("Opportunity", oid)}))["opportunity"]
    assert deal["id"] == gid("Opportunity", oid)
    assert (deal["amount"], deal["expectedRevenue"], deal["baseAmount"]) == (
        "12000.5000",
        "3000.1250",
        "13200.5500",
    )
    assert deal["itemsTotal"] == "250.3333"
    assert [i["itemName"] for i in deal["items"]] == ["Licence", "Support"]
    assert deal["items"][1]["baseAmount"] == "0.5000"
    assert deal["tags"] == ["q1", "vip"]
    assert deal["bidType"] == "PER_MONTH" and deal["perPeriodValue"] == 12
    assert deal["status"] == "OPEN" and deal["leadSource"] == "REFERRAL" and deal["priority"] == "HIGH"
    assert deal["utm"] == {"source": "newsletter", "medium": None, "campaign": None, "content": None}
    assert deal["stage"]["name"] == "Propose" and deal["pipeline"]["currency"] == "USD"
    assert deal["customer"]["address"]["city"] == "Berlin"
    assert deal["referrer"]["id"] == deal["agent"]["id"] == gid("Contact", board.contact)
    assert deal["owner"]["email"] == deal["createdBy"]["email"] == "owner@acme.test"
    assert deal["lostReasons"] == [{"name": "No budget"}] and deal["closeReason"]["kind"] == "LOST"
    assert deal["organization"] == {"name": "Acme", "baseCurrency": "USD"}
    assert [(c["fieldType"], c["value"]) for c in deal["customFields"]] == [
        ("CHECK_BOX", "true"),
        ("DATE", "2026-02-01"),
    ]
    assert deal["expectedCloseDate"] == "2026-03-31" and deal["createdAt"].endswith("+00:00")
    assert deal["canEdit"] is True and deal["version"] == 1


CHILDREN = """
query {
  customers { nodes { name contacts { displayName } opportunities(first: 5) { totalCount nodes { title } } } }
  contacts { nodes { customer { name } opportunities { totalCount } } }
  users { nodes { email ownedOpportunities { totalCount } } }
  pipelines { nodes { stages { name pipeline { name } opportunities { nodes { title } } } opportunities { totalCount } } }
  stages(filter: {type: {eq: WON}}) { totalCount }
  closeReasons { nodes { name opportunities { totalCount } } }
  channels { nodes { name opportunities { totalCount } } }
  leads { nodes { name customer { name } contact { displayName } opportunities { totalCount } } }
  opportunityTypes { nodes { name opportunities { totalCount } } }
  customFieldDefinitions { totalCount nodes { label fieldType options isRequired } }
  viewer { email }
}
"""


async def test_parents_list_their_children(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    await _deal(engine, tenant, board)
    data = await api(CHILDREN)
    assert data["customers"]["nodes"][0]["opportunities"] == {
        "totalCount": 1,
        "nodes": [{"title": "Big deal"}],
    }
    assert data["contacts"]["nodes"][0]["customer"]["name"].startswith("Customer")
    assert data["users"]["nodes"][0]["ownedOpportunities"]["totalCount"] == 1
    pipeline = data["pipelines"]["nodes"][0]
    assert [s["name"] for s in pipeline["stages"]] == ["Qualify", "Propose", "Won", "Lost"]
    assert pipeline["stages"][1]["opportunities"]["nodes"] == [{"title": "Big deal"}]
    assert pipeline["opportunities"]["totalCount"] == 1
    assert data["stages"]["totalCount"] == 1
    lost = next(r for r in data["closeReasons"]["nodes"] if r["name"] == "No budget")
    assert lost["opportunities"]["totalCount"] == 1
    assert data["channels"]["nodes"][0]["opportunities"]["totalCount"] == 1
    assert data["leads"]["nodes"][0]["opportunities"]["totalCount"] == 1
    assert data["opportunityTypes"]["nodes"][0]["opportunities"]["totalCount"] == 1
    assert data["customFieldDefinitions"]["totalCount"] == 6
    assert data["viewer"]["email"] == "owner@acme.test"


ONE_OF_EACH = """
query ($c: ID!, $p: ID!, $s: ID!, $u: ID!) {
  customer(id: $c) { name } pipeline(id: $p) { name } stage(id: $s) { name } user(id: $u) { email }
}
"""


async def test_one_record_queries_and_unknown_ids(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    ids = {
        "c": gid("Customer", board.customer),
        "p": gid("Pipeline", board.pipeline),
        "s": gid("Stage", board.stages[0]),
        "u": gid("User", tenant.user_id),
    }
    data = await api(ONE_OF_EACH, ids)
    assert data["stage"] == {"name": "Qualify"} and data["user"] == {"email": "owner@acme.test"}
    wrong = {**ids, "c": gid("Pipeline", board.pipeline), "p": "garbage!", "s": gid("Stage", 999999)}
    data = await api(ONE_OF_EACH, wrong)
    assert data["customer"] is None and data["pipeline"] is None and data["stage"] is None


NODES = """
query ($ids: [ID!]!, $one: ID!) {
  node(id: $one) { id ... on Customer { name } }
  nodes(ids: $ids) { id __typename ... on Stage { name } ... on Opportunity { title } }
}
"""


async def test_node_and_nodes_in_the_order_asked(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    oid = await _deal(engine, tenant, board)
    ids = [
        gid("Stage", board.stages[2]),
        "nonsense",
        gid("Opportunity", oid),
        gid("Stage", board.stages[0]),
        gid("Opportunity", 424242),
        gid("Nope", 1),
    ]
    data = await api(NODES, {"ids": ids, "one": gid("Customer", board.customer)})
    assert data["node"]["name"].startswith("Customer")
    assert data["nodes"] == [
        {"id": ids[0], "__typename": "Stage", "name": "Won"},
        None,
        {"id": ids[2], "__typename": "Opportunity", "title": "Big deal"},
        {"id": ids[3], "__typename": "Stage", "name": "Qualify"},
        None,
        None,
    ]
