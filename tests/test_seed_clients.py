"""The seed systems' list features, exercised the way a client of each would use them.

Nexudus: Find on every field and related field it documents, from_/to_ ranges on dates and
numbers, list by ids, page/size up to 1000 with orderby/dir. Overplane: newest first with
limit/offset, has_more and total. OroCRM: delete_list by filter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant, opportunity, unscoped

FIND = """
query ($filter: OpportunityFilter, $orderBy: [OpportunityOrder!], $first: Int, $offset: Int) {
  opportunities(filter: $filter, orderBy: $orderBy, first: $first, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    nodes { id title }
  }
}
"""


async def _crm(engine, tenant: Tenant) -> dict:
    """Two deals that differ in every field Nexudus filters on, plus names to find them by."""
    org = tenant.organization_id
    board = await make_board(engine, org)
    other_board = await make_board(engine, org)
    async with unscoped(engine) as s:
        acme = m.Customer(organization_id=org, name="Acme Team", website="https://acme.test")
        s.add(acme)
        await s.flush()
        firm = m.Contact(
            organization_id=org,
            customer_id=acme.id,
            display_name="Firm Ltd",
            email="firm@acme.test",
            is_company=True,
        )
        ref = m.Contact(organization_id=org, display_name="Rita Referrer")
        kind = m.OpportunityType(organization_id=org, name="Upsell")
        s.add_all([firm, ref, kind])
        await s.flush()
        ids = {"customer": acme.id, "contact": firm.id, "referrer": ref.id, "type": kind.id}
    seller, _ = await add_user(engine, "Acme", "sam.seller@acme.test", Role.EDITOR)
    won_at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    [first, second] = await insert(
        engine,
        opportunity(
            org, title="First", description="Call back about desks", stage_id=board.stages[2], status="WON",
            contact_id=ids["contact"], customer_id=ids["customer"], type_id=ids["type"], owner_id=seller,
            referrer_id=ids["referrer"], agent_id=ids["contact"], expected_close_date=date(2026, 3, 1),
            amount=Decimal("1200"), currency="EUR", lead_source="REFERRAL", close_reason_id=board.won_reason,
            closed_at=won_at, position=1, created_at=datetime(2026, 1, 5, tzinfo=UTC),
            updated_at=datetime(2026, 2, 5, tzinfo=UTC),
        ),
        opportunity(
            org, title="Second", description="Cold lead", stage_id=other_board.stages[0], status="OPEN",
            customer_id=board.customer, contact_id=board.contact, owner_id=tenant.user_id, amount=Decimal("80"),
            currency="USD", lead_source="WEBSITE", expected_close_date=date(2026, 6, 1), position=4,
            created_at=datetime(2026, 1, 20, tzinfo=UTC), updated_at=datetime(2026, 1, 20, tzinfo=UTC),
        ),
    )  # fmt: skip
    return {
        **ids,
        "board": board,
        "other_board": other_board,
        "seller": seller,
        "first": first,
        "second": second,
    }


async def found(api: Api, flt: dict) -> list[str]:
    data = await api(FIND, {"filter": flt, "orderBy": [{"field": "TITLE"}]})
    return [n["title"] for n in data["opportunities"]["nodes"]]


async def test_nexudus_find_by_every_field(api: Api, tenant: Tenant, engine) -> None:
    c = await _crm(engine, tenant)
    board = c["board"]
    # Nexudus parameter -> the filter a Nexudus client would send here
    cases = {
        "Id": {"id": {"eq": gid("Opportunity", c["first"])}},
        "CrmBoardColumn": {"stage": {"id": {"eq": gid("Stage", board.stages[2])}}},
        "Coworker": {"contact": {"id": {"eq": gid("Contact", c["contact"])}}},
        "Team": {"customer": {"id": {"eq": gid("Customer", c["customer"])}}},
        "OpportunityType": {"type": {"id": {"eq": gid("OpportunityType", c["type"])}}},
        "Responsible": {"owner": {"id": {"eq": gid("User", c["seller"])}}},
        "Referrer": {"referrer": {"id": {"eq": gid("Contact", c["referrer"])}}},
        "Agent": {"agent": {"id": {"eq": gid("Contact", c["contact"])}}},
        "Notes": {"description": {"iContains": "desks"}},
        "Completed": {"status": {"in": ["WON", "LOST"]}},
        "DueDate": {"expectedCloseDate": {"eq": "2026-03-01"}},
        "Value": {"amount": {"eq": "1200"}},
        "LeadSource": {"leadSource": {"eq": "REFERRAL"}},
        "LossReason": {"closeReason": {"id": {"eq": gid("CloseReason", board.won_reason)}}},
        "Status": {"status": {"eq": "WON"}},
        "WonOn": {"status": {"eq": "WON"}, "closedAt": {"eq": "2026-03-10T12:00:00Z"}},
        "Position": {"position": {"eq": 1}},
        # related fields
        "CrmBoardColumn_Name": {"stage": {"name": {"eq": "Won"}}},
        "CrmBoardColumn_CrmBoard_Id": {
            "stage": {"pipeline": {"id": {"eq": gid("Pipeline", board.pipeline)}}}
        },
        "CrmBoardColumn_CrmBoard_Business_Currency_Code": {"currency": {"eq": "EUR"}},
        "Coworker_FullName": {"contact": {"displayName": {"eq": "Firm Ltd"}}},
        "Coworker_CoworkerType": {"contact": {"isCompany": {"eq": True}}},
        "Coworker_CompanyName": {"contact": {"customer": {"name": {"eq": "Acme Team"}}}},
        "Coworker_Email": {"contact": {"email": {"eq": "firm@acme.test"}}},
        "Team_Name": {"customer": {"name": {"eq": "Acme Team"}}},
        "Team_ProfileWebsite": {"customer": {"website": {"startsWith": "https://acme"}}},
        "OpportunityType_Name": {"type": {"name": {"eq": "Upsell"}}},
        "Responsible_FullName": {"owner": {"displayName": {"eq": "Sam Seller"}}},
    }
    pipeline = await api(
        "query ($id: ID!) { pipeline(id: $id) { name } }", {"id": gid("Pipeline", board.pipeline)}
    )
    cases["CrmBoardColumn_CrmBoard_Name"] = {"pipeline": {"name": {"eq": pipeline["pipeline"]["name"]}}}
    for parameter, flt in cases.items():
        assert await found(api, flt) == ["First"], parameter


@pytest.mark.parametrize(
    ("parameter", "flt"),
    [
        ("from_CreatedOn", {"createdAt": {"gte": "2026-01-10T00:00:00Z"}}),
        ("to_CreatedOn", {"createdAt": {"lte": "2026-01-10T00:00:00Z"}}),
        (
            "from_UpdatedOn/to_UpdatedOn",
            {"updatedAt": {"gte": "2026-01-15T00:00:00Z", "lte": "2026-01-31T00:00:00Z"}},
        ),
        ("from_DueDate/to_DueDate", {"expectedCloseDate": {"gte": "2026-05-01", "lte": "2026-06-30"}}),
        ("from_Value", {"amount": {"gte": "1000"}}),
        ("to_Value", {"amount": {"lte": "100"}}),
        ("from_WonOn", {"status": {"eq": "WON"}, "closedAt": {"gte": "2026-03-01T00:00:00Z"}}),
        ("to_LostOn", {"status": {"eq": "LOST"}, "closedAt": {"lte": "2026-12-31T00:00:00Z"}}),
        ("from_Position/to_Position", {"position": {"gte": 2, "lte": 10}}),
    ],
)
async def test_nexudus_from_to_ranges(api: Api, tenant: Tenant, engine, parameter: str, flt: dict) -> None:
    await _crm(engine, tenant)
    expected = {
        "from_CreatedOn": ["Second"],
        "to_CreatedOn": ["First"],
        "from_UpdatedOn/to_UpdatedOn": ["Second"],
        "from_DueDate/to_DueDate": ["Second"],
        "from_Value": ["First"],
        "to_Value": ["Second"],
        "from_WonOn": ["First"],
        "to_LostOn": [],
        "from_Position/to_Position": ["Second"],
    }[parameter]
    assert await found(api, flt) == expected


async def test_nexudus_list_by_ids_in_the_order_asked(api: Api, tenant: Tenant, engine) -> None:
    c = await _crm(engine, tenant)
    other = await make_tenant(engine, "Globex")
    [foreign] = await insert(engine, opportunity(other.organization_id, title="Not yours"))
    ids = [gid("Opportunity", c["second"]), gid("Opportunity", foreign), gid("Opportunity", c["first"])]
    data = await api(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Opportunity { title } } }",
        {"ids": ids},
    )
    assert data["nodes"] == [{"id": ids[0], "title": "Second"}, None, {"id": ids[2], "title": "First"}]
    # the same as a filter, when the client also wants paging and totals
    assert await found(api, {"id": {"in": ids}}) == ["First", "Second"]


async def test_nexudus_page_and_size_up_to_1000(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    await insert(engine, *(opportunity(org, title=f"deal {i:04}", amount=Decimal(i)) for i in range(1, 1206)))
    order = [{"field": "AMOUNT", "direction": "DESC"}]  # ?orderby=Value&dir=Descending

    async def page(number: int, size: int) -> dict:
        variables = {"orderBy": order, "first": size, "offset": (number - 1) * size}
        return (await api(FIND, variables))["opportunities"]

    first = await page(1, 1000)
    assert len(first["nodes"]) == 1000 and first["totalCount"] == 1205
    assert first["nodes"][0]["title"] == "deal 1205"
    assert first["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}
    second = await page(2, 1000)
    assert [n["title"] for n in second["nodes"]][:2] == ["deal 0205", "deal 0204"]
    assert len(second["nodes"]) == 205 and second["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
    }
    errors = await api.errors(FIND, {"first": 1001})
    assert errors[0]["extensions"]["code"] in {"BAD_USER_INPUT", "QUERY_TOO_COMPLEX"}
    assert "1000" in errors[0]["message"]


OVERPLANE = """
query ($limit: Int!, $offset: Int!) {
  opportunities(first: $limit, offset: $offset) {
    totalCount
    pageInfo { hasNextPage }
    nodes { title createdAt }
  }
}
"""


async def test_overplane_newest_first_limit_offset_has_more_total(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    await insert(engine, *(opportunity(org, title=f"o{i}") for i in range(7)))  # created a minute apart
    seen, offset, more = [], 0, True
    while more:
        data = (await api(OVERPLANE, {"limit": 3, "offset": offset}))["opportunities"]
        assert data["totalCount"] == 7
        seen += [n["title"] for n in data["nodes"]]
        more, offset = data["pageInfo"]["hasNextPage"], offset + 3
    assert seen == [f"o{i}" for i in reversed(range(7))]


DELETE_LIST = """
mutation ($filter: OpportunityFilter!) {
  deleteOpportunities(filter: $filter) { count ids errors { field code } }
}
"""


async def test_orocrm_delete_list_by_filter(api: Api, tenant: Tenant, engine) -> None:
    c = await _crm(engine, tenant)
    other = await make_tenant(engine, "Globex")
    await insert(engine, opportunity(other.organization_id, title="Theirs", status="WON"))
    data = (await api(DELETE_LIST, {"filter": {"status": {"eq": "WON"}}}))["deleteOpportunities"]
    assert data == {"count": 1, "ids": [gid("Opportunity", c["first"])], "errors": []}
    assert await found(api, {}) == ["Second"]
    theirs = await api(FIND, {"filter": {}}, key=other.key)
    assert [n["title"] for n in theirs["opportunities"]["nodes"]] == ["Theirs"]

    refused = (await api(DELETE_LIST, {"filter": {}}))["deleteOpportunities"]
    assert refused["count"] == 0 and refused["errors"][0]["code"] == "REQUIRED"
    assert await found(api, {}) == ["Second"]


async def test_delete_list_with_an_unknown_custom_field_deletes_nothing(
    api: Api, tenant: Tenant, engine
) -> None:
    await _crm(engine, tenant)
    flt = {"customField": [{"definitionId": "not-an-id", "isSet": False}]}
    response = await api.raw(DELETE_LIST, {"filter": flt})
    body = response.json()
    assert body.get("errors") or body["data"]["deleteOpportunities"]["errors"]
    assert await found(api, {}) == ["First", "Second"]
