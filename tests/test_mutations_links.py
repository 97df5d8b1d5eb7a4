"""A deal's to-many links: participants, lost reasons, access list, tags."""

from __future__ import annotations

from app import models as m
from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { field code } }
}
"""
DEAL = "version contacts { id } lostReasons { id } accessList { id } isPrivate tags"
ADD = f"""
mutation ($id: ID!, $ids: [ID!]!) {{
  addOpportunityContacts(id: $id, contactIds: $ids) {{ opportunity {{ {DEAL} }} errors {{ field code }} }}
}}
"""
REMOVE = f"""
mutation ($id: ID!, $ids: [ID!]!) {{
  removeOpportunityContacts(id: $id, contactIds: $ids) {{ opportunity {{ {DEAL} }} errors {{ field code }} }}
}}
"""
LOST = f"""
mutation ($id: ID!, $ids: [ID!]!) {{
  setOpportunityLostReasons(id: $id, closeReasonIds: $ids) {{ opportunity {{ {DEAL} }} errors {{ field code }} }}
}}
"""
ACCESS = f"""
mutation ($id: ID!, $private: Boolean!, $ids: [ID!]!) {{
  setOpportunityAccess(id: $id, isPrivate: $private, userIds: $ids) {{ opportunity {{ {DEAL} }} errors {{ field code }} }}
}}
"""
TAGS = f"""
mutation ($id: ID!, $tags: [String!]!) {{
  setOpportunityTags(id: $id, tags: $tags) {{ opportunity {{ {DEAL} }} errors {{ field code }} }}
}}
"""
READ = f"query ($id: ID!) {{ opportunity(id: $id) {{ {DEAL} }} }}"


async def _deal(api: Api) -> str:
    return (await api(CREATE, {"input": {"title": "D"}}))["createOpportunity"]["opportunity"]["id"]


def _codes(payload: dict) -> list:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_contacts_add_remove_keep_order(api: Api, tenant: Tenant, engine) -> None:
    org = tenant.organization_id
    ids = await insert(engine, *(m.Contact(organization_id=org, display_name=f"P{i}") for i in range(4)))
    c = [gid("Contact", i) for i in ids]
    deal = await _deal(api)
    out = (await api(ADD, {"id": deal, "ids": [c[2], c[0]]}))["addOpportunityContacts"]
    assert out["opportunity"]["contacts"] == [{"id": c[2]}, {"id": c[0]}]
    out = (await api(ADD, {"id": deal, "ids": [c[0], c[3], c[1]]}))["addOpportunityContacts"]
    assert [x["id"] for x in out["opportunity"]["contacts"]] == [c[2], c[0], c[3], c[1]]
    out = (await api(REMOVE, {"id": deal, "ids": [c[0], c[1]]}))["removeOpportunityContacts"]
    assert [x["id"] for x in out["opportunity"]["contacts"]] == [c[2], c[3]]
    assert out["opportunity"]["version"] == 4
    dup = (await api(ADD, {"id": deal, "ids": [c[1], c[1]]}))["addOpportunityContacts"]
    assert _codes(dup) == [(["contactIds", "1"], "DUPLICATE")]


async def test_foreign_ids_are_not_found_and_nothing_changes(api: Api, tenant: Tenant, engine) -> None:
    other = await make_tenant(engine, "Hooli")
    theirs = await make_board(engine, other.organization_id)
    mine = await make_board(engine, tenant.organization_id)
    deal = await _deal(api)
    out = await api(ADD, {"id": deal, "ids": [gid("Contact", mine.contact), gid("Contact", theirs.contact)]})
    assert _codes(out["addOpportunityContacts"]) == [(["contactIds", "1"], "NOT_FOUND")]
    out = await api(LOST, {"id": deal, "ids": [gid("CloseReason", theirs.lost_reason)]})
    assert _codes(out["setOpportunityLostReasons"]) == [(["closeReasonIds", "0"], "NOT_FOUND")]
    out = await api(ACCESS, {"id": deal, "private": True, "ids": [gid("User", other.user_id)]})
    assert _codes(out["setOpportunityAccess"]) == [(["userIds", "0"], "NOT_FOUND")]
    assert (await api(READ, {"id": deal}))["opportunity"] == {
        "version": 1,
        "contacts": [],
        "lostReasons": [],
        "accessList": [],
        "isPrivate": False,
        "tags": [],
    }


async def test_lost_reasons_must_be_lost_kind(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    [second] = await insert(
        engine, m.CloseReason(organization_id=tenant.organization_id, name="Timing", kind="LOST")
    )
    deal = await _deal(api)
    won, lost, late = (gid("CloseReason", x) for x in (board.won_reason, board.lost_reason, second))
    out = (await api(LOST, {"id": deal, "ids": [lost, won]}))["setOpportunityLostReasons"]
    assert _codes(out) == [(["closeReasonIds", "1"], "INVALID")]
    out = (await api(LOST, {"id": deal, "ids": [late, lost]}))["setOpportunityLostReasons"]
    assert out["opportunity"]["lostReasons"] == [{"id": late}, {"id": lost}]
    out = (await api(LOST, {"id": deal, "ids": []}))["setOpportunityLostReasons"]
    assert (out["opportunity"]["lostReasons"], out["opportunity"]["version"]) == ([], 3)


async def test_access_is_for_admins_and_hides_the_deal(api: Api, tenant: Tenant, engine, app_client) -> None:
    editor_id, editor = await add_user(engine, "Acme", "ed@acme.test", Role.EDITOR)
    _, other_editor = await add_user(engine, "Acme", "ed2@acme.test", Role.EDITOR)
    deal = await _deal(api)
    [error] = await api.errors(ACCESS, {"id": deal, "private": True, "ids": []}, key=editor)
    assert error["extensions"]["code"] == "FORBIDDEN"
    out = (await api(ACCESS, {"id": deal, "private": True, "ids": [gid("User", editor_id)]}))[
        "setOpportunityAccess"
    ]
    assert (out["opportunity"]["isPrivate"], out["opportunity"]["accessList"]) == (
        True,
        [{"id": gid("User", editor_id)}],
    )
    assert (await api(READ, {"id": deal}, key=editor))["opportunity"] is not None
    assert (await api(READ, {"id": deal}, key=other_editor))["opportunity"] is None
    out = await api(TAGS, {"id": deal, "tags": ["x"]}, key=other_editor)
    assert _codes(out["setOpportunityTags"]) == [(["id"], "NOT_FOUND")]


async def test_tags_are_trimmed_unique_and_bounded(api: Api) -> None:
    deal = await _deal(api)
    out = (await api(TAGS, {"id": deal, "tags": [" Hot ", "hot", "q1"]}))["setOpportunityTags"]
    assert out["opportunity"]["tags"] == ["Hot", "q1"]
    out = (await api(TAGS, {"id": deal, "tags": [f"t{i}" for i in range(21)]}))["setOpportunityTags"]
    assert _codes(out) == [(["tags"], "OUT_OF_RANGE")]
    out = (await api(TAGS, {"id": deal, "tags": ["", "ok"]}))["setOpportunityTags"]
    assert _codes(out) == [(["tags", "0"], "REQUIRED")]
    assert (await api(READ, {"id": deal}))["opportunity"]["tags"] == ["Hot", "q1"]
