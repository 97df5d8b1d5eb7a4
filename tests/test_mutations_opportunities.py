"""Deal mutations: create (one, many), update (partial, nulls, versions), bulk update, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant, opportunity, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) {
    opportunity {
      id title amount currency status probability position version bidType perPeriodValue
      expectedRevenue itemsTotal tags isPrivate
      stage { name } customer { name } owner { id } createdBy { id } updatedBy { id }
      contacts { id } accessList { id } items { itemName quantity rate amount position }
      customFields { value definition { id } }
      utm { source campaign }
    }
    errors { field message code attemptedValue }
  }
}
"""

CREATE_MANY = """
mutation ($inputs: [CreateOpportunityInput!]!) {
  createOpportunities(inputs: $inputs) {
    opportunities { title position }
    errors { field code }
  }
}
"""

UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!, $v: Int) {
  updateOpportunity(id: $id, input: $input, expectedVersion: $v) {
    opportunity {
      title description amount currency probability version status closedAt position bidType perPeriodValue
      expectedRevenue stageChangedAt updatedAt
      stage { id } customer { id } contact { id } owner { id } updatedBy { id } closeReason { id }
      lead { id } channel { id } type { id } referrer { id } agent { id }
    }
    errors { field message code attemptedValue }
  }
}
"""

UPDATE_MANY = """
mutation ($filter: OpportunityFilter!, $input: UpdateOpportunityInput!) {
  updateOpportunities(filter: $filter, input: $input) { count ids errors { field code message } }
}
"""

DELETE = """
mutation ($id: ID!) { deleteOpportunity(id: $id) { deletedId errors { field code } } }
"""

DELETE_MANY = """
mutation ($filter: OpportunityFilter!) { deleteOpportunities(filter: $filter) { count ids errors { field code message } } }
"""


async def count(engine, model=m.Opportunity) -> int:
    async with unscoped(engine) as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar())


async def test_create_with_everything(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    text_def, _, select_def, *_ = board.definitions
    data = await api(
        CREATE,
        {
            "input": {
                "title": "  Big deal  ",
                "amount": "1000.50",
                "stageId": gid("Stage", board.stages[1]),
                "customerId": gid("Customer", board.customer),
                "contactIds": [gid("Contact", board.contact)],
                "tags": ["vip", " VIP ", "q3"],
                "customFields": [
                    {"definitionId": gid("CustomFieldDefinition", text_def), "value": "hello"},
                    {"definitionId": gid("CustomFieldDefinition", select_def), "value": "B"},
                ],
                "items": [
                    {"itemName": "Seat", "quantity": "3", "rate": "10.5"},
                    {"itemName": "Setup", "rate": "99"},
                ],
                "utm": {"source": "google", "campaign": "spring"},
            }
        },
    )
    out = data["createOpportunity"]
    assert out["errors"] == []
    deal = out["opportunity"]
    assert deal["title"] == "Big deal"
    assert deal["amount"] == "1000.5000" or deal["amount"] in ("1000.50", "1000.5")
    assert deal["currency"] == "USD"  # the organization's base currency
    assert deal["status"] == "OPEN"
    assert deal["probability"] == 50  # the stage's default
    assert deal["position"] == 1
    assert deal["version"] == 1
    assert deal["stage"]["name"] == "Propose"
    assert deal["tags"] == ["vip", "q3"]
    assert deal["owner"]["id"] == gid("User", tenant.user_id)
    assert deal["createdBy"]["id"] == deal["updatedBy"]["id"] == gid("User", tenant.user_id)
    assert [c["id"] for c in deal["contacts"]] == [gid("Contact", board.contact)]
    assert [(i["itemName"], i["position"]) for i in deal["items"]] == [("Seat", 1), ("Setup", 2)]
    assert deal["items"][0]["amount"].startswith("31.5")
    assert deal["itemsTotal"].startswith("130.5")
    assert [v["value"] for v in deal["customFields"]] == ["hello", "B"]
    assert deal["utm"] == {"source": "google", "campaign": "spring"}


async def _deal(api: Api, **fields) -> dict:
    data = await api(CREATE, {"input": {"title": "Deal", **fields}})
    assert data["createOpportunity"]["errors"] == [], data
    return data["createOpportunity"]["opportunity"]


def _codes(errors: list[dict]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in errors]


async def test_create_validation_reports_every_problem_and_writes_nothing(api: Api, engine) -> None:
    data = await api(
        CREATE,
        {
            "input": {
                "title": "   ",
                "amount": "-5",
                "currency": "XYZ",
                "probability": 101,
                "perPeriodValue": 3,
                "expectedCloseDate": "1800-01-01",
                "tags": ["x" * 65],
                "description": "d" * 20001,
                "utm": {"source": "s" * 256},
            }
        },
    )
    out = data["createOpportunity"]
    assert out["opportunity"] is None
    assert sorted(_codes(out["errors"])) == sorted(
        [
            (["input", "title"], "REQUIRED"),
            (["input", "amount"], "OUT_OF_RANGE"),
            (["input", "currency"], "INVALID"),
            (["input", "probability"], "OUT_OF_RANGE"),
            (["input", "perPeriodValue"], "INVALID"),
            (["input", "expectedCloseDate"], "OUT_OF_RANGE"),
            (["input", "tags", "0"], "TOO_LONG"),
            (["input", "description"], "TOO_LONG"),
            (["input", "utm", "source"], "TOO_LONG"),
        ]
    )
    assert await count(engine) == 0


async def test_amount_rules(api: Api, engine) -> None:
    for amount in ("NaN", "Infinity", "-Infinity"):
        # refused by the Decimal scalar itself, before any resolver runs
        [error] = await api.errors(CREATE, {"input": {"title": "T", "amount": amount}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await count(engine) == 0
    for amount, code in [
        ("-1", "OUT_OF_RANGE"),
        ("1.00001", "INVALID"),
    ]:
        out = (await api(CREATE, {"input": {"title": "T", "amount": amount}}))["createOpportunity"]
        assert _codes(out["errors"]) == [(["input", "amount"], code)], amount
        assert out["errors"][0]["attemptedValue"] is not None
    long_title = (await api(CREATE, {"input": {"title": "t" * 256}}))["createOpportunity"]
    assert _codes(long_title["errors"]) == [(["input", "title"], "TOO_LONG")]
    ok = await _deal(api, title="t" * 255, amount="0", currency="eur")
    assert ok["currency"] == "EUR"


async def test_create_many_is_all_or_nothing(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = gid("Stage", board.stages[0])
    bad = await api(
        CREATE_MANY,
        {
            "inputs": [
                {"title": "A", "stageId": stage},
                {"title": "", "stageId": stage},
                {"title": "C", "probability": -1},
            ]
        },
    )
    assert _codes(bad["createOpportunities"]["errors"]) == [
        (["inputs", "1", "title"], "REQUIRED"),
        (["inputs", "2", "probability"], "OUT_OF_RANGE"),
    ]
    assert bad["createOpportunities"]["opportunities"] == []
    assert await count(engine) == 0
    good = await api(CREATE_MANY, {"inputs": [{"title": t, "stageId": stage} for t in "ABC"]})
    assert good["createOpportunities"]["opportunities"] == [
        {"title": "A", "position": 1},
        {"title": "B", "position": 2},
        {"title": "C", "position": 3},
    ]


async def test_ids_of_other_organizations_and_other_types_are_not_found(
    api: Api, tenant: Tenant, engine
) -> None:
    other = await make_tenant(engine, "Globex")
    theirs = await make_board(engine, other.organization_id)
    mine = await make_board(engine, tenant.organization_id)
    data = await api(
        CREATE,
        {
            "input": {
                "title": "T",
                "customerId": gid("Customer", theirs.customer),
                "stageId": gid("Customer", mine.customer),
                "contactId": "not-an-id",
                "contactIds": [gid("Contact", mine.contact), gid("Contact", theirs.contact)],
            }
        },
    )
    errors = data["createOpportunity"]["errors"]
    assert sorted(_codes(errors)) == [
        (["input", "contactId"], "NOT_FOUND"),
        (["input", "contactIds", "1"], "NOT_FOUND"),
        (["input", "customerId"], "NOT_FOUND"),
        (["input", "stageId"], "NOT_FOUND"),
    ]
    [customer_error] = [e for e in errors if e["field"] == ["input", "customerId"]]
    assert customer_error["attemptedValue"] == gid("Customer", theirs.customer)
    assert await count(engine) == 0
    [their_deal] = await insert(engine, opportunity(other.organization_id, title="Theirs"))
    out = (await api(UPDATE, {"id": gid("Opportunity", their_deal), "input": {"title": "Mine now"}}))[
        "updateOpportunity"
    ]
    assert _codes(out["errors"]) == [(["id"], "NOT_FOUND")]
    out = (await api(DELETE, {"id": gid("Opportunity", their_deal)}))["deleteOpportunity"]
    assert _codes(out["errors"]) == [(["id"], "NOT_FOUND")]
    async with unscoped(engine) as s:
        assert (await s.get(m.Opportunity, their_deal)).title == "Theirs"


async def test_update_omitted_stays_null_clears_required_null_refused(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    deal = await _deal(
        api, description="keep", amount="10", customerId=gid("Customer", board.customer), probability=30
    )
    out = (await api(UPDATE, {"id": deal["id"], "input": {"title": "New"}}))["updateOpportunity"]
    assert out["errors"] == []
    after = out["opportunity"]
    assert (after["title"], after["description"], after["amount"], after["probability"]) == (
        "New",
        "keep",
        "10.0000",
        30,
    )
    assert after["customer"] == {"id": gid("Customer", board.customer)}
    assert after["version"] == 2
    out = await api(
        UPDATE, {"id": deal["id"], "input": {"description": None, "customerId": None, "amount": None}}
    )
    after = out["updateOpportunity"]["opportunity"]
    assert (after["description"], after["customer"], after["amount"], after["version"]) == (
        None,
        None,
        None,
        3,
    )
    out = await api(UPDATE, {"id": deal["id"], "input": {"title": None, "bidType": None, "description": "x"}})
    assert _codes(out["updateOpportunity"]["errors"]) == [
        (["input", "title"], "REQUIRED"),
        (["input", "bidType"], "REQUIRED"),
    ]
    again = (await api(UPDATE, {"id": deal["id"], "input": {}}))["updateOpportunity"]["opportunity"]
    assert (again["description"], again["version"]) == (None, 3)


async def test_every_to_one_link_is_set_and_cleared(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    deal = await _deal(api)
    links = {
        "customerId": ("customer", gid("Customer", board.customer)),
        "contactId": ("contact", gid("Contact", board.contact)),
        "referrerId": ("referrer", gid("Contact", board.contact)),
        "agentId": ("agent", gid("Contact", board.contact)),
        "ownerId": ("owner", gid("User", tenant.user_id)),
        "stageId": ("stage", gid("Stage", board.stages[0])),
        "leadId": ("lead", gid("Lead", board.lead)),
        "channelId": ("channel", gid("Channel", board.channel)),
        "typeId": ("type", gid("OpportunityType", board.type)),
    }
    out = (await api(UPDATE, {"id": deal["id"], "input": {k: v for k, (_, v) in links.items()}}))[
        "updateOpportunity"
    ]
    assert out["errors"] == []
    for field, value in links.values():
        assert out["opportunity"][field] == {"id": value}, field
    out = (await api(UPDATE, {"id": deal["id"], "input": dict.fromkeys(links)}))["updateOpportunity"]
    for field, _ in links.values():
        assert out["opportunity"][field] is None, field
    assert out["opportunity"]["position"] is None


async def test_close_reason_follows_status(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    deal = await _deal(api, stageId=gid("Stage", board.stages[0]))
    won, lost = gid("CloseReason", board.won_reason), gid("CloseReason", board.lost_reason)
    out = (await api(UPDATE, {"id": deal["id"], "input": {"closeReasonId": won}}))["updateOpportunity"]
    assert _codes(out["errors"]) == [(["input", "closeReasonId"], "INVALID")]
    out = await api(
        UPDATE, {"id": deal["id"], "input": {"stageId": gid("Stage", board.stages[2]), "closeReasonId": lost}}
    )
    assert _codes(out["updateOpportunity"]["errors"]) == [(["input", "closeReasonId"], "INVALID")]
    out = await api(
        UPDATE, {"id": deal["id"], "input": {"stageId": gid("Stage", board.stages[2]), "closeReasonId": won}}
    )
    after = out["updateOpportunity"]["opportunity"]
    assert (after["status"], after["closeReason"], after["probability"]) == ("WON", {"id": won}, 100)
    assert after["closedAt"] is not None and after["stageChangedAt"] is not None
    out = await api(
        UPDATE, {"id": deal["id"], "input": {"stageId": gid("Stage", board.stages[1]), "probability": 70}}
    )
    after = out["updateOpportunity"]["opportunity"]
    assert (after["status"], after["closedAt"], after["closeReason"], after["probability"]) == (
        "OPEN",
        None,
        None,
        70,
    )


async def test_per_period_value_only_for_non_fixed_bids(api: Api) -> None:
    deal = await _deal(api, bidType="PER_MONTH", perPeriodValue=12)
    assert (deal["bidType"], deal["perPeriodValue"]) == ("PER_MONTH", 12)
    out = (await api(UPDATE, {"id": deal["id"], "input": {"bidType": "FIXED"}}))["updateOpportunity"]
    assert (out["opportunity"]["bidType"], out["opportunity"]["perPeriodValue"]) == ("FIXED", None)
    out = (await api(UPDATE, {"id": deal["id"], "input": {"perPeriodValue": 2}}))["updateOpportunity"]
    assert _codes(out["errors"]) == [(["input", "perPeriodValue"], "INVALID")]


async def test_expected_revenue_override_and_back(api: Api) -> None:
    deal = await _deal(api, amount="200", probability=25)
    assert deal["expectedRevenue"] == "50.0000"
    out = (await api(UPDATE, {"id": deal["id"], "input": {"expectedRevenue": "75"}}))["updateOpportunity"]
    assert out["opportunity"]["expectedRevenue"] == "75.0000"
    out = (await api(UPDATE, {"id": deal["id"], "input": {"expectedRevenue": None}}))["updateOpportunity"]
    assert out["opportunity"]["expectedRevenue"] == "50.0000"


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(api: Api) -> None:
    deal = await _deal(api)
    ok = (await api(UPDATE, {"id": deal["id"], "input": {"title": "v2"}, "v": 1}))["updateOpportunity"]
    assert ok["opportunity"]["version"] == 2
    stale = (await api(UPDATE, {"id": deal["id"], "input": {"title": "lost"}, "v": 1}))["updateOpportunity"]
    assert stale["opportunity"] is None
    [error] = stale["errors"]
    assert (error["field"], error["code"], error["attemptedValue"]) == (["expectedVersion"], "CONFLICT", "1")
    assert "version 2" in error["message"]
    now = await api("query($id: ID!) { opportunity(id: $id) { title version } }", {"id": deal["id"]})
    assert now["opportunity"] == {"title": "v2", "version": 2}


async def test_two_concurrent_updates_with_one_version_exactly_one_wins(api: Api) -> None:
    deal = await _deal(api)
    for round_ in range(3):
        version = round_ + 1
        results = await asyncio.gather(
            *(
                api(UPDATE, {"id": deal["id"], "input": {"title": f"writer {i}"}, "v": version})
                for i in range(4)
            )
        )
        payloads = [r["updateOpportunity"] for r in results]
        winners = [p for p in payloads if not p["errors"]]
        assert len(winners) == 1, payloads
        assert winners[0]["opportunity"]["version"] == version + 1
        assert all(
            _codes(p["errors"]) == [(["expectedVersion"], "CONFLICT")] for p in payloads if p["errors"]
        )


async def test_concurrent_updates_without_version_each_count_once(api: Api) -> None:
    deal = await _deal(api)
    await asyncio.gather(*(api(UPDATE, {"id": deal["id"], "input": {"amount": str(i)}}) for i in range(6)))
    now = await api("query($id: ID!) { opportunity(id: $id) { version } }", {"id": deal["id"]})
    assert now["opportunity"]["version"] == 7


async def test_updated_by_is_the_caller(api: Api, tenant: Tenant, engine) -> None:
    deal = await _deal(api)
    editor_id, editor_key = await add_user(engine, "Acme", "ed@acme.test", Role.EDITOR)
    out = await api(UPDATE, {"id": deal["id"], "input": {"title": "by editor"}}, key=editor_key)
    after = out["updateOpportunity"]["opportunity"]
    assert after["updatedBy"] == {"id": gid("User", editor_id)}
    assert after["version"] == 2


async def test_bulk_update_and_delete(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    deals = [
        await _deal(api, title=f"bulk {i}", amount=str(i), stageId=gid("Stage", board.stages[0]))
        for i in range(4)
    ]
    await _deal(api, title="other", stageId=gid("Stage", board.stages[0]))
    out = await api(UPDATE_MANY, {"filter": {"title": {"startsWith": "bulk"}}, "input": {"priority": "HIGH"}})
    assert out["updateOpportunities"]["count"] == 4
    assert sorted(out["updateOpportunities"]["ids"]) == sorted(d["id"] for d in deals)
    high = await api("{ opportunities(filter: {priority: {eq: HIGH}}) { totalCount nodes { version } } }")
    assert high["opportunities"]["totalCount"] == 4
    assert {n["version"] for n in high["opportunities"]["nodes"]} == {2}
    bad = await api(UPDATE_MANY, {"filter": {"title": {"startsWith": "bulk"}}, "input": {"probability": 500}})
    assert _codes(bad["updateOpportunities"]["errors"]) == [(["input", "probability"], "OUT_OF_RANGE")]
    moved = await api(
        UPDATE_MANY, {"filter": {"amount": {"lt": "2"}}, "input": {"stageId": gid("Stage", board.stages[1])}}
    )
    assert moved["updateOpportunities"]["count"] == 2
    # a filter that constrains nothing, at any depth, is refused: it would match every deal
    nothing: dict[str, Any]
    for nothing in ({}, {"title": {}}, {"and": [{}, {"amount": {}}]}, {"or": [{"title": {"eq": None}}]}):
        empty = await api(DELETE_MANY, {"filter": nothing})
        assert _codes(empty["deleteOpportunities"]["errors"]) == [(["filter"], "REQUIRED")], nothing
        same = await api(UPDATE_MANY, {"filter": nothing, "input": {"probability": 1}})
        assert _codes(same["updateOpportunities"]["errors"]) == [(["filter"], "REQUIRED")], nothing
    assert await count(engine) == 5
    gone = await api(DELETE_MANY, {"filter": {"title": {"startsWith": "bulk"}}})
    assert gone["deleteOpportunities"]["count"] == 4
    left = await api("{ opportunities { nodes { title position stage { name } } } }")
    assert left["opportunities"]["nodes"] == [{"title": "other", "position": 1, "stage": {"name": "Qualify"}}]


async def test_delete_one_removes_children_and_closes_the_gap(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = gid("Stage", board.stages[0])
    _, b, _ = [await _deal(api, title=t, stageId=stage, items=[{"itemName": "x"}], tags=["t"]) for t in "abc"]
    out = (await api(DELETE, {"id": b["id"]}))["deleteOpportunity"]
    assert out == {"deletedId": b["id"], "errors": []}
    # a delete moves the deal to the trash (its children kept for a restore); a purge removes them
    assert await count(engine, m.OpportunityItem) == 3
    purge = "mutation($id: ID!) { purgeOpportunity(id: $id) { deletedId errors { code } } }"
    assert (await api(purge, {"id": b["id"]}))["purgeOpportunity"] == {"deletedId": b["id"], "errors": []}
    assert await count(engine, m.OpportunityItem) == 2
    assert await count(engine, m.OpportunityTag) == 2
    column = await api(
        "query($id: ID!) { stage(id: $id) { opportunities { nodes { title position } } } }", {"id": stage}
    )
    assert column["stage"]["opportunities"]["nodes"] == [
        {"title": "a", "position": 1},
        {"title": "c", "position": 2},
    ]
    again = (await api(DELETE, {"id": b["id"]}))["deleteOpportunity"]
    assert _codes(again["errors"]) == [(["id"], "NOT_FOUND")]


async def test_roles(app_client, engine, tenant: Tenant) -> None:
    _, viewer = await add_user(engine, "Acme", "v@acme.test", Role.VIEWER)
    _, editor = await add_user(engine, "Acme", "e@acme.test", Role.EDITOR)
    api = Api(app_client[1], editor)
    deal = await _deal(api)
    [error] = await api.errors(UPDATE, {"id": deal["id"], "input": {"title": "x"}}, key=viewer)
    assert error["extensions"]["code"] == "FORBIDDEN"
    [error] = await api.errors(DELETE, {"id": deal["id"]})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await count(engine) == 1


async def test_private_deal_of_someone_else_is_not_found_for_an_editor(
    api: Api, tenant: Tenant, engine
) -> None:
    _, editor = await add_user(engine, "Acme", "e2@acme.test", Role.EDITOR)
    [hidden] = await insert(
        engine, opportunity(tenant.organization_id, is_private=True, owner_id=tenant.user_id)
    )
    out = await api(UPDATE, {"id": gid("Opportunity", hidden), "input": {"title": "peek"}}, key=editor)
    assert _codes(out["updateOpportunity"]["errors"]) == [(["id"], "NOT_FOUND")]
    out = await api(CREATE, {"input": {"title": "x", "contactIds": []}}, key=editor)
    assert out["createOpportunity"]["errors"] == []
    private = {"title": "secret", "isPrivate": True, "accessUserIds": [gid("User", tenant.user_id)]}
    out = await api(CREATE, {"input": private}, key=editor)
    assert _codes(out["createOpportunity"]["errors"]) == [
        (["input", "isPrivate"], "FORBIDDEN"),
        (["input", "accessUserIds"], "FORBIDDEN"),
    ]
    out = await api(CREATE, {"input": private})  # the admin may
    assert out["createOpportunity"]["opportunity"]["isPrivate"] is True
    assert out["createOpportunity"]["opportunity"]["accessList"] == [{"id": gid("User", tenant.user_id)}]


async def test_more_field_rules(api: Api) -> None:
    out = await api(
        CREATE,
        {
            "input": {
                "title": "T",
                "conversionRate": "1.1234567",
                "lastActivityAt": "1850-01-01T00:00:00Z",
                "interactionCount": -1,
                "expectedRevenue": "-3",
            }
        },
    )
    assert sorted(_codes(out["createOpportunity"]["errors"])) == [
        (["input", "conversionRate"], "INVALID"),
        (["input", "expectedRevenue"], "OUT_OF_RANGE"),
        (["input", "interactionCount"], "OUT_OF_RANGE"),
        (["input", "lastActivityAt"], "OUT_OF_RANGE"),
    ]
    deal = await _deal(api, conversionRate="1.123456", leadSource="REFERRAL", priority="LOW")
    out = await api(UPDATE, {"id": deal["id"], "input": {"interactionCount": None, "priority": None}})
    assert _codes(out["updateOpportunity"]["errors"]) == [(["input", "interactionCount"], "REQUIRED")]
    data = await api(
        "query($id: ID!) { opportunity(id: $id) { conversionRate leadSource priority } }", {"id": deal["id"]}
    )
    assert data["opportunity"] == {"conversionRate": "1.123456", "leadSource": "REFERRAL", "priority": "LOW"}


async def test_bulk_update_stops_at_the_first_deal_it_does_not_fit(api: Api) -> None:
    fixed = await _deal(api, title="bulk fixed")
    monthly = await _deal(api, title="bulk monthly", bidType="PER_MONTH", perPeriodValue=2)
    out = await api(
        UPDATE_MANY, {"filter": {"title": {"startsWith": "bulk"}}, "input": {"perPeriodValue": 6}}
    )
    [error] = out["updateOpportunities"]["errors"]
    assert (error["field"], error["code"]) == (["input", "perPeriodValue"], "INVALID")
    data = await api(
        "query($id: ID!) { opportunity(id: $id) { perPeriodValue version } }", {"id": monthly["id"]}
    )
    assert data["opportunity"] == {"perPeriodValue": 2, "version": 1}
    assert error["message"].startswith(f"deal {fixed['id']}: ")


async def test_create_many_with_one_foreign_id_creates_nothing(api: Api, tenant: Tenant, engine) -> None:
    other = await make_tenant(engine, "Wayne")
    theirs = await make_board(engine, other.organization_id)
    out = await api(
        CREATE_MANY,
        {
            "inputs": [
                {"title": "A"},
                {"title": "B", "customerId": gid("Customer", theirs.customer)},
                {"title": "C"},
            ]
        },
    )
    assert _codes(out["createOpportunities"]["errors"]) == [(["inputs", "1", "customerId"], "NOT_FOUND")]
    assert await count(engine) == 0


async def test_managers_delete(app_client, engine, tenant: Tenant) -> None:
    _, manager = await add_user(engine, "Acme", "m@acme.test", Role.MANAGER)
    api = Api(app_client[1], manager)
    deal = await _deal(api)
    out = (await api(DELETE, {"id": deal["id"]}))["deleteOpportunity"]
    assert out == {"deletedId": deal["id"], "errors": []}
    # in the trash: the row is kept, and no list shows it
    assert await count(engine) == 1
    assert (await api("{ opportunities { totalCount } }"))["opportunities"]["totalCount"] == 0
