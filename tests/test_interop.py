"""Import and export in the five systems' formats: round trips, re-imports, dry runs, refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app import models as m
from app.demo import seed_demo
from app.enums import Role
from app.interop.engine import Outcome, export, import_file
from app.interop.engine import sessions as make_sessions
from app.interop.formats import NAMES, get
from app.tenancy import Principal
from tests.support import Api, Tenant, make_tenant, unscoped

SAMPLES = Path(__file__).parent / "samples"
# What the gateway stamps itself (never imported), and the places each organization numbers its own way.
NOT_CARRIED = {
    "oro": set(),
    "apideck": {"createdAt", "updatedAt", "createdBy", "updatedBy", "stageLastChangedAt", "dateStageChanged"},
    "overplane": {"created_at", "updated_at"},
    "onlyoffice": {"Created", "CreateBy", "SortOrder", "Position"},
    "nexudus": {"CreatedOn", "UpdatedOn"},
}


def admin(t: Tenant) -> Principal:
    return Principal(organization_id=t.organization_id, user_id=t.user_id, roles=frozenset({Role.ADMIN}))


async def demo_admin(engine: Any, opportunities: int = 60) -> Principal:
    await seed_demo(engine, opportunities=opportunities, organization="Acme Demo", progress=False)
    async with unscoped(engine) as s:
        org = await s.scalar(select(m.Organization.id).where(m.Organization.name == "Acme Demo"))
        user = await s.scalar(
            select(m.User.id).where(m.User.organization_id == org).order_by(m.User.id).limit(1)
        )
    return Principal(organization_id=org, user_id=user, roles=frozenset({Role.ADMIN}))


async def exported(engine: Any, name: str, who: Principal) -> dict[str, Any]:
    buf = io.BytesIO()
    await export(make_sessions(engine), get(name), who, buf, batch=25)
    return json.loads(buf.getvalue())


def normal(name: str, doc: Any) -> Any:
    """The document without what no import carries; Oro's `included` as a set."""
    if isinstance(doc, dict):
        out = {k: normal(name, v) for k, v in doc.items() if k not in NOT_CARRIED[name]}
        if "included" in out:
            out["included"] = sorted(out["included"], key=lambda r: (r["type"], r["id"]))
        return out
    if isinstance(doc, list):
        return [normal(name, v) for v in doc]
    return doc


async def deal_count(engine: Any, org: int) -> int:
    async with unscoped(engine) as s:
        q = select(func.count()).select_from(m.Opportunity).where(m.Opportunity.organization_id == org)
        return int(await s.scalar(q) or 0)


@pytest.mark.parametrize("name", NAMES)
async def test_export_then_import_into_an_empty_organization_gives_the_same_data(
    engine: Any, tmp_path: Path, name: str
) -> None:
    source = await demo_admin(engine)
    first = await exported(engine, name, source)
    assert len(first[get(name).list_key]) == 60
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(first))
    target = admin(await make_tenant(engine, f"Empty {name}"))
    report: list[Outcome] = []
    counts = await import_file(make_sessions(engine), get(name), path, target, batch=25, report=report.append)
    assert dict(counts) == {"created": 60}, [o.as_json() for o in report if o.result != "created"][:3]
    assert [o.index for o in report] == list(range(60))
    second = await exported(engine, name, target)
    assert normal(name, second) == normal(name, first)
    # the same file again: nothing to do, nothing written
    again = await import_file(make_sessions(engine), get(name), path, target, batch=25)
    assert dict(again) == {"unchanged": 60}
    assert await exported(engine, name, target) == second
    assert await deal_count(engine, target.organization_id) == 60


@pytest.mark.parametrize("name", NAMES)
async def test_a_dry_run_reports_the_same_and_writes_nothing(engine: Any, tmp_path: Path, name: str) -> None:
    target = admin(await make_tenant(engine, "Dry"))
    path = SAMPLES / f"{name}.json"
    dry: list[dict[str, Any]] = []
    counts = await import_file(
        make_sessions(engine), get(name), path, target, dry_run=True, report=lambda o: dry.append(o.as_json())
    )
    assert dict(counts) == {"created": 2, "refused": 1}
    async with unscoped(engine) as s:
        for model in (
            m.Opportunity,
            m.Customer,
            m.Contact,
            m.Stage,
            m.Pipeline,
            m.ExternalId,
            m.CustomFieldDefinition,
        ):
            assert (
                await s.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.organization_id == target.organization_id)
                )
                == 0
            )
        users = await s.scalar(
            select(func.count()).select_from(m.User).where(m.User.organization_id == target.organization_id)
        )
        assert users == 1  # the tenant's own
    real: list[dict[str, Any]] = []
    await import_file(
        make_sessions(engine), get(name), path, target, report=lambda o: real.append(o.as_json())
    )
    assert real == dry


