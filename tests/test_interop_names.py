"""Related records an import matches by name: two records of one name stay two through a round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.interop.engine import Outcome, _comparable, import_file
from app.interop.engine import sessions as make_sessions
from app.interop.formats import NAMES, get
from tests.support import Api, Tenant, make_tenant
from tests.test_interop import admin, exported

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
        person = {"displayName": "Noah Wang", "email": "noah.wang@granite.example", "jobTitle": job}
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
