"""A newcomer's first deal on the demo data: no custom field needed, and it lands on a board.

Also the required-custom-field error a caller can act on: it names the definition id and the
values it takes, and its attemptedValue is what the caller sent.
"""

from __future__ import annotations

from typing import Any

from app.cli import DEMO_ADMIN, DEMO_ORGANIZATION
from app.demo import seed_demo
from app.enums import Role
from app.ids import to_global_id
from tests.support import Api, make_board, make_tenant

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) {
    opportunity { title position status probability stage { name } pipeline { name } customer { name } }
    errors { field code message attemptedValue }
  }
}
"""
FIRST_CUSTOMER = "query { customers(first: 1, orderBy: [{field: ID}]) { nodes { id name } } }"
TERM = "query { customFieldDefinitions(first: 10) { nodes { id label options isRequired } } }"
COLUMN = """query { pipelines(filter: {name: {eq: "New business"}}) { nodes {
  stages { name opportunities { totalCount } } } } }"""


async def demo_api(app_client: Any, engine: Any, organization: str = DEMO_ORGANIZATION) -> Api:
    await seed_demo(engine, opportunities=200, seed=0, progress=False)
    email = DEMO_ADMIN if organization == DEMO_ORGANIZATION else "admin@globex-demo.example"
    return Api(app_client[1], (await make_tenant(engine, organization, Role.ADMIN, email=email)).key)


async def test_the_first_create_on_the_demo_data_needs_only_a_title(app_client: Any, engine: Any) -> None:
    api = await demo_api(app_client, engine)
    definitions = (await api(TERM))["customFieldDefinitions"]["nodes"]
    assert [d["isRequired"] for d in definitions] == [False] * 6
    column = (await api(COLUMN))["pipelines"]["nodes"][0]["stages"][0]
    customer = (await api(FIRST_CUSTOMER))["customers"]["nodes"][0]

    out = (await api(CREATE, {"input": {"title": "My first deal", "customerId": customer["id"]}}))[
        "createOpportunity"
    ]
    assert out["errors"] == []
    # the first open stage of the oldest pipeline, at the end of its column
    assert out["opportunity"] == {
        "title": "My first deal",
        "position": column["opportunities"]["totalCount"] + 1,
        "status": "OPEN",
        "probability": 10,
        "stage": {"name": "Prospecting"},
        "pipeline": {"name": "New business"},
        "customer": {"name": customer["name"]},
    }
    after = (await api(COLUMN))["pipelines"]["nodes"][0]["stages"][0]
    assert after["opportunities"]["totalCount"] == column["opportunities"]["totalCount"] + 1


async def test_without_a_stage_and_an_organization_without_stages(
    api: Api, app_client: Any, engine: Any, tenant: Any
) -> None:
    # "Acme" has no pipeline yet: the deal is made, on no board
    out = (await api(CREATE, {"input": {"title": "Nowhere"}}))["createOpportunity"]
    assert out["errors"] == [] and out["opportunity"]["stage"] is None
    board = await make_board(engine, tenant.organization_id)
    out = (await api(CREATE, {"input": {"title": "Placed"}}))["createOpportunity"]
    assert out["opportunity"]["stage"] == {"name": "Qualify"}
    assert board.stages  # make_board's first stage is "Qualify"
    # null is no stage given, as omitted is (CreateOpportunityInput.stageId says so)
    out = (await api(CREATE, {"input": {"title": "Null", "stageId": None}}))["createOpportunity"]
    assert out["errors"] == [] and out["opportunity"]["stage"] == {"name": "Qualify"}
    assert out["opportunity"]["position"] == 2


async def test_a_required_field_error_names_the_definition_and_its_options(
    app_client: Any, engine: Any
) -> None:
    api = await demo_api(app_client, engine, "Globex Demo")
    definitions = (await api(TERM))["customFieldDefinitions"]["nodes"]
    [term] = [d for d in definitions if d["isRequired"]]
    assert (term["label"], term["options"]) == (
        "Contract term",
        ["Monthly", "12 months", "24 months", "36 months"],
    )
    message = (
        f"the custom field 'Contract term' is required: give {{definitionId: \"{term['id']}\", value: …}} "
        'in customFields, the value one of "Monthly", "12 months", "24 months", "36 months"'
    )

    out = (await api(CREATE, {"input": {"title": "x"}}))["createOpportunity"]
    assert out == {
        "opportunity": None,
        "errors": [
            {
                "field": ["input", "customFields"],
                "code": "REQUIRED",
                "message": message,
                "attemptedValue": None,
            }
        ],
    }
    blank = [{"definitionId": term["id"], "value": "  "}]
    out = (await api(CREATE, {"input": {"title": "x", "customFields": blank}}))["createOpportunity"]
    assert out["errors"] == [
        {
            "field": ["input", "customFields", "0", "value"],
            "code": "REQUIRED",
            "message": message,
            "attemptedValue": "  ",
        }
    ]
    wrong = [{"definitionId": term["id"], "value": "Weekly"}]
    out = (await api(CREATE, {"input": {"title": "x", "customFields": wrong}}))["createOpportunity"]
    assert [(e["code"], e["attemptedValue"]) for e in out["errors"]] == [("INVALID", "Weekly")]
    right = [{"definitionId": term["id"], "value": "Monthly"}]
    out = (await api(CREATE, {"input": {"title": "x", "customFields": right}}))["createOpportunity"]
    assert out["errors"] == [] and out["opportunity"]["stage"] == {"name": "Prospecting"}


def test_the_message_of_a_date_field() -> None:
    from app.crud.custom_fields import required_message

    text = required_message({"id": 7, "label": "Kick-off", "field_type": "DATE", "options": None})
    gid = to_global_id("CustomFieldDefinition", 7)
    assert text == (
        f"the custom field 'Kick-off' is required: give {{definitionId: \"{gid}\", value: …}} "
        "in customFields, the value an ISO date (2026-01-31)"
    )
