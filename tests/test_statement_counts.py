"""The number of SQL statements does not grow with the page: one per relation per level."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app import models as m
from tests.support import Api, Tenant, count_statements, insert, make_board, opportunity, unscoped

# Every relation of the model (docs/model.md), to-one and to-many, one level down, plus the nested ones
# a deal page shows (stage → pipeline, custom field value → definition, item → opportunity).
EVERYTHING = """
query ($first: Int!) {
  opportunities(first: $first) {
    totalCount
    nodes {
      id title amount expectedRevenue itemsTotal tags canEdit
      type { name } stage { name pipeline { name } } pipeline { name }
      customer { name contacts { displayName } } contact { displayName customer { name } }
      contacts { displayName } referrer { displayName } agent { displayName }
      owner { displayName } createdBy { email } updatedBy { email }
      lead { name customer { name } contact { displayName } } channel { name }
      closeReason { name } lostReasons { name } organization { name } accessList { email }
      items { itemName amount opportunity { id } }
      customFields { value label fieldType definition { label options } }
    }
  }
}
"""

BOARD = """
query {
  pipelines { nodes { name stages { name opportunities(first: 5) { totalCount nodes { title owner { email } } } } } }
}
"""


async def _fill(engine, tenant: Tenant, count: int) -> None:
    org = tenant.organization_id
    board = await make_board(engine, org)
    rows = [
        opportunity(
            org,
            stage_id=board.stages[i % 2],
            customer_id=board.customer,
            contact_id=board.contact,
            referrer_id=board.contact,
            agent_id=board.contact,
            owner_id=tenant.user_id,
            created_by_id=tenant.user_id,
            updated_by_id=tenant.user_id,
            lead_id=board.lead,
            channel_id=board.channel,
            close_reason_id=board.lost_reason,
            type_id=board.type,
            amount=Decimal("1000.50"),
            probability=40,
            currency="EUR",
            position=i + 1,
        )
        for i in range(count)
    ]
    ids = await insert(engine, *rows)
    async with unscoped(engine) as s:
        for oid in ids:
            s.add_all(
                [
                    m.OpportunityItem(
                        organization_id=org,
                        opportunity_id=oid,
                        item_name="Seat",
                        quantity=Decimal(3),
                        rate=Decimal("9.5"),
                    ),
                    m.OpportunityTag(organization_id=org, opportunity_id=oid, tag="hot"),
                    m.OpportunityContact(organization_id=org, opportunity_id=oid, contact_id=board.contact),
                    m.OpportunityLostReason(
                        organization_id=org, opportunity_id=oid, close_reason_id=board.lost_reason
                    ),
                    m.OpportunityAccess(organization_id=org, opportunity_id=oid, user_id=tenant.user_id),
                    m.CustomFieldValue(
                        organization_id=org, opportunity_id=oid, definition_id=board.definitions[0], value="x"
                    ),
                    m.CustomFieldValue(
                        organization_id=org, opportunity_id=oid, definition_id=board.definitions[2], value="A"
                    ),
                ]
            )


@pytest.mark.parametrize("size", [1, 50, 500, 1000])
async def test_every_relation_costs_the_same_statements_for_any_page(
    api: Api, tenant: Tenant, engine, size: int
) -> None:
    await _fill(engine, tenant, size)
    await api("{ viewer { id } }")  # the key's first use looks it up (then cached): keep it out of the count
    with count_statements(engine) as statements:
        data = await api(EVERYTHING, {"first": size})
    nodes = data["opportunities"]["nodes"]
    assert len(nodes) == size
    assert nodes[0]["items"][0]["amount"] == "28.5000"
    assert nodes[0]["customFields"][1]["value"] == "A"
    assert nodes[0]["pipeline"]["name"] == nodes[0]["stage"]["pipeline"]["name"]
    # 1 page (its totalCount rides along as a subquery; the key is cached since the warm-up) that
    # also joins the one-hop to-one relations, one per table (app/graphql/joins.py): type, stage,
    # customer, contact, owner (user), lead, channel, close reason, organization. Then one
    # statement per loader per level, planned ahead by the prefetch:
    # level 1 (6): contacts link, lost reasons link, access list link (users), items (itemsTotal
    #   too), custom field values, tags; referrer and agent (contacts) and createdBy and updatedBy
    #   (users) are of tables the page joined once already: here they are the joined contact and
    #   owner, found in the loader (other rows would take one batch by id for each table);
    # level 2 (3): pipeline (stage.pipeline and opportunity.pipeline), contacts by customer,
    #   definitions (label, fieldType, definition); lead.customer / lead.contact find the joined
    #   customer and contact, item.opportunity is primed by the page.
    assert len(statements) == EXPECTED_EVERYTHING, _summary(statements)


EXPECTED_EVERYTHING = 10  # 19 before the page joined its to-one relations, 21 before it carried its count


# the page's node selection, on one deal
NODE_SELECTION = EVERYTHING.split("nodes {", 1)[1].rsplit("}", 3)[0]
DEAL_PAGE = "query ($id: ID!) { opportunity(id: $id) { " + NODE_SELECTION + " } }"


async def test_a_deal_page_joins_its_to_one_relations_into_its_lookup(
    api: Api, tenant: Tenant, engine
) -> None:
    await _fill(engine, tenant, 3)
    await api("{ viewer { id } }")
    deals = (await api(EVERYTHING, {"first": 3}))["opportunities"]["nodes"]
    with count_statements(engine) as statements:
        deal = (await api(DEAL_PAGE, {"id": deals[1]["id"]}))["opportunity"]
    assert deal == deals[1]  # the same deal as its page row
    # the lookup joins what the page joins (9 to-one relations) and the levels below it are the
    # page's: 6 + 3 (see above). Through the by-id batch the lookup took 19: 1 + 9 + 9
    assert len(statements) == EXPECTED_EVERYTHING, _summary(statements)


@pytest.mark.parametrize("size", [1, 40])
async def test_board_columns_are_one_statement_per_level(api: Api, tenant: Tenant, engine, size: int) -> None:
    await _fill(engine, tenant, size)
    await api("{ viewer { id } }")
    with count_statements(engine) as statements:
        data = await api(BOARD)
    stages = data["pipelines"]["nodes"][0]["stages"]
    assert [s["opportunities"]["totalCount"] for s in stages[:2]] == [(size + 1) // 2, size // 2]
    # pipelines page, stages, one windowed page for every column, one grouped count, owners
    assert len(statements) == 5, _summary(statements)


def _summary(statements: list[str]) -> str:
    """One line per statement: its verb and first table, to read a failure at a glance."""

    def line(sql: str) -> str:
        words = sql.split()
        table = words[words.index("FROM") + 1] if "FROM" in words else words[1]
        return f"{words[0]} {table}"

    return "\n".join(line(sql) for sql in statements)
