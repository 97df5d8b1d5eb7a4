"""Custom fields: definitions managed by admins; values typed by their definition; required ones on create."""

from __future__ import annotations

from sqlalchemy import func, select

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, make_board, make_tenant, unscoped

CREATE_DEAL = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id customFields { value } } errors { field code message } }
}
"""
SET = """
mutation ($id: ID!, $values: [CustomFieldValueInput!]!) {
  setOpportunityCustomFields(id: $id, values: $values) {
    opportunity { version customFields { value label fieldType definition { id } } }
    errors { field code attemptedValue }
  }
}
"""
DEF = "id label fieldType position options isRequired mask"
CREATE_DEF = f"""
mutation ($input: CreateCustomFieldDefinitionInput!) {{
  createCustomFieldDefinition(input: $input) {{ customFieldDefinition {{ {DEF} }} errors {{ field code }} }}
}}
"""
UPDATE_DEF = f"""
mutation ($id: ID!, $input: UpdateCustomFieldDefinitionInput!) {{
  updateCustomFieldDefinition(id: $id, input: $input) {{ customFieldDefinition {{ {DEF} }} errors {{ field code }} }}
}}
"""
DELETE_DEF = (
    "mutation ($id: ID!) { deleteCustomFieldDefinition(id: $id) { deletedId errors { field code } } }"
)
REORDER = """
mutation ($ids: [ID!]!) {
  reorderCustomFieldDefinitions(ids: $ids) { customFieldDefinitions { label position } errors { field code } }
}
"""
LIST = "{ customFieldDefinitions(first: 50) { nodes { label position } } }"


def _codes(payload: dict) -> list:
    return sorted((e["field"], e["code"]) for e in payload["errors"])


async def _deal(api: Api) -> str:
    return (await api(CREATE_DEAL, {"input": {"title": "D"}}))["createOpportunity"]["opportunity"]["id"]


async def test_values_are_checked_against_their_type(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    text, area, select_box, check, heading, day = (gid("CustomFieldDefinition", d) for d in board.definitions)
    deal = await _deal(api)
    bad = [
        {"definitionId": text, "value": "x" * 256},
        {"definitionId": area, "value": "y" * 5001},
        {"definitionId": select_box, "value": "C"},
        {"definitionId": check, "value": "yes"},
        {"definitionId": heading, "value": "anything"},
        {"definitionId": day, "value": "2026-02-30"},
        {"definitionId": gid("CustomFieldDefinition", 999999), "value": "x"},
        {"definitionId": text, "value": "again"},
    ]
    out = (await api(SET, {"id": deal, "values": bad}))["setOpportunityCustomFields"]
    assert _codes(out) == [
        (["values", "0", "value"], "TOO_LONG"),
        (["values", "1", "value"], "TOO_LONG"),
        (["values", "2", "value"], "INVALID"),
        (["values", "3", "value"], "INVALID"),
        (["values", "4", "value"], "INVALID"),
        (["values", "5", "value"], "INVALID"),
        (["values", "6", "definitionId"], "NOT_FOUND"),
        (["values", "7", "definitionId"], "DUPLICATE"),
    ]
    good = [
        {"definitionId": day, "value": "2026-02-28"},
        {"definitionId": check, "value": "TRUE"},
        {"definitionId": select_box, "value": "B"},
        {"definitionId": text, "value": "  hi  "},
        {"definitionId": heading, "value": None},
    ]
    out = (await api(SET, {"id": deal, "values": good}))["setOpportunityCustomFields"]
    assert out["errors"] == []
    got = [(v["fieldType"], v["value"]) for v in out["opportunity"]["customFields"]]
    assert got == [("TEXT_FIELD", "hi"), ("SELECT_BOX", "B"), ("CHECK_BOX", "true"), ("DATE", "2026-02-28")]
    assert out["opportunity"]["version"] == 2
    out = await api(SET, {"id": deal, "values": [{"definitionId": text, "value": None}]})
    values = out["setOpportunityCustomFields"]["opportunity"]["customFields"]
    assert [v["fieldType"] for v in values] == ["SELECT_BOX", "CHECK_BOX", "DATE"]


async def test_required_definitions_on_create_and_set(api: Api) -> None:
    made = await api(
        CREATE_DEF,
        {
            "input": {
                "label": "Region",
                "fieldType": "SELECT_BOX",
                "options": ["EU", "US"],
                "isRequired": True,
            }
        },
    )
    region = made["createCustomFieldDefinition"]["customFieldDefinition"]
    assert (region["position"], region["options"], region["isRequired"]) == (1, ["EU", "US"], True)
    out = (await api(CREATE_DEAL, {"input": {"title": "x"}}))["createOpportunity"]
    assert _codes(out) == [(["input", "customFields"], "REQUIRED")]
    ok = await api(
        CREATE_DEAL,
        {"input": {"title": "x", "customFields": [{"definitionId": region["id"], "value": "EU"}]}},
    )
    deal = ok["createOpportunity"]["opportunity"]
    assert deal["customFields"] == [{"value": "EU"}]
    out = await api(SET, {"id": deal["id"], "values": [{"definitionId": region["id"], "value": None}]})
    assert _codes(out["setOpportunityCustomFields"]) == [(["values", "0", "value"], "REQUIRED")]


async def test_definition_lifecycle(api: Api, tenant: Tenant, engine) -> None:
    mk = lambda **i: api(CREATE_DEF, {"input": i})  # noqa: E731
    bad = await mk(label="", fieldType="TEXT_FIELD", options=["x"])
    assert _codes(bad["createCustomFieldDefinition"]) == [
        (["input", "label"], "REQUIRED"),
        (["input", "options"], "INVALID"),
    ]
    bad = await mk(label="S", fieldType="SELECT_BOX", options=["a", "a"])
    assert _codes(bad["createCustomFieldDefinition"]) == [(["input", "options"], "DUPLICATE")]
    bad = await mk(label="H", fieldType="HEADING", isRequired=True)
    assert _codes(bad["createCustomFieldDefinition"]) == [(["input", "isRequired"], "INVALID")]
    a = (await mk(label="A", fieldType="TEXT_FIELD"))["createCustomFieldDefinition"]["customFieldDefinition"]
    b = (await mk(label="B", fieldType="SELECT_BOX", options=["x", "y"]))["createCustomFieldDefinition"][
        "customFieldDefinition"
    ]
    c = (await mk(label="C", fieldType="DATE", position=1))["createCustomFieldDefinition"][
        "customFieldDefinition"
    ]
    assert (await api(LIST))["customFieldDefinitions"]["nodes"] == [
        {"label": "C", "position": 1},
        {"label": "A", "position": 2},
        {"label": "B", "position": 3},
    ]
    deal = await _deal(api)
    await api(
        SET,
        {
            "id": deal,
            "values": [{"definitionId": b["id"], "value": "y"}, {"definitionId": a["id"], "value": "t"}],
        },
    )
    out = (await api(UPDATE_DEF, {"id": b["id"], "input": {"options": ["x"]}}))["updateCustomFieldDefinition"]
    assert _codes(out) == [(["input", "options"], "CONFLICT")]
    out = await api(
        UPDATE_DEF,
        {"id": b["id"], "input": {"options": ["x", "y", "z"], "label": "Bee", "mask": None, "position": 1}},
    )
    got = out["updateCustomFieldDefinition"]["customFieldDefinition"]
    assert (got["label"], got["options"], got["position"]) == ("Bee", ["x", "y", "z"], 1)
    out = (await api(UPDATE_DEF, {"id": b["id"], "input": {"label": None}}))["updateCustomFieldDefinition"]
    assert _codes(out) == [(["input", "label"], "REQUIRED")]
    out = (await api(REORDER, {"ids": [a["id"], b["id"]]}))["reorderCustomFieldDefinitions"]
    assert _codes(out) == [(["ids"], "INVALID")]
    out = (await api(REORDER, {"ids": [a["id"], c["id"], b["id"]]}))["reorderCustomFieldDefinitions"]
    assert out["customFieldDefinitions"] == [
        {"label": "A", "position": 1},
        {"label": "C", "position": 2},
        {"label": "Bee", "position": 3},
    ]
    out = (await api(DELETE_DEF, {"id": a["id"]}))["deleteCustomFieldDefinition"]
    assert out == {"deletedId": a["id"], "errors": []}
    assert (await api(LIST))["customFieldDefinitions"]["nodes"] == [
        {"label": "C", "position": 1},
        {"label": "Bee", "position": 2},
    ]
    async with unscoped(engine) as s:
        left = (await s.execute(select(func.count()).select_from(m.CustomFieldValue))).scalar()
    assert left == 1  # the deleted field's value went with it


async def test_definitions_are_for_admins_and_per_organization(api: Api, tenant: Tenant, engine) -> None:
    _, editor = await add_user(engine, "Acme", "ed@acme.test", Role.EDITOR)
    [error] = await api.errors(CREATE_DEF, {"input": {"label": "x", "fieldType": "DATE"}}, key=editor)
    assert error["extensions"]["code"] == "FORBIDDEN"
    other = await make_tenant(engine, "Vandelay")
    theirs = await make_board(engine, other.organization_id)
    foreign = gid("CustomFieldDefinition", theirs.definitions[0])
    out = (await api(UPDATE_DEF, {"id": foreign, "input": {"label": "mine"}}))["updateCustomFieldDefinition"]
    assert _codes(out) == [(["id"], "NOT_FOUND")]
    out = (await api(DELETE_DEF, {"id": foreign}))["deleteCustomFieldDefinition"]
    assert _codes(out) == [(["id"], "NOT_FOUND")]
    deal = await _deal(api)
    out = await api(SET, {"id": deal, "values": [{"definitionId": foreign, "value": "x"}]})
    assert _codes(out["setOpportunityCustomFields"]) == [(["values", "0", "definitionId"], "NOT_FOUND")]


async def test_concurrent_definition_creates_get_unique_positions(api: Api) -> None:
    import asyncio

    results = await asyncio.gather(
        *(
            api(CREATE_DEF, {"input": {"label": f"F{i}", "fieldType": "TEXT_FIELD", "position": 1}})
            for i in range(6)
        )
    )
    assert all(r["createCustomFieldDefinition"]["errors"] == [] for r in results)
    nodes = (await api(LIST))["customFieldDefinitions"]["nodes"]
    assert sorted(n["position"] for n in nodes) == list(range(1, 7))