REFUSED = {
    "apideck": [("title", "REQUIRED"), ("probability", "OUT_OF_RANGE")],
    "overplane": [("opportunity_amount", "INVALID")],
    "onlyoffice": [("BidType", "INVALID")],
    "nexudus": [("Status", "INVALID")],
    "oro": [("type", "INVALID")],
}


@pytest.mark.parametrize("name", NAMES)
async def test_a_refused_record_is_reported_at_its_property_and_the_rest_imported(
    engine: Any, name: str
) -> None:
    target = admin(await make_tenant(engine, "Samples"))
    report: list[Outcome] = []
    await import_file(
        make_sessions(engine), get(name), SAMPLES / f"{name}.json", target, report=report.append
    )
    assert [o.result for o in report] == ["created", "created", "refused"]
    assert report[2].index == 2
    assert [(p["property"], p["code"]) for p in report[2].problems] == REFUSED[name]
    assert await deal_count(engine, target.organization_id) == 2


DEALS = """
query { opportunities(orderBy: [{field: ID}]) { nodes {
  title description status amount currency bidType perPeriodValue probability expectedRevenue expectedCloseDate
  closedAt isPrivate tags interactionCount position leadSource priority conversionRate
  utm { source medium campaign content }
  stage { name type probability color pipeline { name } } customer { name industry address { city } numberOfEmployees }
  contact { displayName email isCompany } contacts { displayName } referrer { displayName } owner { email displayName }
  closeReason { name kind } lostReasons { name } type { name } lead { name } channel { name type }
  accessList { displayName } customFields { label fieldType value }
  items { itemName itemCode quantity rate amount baseRate position }
  externalIds { source externalId }
} } }
"""


async def imported(api: Api, engine: Any, tenant: Tenant, name: str) -> list[dict[str, Any]]:
    await import_file(make_sessions(engine), get(name), SAMPLES / f"{name}.json", admin(tenant))
    return (await api(DEALS))["opportunities"]["nodes"]


async def test_apideck_sample(api: Api, engine: Any, tenant: Tenant) -> None:
    rocket, lost = await imported(api, engine, tenant, "apideck")
    assert (rocket["title"], rocket["amount"], rocket["currency"], rocket["probability"]) == (
        "New Rocket",
        "75000.0000",
        "USD",
        40,
    )
    assert rocket["expectedRevenue"] == "30000.0000"  # the computed weighted value: no override stored
    assert (rocket["priority"], rocket["leadSource"], rocket["status"]) == ("HIGH", "WEBSITE", "OPEN")
    assert rocket["tags"] == ["New", "Q3"] and rocket["interactionCount"] == 3
    assert rocket["customer"]["name"] == "Copper"
    assert [c["displayName"] for c in rocket["contacts"]] == ["Contact c-1", "Contact c-2"]
    assert rocket["customFields"] == [{"label": "Region", "fieldType": "TEXT_FIELD", "value": "EMEA"}]
    assert rocket["externalIds"] == [{"source": "apideck", "externalId": "12345"}]
    assert (lost["status"], lost["closeReason"], lost["closedAt"]) == (
        "LOST",
        {"name": "No budget", "kind": "LOST"},
        "2020-10-30T00:00:00+00:00",
    )
    assert lost["stage"]["type"] == "LOST"


async def test_overplane_sample(api: Api, engine: Any, tenant: Tenant) -> None:
    retrofit, lost = await imported(api, engine, tenant, "overplane")
    assert retrofit["customer"] == {
        "name": "Granite Systems",
        "industry": "Manufacturing",
        "address": {"city": "Berlin"},
        "numberOfEmployees": 250,
    }
    assert retrofit["contact"] == {
        "displayName": "Elijah Clarke",
        "email": "elijah.clarke@granite.example",
        "isCompany": False,
    }
    assert retrofit["owner"]["email"] == "owner@empty.test"  # matched by email: the tenant's own user
    assert [
        (i["itemName"], i["quantity"], i["rate"], i["amount"], i["position"]) for i in retrofit["items"]
    ] == [
        ("Conveyor", "2.0000", "500.0000", "1000.0000", 1),
        ("Installation", "1.0000", "500.0000", "500.0000", 2),
    ]
    assert retrofit["utm"] == {
        "source": "newsletter",
        "medium": "email",
        "campaign": "spring",
        "content": "banner",
    }
    assert (retrofit["conversionRate"], retrofit["expectedCloseDate"], retrofit["type"]) == (
        "0.920000",
        "2024-03-31",
        {"name": "Sales"},
    )
    assert [r["name"] for r in lost["lostReasons"]] == ["Price", "Timing"]
    assert (lost["status"], lost["closeReason"]["name"]) == ("LOST", "Price")


