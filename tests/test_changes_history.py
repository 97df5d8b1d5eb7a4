"""History for every kind of deal mutation, with exact old/new values; nothing for one with errors."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import models as m
from tests.support import Api, Board, Tenant, gid, make_board, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id version } errors { field code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!, $v: Int) {
  updateOpportunity(id: $id, input: $input, expectedVersion: $v) { opportunity { id version } errors { field code } }
}
"""
LAST = """
query ($id: ID!) { opportunity(id: $id) { version history(last: 1) { nodes {
  kind version changes { field oldValue newValue } by { id }
} } } }
"""


def j(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _deal(api: Api, **fields: Any) -> str:
    out = await api(CREATE, {"input": {"title": "Rocket", **fields}})
    assert out["createOpportunity"]["errors"] == [], out
    return str(out["createOpportunity"]["opportunity"]["id"])


async def _last(api: Api, deal: str) -> tuple[str, int, list[tuple[str, str | None, str | None]]]:
    node = (await api(LAST, {"id": deal}))["opportunity"]["history"]["nodes"][0]
    return (
        node["kind"],
        node["version"],
        [(c["field"], c["oldValue"], c["newValue"]) for c in node["changes"]],
    )


async def _count(engine: AsyncEngine) -> int:
    async with unscoped(engine) as s:
        return int(await s.scalar(select(func.count()).select_from(m.OpportunityChange)) or 0)


async def test_create_lists_every_field_with_a_value(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    b = await make_board(engine, tenant.organization_id)
    deal = await _deal(
        api,
        stageId=gid("Stage", b.stages[1]),
        amount="1200.5",
        currency="EUR",
        customerId=gid("Customer", b.customer),
        contactIds=[gid("Contact", b.contact)],
        tags=["hot", "q3"],
        expectedCloseDate="2026-03-31",
        customFields=[{"definitionId": gid("CustomFieldDefinition", b.definitions[0]), "value": "x"}],
        items=[{"itemName": "Seat", "quantity": "2", "rate": "10"}],
    )
    kind, version, changes = await _last(api, deal)
    node = (await api("query ($id: ID!) { opportunity(id: $id) { items { id } } }", {"id": deal}))[
        "opportunity"
    ]
    item = node["items"][0]["id"]
    assert (kind, version) == ("CREATED", 1)
    assert changes == [
        ("title", None, "Rocket"),
        ("status", None, "OPEN"),
        ("stage", None, gid("Stage", b.stages[1])),
        ("position", None, "1"),
        ("amount", None, "1200.5000"),
        ("currency", None, "EUR"),
        ("bidType", None, "FIXED"),
        ("probability", None, "50"),
        ("expectedCloseDate", None, "2026-03-31"),
        ("customer", None, gid("Customer", b.customer)),
        ("owner", None, gid("User", tenant.user_id)),
        ("isPrivate", None, "false"),
        ("interactionCount", None, "0"),
        (
            "items",
            None,
            j(
                [
                    {
                        "id": item,
                        "itemName": "Seat",
                        "quantity": "2.0000",
                        "rate": "10.0000",
                        "amount": "20.0000",
                        "position": 1,
                    }
                ]
            ),
        ),
        ("contacts", None, j([gid("Contact", b.contact)])),
        ("tags", None, j(["hot", "q3"])),
        (
            "customFields",
            None,
            j([{"definitionId": gid("CustomFieldDefinition", b.definitions[0]), "value": "x"}]),
        ),
    ]


async def test_update_lists_what_changed_and_errors_record_nothing(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    deal = await _deal(api, amount="10")
    out = await api(
        UPDATE,
        {
            "id": deal,
            "input": {"amount": "12.25", "title": "Rocket 2", "customerId": gid("Customer", b.customer)},
        },
    )
    assert out["updateOpportunity"]["errors"] == []
    assert await _last(api, deal) == (
        "UPDATED",
        2,
        [
            ("title", "Rocket", "Rocket 2"),
            ("amount", "10.0000", "12.2500"),
            ("customer", None, gid("Customer", b.customer)),
        ],
    )
    before = await _count(engine)
    bad = await api(UPDATE, {"id": deal, "input": {"title": ""}})
    assert [e["code"] for e in bad["updateOpportunity"]["errors"]] == ["REQUIRED"]
    stale = await api(UPDATE, {"id": deal, "input": {"title": "x"}, "v": 1})
    assert [e["code"] for e in stale["updateOpportunity"]["errors"]] == ["CONFLICT"]
    assert await _count(engine) == before
    # a clear is a change to null; an explicit expectedRevenue (stored) is listed, the computed one never
    await api(UPDATE, {"id": deal, "input": {"customerId": None, "expectedRevenue": "5"}})
    assert (await _last(api, deal))[2] == [
        ("expectedRevenue", None, "5.0000"),
        ("customer", gid("Customer", b.customer), None),
    ]


async def test_board_moves_won_lost_reopen(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    b = await make_board(engine, tenant.organization_id)
    first, second, won, lost = (gid("Stage", s) for s in b.stages)
    other = await _deal(api, stageId=second)
    deal = await _deal(api, stageId=first)
    move = "mutation ($id: ID!, $s: ID!, $p: Int) { moveOpportunity(id: $id, stageId: $s, position: $p) { errors { code } } }"
    await api(move, {"id": deal, "s": second, "p": 1})
    assert await _last(api, deal) == (
        "UPDATED",
        2,
        # its place in the new column is 1, as it was in the old one: not a change of position
        [("stage", first, second), ("probability", "10", "50")],
    )
    # the card pushed down in the column has its change too, its version bumped
    assert await _last(api, other) == ("UPDATED", 2, [("position", "1", "2")])
    await api(move, {"id": deal, "s": second, "p": 2})
    assert await _last(api, deal) == ("UPDATED", 3, [("position", "1", "2")])
    await api(
        'mutation ($id: ID!) { markOpportunityWon(id: $id, closedAt: "2026-02-01T10:00:00Z") { errors { code } } }',
        {"id": deal},
    )
    kind, version, changes = await _last(api, deal)
    assert (kind, version) == ("UPDATED", 4)
    assert changes == [
        ("status", "OPEN", "WON"),
        ("stage", second, won),
        ("position", "2", "1"),
        ("probability", "50", "100"),
        ("closedAt", None, "2026-02-01T10:00:00+00:00"),
    ]
    await api("mutation ($id: ID!) { reopenOpportunity(id: $id) { errors { code } } }", {"id": deal})
    assert await _last(api, deal) == (
        "UPDATED",
        5,
        [
            ("status", "WON", "OPEN"),
            ("stage", won, second),
            ("position", "1", "2"),
            ("probability", "100", "50"),
            ("closedAt", "2026-02-01T10:00:00+00:00", None),
        ],
    )
    await api(
        "mutation ($id: ID!, $r: ID) { markOpportunityLost(id: $id, closeReasonId: $r) { errors { code } } }",
        {"id": deal, "r": gid("CloseReason", b.lost_reason)},
    )
    changes = (await _last(api, deal))[2]
    assert [c[0] for c in changes] == [
        "status",
        "stage",
        "position",
        "probability",
        "closedAt",
        "closeReason",
    ]
    assert changes[1] == ("stage", second, lost) and changes[5] == (
        "closeReason",
        None,
        gid("CloseReason", b.lost_reason),
    )
    visits = (
        await api(
            "query ($id: ID!) { opportunity(id: $id) { stageHistory { stage { id } leftAt enteredAt } } }",
            {"id": deal},
        )
    )["opportunity"]["stageHistory"]
    assert [v["stage"]["id"] for v in visits] == [first, second, won, second, lost]
    assert [v["leftAt"] for v in visits[:-1]] == [v["enteredAt"] for v in visits[1:]] and visits[-1][
        "leftAt"
    ] is None


async def test_items_add_update_remove_reorder(api: Api, engine: AsyncEngine, tenant: Tenant) -> None:
    deal = await _deal(api)
    add = "mutation ($d: ID!, $i: OpportunityItemInput!) { addOpportunityItem(opportunityId: $d, input: $i) { opportunityItem { id } errors { code } } }"
    a = (await api(add, {"d": deal, "i": {"itemName": "A", "quantity": "1", "rate": "3"}}))[
        "addOpportunityItem"
    ]["opportunityItem"]["id"]
    item_a = {
        "id": a,
        "itemName": "A",
        "quantity": "1.0000",
        "rate": "3.0000",
        "amount": "3.0000",
        "position": 1,
    }
    assert await _last(api, deal) == ("UPDATED", 2, [("items", "[]", j([item_a]))])
    bb = (await api(add, {"d": deal, "i": {"itemName": "B", "rate": "2.5"}}))["addOpportunityItem"][
        "opportunityItem"
    ]["id"]
    item_b = {
        "id": bb,
        "itemName": "B",
        "quantity": "1.0000",
        "rate": "2.5000",
        "amount": "2.5000",
        "position": 2,
    }
    assert (await _last(api, deal))[2] == [("items", j([item_a]), j([item_a, item_b]))]
    await api(
        "mutation ($d: ID!, $ids: [ID!]!) { reorderOpportunityItems(opportunityId: $d, itemIds: $ids) { errors { code } } }",
        {"d": deal, "ids": [bb, a]},
    )
    moved = [{**item_b, "position": 1}, {**item_a, "position": 2}]
    assert await _last(api, deal) == ("UPDATED", 4, [("items", j([item_a, item_b]), j(moved))])
    await api(
        "mutation ($id: ID!, $i: OpportunityItemUpdateInput!) { updateOpportunityItem(id: $id, input: $i) { errors { code } } }",
        {"id": a, "i": {"quantity": "4"}},
    )
    changed = [moved[0], {**moved[1], "quantity": "4.0000", "amount": "12.0000"}]
    assert (await _last(api, deal))[2] == [("items", j(moved), j(changed))]
    await api("mutation ($id: ID!) { removeOpportunityItem(id: $id) { errors { code } } }", {"id": bb})
    assert await _last(api, deal) == (
        "UPDATED",
        6,
        [("items", j(changed), j([{**changed[1], "position": 1}]))],
    )
    before = await _count(engine)
    bad = await api(
        "mutation ($d: ID!, $ids: [ID!]!) { reorderOpportunityItems(opportunityId: $d, itemIds: $ids) { errors { code } } }",
        {"d": deal, "ids": []},
    )
    assert [e["code"] for e in bad["reorderOpportunityItems"]["errors"]] == ["INVALID"]
    assert await _count(engine) == before


async def test_links_tags_lost_reasons_access_and_custom_fields(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    deal = await _deal(api)
    contact = gid("Contact", b.contact)
    await api(
        "mutation ($id: ID!, $c: [ID!]!) { addOpportunityContacts(id: $id, contactIds: $c) { errors { code } } }",
        {"id": deal, "c": [contact]},
    )
    assert (await _last(api, deal))[2] == [("contacts", "[]", j([contact]))]
    await api(
        "mutation ($id: ID!, $c: [ID!]!) { removeOpportunityContacts(id: $id, contactIds: $c) { errors { code } } }",
        {"id": deal, "c": [contact]},
    )
    assert (await _last(api, deal))[2] == [("contacts", j([contact]), "[]")]
    await api(
        "mutation ($id: ID!, $t: [String!]!) { setOpportunityTags(id: $id, tags: $t) { errors { code } } }",
        {"id": deal, "t": ["b", "a"]},
    )
    assert (await _last(api, deal))[2] == [("tags", "[]", j(["b", "a"]))]
    reason = gid("CloseReason", b.lost_reason)
    await api(
        "mutation ($id: ID!, $r: [ID!]!) { setOpportunityLostReasons(id: $id, closeReasonIds: $r) { errors { code } } }",
        {"id": deal, "r": [reason]},
    )
    assert (await _last(api, deal))[2] == [("lostReasons", "[]", j([reason]))]
    me = gid("User", tenant.user_id)
    await api(
        "mutation ($id: ID!, $u: [ID!]!) { setOpportunityAccess(id: $id, isPrivate: true, userIds: $u) { errors { code } } }",
        {"id": deal, "u": [me]},
    )
    assert (await _last(api, deal))[2] == [("isPrivate", "false", "true"), ("accessList", "[]", j([me]))]
    text, check = (gid("CustomFieldDefinition", d) for d in (b.definitions[0], b.definitions[3]))
    setter = "mutation ($id: ID!, $v: [CustomFieldValueInput!]!) { setOpportunityCustomFields(id: $id, values: $v) { errors { code } } }"
    await api(
        setter,
        {"id": deal, "v": [{"definitionId": check, "value": "true"}, {"definitionId": text, "value": "hi"}]},
    )
    both = [{"definitionId": text, "value": "hi"}, {"definitionId": check, "value": "true"}]
    assert await _last(api, deal) == ("UPDATED", 7, [("customFields", "[]", j(both))])
    await api(setter, {"id": deal, "v": [{"definitionId": text, "value": None}]})
    assert (await _last(api, deal))[2] == [("customFields", j(both), j(both[1:]))]
    before = await _count(engine)
    bad = await api(setter, {"id": deal, "v": [{"definitionId": check, "value": "maybe"}]})
    assert bad["setOpportunityCustomFields"]["errors"]
    assert await _count(engine) == before


async def test_bulk_update_and_delete_write_one_change_per_deal(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await _board(api, engine, tenant)
    deals = [await _deal(api, amount=str(10 + i), stageId=gid("Stage", b.stages[0])) for i in range(3)]
    bulk = "mutation ($f: OpportunityFilter!, $i: UpdateOpportunityInput!) { updateOpportunities(filter: $f, input: $i) { count errors { code } } }"
    out = await api(bulk, {"f": {"amount": {"gte": "11"}}, "i": {"priority": "HIGH"}})
    assert out["updateOpportunities"]["count"] == 2
    assert [(await _last(api, d))[:3] for d in deals] == [
        ("CREATED", 1, (await _last(api, deals[0]))[2]),
        ("UPDATED", 2, [("priority", None, "HIGH")]),
        ("UPDATED", 2, [("priority", None, "HIGH")]),
    ]
    before = await _count(engine)
    out = await api(
        "mutation ($f: OpportunityFilter!) { deleteOpportunities(filter: $f) { count errors { code } } }",
        {"f": {"priority": {"eq": "HIGH"}}},
    )
    assert out["deleteOpportunities"]["count"] == 2
    async with unscoped(engine) as s:
        rows = (
            (await s.execute(select(m.OpportunityChange).order_by(m.OpportunityChange.id).offset(before)))
            .scalars()
            .all()
        )
    # the version after: the move to the trash bumped it
    assert [(r.kind, r.version, r.changes) for r in rows] == [("DELETED", 3, []), ("DELETED", 3, [])]
    before_delete = rows[0].before
    assert before_delete is not None and before_delete["amount"] == "11.0000" and rows[0].after is None


async def _board(api: Api, engine: AsyncEngine, tenant: Tenant) -> Board:
    return await make_board(engine, tenant.organization_id)
