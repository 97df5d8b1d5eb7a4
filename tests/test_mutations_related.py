"""Records around deals: create/update/delete for each type, delete rules, lookups for admins only."""

from __future__ import annotations

import pytest

from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant, opportunity

ERR = "errors { field code message }"

CASES = [
    # type, create input, update input, fields to read back
    (
        "Customer",
        {"name": "Acme GmbH", "address": {"city": "Berlin"}, "annualRevenue": "1000000"},
        {"industry": "Retail"},
        "name industry annualRevenue address { city country }",
    ),
    (
        "Contact",
        {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
        {"jobTitle": "CTO"},
        "displayName email jobTitle",
    ),
    ("Lead", {"name": "Inbound", "source": "WEBSITE"}, {"status": "qualified"}, "name source status"),
    ("Channel", {"name": "Web", "type": "web"}, {"isActive": False}, "name type isActive"),
    ("OpportunityType", {"name": "Upsell"}, {"name": "Renewal"}, "name"),
    ("CloseReason", {"name": "Price", "kind": "WON"}, {"name": "Best price"}, "name kind"),
    ("Pipeline", {"name": "Sales", "currency": "eur"}, {"name": "Enterprise"}, "name currency"),
]


def _first_lower(name: str) -> str:
    return name[0].lower() + name[1:]


def _docs(type_name: str, fields: str) -> tuple[str, str, str]:
    key = _first_lower(type_name)
    create = f"""mutation ($input: Create{type_name}Input!) {{
      create{type_name}(input: $input) {{ {key} {{ id {fields} }} {ERR} }} }}"""
    update = f"""mutation ($id: ID!, $input: Update{type_name}Input!) {{
      update{type_name}(id: $id, input: $input) {{ {key} {{ id {fields} }} {ERR} }} }}"""
    delete = f"""mutation ($id: ID!) {{ delete{type_name}(id: $id) {{ deletedId {ERR} }} }}"""
    return create, update, delete


def _codes(payload: dict) -> list:
    return sorted((e["field"], e["code"]) for e in payload["errors"])


@pytest.mark.parametrize(("type_name", "create_input", "update_input", "fields"), CASES)
async def test_create_update_delete(
    api: Api, type_name: str, create_input: dict, update_input: dict, fields: str
) -> None:
    create, update, delete = _docs(type_name, fields)
    key = _first_lower(type_name)
    out = (await api(create, {"input": create_input}))[f"create{type_name}"]
    assert out["errors"] == []
    record = out[key]
    out = (await api(update, {"id": record["id"], "input": update_input}))[f"update{type_name}"]
    assert out["errors"] == []
    changed = out[key]
    for field, value in update_input.items():
        assert changed[field] == value
    untouched = {k: v for k, v in record.items() if k not in update_input}
    assert {k: changed[k] for k in untouched} == untouched
    out = (await api(delete, {"id": record["id"]}))[f"delete{type_name}"]
    assert out == {"deletedId": record["id"], "errors": []}
    found = await api("query ($id: ID!) { node(id: $id) { id } }", {"id": record["id"]})
    assert found["node"] is None


async def test_values_read_back_normalised(api: Api) -> None:
    create, _, _ = _docs("Customer", "name annualRevenue address { city country }")
    out = await api(
        create, {"input": {"name": " Acme ", "address": {"city": "Berlin"}, "annualRevenue": "10"}}
    )
    assert out["createCustomer"]["customer"]["name"] == "Acme"
    assert out["createCustomer"]["customer"]["address"] == {"city": "Berlin", "country": None}
    create, _, _ = _docs("Contact", "displayName")
    out = await api(create, {"input": {"firstName": "Ada", "lastName": "Lovelace"}})
    assert out["createContact"]["contact"]["displayName"] == "Ada Lovelace"
    out = await api(create, {"input": {"email": "x@y.z"}})
    assert _codes(out["createContact"]) == [(["input", "displayName"], "REQUIRED")]
    create, _, _ = _docs("Pipeline", "currency")
    assert (await api(create, {"input": {"name": "P", "currency": "eur"}}))["createPipeline"]["pipeline"][
        "currency"
    ] == "EUR"


async def test_validation(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    create, update, _ = _docs("Customer", "name")
    out = await api(
        create, {"input": {"name": "", "numberOfEmployees": -1, "address": {"postalCode": "9" * 33}}}
    )
    assert _codes(out["createCustomer"]) == [
        (["input", "address", "postalCode"], "TOO_LONG"),
        (["input", "name"], "REQUIRED"),
        (["input", "numberOfEmployees"], "OUT_OF_RANGE"),
    ]
    out = await api(update, {"id": gid("Customer", board.customer), "input": {"name": None}})
    assert _codes(out["updateCustomer"]) == [(["input", "name"], "REQUIRED")]
    create, _, _ = _docs("Contact", "email")
    out = await api(
        create,
        {"input": {"displayName": "X", "email": "not-an-email", "customerId": gid("Lead", board.lead)}},
    )
    assert _codes(out["createContact"]) == [
        (["input", "customerId"], "NOT_FOUND"),
        (["input", "email"], "INVALID"),
    ]
    create, _, _ = _docs("Stage", "name")
    out = await api(
        create,
        {
            "input": {
                "pipelineId": gid("Pipeline", board.pipeline),
                "name": "S",
                "color": "red",
                "probability": 101,
            }
        },
    )
    assert _codes(out["createStage"]) == [
        (["input", "color"], "INVALID"),
        (["input", "probability"], "OUT_OF_RANGE"),
    ]
    create, _, _ = _docs("Pipeline", "name")
    out = await api(create, {"input": {"name": "P", "currency": "EURO"}})
    assert _codes(out["createPipeline"]) == [(["input", "currency"], "INVALID")]


async def test_delete_in_use_is_a_conflict_even_for_deals_the_caller_cannot_see(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    _, manager = await add_user(engine, "Acme", "boss@acme.test", Role.MANAGER)
    await insert(
        engine,
        opportunity(
            tenant.organization_id,
            customer_id=board.customer,
            is_private=True,
            owner_id=tenant.user_id,
            lead_id=board.lead,
            channel_id=board.channel,
            type_id=board.type,
            close_reason_id=board.lost_reason,
            stage_id=board.stages[0],
            referrer_id=board.contact,
        ),
    )
    for type_name, pk in [
        ("Customer", board.customer),
        ("Contact", board.contact),
        ("Lead", board.lead),
    ]:
        _, _, delete = _docs(type_name, "id")
        out = (await api(delete, {"id": gid(type_name, pk)}, key=manager))[f"delete{type_name}"]
        assert _codes(out) == [(["id"], "CONFLICT")], type_name
    for type_name, pk in [
        ("Channel", board.channel),
        ("OpportunityType", board.type),
        ("CloseReason", board.lost_reason),
        ("Stage", board.stages[0]),
        ("Pipeline", board.pipeline),
    ]:
        _, _, delete = _docs(type_name, "id")
        out = (await api(delete, {"id": gid(type_name, pk)}))[f"delete{type_name}"]
        assert _codes(out) == [(["id"], "CONFLICT")], type_name


async def test_pipeline_delete_takes_its_empty_stages(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    _, _, delete = _docs("Pipeline", "id")
    out = (await api(delete, {"id": gid("Pipeline", board.pipeline)}))["deletePipeline"]
    assert out["errors"] == []
    left = await api("{ stages { totalCount } }")
    assert left["stages"]["totalCount"] == 0


async def test_stage_positions_and_type_changes(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    create, update, delete = _docs("Stage", "name position type probability")
    out = await api(
        create,
        {
            "input": {
                "pipelineId": gid("Pipeline", board.pipeline),
                "name": "Demo",
                "position": 2,
                "probability": 30,
            }
        },
    )
    demo = out["createStage"]["stage"]
    assert (demo["position"], demo["type"]) == (2, "OPEN")
    stages = "query ($id: ID!) { pipeline(id: $id) { stages { name position } } }"
    names = lambda data: [(s["name"], s["position"]) for s in data["pipeline"]["stages"]]  # noqa: E731
    assert names(await api(stages, {"id": gid("Pipeline", board.pipeline)})) == [
        ("Qualify", 1),
        ("Demo", 2),
        ("Propose", 3),
        ("Won", 4),
        ("Lost", 5),
    ]
    await api(update, {"id": demo["id"], "input": {"position": 5}})
    await api(delete, {"id": gid("Stage", board.stages[0])})
    assert names(await api(stages, {"id": gid("Pipeline", board.pipeline)})) == [
        ("Propose", 1),
        ("Won", 2),
        ("Lost", 3),
        ("Demo", 4),
    ]
    await insert(engine, opportunity(tenant.organization_id, stage_id=board.stages[1], position=1))
    out = await api(update, {"id": gid("Stage", board.stages[1]), "input": {"type": "WON"}})
    assert _codes(out["updateStage"]) == [(["input", "type"], "CONFLICT")]
    out = await api(update, {"id": demo["id"], "input": {"type": "WON", "probability": None}})
    assert _codes(out["updateStage"]) == [(["input", "probability"], "REQUIRED")]
    out = await api(update, {"id": demo["id"], "input": {"type": "WON"}})
    assert out["updateStage"]["stage"]["type"] == "WON"


async def test_roles_and_organizations(api: Api, tenant: Tenant, engine) -> None:
    _, editor = await add_user(engine, "Acme", "ed@acme.test", Role.EDITOR)
    create_customer, _, delete_customer = _docs("Customer", "name")
    out = await api(create_customer, {"input": {"name": "By editor"}}, key=editor)
    customer = out["createCustomer"]["customer"]["id"]
    [error] = await api.errors(delete_customer, {"id": customer}, key=editor)
    assert error["extensions"]["code"] == "FORBIDDEN"
    create_pipeline, _, _ = _docs("Pipeline", "name")
    [error] = await api.errors(create_pipeline, {"input": {"name": "No"}}, key=editor)
    assert error["extensions"]["code"] == "FORBIDDEN"
    other = await make_tenant(engine, "Soylent")
    theirs = await make_board(engine, other.organization_id)
    _, update, delete = _docs("Customer", "name")
    out = await api(update, {"id": gid("Customer", theirs.customer), "input": {"name": "mine"}})
    assert _codes(out["updateCustomer"]) == [(["id"], "NOT_FOUND")]
    out = await api(delete, {"id": gid("Customer", theirs.customer)})
    assert _codes(out["deleteCustomer"]) == [(["id"], "NOT_FOUND")]
    create_stage, _, _ = _docs("Stage", "name")
    out = await api(create_stage, {"input": {"pipelineId": gid("Pipeline", theirs.pipeline), "name": "x"}})
    assert _codes(out["createStage"]) == [(["input", "pipelineId"], "NOT_FOUND")]


async def test_concurrent_stage_creates_get_unique_positions(api: Api, tenant: Tenant, engine) -> None:
    import asyncio

    board = await make_board(engine, tenant.organization_id)
    create, _, _ = _docs("Stage", "position")
    pipeline = gid("Pipeline", board.pipeline)
    results = await asyncio.gather(
        *(
            api(create, {"input": {"pipelineId": pipeline, "name": f"S{i}", "position": 1 + i % 2}})
            for i in range(6)
        )
    )
    assert all(r["createStage"]["errors"] == [] for r in results)
    stages = await api("query ($id: ID!) { pipeline(id: $id) { stages { position } } }", {"id": pipeline})
    assert [s["position"] for s in stages["pipeline"]["stages"]] == list(range(1, 11))