async def test_onlyoffice_sample(api: Api, engine: Any, tenant: Tenant) -> None:
    hosting, won = await imported(api, engine, tenant, "onlyoffice")
    assert (hosting["bidType"], hosting["perPeriodValue"], hosting["currency"], hosting["probability"]) == (
        "PER_MONTH",
        36,
        "EUR",
        65,
    )
    assert hosting["stage"] == {
        "name": "Negotiation",
        "type": "OPEN",
        "probability": 60,
        "color": "#ffcc00",
        "pipeline": {"name": "Onlyoffice"},
    }
    assert hosting["isPrivate"] is True and [u["displayName"] for u in hosting["accessList"]] == [
        "Mia Johnson"
    ]
    assert hosting["owner"]["displayName"] == "Nora Johnson"
    assert hosting["contact"] == {"displayName": "Globex Ltd", "email": None, "isCompany": True}
    assert [c["displayName"] for c in hosting["contacts"]] == ["Globex Ltd", "Hank Scorpio"]
    assert hosting["customFields"] == [
        {"label": "Contract term", "fieldType": "TEXT_FIELD", "value": "36 months"},
        {"label": "Signed", "fieldType": "CHECK_BOX", "value": "true"},
    ]
    assert (won["status"], won["closedAt"], won["bidType"]) == ("WON", "2025-02-01T12:00:00+00:00", "FIXED")


async def test_nexudus_sample(api: Api, engine: Any, tenant: Tenant) -> None:
    desks, lost = await imported(api, engine, tenant, "nexudus")
    assert (desks["title"], desks["description"]) == (
        "Two desks from March",
        "Two desks from March\nWants a quiet corner",
    )
    assert (desks["amount"], desks["currency"], desks["leadSource"], desks["position"]) == (
        "800.0000",
        "GBP",
        "REFERRAL",
        1,
    )
    assert desks["stage"]["name"] == "Tour booked" and desks["stage"]["pipeline"] == {"name": "Memberships"}
    assert (desks["customer"]["name"], desks["contact"]["email"], desks["referrer"]["displayName"]) == (
        "Analytical Engines Ltd",
        "ada@example.org",
        "Charles Babbage",
    )
    assert desks["owner"] == {"email": "sam@space.example", "displayName": "Sam Host"}
    assert lost["title"] == "Nexudus opportunity 1002"
    assert (lost["status"], lost["closeReason"]["name"], lost["closedAt"]) == (
        "LOST",
        "Price",
        "2025-02-02T10:00:00+00:00",
    )


async def test_oro_sample(api: Api, engine: Any, tenant: Tenant) -> None:
    licence, lost = await imported(api, engine, tenant, "oro")
    assert (licence["title"], licence["customer"]["name"], licence["lead"]["name"]) == (
        "Annual CRM licence",
        "Big D Supply",
        "Licence enquiry",
    )
    assert licence["channel"] == {"name": "Website", "type": "custom"}
    assert licence["contact"]["displayName"] == "Daniel Case"
    assert licence["owner"] == {"email": "admin@oro.example", "displayName": "John Doe"}
    assert (lost["status"], lost["closeReason"], lost["stage"]["name"]) == (
        "LOST",
        {"name": "Outsold", "kind": "LOST"},
        "Closed Lost",
    )


async def test_a_changed_record_is_updated_and_the_rest_unchanged(
    engine: Any, tenant: Tenant, tmp_path: Path, api: Api
) -> None:
    path = SAMPLES / "apideck.json"
    await import_file(make_sessions(engine), get("apideck"), path, admin(tenant))
    doc = json.loads(path.read_text())
    doc["data"][0]["title"] = "Bigger Rocket"
    doc["data"][0]["tags"] = ["Q4"]
    doc["data"][0]["description"] = None
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    report: list[Outcome] = []
    await import_file(make_sessions(engine), get("apideck"), changed, admin(tenant), report=report.append)
    assert [o.result for o in report] == ["updated", "unchanged", "refused"]
    rocket = (await api(DEALS))["opportunities"]["nodes"][0]
    assert (rocket["title"], rocket["tags"], rocket["description"], rocket["amount"]) == (
        "Bigger Rocket",
        ["Q4"],
        None,
        "75000.0000",
    )


