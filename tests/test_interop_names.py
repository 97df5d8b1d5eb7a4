"""Related records an import matches by name: two records of one name stay two through a round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.interop.engine import Outcome, _comparable, import_file
from app.interop.engine import sessions as make_sessions
from app.interop.formats import NAMES, get
from tests.support import Api, Tenant, count_statements, make_tenant
from tests.test_interop import admin, demo_admin, exported

CUSTOMER = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }"
CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { contact { id } } }"
DEAL = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } } }"
CONTACTS = "{ contacts { nodes { id } } }"
DEAL_CONTACTS = "{ opportunities { nodes { title contact { id } } } }"


async def _namesakes(api: Api) -> None:
    """One customer's two people who share a name and an email (a seed of 100,000 deals draws
    ten such pairs), each the contact of one deal."""
    customer = (await api(CUSTOMER, {"i": {"name": "Granite"}}))["createCustomer"]["customer"]["id"]
    for title, job, mobile in (("Conveyor", "CFO", "+49 30 1111111"), ("Retrofit", "COO", None)):
        person: dict[str, str | None] = {
            "displayName": "Noah Wang",
            "email": "noah.wang@granite.example",
            "jobTitle": job,
        }
        person |= {"mobile": mobile, "customerId": customer}
        contact = (await api(CONTACT, {"i": person}))["createContact"]["contact"]["id"]
        await api(DEAL, {"i": {"title": title, "customerId": customer, "contactId": contact}})


def _contacts(name: str, doc: dict[str, Any]) -> list[Any]:
    """Each deal's contact as the format reads it back (Overplane's: name, email, mobile, job title)."""
    fmt = get(name)
    side = {fmt.side_index(r): r for r in doc.get(fmt.side_key or "", [])}
    return [_comparable(fmt.read(item, side)["contact"]) for item in doc[fmt.list_key]]


@pytest.mark.parametrize("name", NAMES)
async def test_two_people_of_one_name_and_email_round_trip_as_two_and_a_reimport_changes_nothing(
    api: Api, engine: Any, tenant: Tenant, tmp_path: Path, name: str
) -> None:
    await _namesakes(api)
    first = await exported(engine, name, admin(tenant))
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(first))
    target = await make_tenant(engine, f"Empty {name}")
    counts = await import_file(make_sessions(engine), get(name), path, admin(target))
    assert dict(counts) == {"created": 2}
    # every attribute of the contact the format carries comes back as it went out
    assert _contacts(name, await exported(engine, name, admin(target))) == _contacts(name, first)
    report: list[Outcome] = []
    again = await import_file(make_sessions(engine), get(name), path, admin(target), report=report.append)
    assert dict(again) == {"unchanged": 2}, [o.as_json() for o in report]
    deals = (await api(DEAL_CONTACTS, key=target.key))["opportunities"]["nodes"]
    assert sorted(d["title"] for d in deals) == ["Conveyor", "Retrofit"]
    assert len({d["contact"]["id"] for d in deals}) == 2  # two people, as in the file
    assert len((await api(CONTACTS, key=target.key))["contacts"]["nodes"]) == 2


OWNERS = "{ opportunities { nodes { owner { email } } } }"


async def test_an_owner_named_like_a_user_of_the_organization_but_with_another_email_is_another_user(
    api: Api, engine: Any, tenant: Tenant, tmp_path: Path
) -> None:
    # the source's user and the target's are both called "Owner": the email, which the file
    # gives, is who the owner is; a display name decides only where a file gives no email
    await api(DEAL, {"i": {"title": "Conveyor"}})
    path = tmp_path / "oro.json"
    path.write_text(json.dumps(await exported(engine, "oro", admin(tenant))))
    target = await make_tenant(engine, "Empty")
    assert dict(await import_file(make_sessions(engine), get("oro"), path, admin(target))) == {"created": 1}
    deals = (await api(OWNERS, key=target.key))["opportunities"]["nodes"]
    assert deals == [{"owner": {"email": "owner@acme.test"}}]
    assert dict(await import_file(make_sessions(engine), get("oro"), path, admin(target))) == {"unchanged": 1}


async def test_a_reimport_of_5_or_40_changed_deals_costs_the_same_statements(
    engine: Any, tmp_path: Path
) -> None:
    source = await demo_admin(engine)
    doc = await exported(engine, "overplane", source)
    path = tmp_path / "overplane.json"
    path.write_text(json.dumps(doc))
    target = admin(await make_tenant(engine, "Target"))
    assert dict(await import_file(make_sessions(engine), get("overplane"), path, target)) == {"created": 60}
    counts = []
    for n in (5, 40):
        changed = json.loads(path.read_text())
        # both sets name every kind of related record (lost deals' close reasons, a lead), so
        # what is counted is what grows with the deals
        deals = changed["data"]
        first = [d for d in deals if d["status"] == "Lost"][:4]
        first.append(next(d for d in deals if d["opportunity_from"] and d not in first))
        for deal in [*first, *(d for d in deals if d not in first)][:n]:
            # a field, the line items and the lost reasons of each
            deal["title"] += f" v{n}"
            deal["items"] = deal["items"][:1]
            deal["lost_reasons"] = []
        again = tmp_path / f"changed-{n}.json"
        again.write_text(json.dumps(changed))
        with count_statements(engine) as seen:
            result = await import_file(make_sessions(engine), get("overplane"), again, target)
        assert dict(result) == {"updated": n, "unchanged": 60 - n}
        counts.append(len(seen))
        # written as the file says: the same file again changes nothing
        assert dict(await import_file(make_sessions(engine), get("overplane"), again, target)) == {
            "unchanged": 60
        }
    assert counts[0] == counts[1], counts
    # 149 and 621 while each deal's lists were replaced one deal at a time
    assert counts[0] == 60, counts
