"""Board neighbours: every card whose place a mutation shifts gets its own change, version bumped.

A move, a close, a reopen, a stage change, a delete (the column closing ranks), a restore
and a create in the middle of a column all shift other cards; each shifted card gets a
change of `position` (exact old → new), one per deal per transaction, written in the
mutation's one INSERT into the change log, and its version rises by one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import models as m
from app.enums import Role
from app.ids import decode
from tests.support import Api, Tenant, add_user, count_statements, gid, make_board, unscoped

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { code } }
}
"""
MOVE = """
mutation ($id: ID!, $s: ID!, $p: Int) {
  moveOpportunity(id: $id, stageId: $s, position: $p) { opportunity { version position } errors { code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!, $v: Int) {
  updateOpportunity(id: $id, input: $input, expectedVersion: $v) { opportunity { version } errors { code } }
}
"""


async def _column(api: Api, stage: str, n: int, **fields: Any) -> list[str]:
    """n new cards in `stage`, in board order 1..n."""
    out = []
    for i in range(n):
        done = await api(CREATE, {"input": {"title": f"Card {i + 1}", "stageId": stage, **fields}})
        assert done["createOpportunity"]["errors"] == [], done
        out.append(str(done["createOpportunity"]["opportunity"]["id"]))
    return out


async def _changes(engine: AsyncEngine) -> list[tuple[int, str, int, list[Any]]]:
    """(deal id, kind, version, changes) of every change row, in feed order."""
    CH = m.OpportunityChange
    async with unscoped(engine) as s:
        rows = (
            await s.execute(select(CH.opportunity_id, CH.kind, CH.version, CH.changes).order_by(CH.seq))
        ).all()
    return [(r[0], r[1], r[2], [tuple(c) for c in r[3]]) for r in rows]


async def _after(engine: AsyncEngine, since: int) -> dict[int, tuple[str, int, list[Any]]]:
    rows = (await _changes(engine))[since:]
    out = {pk: (kind, version, changes) for pk, kind, version, changes in rows}
    assert len(out) == len(rows), rows  # one change per deal per transaction
    return out


def _pk(global_id: str) -> int:
    pk = decode("Opportunity", global_id)
    assert pk is not None
    return pk