PLACES = """
{ stages { nodes { name position } } customFieldDefinitions { nodes { label position } } }
"""


async def test_onlyoffice_sort_order_and_position_place_the_stages_and_fields_an_import_creates(
    api: Api, engine: Any, tenant: Tenant, tmp_path: Path
) -> None:
    # the file names them out of order: the import keeps the source's order, not the file's
    doc = {
        "response": [
            {
                "ID": 1,
                "Title": "First",
                "Stage": {
                    "ID": 20,
                    "Title": "Proposal",
                    "SortOrder": 2,
                    "SuccessProbability": 0,
                    "StageType": 0,
                },
                "CustomFields": [
                    {"Label": "Signed", "FieldValue": "true", "FieldType": 3, "Position": 2, "ID": 12},
                    {"Label": "Term", "FieldValue": "12 months", "FieldType": 0, "Position": 1, "ID": 11},
                ],
            },
            {
                "ID": 2,
                "Title": "Second",
                "Stage": {
                    "ID": 10,
                    "Title": "Lead in",
                    "SortOrder": 1,
                    "SuccessProbability": 0,
                    "StageType": 0,
                },
            },
        ]
    }
    path = tmp_path / "onlyoffice.json"
    path.write_text(json.dumps(doc))
    counts = await import_file(make_sessions(engine), get("onlyoffice"), path, admin(tenant))
    assert dict(counts) == {"created": 2}
    places = await api(PLACES)
    assert places["stages"]["nodes"] == [
        {"name": "Lead in", "position": 1},
        {"name": "Proposal", "position": 2},
    ]
    assert places["customFieldDefinitions"]["nodes"] == [
        {"label": "Term", "position": 1},
        {"label": "Signed", "position": 2},
    ]
    # and they are what the export writes back; a re-import finds nothing changed
    out = await exported(engine, "onlyoffice", admin(tenant))
    first = next(d for d in out["response"] if d["ID"] == "1")
    assert first["Stage"]["SortOrder"] == 2
    assert {f["Label"]: f["Position"] for f in first["CustomFields"]} == {"Signed": 2, "Term": 1}
    again = await import_file(make_sessions(engine), get("onlyoffice"), path, admin(tenant))
    assert dict(again) == {"unchanged": 2}


async def _changes(engine: Any, org: int) -> list[tuple[str, int, dict[str, Any]]]:
    """(kind, version, {field: [old, new]}) of every change of the organization, in feed order."""
    c = m.OpportunityChange
    async with unscoped(engine) as s:
        rows = await s.execute(
            select(c.kind, c.version, c.changes).where(c.organization_id == org).order_by(c.seq)
        )
        return [
            (kind, version, {f: [old, new] for f, old, new in changes}) for kind, version, changes in rows
        ]


async def test_an_import_logs_every_field_it_writes_like_a_mutation(
    engine: Any, tenant: Tenant, tmp_path: Path
) -> None:
    path = SAMPLES / "apideck.json"
    await import_file(make_sessions(engine), get("apideck"), path, admin(tenant))
    created = await _changes(engine, tenant.organization_id)
    assert [(kind, version) for kind, version, _ in created] == [("CREATED", 1), ("CREATED", 1)]
    rocket, lost = (fields for _, _, fields in created)
    assert rocket["title"] == [None, "New Rocket"] and rocket["tags"] == [None, '["New","Q3"]']
    # the close time the file gives is part of the create, not written beside it
    assert lost["closedAt"] == [None, "2020-10-30T00:00:00+00:00"] and lost["status"] == [None, "LOST"]
    # an update by a later file: the changed close time and title, in one change of the deal
    doc = json.loads(path.read_text())
    doc["data"][1]["closeDate"] = "2020-11-02"
    doc["data"][1]["title"] = "Lost satellite, for good"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    report: list[Outcome] = []
    await import_file(make_sessions(engine), get("apideck"), changed, admin(tenant), report=report.append)
    assert [o.result for o in report] == ["unchanged", "updated", "refused"]
    kind, _, fields = (await _changes(engine, tenant.organization_id))[-1]
    assert kind == "UPDATED"
    assert fields == {
        "title": ["Lost satellite", "Lost satellite, for good"],
        "closedAt": ["2020-10-30T00:00:00+00:00", "2020-11-02T00:00:00+00:00"],
    }
    # the same file again: nothing written, nothing logged
    before = len(await _changes(engine, tenant.organization_id))
    await import_file(make_sessions(engine), get("apideck"), changed, admin(tenant))
    assert len(await _changes(engine, tenant.organization_id)) == before
