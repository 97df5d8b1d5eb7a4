"""The pipeline board: moves keep columns dense (also concurrently), won/lost/reopen follow the stage rules."""

from __future__ import annotations

import asyncio

from app.enums import Role
from tests.support import Api, Tenant, add_user, gid, insert, make_board, opportunity

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } errors { field code } }
}
"""

DEAL = """
status closedAt probability position version stageChangedAt
stage { id name } closeReason { id }
"""

MOVE = f"""
mutation ($id: ID!, $stage: ID!, $pos: Int) {{
  moveOpportunity(id: $id, stageId: $stage, position: $pos) {{ opportunity {{ {DEAL} }} errors {{ field code message }} }}
}}
"""

WON = f"""
mutation ($id: ID!, $reason: ID, $at: DateTime) {{
  markOpportunityWon(id: $id, closeReasonId: $reason, closedAt: $at) {{ opportunity {{ {DEAL} }} errors {{ field code message }} }}
}}
"""

LOST = f"""
mutation ($id: ID!, $reason: ID) {{
  markOpportunityLost(id: $id, closeReasonId: $reason) {{ opportunity {{ {DEAL} }} errors {{ field code message }} }}
}}
"""

REOPEN = f"""
mutation ($id: ID!, $stage: ID) {{
  reopenOpportunity(id: $id, stageId: $stage) {{ opportunity {{ {DEAL} }} errors {{ field code message }} }}
}}
"""

COLUMN = """
query ($id: ID!) { stage(id: $id) { opportunities(first: 100) { nodes { id position } } } }
"""


async def _cards(api: Api, stage: str, n: int, prefix: str = "card") -> list[str]:
    ids = []
    for i in range(n):
        out = await api(CREATE, {"input": {"title": f"{prefix} {i}", "stageId": stage}})
        ids.append(out["createOpportunity"]["opportunity"]["id"])
    return ids


async def _column(api: Api, stage: str) -> list[str]:
    nodes = (await api(COLUMN, {"id": stage}))["stage"]["opportunities"]["nodes"]
    assert [n["position"] for n in nodes] == list(range(1, len(nodes) + 1)), nodes
    return [n["id"] for n in nodes]


async def test_move_within_and_across_columns_keeps_both_dense(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    s1, s2 = gid("Stage", board.stages[0]), gid("Stage", board.stages[1])
    a, b, c, d = await _cards(api, s1, 4)
    out = (await api(MOVE, {"id": d, "stage": s1, "pos": 1}))["moveOpportunity"]
    assert out["errors"] == []
    assert await _column(api, s1) == [d, a, b, c]
    out = (await api(MOVE, {"id": a, "stage": s2}))["moveOpportunity"]["opportunity"]
    assert (out["stage"]["name"], out["position"], out["probability"]) == ("Propose", 1, 50)
    # 1 → 2 when d's move pushed it down (a shifted card's version rises too), → 3 by its own move
    assert out["stageChangedAt"] is not None and out["version"] == 3
    assert await _column(api, s1) == [d, b, c]
    (await api(MOVE, {"id": c, "stage": s2, "pos": 1}))
    (await api(MOVE, {"id": d, "stage": s2, "pos": 99}))
    assert await _column(api, s2) == [c, a, d]
    assert await _column(api, s1) == [b]


async def test_move_refuses_bad_input(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    [a] = await _cards(api, gid("Stage", board.stages[0]), 1)
    out = (await api(MOVE, {"id": a, "stage": gid("Pipeline", board.pipeline), "pos": 0}))["moveOpportunity"]
    assert sorted((e["field"], e["code"]) for e in out["errors"]) == [
        (["position"], "OUT_OF_RANGE"),
        (["stageId"], "NOT_FOUND"),
    ]


async def test_concurrent_moves_leave_columns_dense_and_unique(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    s1, s2 = gid("Stage", board.stages[0]), gid("Stage", board.stages[1])
    left = await _cards(api, s1, 8, "left")
    right = await _cards(api, s2, 8, "right")
    moves = [api(MOVE, {"id": card, "stage": s2, "pos": 1 + i % 3}) for i, card in enumerate(left[:6])]
    moves += [api(MOVE, {"id": card, "stage": s1, "pos": 2}) for card in right[:4]]
    moves += [api(MOVE, {"id": left[7], "stage": s1, "pos": 1})]
    results = await asyncio.gather(*moves)
    assert all(r["moveOpportunity"]["errors"] == [] for r in results)
    col1, col2 = await _column(api, s1), await _column(api, s2)
    assert sorted(col1 + col2) == sorted(left + right)
    assert len(col1) == 2 + 4 and len(col2) == 6 + 4
    assert col1[0] in (left[7], *right[:4])


async def test_won_lost_reopen(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    won_stage, lost_stage = gid("Stage", board.stages[2]), gid("Stage", board.stages[3])
    won, lost = gid("CloseReason", board.won_reason), gid("CloseReason", board.lost_reason)
    [deal] = await _cards(api, gid("Stage", board.stages[1]), 1)
    bad = (await api(LOST, {"id": deal, "reason": won}))["markOpportunityLost"]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [(["closeReasonId"], "INVALID")]
    assert "cannot close a lost deal" in bad["errors"][0]["message"]
    out = (await api(WON, {"id": deal, "reason": won, "at": "2026-03-01T10:00:00+02:00"}))[
        "markOpportunityWon"
    ]
    deal_now = out["opportunity"]
    assert (
        deal_now["status"],
        deal_now["stage"]["id"],
        deal_now["closeReason"],
        deal_now["probability"],
    ) == (
        "WON",
        won_stage,
        {"id": won},
        100,
    )
    assert deal_now["closedAt"].startswith("2026-03-01T08:00:00")
    out = (await api(LOST, {"id": deal, "reason": lost}))["markOpportunityLost"]["opportunity"]
    assert (out["status"], out["stage"]["id"], out["closeReason"], out["probability"]) == (
        "LOST",
        lost_stage,
        {"id": lost},
        0,
    )
    assert await _column(api, won_stage) == []
    out = (await api(REOPEN, {"id": deal, "stage": won_stage}))["reopenOpportunity"]
    assert [(e["field"], e["code"]) for e in out["errors"]] == [(["stageId"], "INVALID")]
    out = (await api(REOPEN, {"id": deal}))["reopenOpportunity"]["opportunity"]
    assert (out["status"], out["closedAt"], out["closeReason"], out["stage"]["name"]) == (
        "OPEN",
        None,
        None,
        "Propose",
    )
    assert out["probability"] == 50


async def test_close_without_a_pipeline(api: Api) -> None:
    deal = (await api(CREATE, {"input": {"title": "no board"}}))["createOpportunity"]["opportunity"]["id"]
    out = (await api(WON, {"id": deal}))["markOpportunityWon"]["opportunity"]
    assert (out["status"], out["stage"], out["probability"], out["closeReason"]) == ("WON", None, 100, None)
    assert out["closedAt"] is not None
    out = (await api(REOPEN, {"id": deal}))["reopenOpportunity"]["opportunity"]
    assert (out["status"], out["closedAt"]) == ("OPEN", None)


async def test_board_needs_editor_and_visibility(api: Api, tenant: Tenant, engine, app_client) -> None:
    board = await make_board(engine, tenant.organization_id)
    _, viewer = await add_user(engine, "Acme", "viewer@acme.test", Role.VIEWER)
    _, editor = await add_user(engine, "Acme", "editor@acme.test", Role.EDITOR)
    [a] = await _cards(api, gid("Stage", board.stages[0]), 1)
    [error] = await api.errors(MOVE, {"id": a, "stage": gid("Stage", board.stages[1])}, key=viewer)
    assert error["extensions"]["code"] == "FORBIDDEN"
    [hidden] = await insert(
        engine,
        opportunity(
            tenant.organization_id,
            is_private=True,
            owner_id=tenant.user_id,
            stage_id=board.stages[0],
            position=2,
        ),
    )
    out = await api(
        MOVE, {"id": gid("Opportunity", hidden), "stage": gid("Stage", board.stages[1])}, key=editor
    )
    assert [(e["field"], e["code"]) for e in out["moveOpportunity"]["errors"]] == [(["id"], "NOT_FOUND")]
    # the editor moves a visible card to the top; the hidden card still gets a unique place
    await api(MOVE, {"id": a, "stage": gid("Stage", board.stages[0]), "pos": 5}, key=editor)
    assert await _column(api, gid("Stage", board.stages[0])) == [gid("Opportunity", hidden), a]


async def test_creates_moves_updates_and_deletes_at_once_keep_columns_dense(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    s1, s2 = gid("Stage", board.stages[0]), gid("Stage", board.stages[1])
    first = await _cards(api, s1, 6, "first")
    update = (
        "mutation ($id: ID!, $s: ID) { updateOpportunity(id: $id, input: {stageId: $s}) { errors { code } } }"
    )
    delete = "mutation ($id: ID!) { deleteOpportunity(id: $id) { errors { code } } }"
    jobs = [api(CREATE, {"input": {"title": f"new {i}", "stageId": s1, "position": 1}}) for i in range(4)]
    jobs += [
        api(MOVE, {"id": first[0], "stage": s2, "pos": 1}),
        api(MOVE, {"id": first[1], "stage": s1, "pos": 4}),
    ]
    jobs += [api(update, {"id": first[2], "s": s2}), api(update, {"id": first[3], "s": None})]
    jobs += [api(delete, {"id": first[4]})]
    results = await asyncio.gather(*jobs)
    assert all(not next(iter(r.values()))["errors"] for r in results), results
    col1, col2 = await _column(api, s1), await _column(api, s2)
    assert len(col1) == 4 + 2 and set(col2) == {first[0], first[2]}
    assert first[1] in col1 and first[5] in col1


async def test_a_column_written_around_the_api_is_made_dense_by_the_next_move(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    org, stage = tenant.organization_id, board.stages[0]
    ids = await insert(
        engine,
        opportunity(org, stage_id=stage, position=5),
        opportunity(org, stage_id=stage, position=9),
        opportunity(org, stage_id=stage, position=9),
        opportunity(org, stage_id=stage, position=None),
    )
    [mover] = await _cards(api, gid("Stage", board.stages[1]), 1)
    await api(MOVE, {"id": mover, "stage": gid("Stage", stage), "pos": 2})
    column = await _column(api, gid("Stage", stage))
    assert column[1] == mover and sorted(column) == sorted([mover, *(gid("Opportunity", i) for i in ids)])


async def test_moves_within_a_column_shift_only_the_cards_between(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    s1 = gid("Stage", board.stages[0])
    cards = await _cards(api, s1, 6)
    await api(MOVE, {"id": cards[1], "stage": s1, "pos": 5})
    assert await _column(api, s1) == [cards[0], cards[2], cards[3], cards[4], cards[1], cards[5]]
    await api(MOVE, {"id": cards[5], "stage": s1, "pos": 2})
    assert await _column(api, s1) == [cards[0], cards[5], cards[2], cards[3], cards[4], cards[1]]
    await api(MOVE, {"id": cards[0], "stage": s1})
    assert await _column(api, s1) == [cards[0], cards[5], cards[2], cards[3], cards[4], cards[1]]
    await api(MOVE, {"id": cards[0], "stage": s1, "pos": 100})
    assert await _column(api, s1) == [cards[5], cards[2], cards[3], cards[4], cards[1], cards[0]]
