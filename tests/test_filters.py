"""OpportunityFilter end to end: scalar and string operators, boolean algebra, relation filters at any
depth, to-many quantifiers, tags, typed custom fields, search, and refusals of contradictory input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import models as m
from tests.support import Api, Tenant, gid, insert, make_board, make_tenant, opportunity, unscoped

TITLES = """
query ($filter: OpportunityFilter) {
  opportunities(filter: $filter, first: 100, orderBy: [{field: TITLE}]) { totalCount nodes { title } }
}
"""


@dataclass
class World:
    board: object
    other_customer: int
    second_contact: int
    defs: dict[str, int]


async def _world(engine, tenant: Tenant) -> World:
    org = tenant.organization_id
    board = await make_board(engine, org)
    q, p, won, _lost = board.stages
    async with unscoped(engine) as s:
        shop = m.Customer(organization_id=org, name="Corner Shop", industry="Retail", city="Paris")
        s.add(shop)
        await s.flush()
        bob = m.Contact(
            organization_id=org, customer_id=shop.id, display_name="Bob Stone", email="bob@shop.test"
        )
        s.add(bob)
        await s.flush()
        shop_id, bob_id = shop.id, bob.id
    deals = [
        opportunity(org, title="Alpha", description="Renewal of 100% plan", stage_id=q, amount=Decimal("100"),
                    probability=10, customer_id=board.customer, contact_id=board.contact,
                    expected_close_date=date(2026, 2, 1), owner_id=tenant.user_id, priority="HIGH"),
        opportunity(org, title="Beta_1", description="Expansion", stage_id=p, amount=Decimal("250.5"),
                    probability=50, customer_id=shop_id, contact_id=bob_id, expected_close_date=date(2026, 3, 15),
                    lead_source="REFERRAL"),
        opportunity(org, title="Gamma", description=None, stage_id=won, status="WON", amount=None,
                    probability=None, customer_id=None, expected_close_date=None, priority="LOW"),
        opportunity(org, title="delta", description="Small upsell", stage_id=None, amount=Decimal("5"),
                    probability=90, customer_id=shop_id, expected_close_date=date(2026, 4, 30)),
    ]  # fmt: skip
    ids = await insert(engine, *deals)
    defs = dict(zip(["text", "area", "select", "check", "heading", "date"], board.definitions, strict=True))
    async with unscoped(engine) as s:
        links = [(ids[0], board.contact, 1), (ids[0], bob_id, 2), (ids[1], bob_id, 1)]
        s.add_all(
            m.OpportunityContact(organization_id=org, opportunity_id=o, contact_id=c, position=i)
            for o, c, i in links
        )
        items = [(ids[0], "Seat", "9.5"), (ids[0], "Support", "100"), (ids[1], "Seat", "8")]
        s.add_all(
            m.OpportunityItem(organization_id=org, opportunity_id=o, item_name=n, rate=Decimal(r))
            for o, n, r in items
        )
        tags = [(ids[0], "hot"), (ids[0], "q1"), (ids[1], "hot"), (ids[2], "cold")]
        s.add_all(m.OpportunityTag(organization_id=org, opportunity_id=o, tag=t) for o, t in tags)
        values = [
            (ids[0], "text", "red apple"), (ids[1], "text", "green"), (ids[0], "select", "A"), (ids[1], "select", "B"),
            (ids[0], "check", "true"), (ids[1], "check", "false"), (ids[0], "date", "2026-05-01"),
            (ids[1], "date", "2026-06-15"), (ids[2], "date", "2025-12-31"),
        ]  # fmt: skip
        s.add_all(
            m.CustomFieldValue(organization_id=org, opportunity_id=o, definition_id=defs[d], value=v)
            for o, d, v in values
        )
    return World(board, shop_id, bob_id, defs)


async def titles(api: Api, flt: dict) -> list[str]:
    data = (await api(TITLES, {"filter": flt}))["opportunities"]
    assert data["totalCount"] == len(data["nodes"])
    return [n["title"] for n in data["nodes"]]


async def code(api: Api, flt: dict) -> str:
    errors = await api.errors(TITLES, {"filter": flt})
    return errors[0]["extensions"]["code"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"amount": {"eq": "100"}}, ["Alpha"]),
        ({"amount": {"ne": "100"}}, ["Beta_1", "Gamma", "delta"]),  # no amount is "not 100" too
        ({"amount": {"in": ["5", "100"]}}, ["Alpha", "delta"]),
        ({"amount": {"notIn": ["5", "100"]}}, ["Beta_1", "Gamma"]),
        ({"amount": {"gt": "5", "lte": "250.5"}}, ["Alpha", "Beta_1"]),
        ({"amount": {"gte": "5", "lt": "100"}}, ["delta"]),
        ({"amount": {"isNull": True}}, ["Gamma"]),
        ({"amount": {"isNull": False}}, ["Alpha", "Beta_1", "delta"]),
        ({"probability": {"gte": 50}}, ["Beta_1", "delta"]),
        ({"expectedRevenue": {"gte": "10", "lte": "125.25"}}, ["Alpha", "Beta_1"]),
        ({"expectedCloseDate": {"gte": "2026-03-01", "lte": "2026-04-30"}}, ["Beta_1", "delta"]),
        ({"status": {"eq": "WON"}}, ["Gamma"]),
        ({"status": {"in": ["OPEN"]}}, ["Alpha", "Beta_1", "delta"]),
        ({"priority": {"in": ["HIGH", "LOW"]}}, ["Alpha", "Gamma"]),
        ({"leadSource": {"eq": "REFERRAL"}}, ["Beta_1"]),
        ({"createdAt": {"lt": "2020-01-01T00:00:00Z"}}, []),
    ],
)
async def test_scalar_operators(api: Api, tenant: Tenant, engine, flt: dict, expected: list[str]) -> None:
    await _world(engine, tenant)
    assert await titles(api, flt) == expected


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"title": {"contains": "a_"}}, ["Beta_1"]),  # `_` is a character, not a wildcard
        ({"title": {"contains": "lph"}}, ["Alpha"]),
        ({"title": {"contains": "ALPH"}}, []),
        ({"title": {"iContains": "ALPH"}}, ["Alpha"]),
        ({"title": {"startsWith": "d"}}, ["delta"]),
        ({"title": {"endsWith": "ma"}}, ["Gamma"]),
        ({"description": {"contains": "100%"}}, ["Alpha"]),  # `%` too
        ({"description": {"contains": "0% p"}}, ["Alpha"]),
        ({"description": {"isNull": True}}, ["Gamma"]),
        ({"title": {"in": ["Alpha", "delta"]}}, ["Alpha", "delta"]),
    ],
)
async def test_string_operators(api: Api, tenant: Tenant, engine, flt: dict, expected: list[str]) -> None:
    await _world(engine, tenant)
    assert await titles(api, flt) == expected


async def test_and_or_not(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    either = {"or": [{"title": {"eq": "Alpha"}}, {"amount": {"lt": "10"}}]}
    assert await titles(api, either) == ["Alpha", "delta"]
    assert await titles(api, {"not": either}) == ["Beta_1", "Gamma"]  # no amount is not < 10
    both = {"and": [either, {"probability": {"gt": 50}}]}
    assert await titles(api, both) == ["delta"]
    assert await titles(api, {"or": []}) == []
    assert await titles(api, {"and": []}) == ["Alpha", "Beta_1", "Gamma", "delta"]
    # NOT is two-valued: a deal without an amount is not over 50 (as `ne` keeps missing values)
    assert await titles(api, {"not": {"amount": {"gt": "50"}}}) == ["Gamma", "delta"]
    assert await titles(api, {"not": {"not": {"amount": {"gt": "50"}}}}) == ["Alpha", "Beta_1"]


async def test_relation_filters_at_any_depth(api: Api, tenant: Tenant, engine) -> None:
    w = await _world(engine, tenant)
    assert await titles(api, {"stage": {"pipeline": {"name": {"startsWith": "Pipeline"}}}}) == [
        "Alpha",
        "Beta_1",
        "Gamma",
    ]
    assert await titles(api, {"stage": {"type": {"eq": "WON"}}}) == ["Gamma"]
    assert await titles(api, {"pipeline": {"id": {"eq": gid("Pipeline", w.board.pipeline)}}}) == [
        "Alpha",
        "Beta_1",
        "Gamma",
    ]
    assert await titles(api, {"customer": {"industry": {"eq": "Retail"}}}) == ["Beta_1", "delta"]
    assert await titles(api, {"contact": {"customer": {"city": {"eq": "Paris"}}}}) == ["Beta_1"]
    assert await titles(api, {"owner": {"email": {"endsWith": "@acme.test"}}}) == ["Alpha"]
    assert await titles(api, {"customer": {"not": {"industry": {"eq": "Retail"}}}}) == ["Alpha"]
    assert await titles(api, {"not": {"customer": {"industry": {"eq": "Retail"}}}}) == ["Alpha", "Gamma"]


async def test_to_many_some_none_every(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    bob = {"displayName": {"eq": "Bob Stone"}}
    assert await titles(api, {"contacts": {"some": bob}}) == ["Alpha", "Beta_1"]
    assert await titles(api, {"contacts": {"none": bob}}) == ["Gamma", "delta"]
    # every: vacuously true without participants
    assert await titles(api, {"contacts": {"every": bob}}) == ["Beta_1", "Gamma", "delta"]
    assert await titles(api, {"contacts": {"some": {}, "every": bob}}) == ["Beta_1"]
    assert await titles(api, {"items": {"some": {"itemName": {"eq": "Seat"}}}}) == ["Alpha", "Beta_1"]
    assert await titles(api, {"items": {"every": {"rate": {"lt": "50"}}, "some": {}}}) == ["Beta_1"]
    assert await titles(api, {"items": {"none": {}}}) == ["Gamma", "delta"]


async def test_tags(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    assert await titles(api, {"tags": {"hasAny": ["hot", "cold"]}}) == ["Alpha", "Beta_1", "Gamma"]
    assert await titles(api, {"tags": {"hasAll": ["hot", "q1"]}}) == ["Alpha"]
    assert await titles(api, {"tags": {"hasNone": ["hot"]}}) == ["Gamma", "delta"]
    assert await code(api, {"tags": {"hasAll": ["hot"], "hasNone": ["hot"]}}) == "BAD_USER_INPUT"


async def test_custom_fields_are_typed_by_their_definition(api: Api, tenant: Tenant, engine) -> None:
    w = await _world(engine, tenant)

    def cf(kind: str, **ops: object) -> dict:
        return {"customField": [{"definitionId": gid("CustomFieldDefinition", w.defs[kind]), **ops}]}

    assert await titles(api, cf("text", text={"iContains": "APPLE"})) == ["Alpha"]
    assert await titles(api, cf("select", text={"in": ["B"]})) == ["Beta_1"]
    assert await titles(api, cf("date", date={"gte": "2026-01-01", "lt": "2026-06-01"})) == ["Alpha"]
    assert await titles(api, cf("date", date={"lt": "2026-06-01"})) == ["Alpha", "Gamma"]
    assert await titles(api, cf("check", checked=True)) == ["Alpha"]
    assert await titles(api, cf("check", checked=False)) == ["Beta_1", "Gamma", "delta"]
    assert await titles(api, cf("text", isSet=True)) == ["Alpha", "Beta_1"]
    assert await titles(api, cf("text", isSet=False)) == ["Gamma", "delta"]
    both = {
        "customField": [*cf("text", isSet=True)["customField"], *cf("check", checked=True)["customField"]]
    }
    assert await titles(api, both) == ["Alpha"]

    for flt in (
        cf("text", date={"eq": "2026-01-01"}),  # a date condition on a text field
        cf("date", text={"eq": "x"}),
        cf("text", checked=True),
        cf("heading", text={"eq": "x"}),
        cf("select", text={"eq": "C"}),  # not an option
        cf("text", isSet=False, text={"eq": "x"}),
        {"customField": [{"definitionId": gid("Opportunity", 1), "isSet": True}]},
        {"customField": [{"definitionId": "garbage", "isSet": True}]},
    ):
        assert await code(api, flt) == "BAD_USER_INPUT", flt


async def test_custom_field_of_another_organization_is_unknown(api: Api, tenant: Tenant, engine) -> None:
    other = await make_tenant(engine, "Globex")
    board = await make_board(engine, other.organization_id)
    flt = {
        "customField": [{"definitionId": gid("CustomFieldDefinition", board.definitions[0]), "isSet": True}]
    }
    assert await code(api, flt) == "BAD_USER_INPUT"


async def test_search_finds_every_word_in_title_description_or_customer(
    api: Api, tenant: Tenant, engine
) -> None:
    await _world(engine, tenant)
    assert await titles(api, {"search": "alpha"}) == ["Alpha"]
    assert await titles(api, {"search": "upsell"}) == ["delta"]
    assert await titles(api, {"search": "corner"}) == ["Beta_1", "delta"]  # the customer's name
    assert await titles(api, {"search": "Corner  expansion"}) == ["Beta_1"]  # every word, anywhere
    assert await titles(api, {"search": "alpha expansion"}) == []
    assert await titles(api, {"search": "renew"}) == ["Alpha"]  # a word's beginning is enough
    assert await titles(api, {"search": "   "}) == ["Alpha", "Beta_1", "Gamma", "delta"]


async def test_ids_filter_and_foreign_ids_match_nothing(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    data = await api("{ opportunities(first: 2, orderBy: [{field: TITLE}]) { nodes { id title } } }")
    ids = [n["id"] for n in data["opportunities"]["nodes"]]
    assert await titles(api, {"id": {"in": ids}}) == ["Alpha", "Beta_1"]
    assert await titles(api, {"id": {"notIn": ids}}) == ["Gamma", "delta"]
    assert await titles(api, {"id": {"eq": gid("Customer", 1)}}) == []
    assert await titles(api, {"id": {"eq": "not-an-id"}}) == []


@pytest.mark.parametrize(
    "flt",
    [
        {"amount": {"isNull": True, "eq": "5"}},
        {"title": {"isNull": True, "contains": "a"}},
        {"customer": {"name": {"isNull": True, "in": ["x"]}}},
        {"or": [{"amount": {"isNull": True, "gt": "1"}}]},
        {"contacts": {"some": {"email": {"isNull": True, "eq": "x"}}}},
        {"id": {"in": [gid("Opportunity", i) for i in range(1, 1002)]}},
    ],
)
async def test_contradictory_or_runaway_input_is_bad_user_input(
    api: Api, tenant: Tenant, engine, flt: dict
) -> None:
    errors = await api.errors(TITLES, {"filter": flt})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["message"].startswith("`filter.")


async def test_compatible_null_operators_are_accepted(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    assert await titles(api, {"amount": {"isNull": True, "ne": "5"}}) == ["Gamma"]
    assert await titles(api, {"amount": {"isNull": False, "gt": "50"}}) == ["Alpha", "Beta_1"]


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ("first: -1", "first"),
        ("offset: -5", "offset"),
        ("first: 1, last: 1", "last"),
        ("last: 2, offset: 1", "offset"),
        ('after: "bm90IGEgY3Vyc29y"', "after"),
    ],
)
async def test_page_arguments_out_of_range_are_bad_user_input(
    api: Api, tenant: Tenant, engine, args: str, argument: str
) -> None:
    await _world(engine, tenant)  # customers, so that the nested lists run
    for document in (
        f"{{ opportunities({args}) {{ nodes {{ id }} }} }}",
        f"{{ customers {{ nodes {{ opportunities({args}) {{ nodes {{ id }} }} }} }} }}",
    ):
        errors = await api.errors(document)
        assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}


@pytest.mark.parametrize("args", ["first: 1001", "last: 1001"])
async def test_pages_over_the_maximum_are_query_too_complex(
    api: Api, tenant: Tenant, engine, args: str
) -> None:
    await _world(engine, tenant)
    for document in (
        f"{{ opportunities({args}) {{ nodes {{ id }} }} }}",
        f"{{ customers {{ nodes {{ opportunities({args}) {{ nodes {{ id }} }} }} }} }}",
    ):
        errors = await api.errors(document)
        assert errors[0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "argument": args.split(":")[0],
            "limit": "max_page_size",
        }
        assert "1000" in errors[0]["message"]


async def test_every_list_takes_its_own_filter(api: Api, tenant: Tenant, engine) -> None:
    w = await _world(engine, tenant)
    data = await api(
        """query ($p: ID!) {
          customers(filter: {industry: {eq: "Retail"}}) { nodes { name } }
          contacts(filter: {customer: {name: {startsWith: "Corner"}}}) { nodes { displayName } }
          stages(filter: {pipeline: {id: {eq: $p}}, probability: {gte: 50}}) { nodes { name } }
          users(filter: {email: {contains: "@acme"}}) { totalCount }
          closeReasons(filter: {kind: {eq: LOST}}) { nodes { name } }
          leads(filter: {customer: {industry: {eq: "Software"}}}) { nodes { name } }
          customFieldDefinitions(filter: {fieldType: {in: [DATE, CHECK_BOX]}}) { nodes { fieldType } }
        }""",
        {"p": gid("Pipeline", w.board.pipeline)},
    )
    assert data["customers"]["nodes"] == [{"name": "Corner Shop"}]
    assert data["contacts"]["nodes"] == [{"displayName": "Bob Stone"}]
    assert [s["name"] for s in data["stages"]["nodes"]] == ["Propose", "Won"]
    assert data["users"]["totalCount"] == 1
    assert data["closeReasons"]["nodes"] == [{"name": "No budget"}]
    assert data["leads"]["nodes"] == [{"name": "Inbound lead"}]
    assert [d["fieldType"] for d in data["customFieldDefinitions"]["nodes"]] == ["CHECK_BOX", "DATE"]


async def test_more_relation_filters_referrer_agent_creator_lost_reasons(
    api: Api, tenant: Tenant, engine
) -> None:
    w = await _world(engine, tenant)
    org = tenant.organization_id
    await insert(
        engine,
        opportunity(org, title="Referred", referrer_id=w.second_contact, agent_id=w.board.contact,
                    created_by_id=tenant.user_id, bid_type="PER_MONTH", per_period_value=12,
                    utm_source="newsletter", interaction_count=7),
    )  # fmt: skip
    async with unscoped(engine) as s:
        alpha = await s.scalar(select(m.Opportunity.id).where(m.Opportunity.title == "Alpha"))
        s.add(
            m.OpportunityLostReason(
                organization_id=org, opportunity_id=alpha, close_reason_id=w.board.lost_reason
            )
        )
    assert await titles(api, {"referrer": {"email": {"eq": "bob@shop.test"}}}) == ["Referred"]
    assert await titles(api, {"agent": {"customer": {"industry": {"eq": "Software"}}}}) == ["Referred"]
    assert await titles(api, {"createdBy": {"id": {"eq": gid("User", tenant.user_id)}}}) == ["Referred"]
    assert await titles(api, {"bidType": {"in": ["PER_MONTH"]}, "perPeriodValue": {"gte": 12}}) == [
        "Referred"
    ]
    assert await titles(api, {"utmSource": {"startsWith": "news"}, "interactionCount": {"gt": 5}}) == [
        "Referred"
    ]
    assert await titles(api, {"lostReasons": {"some": {"name": {"eq": "No budget"}}}}) == ["Alpha"]
    assert await titles(api, {"lostReasons": {"none": {}}, "title": {"startsWith": "A"}}) == []


async def test_customers_contacts_users_filter_by_their_deals(api: Api, tenant: Tenant, engine) -> None:
    w = await _world(engine, tenant)
    data = await api(
        """query ($c: ID!) {
          board: customer(id: $c) { name }
          open: customers(filter: {opportunities: {some: {status: {eq: OPEN}, amount: {gt: "200"}}}}) {
            nodes { name } }
          without: customers(filter: {opportunities: {none: {}}}) { nodes { name } }
          small: customers(filter: {opportunities: {every: {amount: {lt: "200"}}}}) { nodes { name } }
          staff: customers(filter: {contacts: {some: {displayName: {startsWith: "Bob"}}}}) { nodes { name } }
          primary: contacts(filter: {opportunities: {some: {title: {eq: "Alpha"}}}}) { nodes { displayName } }
          owners: users(filter: {ownedOpportunities: {some: {priority: {eq: HIGH}}}, isActive: {eq: true}}) {
            totalCount }
        }""",
        {"c": gid("Customer", w.board.customer)},
    )
    assert data["open"]["nodes"] == [{"name": "Corner Shop"}]
    assert data["without"]["nodes"] == []
    assert data["small"]["nodes"] == [data["board"]]  # Corner Shop has a deal of 250.5
    assert data["staff"]["nodes"] == [{"name": "Corner Shop"}]
    assert [c["displayName"] for c in data["primary"]["nodes"]] != ["Bob Stone"]
    assert len(data["primary"]["nodes"]) == 1
    assert data["owners"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ('{ opportunities(filter: {amount: {gt: "abc"}}) { totalCount } }', {}),
        ('{ opportunities(filter: {nope: {eq: "5"}}) { totalCount } }', {}),
        ('{ opportunities(filter: {expectedCloseDate: {gte: "2026-13-01"}}) { totalCount } }', {}),
        (
            "query ($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }",
            {"f": {"status": {"eq": "X"}}},
        ),
        (
            "query ($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }",
            {"f": {"tags": {"x": 1}}},
        ),
    ],
)
async def test_unknown_or_malformed_filter_input_is_bad_user_input(
    api: Api, tenant: Tenant, document: str, variables: dict
) -> None:
    errors = await api.errors(document, variables)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