async def test_a_move_records_every_shifted_card_in_both_columns(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    first, second = gid("Stage", b.stages[0]), gid("Stage", b.stages[1])
    a1, a2, a3, a4 = await _column(api, first, 4)
    c1, c2 = await _column(api, second, 2)
    since = len(await _changes(engine))
    # a2 leaves column 1 (a3, a4 close ranks) for place 1 of column 2 (c1, c2 make room)
    out = await api(MOVE, {"id": a2, "s": second, "p": 1})
    assert out["moveOpportunity"] == {"opportunity": {"version": 2, "position": 1}, "errors": []}
    assert await _after(engine, since) == {
        _pk(a2): (
            "UPDATED",
            2,
            [("stage", first, second), ("position", "2", "1"), ("probability", "10", "50")],
        ),
        _pk(a3): ("UPDATED", 2, [("position", "3", "2")]),
        _pk(a4): ("UPDATED", 2, [("position", "4", "3")]),
        _pk(c1): ("UPDATED", 2, [("position", "1", "2")]),
        _pk(c2): ("UPDATED", 2, [("position", "2", "3")]),
    }
    # a1 kept its place: no change, no bump
    assert [(r[1], r[2]) for r in await _changes(engine) if r[0] == _pk(a1)] == [("CREATED", 1)]
    # within a column only the cards between the two places shift: c2 3→2, c1 2→1 as a2 goes last
    since = len(await _changes(engine))
    await api(MOVE, {"id": a2, "s": second, "p": 3})
    assert await _after(engine, since) == {
        _pk(a2): ("UPDATED", 3, [("position", "1", "3")]),
        _pk(c1): ("UPDATED", 3, [("position", "2", "1")]),
        _pk(c2): ("UPDATED", 3, [("position", "3", "2")]),
    }


async def test_the_shifted_cards_versions_are_the_optimistic_lock(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    first = gid("Stage", b.stages[0])
    a1, a2 = await _column(api, first, 2)
    await api(MOVE, {"id": a2, "s": first, "p": 1})
    # a1 was pushed to place 2: the version an editor read before is stale now, the new one is not
    stale = await api(UPDATE, {"id": a1, "input": {"title": "x"}, "v": 1})
    assert [e["code"] for e in stale["updateOpportunity"]["errors"]] == ["CONFLICT"]
    fresh = await api(UPDATE, {"id": a1, "input": {"title": "x"}, "v": 2})
    assert fresh["updateOpportunity"] == {"opportunity": {"version": 3}, "errors": []}


async def test_close_reopen_stage_change_delete_restore_and_create_record_their_neighbours(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    first, second, won = (gid("Stage", s) for s in b.stages[:3])
    a1, a2, a3 = await _column(api, first, 3)
    (w1,) = await _column(api, won, 1)  # a WON card (the create closes it)

    since = len(await _changes(engine))
    await api(
        "mutation ($id: ID!) { markOpportunityWon(id: $id) { errors { code } } }",
        {"id": a1},
    )
    got = await _after(engine, since)
    assert set(got) == {_pk(a1), _pk(a2), _pk(a3)}  # w1 keeps place 1: a1 goes last in WON
    assert got[_pk(a2)] == ("UPDATED", 2, [("position", "2", "1")])
    assert got[_pk(a3)] == ("UPDATED", 2, [("position", "3", "2")])
    assert ("position", "1", "2") in got[_pk(a1)][2]

    since = len(await _changes(engine))
    await api(
        "mutation ($id: ID!, $s: ID) { reopenOpportunity(id: $id, stageId: $s) { errors { code } } }",
        {"id": w1, "s": first},
    )
    got = await _after(engine, since)
    # w1 leaves WON place 1 (a1 moves up), goes last in column 1 (nobody shifts there)
    assert set(got) == {_pk(w1), _pk(a1)}
    assert got[_pk(a1)] == ("UPDATED", 3, [("position", "2", "1")])

    since = len(await _changes(engine))
    await api(UPDATE, {"id": a2, "input": {"stageId": second}})
    got = await _after(engine, since)
    assert set(got) == {_pk(a2), _pk(a3), _pk(w1)}
    assert got[_pk(a3)] == ("UPDATED", 3, [("position", "2", "1")])
    assert got[_pk(w1)][1:] == (3, [("position", "3", "2")])

    since = len(await _changes(engine))
    await api("mutation ($id: ID!) { deleteOpportunity(id: $id) { errors { code } } }", {"id": a3})
    got = await _after(engine, since)
    assert got == {
        _pk(a3): ("DELETED", 4, []),
        _pk(w1): ("UPDATED", 4, [("position", "2", "1")]),
    }

    since = len(await _changes(engine))
    await api("mutation ($id: ID!) { restoreOpportunity(id: $id) { errors { code } } }", {"id": a3})
    got = await _after(engine, since)
    # back at its old place 1: w1 makes room again; the restore itself is a CREATED change
    assert set(got) == {_pk(a3), _pk(w1)}
    assert got[_pk(a3)][:2] == ("CREATED", 5)
    assert got[_pk(w1)] == ("UPDATED", 5, [("position", "1", "2")])

    since = len(await _changes(engine))
    done = await api(CREATE, {"input": {"title": "Top", "stageId": first, "position": 1}})
    top = done["createOpportunity"]["opportunity"]["id"]
    got = await _after(engine, since)
    assert set(got) == {_pk(top), _pk(a3), _pk(w1)}
    assert got[_pk(a3)] == ("UPDATED", 6, [("position", "1", "2")])
    assert got[_pk(w1)] == ("UPDATED", 6, [("position", "2", "3")])
    assert got[_pk(top)][:2] == ("CREATED", 1)


async def test_a_bulk_move_bumps_each_deal_once_and_writes_one_change_each(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    first, second = gid("Stage", b.stages[0]), gid("Stage", b.stages[1])
    hot = await _column(api, first, 3, tags=["hot"])
    (cold,) = await _column(api, first, 1)
    (there,) = await _column(api, second, 1)
    since = len(await _changes(engine))
    out = await api(
        'mutation ($s: ID!) { updateOpportunities(filter: {tags: {hasAny: ["hot"]}}, input: {stageId: $s})'
        " { count errors { code } } }",
        {"s": second},
    )
    assert out["updateOpportunities"] == {"count": 3, "errors": []}
    got = await _after(engine, since)
    # the three hot cards go last in column 2 one by one, each shifted as the earlier ones
    # left column 1: still one change and one bump each
    assert {pk: v for pk, (_, v, _) in got.items()} == {_pk(d): 2 for d in [*hot, cold]}
    assert [c for c in got[_pk(hot[0])][2] if c[0] == "position"] == [("position", "1", "2")]
    assert [c for c in got[_pk(hot[1])][2] if c[0] == "position"] == [("position", "2", "3")]
    assert [c for c in got[_pk(hot[2])][2] if c[0] == "position"] == [("position", "3", "4")]
    assert got[_pk(cold)] == ("UPDATED", 2, [("position", "4", "1")])
    assert _pk(there) not in got


async def test_a_private_neighbour_is_recorded_but_never_shown_to_who_cannot_see_it(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    first = gid("Stage", b.stages[0])
    (mover,) = await _column(api, first, 1)
    (secret,) = await _column(api, first, 1, isPrivate=True)
    _, editor_key = await add_user(engine, "Acme", "editor@acme.test", Role.EDITOR)
    editor = Api(api.client, editor_key)
    feed = "query ($a: String) { opportunityChanges(after: $a) { nodes { opportunityId } pageInfo { endCursor } } }"
    end = (await editor(feed, {}))["opportunityChanges"]["pageInfo"]["endCursor"]
    # the editor moves the visible card below the private one it cannot see
    out = await editor(MOVE, {"id": mover, "s": first, "p": 2})
    assert out["moveOpportunity"]["errors"] == []
    got = await _after(engine, len(await _changes(engine)) - 2)
    assert got[_pk(secret)] == ("UPDATED", 2, [("position", "2", "1")])
    # the admin's feed has both; the editor's only its own card
    assert [n["opportunityId"] for n in (await editor(feed, {"a": end}))["opportunityChanges"]["nodes"]] == [
        mover
    ]
    admin_ids = {n["opportunityId"] for n in (await api(feed, {"a": end}))["opportunityChanges"]["nodes"]}
    assert admin_ids == {mover, secret}


async def test_a_move_costs_the_same_statements_for_2_and_30_shifted_cards(
    api: Api, engine: AsyncEngine, tenant: Tenant
) -> None:
    b = await make_board(engine, tenant.organization_id)
    counts = []
    for size, stage in ((3, b.stages[0]), (31, b.stages[1])):
        column = await _column(api, gid("Stage", stage), size)
        since = len(await _changes(engine))
        with count_statements(engine) as seen:
            out = await api(MOVE, {"id": column[-1], "s": gid("Stage", stage), "p": 1})
        assert out["moveOpportunity"]["errors"] == []
        assert len(await _after(engine, since)) == size  # the moved card and every card it passed
        inserts = [s for s in seen if s.startswith("INSERT INTO opportunity_change")]
        assert len(inserts) == 1, seen
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
