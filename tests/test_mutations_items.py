"""Line items: add, update (partial), remove, reorder; amounts by the server, positions dense, versions."""

from __future__ import annotations

from typing import Any

from tests.support import Api, Tenant, gid, insert, make_tenant, opportunity

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { field code } }
}
"""

ITEM = "id itemName quantity rate amount position description"
ADD = f"""
mutation ($deal: ID!, $input: OpportunityItemInput!) {{
  addOpportunityItem(opportunityId: $deal, input: $input) {{
    opportunityItem {{ {ITEM} }} opportunity {{ version itemsTotal }} errors {{ field code }}
  }}
}}
"""
UPDATE = f"""
mutation ($id: ID!, $input: OpportunityItemUpdateInput!) {{
  updateOpportunityItem(id: $id, input: $input) {{
    opportunityItem {{ {ITEM} }} opportunity {{ version itemsTotal }} errors {{ field code }}
  }}
}}
"""
REMOVE = "mutation ($id: ID!) { removeOpportunityItem(id: $id) { deletedId errors { field code } } }"
REORDER = """
mutation ($deal: ID!, $ids: [ID!]!) {
  reorderOpportunityItems(opportunityId: $deal, itemIds: $ids) {
    opportunity { version items { itemName position } } errors { field code }
  }
}
"""
ITEMS = "query ($id: ID!) { opportunity(id: $id) { version itemsTotal items { id itemName position } } }"


async def _deal(api: Api) -> str:
    return (await api(CREATE, {"input": {"title": "D"}}))["createOpportunity"]["opportunity"]["id"]


async def _add(api: Api, deal: str, **item) -> dict:
    out = (await api(ADD, {"deal": deal, "input": item}))["addOpportunityItem"]
    assert out["errors"] == [], out
    return out


async def test_add_computes_amount_and_total(api: Api) -> None:
    deal = await _deal(api)
    one = await _add(api, deal, itemName="Seat", quantity="3", rate="19.99")
    assert one["opportunityItem"]["amount"] == "59.9700"
    assert (one["opportunityItem"]["position"], one["opportunity"]["version"]) == (1, 2)
    two = await _add(api, deal, itemName="Discount", rate="-10")
    assert (two["opportunityItem"]["quantity"], two["opportunityItem"]["amount"]) == ("1.0000", "-10.0000")
    assert two["opportunity"]["itemsTotal"] == "49.9700"
    first = await _add(api, deal, itemName="Setup", rate="5", position=1)
    assert first["opportunity"]["version"] == 4
    items = (await api(ITEMS, {"id": deal}))["opportunity"]["items"]
    assert [(i["itemName"], i["position"]) for i in items] == [("Setup", 1), ("Seat", 2), ("Discount", 3)]


async def test_add_validation(api: Api, tenant: Tenant, engine) -> None:
    deal = await _deal(api)
    out = await api(ADD, {"deal": deal, "input": {"itemName": " ", "quantity": "-1", "rate": "1.00001"}})
    errors = out["addOpportunityItem"]["errors"]
    assert sorted((e["field"], e["code"]) for e in errors) == [
        (["input", "itemName"], "REQUIRED"),
        (["input", "quantity"], "OUT_OF_RANGE"),
        (["input", "rate"], "INVALID"),
    ]
    other = await make_tenant(engine, "Initech")
    [theirs] = await insert(engine, opportunity(other.organization_id))
    out = await api(ADD, {"deal": gid("Opportunity", theirs), "input": {"itemName": "x"}})
    assert [(e["field"], e["code"]) for e in out["addOpportunityItem"]["errors"]] == [
        (["opportunityId"], "NOT_FOUND")
    ]
    assert (await api(ITEMS, {"id": deal}))["opportunity"] == {"version": 1, "itemsTotal": "0", "items": []}


async def test_update_is_partial(api: Api) -> None:
    deal = await _deal(api)
    item = (await _add(api, deal, itemName="Seat", quantity="2", rate="10", description="blue"))[
        "opportunityItem"
    ]
    out = (await api(UPDATE, {"id": item["id"], "input": {"quantity": "5"}}))["updateOpportunityItem"]
    got = out["opportunityItem"]
    assert (got["itemName"], got["quantity"], got["rate"], got["amount"], got["description"]) == (
        "Seat",
        "5.0000",
        "10.0000",
        "50.0000",
        "blue",
    )
    assert out["opportunity"] == {"version": 3, "itemsTotal": "50.0000"}
    out = await api(
        UPDATE, {"id": item["id"], "input": {"description": None, "rate": None, "itemName": None}}
    )
    assert sorted((e["field"], e["code"]) for e in out["updateOpportunityItem"]["errors"]) == [
        (["input", "itemName"], "REQUIRED"),
        (["input", "rate"], "REQUIRED"),
    ]
    out = (await api(UPDATE, {"id": item["id"], "input": {"description": None}}))["updateOpportunityItem"]
    assert out["opportunityItem"]["description"] is None


async def test_remove_and_reorder_keep_positions_dense(api: Api) -> None:
    deal = await _deal(api)
    ids = [(await _add(api, deal, itemName=n, rate="1"))["opportunityItem"]["id"] for n in "abcd"]
    out = (await api(REMOVE, {"id": ids[1]}))["removeOpportunityItem"]
    assert out == {"deletedId": ids[1], "errors": []}
    got = (await api(ITEMS, {"id": deal}))["opportunity"]
    assert [(i["itemName"], i["position"]) for i in got["items"]] == [("a", 1), ("c", 2), ("d", 3)]
    assert (got["version"], got["itemsTotal"]) == (6, "3.0000")
    for wrong in ([ids[0], ids[2]], [ids[0], ids[2], ids[3], ids[1]], [ids[0], ids[0], ids[2], ids[3]]):
        out = (await api(REORDER, {"deal": deal, "ids": wrong}))["reorderOpportunityItems"]
        assert out["opportunity"] is None and out["errors"], wrong
    out = (await api(REORDER, {"deal": deal, "ids": [ids[3], ids[0], ids[2]]}))["reorderOpportunityItems"]
    assert out["opportunity"]["items"] == [
        {"itemName": "d", "position": 1},
        {"itemName": "a", "position": 2},
        {"itemName": "c", "position": 3},
    ]
    assert out["opportunity"]["version"] == 7


async def test_item_of_another_organization_is_not_found(api: Api, engine) -> None:
    other = await make_tenant(engine, "Umbrella")
    from app import models as m

    [theirs] = await insert(engine, opportunity(other.organization_id))
    [item] = await insert(
        engine, m.OpportunityItem(organization_id=other.organization_id, opportunity_id=theirs, item_name="x")
    )
    for doc, key in ((UPDATE, "updateOpportunityItem"), (REMOVE, "removeOpportunityItem")):
        variables: dict[str, Any] = {"id": gid("OpportunityItem", item)}
        if doc is UPDATE:
            variables["input"] = {"itemName": "mine"}
        out = (await api(doc, variables))[key]
        assert [(e["field"], e["code"]) for e in out["errors"]] == [(["id"], "NOT_FOUND")]
