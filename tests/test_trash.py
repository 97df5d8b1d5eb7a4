"""The trash: a deleted deal is invisible through every read path, for every role, until it is
restored (exactly as it was, back in its column) or purged for good."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app import models as m
from app.enums import Role
from tests import test_tenancy_private as private
from tests.support import Api, Tenant, add_user, gid, insert, make_board, make_tenant, opportunity, unscoped
from tests.test_tenancy_private import EVERYWHERE, _seen

world = private.world  # the fixture: a public and a private deal, users of every role

DELETE = "mutation($id: ID!) { deleteOpportunity(id: $id) { deletedId errors { code } } }"
RESTORE = """mutation($id: ID!) { restoreOpportunity(id: $id) {
  opportunity { title position version deletedAt stage { id } tags items { itemName quantity }
                contacts { id } customFields { value definition { id } } accessList { id } }
  errors { field code message } } }"""
PURGE = "mutation($id: ID!) { purgeOpportunity(id: $id) { deletedId errors { field code } } }"
TRASH = """query($f: OpportunityFilter, $first: Int, $after: String) {
  trashedOpportunities(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { title deletedAt position customer { id } } } }"""

NOTHING = {
    "titles": [],
    "count": 0,
    "aggregate": (0, []),
    "groups": [],
    "owner_customer_groups": [],
    "nested": [0, 0, 0, 0, 0],
    "filters": [0, 0, 0],
    "direct": [False, False, False, False],
}
ONLY_SECRET = {
    "titles": ["Secret"],
    "count": 1,
    "aggregate": (1, [{"sum": "990.0000"}]),
    "groups": [1],
    "owner_customer_groups": [1],
    "nested": [1, 1, 1, 1, 1],
    "filters": [1, 1, 1],
    "direct": [True, True, True, True],
}


@pytest.mark.parametrize(
    ("who", "after_public"),
    [
        ("admin", ONLY_SECRET),
        ("owner", ONLY_SECRET),
        ("friend", ONLY_SECRET),
        ("stranger", NOTHING),
        ("viewer", NOTHING),
    ],
)
async def test_trashed_deals_are_invisible_on_every_read_path(
    api: Api, world: dict[str, Any], who: str, after_public: dict[str, Any]
) -> None:
    variables = {"id": gid("Opportunity", world["secret"]), "item": gid("OpportunityItem", world["item"])}
    key = world["keys"][who]
    deleted = await api(DELETE, {"id": gid("Opportunity", world["public"])})
    assert deleted["deleteOpportunity"]["errors"] == []
    assert _seen(await api(EVERYWHERE, variables, key=key)) == after_public
    await api(DELETE, {"id": gid("Opportunity", world["secret"])})
    # the private deal and its line item are gone for everyone, admins included
    assert _seen(await api(EVERYWHERE, variables, key=key)) == NOTHING


async def test_the_trash_lists_deleted_deals_for_managers_and_up_only(
    api: Api, tenant: Tenant, engine, world: dict[str, Any]
) -> None:
    await api(DELETE, {"id": gid("Opportunity", world["public"])})
    await api(DELETE, {"id": gid("Opportunity", world["secret"])})
    data = await api(TRASH)
    nodes = data["trashedOpportunities"]["nodes"]
    assert [n["title"] for n in nodes] == ["Secret", "Public"]  # the most recently deleted first
    assert data["trashedOpportunities"]["totalCount"] == 2
    assert all(n["deletedAt"] is not None and n["customer"] is not None for n in nodes)
    # what hangs off a trashed deal is read from the trash too, and only there
    both = await api(
        """query($item: ID!) { trashedOpportunities { nodes { title tags itemsTotal items { itemName } accessList { id } } }
             opportunityItem(id: $item) { itemName } node(id: $item) { id } opportunities { totalCount } }""",
        {"item": gid("OpportunityItem", world["item"])},
    )
    assert both["trashedOpportunities"]["nodes"][0] == {
        "title": "Secret",
        "tags": ["hush"],
        "itemsTotal": "0.0000",
        "items": [{"itemName": "Hidden"}],
        "accessList": [{"id": both["trashedOpportunities"]["nodes"][0]["accessList"][0]["id"]}],
    }
    assert len(both["trashedOpportunities"]["nodes"][0]["accessList"]) == 1
    assert both["opportunityItem"] is None and both["node"] is None
    assert both["opportunities"]["totalCount"] == 0
    # privacy holds in the trash too: a manager off the access list sees only the public deal
    stranger = await api(TRASH, key=world["keys"]["stranger"])
    assert [n["title"] for n in stranger["trashedOpportunities"]["nodes"]] == ["Public"]
    for role in ("viewer", "owner"):  # a viewer and an editor
        errors = await api.errors(TRASH, key=world["keys"][role])
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    # filters and pages work on the trash as on any list
    filtered = await api(TRASH, {"f": {"title": {"eq": "Public"}}})
    assert [n["title"] for n in filtered["trashedOpportunities"]["nodes"]] == ["Public"]
    first = await api(TRASH, {"first": 1})
    assert first["trashedOpportunities"]["pageInfo"]["hasNextPage"] is True
    rest = await api(TRASH, {"first": 1, "after": first["trashedOpportunities"]["pageInfo"]["endCursor"]})
    assert [n["title"] for n in rest["trashedOpportunities"]["nodes"]] == ["Public"]
    # another organization's trash is not ours
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    assert (await api(TRASH, key=other.key))["trashedOpportunities"]["totalCount"] == 0
    # live deals have no deletedAt
    [live] = await insert(engine, opportunity(tenant.organization_id, title="Live"))
    got = await api(
        "query($id: ID!) { opportunity(id: $id) { deletedAt } }", {"id": gid("Opportunity", live)}
    )
    assert got == {"opportunity": {"deletedAt": None}}


async def _column(engine, stage: int) -> list[tuple[str, int | None]]:
    async with unscoped(engine) as s:
        rows = await s.execute(
            select(m.Opportunity.title, m.Opportunity.position)
            .where(m.Opportunity.stage_id == stage, m.Opportunity.deleted_at.is_(None))
            .order_by(m.Opportunity.position)
        )
        return [(r.title, r.position) for r in rows]


async def _card(api: Api, stage: int, title: str) -> str:
    data = await api(
        """mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } errors { code } } }""",
        {"i": {"title": title, "stageId": gid("Stage", stage)}},
    )
    return data["createOpportunity"]["opportunity"]["id"]


async def test_delete_keeps_the_column_dense_and_restore_puts_the_card_back_exactly(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = board.stages[0]
    cards = {t: await _card(api, stage, t) for t in "ABCDE"}
    c = cards["C"]
    await api(
        """mutation($id: ID!, $c: [ID!]!, $d: ID!, $u: [ID!]!) {
             setOpportunityTags(id: $id, tags: ["hot", "q4"]) { errors { code } }
             addOpportunityContacts(id: $id, contactIds: $c) { errors { code } }
             addOpportunityItem(opportunityId: $id, input: {itemName: "Seat", quantity: "3"}) { errors { code } }
             setOpportunityCustomFields(id: $id, values: [{definitionId: $d, value: "kept"}]) { errors { code } }
             setOpportunityAccess(id: $id, isPrivate: false, userIds: $u) { errors { code } } }""",
        {
            "id": c,
            "c": [gid("Contact", board.contact)],
            "d": gid("CustomFieldDefinition", board.definitions[0]),
            "u": [gid("User", tenant.user_id)],
        },
    )
    version = (await api("query($id: ID!) { opportunity(id: $id) { version } }", {"id": c}))["opportunity"][
        "version"
    ]
    assert (await api(DELETE, {"id": c}))["deleteOpportunity"] == {"deletedId": c, "errors": []}
    assert await _column(engine, stage) == [("A", 1), ("B", 2), ("D", 3), ("E", 4)]
    # nothing of the trashed deal can be changed meanwhile
    upd = await api(
        'mutation($id: ID!) { updateOpportunity(id: $id, input: {title: "x"}) { errors { code } } }',
        {"id": c},
    )
    assert upd["updateOpportunity"]["errors"] == [{"code": "NOT_FOUND"}]
    restored = (await api(RESTORE, {"id": c}))["restoreOpportunity"]
    assert restored["errors"] == []
    assert restored["opportunity"] == {
        "title": "C",
        "position": 3,
        "version": version + 2,  # one for the delete, one for the restore
        "deletedAt": None,
        "stage": {"id": gid("Stage", stage)},
        "tags": ["hot", "q4"],
        "items": [{"itemName": "Seat", "quantity": "3.0000"}],
        "contacts": [{"id": gid("Contact", board.contact)}],
        "customFields": [
            {"value": "kept", "definition": {"id": gid("CustomFieldDefinition", board.definitions[0])}}
        ],
        "accessList": [{"id": gid("User", tenant.user_id)}],
    }
    assert await _column(engine, stage) == [("A", 1), ("B", 2), ("C", 3), ("D", 4), ("E", 5)]
    # the history says it went and came back: the restore is a CREATED change with everything it has
    history = await api(
        "query($id: ID!) { opportunity(id: $id) { history(last: 2) { nodes { kind version changes { field } } } } }",
        {"id": c},
    )
    went, back = history["opportunity"]["history"]["nodes"]
    assert (went["kind"], went["version"], went["changes"]) == ("DELETED", version + 1, [])
    assert (back["kind"], back["version"]) == ("CREATED", version + 2)
    listed = {f["field"] for f in back["changes"]}
    assert {"title", "stage", "position", "tags", "items", "contacts", "customFields", "accessList"} <= listed
    # not in the trash any more: a second restore finds nothing
    again = (await api(RESTORE, {"id": c}))["restoreOpportunity"]
    assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]


async def test_restore_goes_to_the_end_when_the_column_no_longer_reaches_its_place(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = board.stages[0]
    cards = {t: await _card(api, stage, t) for t in "ABCD"}
    await api(DELETE, {"id": cards["D"]})  # it was 4th
    await api(DELETE, {"id": cards["A"]})
    await api(DELETE, {"id": cards["B"]})
    assert await _column(engine, stage) == [("C", 1)]
    restored = (await api(RESTORE, {"id": cards["D"]}))["restoreOpportunity"]
    assert restored["opportunity"]["position"] == 2
    restored = (await api(RESTORE, {"id": cards["A"]}))["restoreOpportunity"]
    assert restored["opportunity"]["position"] == 1
    assert await _column(engine, stage) == [("A", 1), ("C", 2), ("D", 3)]


async def test_bulk_delete_moves_every_match_to_the_trash(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    stage = board.stages[1]
    for t in ("x1", "x2", "keep", "x3"):
        await _card(api, stage, t)
    data = await api('mutation { deleteOpportunities(filter: {title: {startsWith: "x"}}) { count } }')
    assert data["deleteOpportunities"]["count"] == 3
    assert await _column(engine, stage) == [("keep", 1)]
    assert (await api(TRASH))["trashedOpportunities"]["totalCount"] == 3
    # a second bulk delete does not see the trashed ones
    again = await api('mutation { deleteOpportunities(filter: {title: {startsWith: "x"}}) { count } }')
    assert again["deleteOpportunities"]["count"] == 0


async def test_purge_deletes_for_good_and_only_from_the_trash(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    deal = await _card(api, board.stages[0], "Gone")
    live = (await api(PURGE, {"id": deal}))["purgeOpportunity"]
    assert live == {"deletedId": None, "errors": [{"field": ["id"], "code": "CONFLICT"}]}
    await api(DELETE, {"id": deal})
    _, manager = await add_user(engine, "Acme", "manager@acme.test", Role.MANAGER)
    errors = await api.errors(PURGE, {"id": deal}, key=manager)
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    assert (await api(PURGE, {"id": deal}))["purgeOpportunity"] == {"deletedId": deal, "errors": []}
    async with unscoped(engine) as s:
        assert (await s.execute(select(m.Opportunity.id))).all() == []
    assert [e["code"] for e in (await api(RESTORE, {"id": deal}))["restoreOpportunity"]["errors"]] == [
        "NOT_FOUND"
    ]


async def test_related_records_a_trashed_deal_uses_still_cannot_be_deleted(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    [deal] = await insert(
        engine,
        opportunity(tenant.organization_id, title="T", stage_id=board.stages[0], position=1,
                    customer_id=board.customer, type_id=board.type, channel_id=board.channel),
    )  # fmt: skip
    await api(DELETE, {"id": gid("Opportunity", deal)})
    for mutation, type_name, pk in (
        ("deleteCustomer", "Customer", board.customer),
        ("deleteStage", "Stage", board.stages[0]),
        ("deletePipeline", "Pipeline", board.pipeline),
        ("deleteOpportunityType", "OpportunityType", board.type),
        ("deleteChannel", "Channel", board.channel),
    ):
        data = await api(
            f"mutation($id: ID!) {{ {mutation}(id: $id) {{ errors {{ code }} }} }}",
            {"id": gid(type_name, pk)},
        )
        assert data[mutation]["errors"] == [{"code": "CONFLICT"}], mutation
    restored = await api(RESTORE, {"id": gid("Opportunity", deal)})
    assert restored["restoreOpportunity"]["opportunity"]["stage"] == {"id": gid("Stage", board.stages[0])}


def test_purge_trash_deletes_only_deals_trashed_before_the_cutoff(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from app.cli import main
    from app.db import make_engine

    now = datetime.now(UTC)

    async def setup() -> list[int]:
        engine = make_engine(database_url)
        try:
            acme = await make_tenant(engine, "Acme", Role.ADMIN)
            globex = await make_tenant(engine, "Globex", Role.ADMIN)
            ids = await insert(
                engine,
                opportunity(acme.organization_id, title="old", deleted_at=now - timedelta(days=40)),
                opportunity(globex.organization_id, title="old too", deleted_at=now - timedelta(days=31)),
                opportunity(acme.organization_id, title="recent", deleted_at=now - timedelta(days=29)),
                opportunity(acme.organization_id, title="live"),
            )
            [item] = await insert(
                engine,
                m.OpportunityItem(organization_id=acme.organization_id, opportunity_id=ids[0], item_name="x"),
            )
            assert item
            return ids
        finally:
            await engine.dispose()

    async def left() -> tuple[list[str], int]:
        engine = make_engine(database_url)
        try:
            async with unscoped(engine) as s:
                titles = sorted((await s.execute(select(m.Opportunity.title))).scalars())
                items = len((await s.execute(select(m.OpportunityItem.id))).all())
                return titles, items
        finally:
            await engine.dispose()

    asyncio.run(setup())
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["purge-trash", "--older-than", "30"])
    assert capsys.readouterr().out.startswith("purged 2 deal(s) deleted before ")
    assert asyncio.run(left()) == (["live", "recent"], 0)
    main(["purge-trash", "--older-than", "30"])
    assert capsys.readouterr().out.startswith("purged 0 deal(s)")
    with pytest.raises(SystemExit):
        main(["purge-trash", "--older-than", "-1"])


async def test_a_custom_field_a_trashed_deal_holds_cannot_be_deleted(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    held, free = board.definitions[0], board.definitions[1]
    [deal, live] = await insert(
        engine,
        opportunity(tenant.organization_id, title="T", stage_id=board.stages[0], position=1),
        opportunity(tenant.organization_id, title="L", stage_id=board.stages[0], position=2),
    )
    for pk, definition in ((deal, held), (live, free)):
        out = await api(
            """mutation ($id: ID!, $d: ID!) {
             setOpportunityCustomFields(id: $id, values: [{definitionId: $d, value: "kept"}]) { errors { code } }
            }""",
            {"id": gid("Opportunity", pk), "d": gid("CustomFieldDefinition", definition)},
        )
        assert out["setOpportunityCustomFields"]["errors"] == []
    await api(DELETE, {"id": gid("Opportunity", deal)})
    delete = "mutation ($id: ID!) { deleteCustomFieldDefinition(id: $id) { deletedId errors { field code attemptedValue } } }"
    refused = await api(delete, {"id": gid("CustomFieldDefinition", held)})
    assert refused["deleteCustomFieldDefinition"] == {
        "deletedId": None,
        "errors": [{"field": ["id"], "code": "CONFLICT", "attemptedValue": "1"}],
    }
    # one only a live deal holds goes, with that deal's value (documented on the mutation)
    gone = await api(delete, {"id": gid("CustomFieldDefinition", free)})
    assert gone["deleteCustomFieldDefinition"]["errors"] == []
    restored = await api(RESTORE, {"id": gid("Opportunity", deal)})
    assert restored["restoreOpportunity"]["errors"] == []
    async with unscoped(engine) as s:
        values = (
            await s.execute(select(m.CustomFieldValue.opportunity_id, m.CustomFieldValue.definition_id))
        ).all()
    assert [tuple(v) for v in values] == [(deal, held)]
