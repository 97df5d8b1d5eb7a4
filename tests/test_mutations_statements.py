"""SQL statement counts of the write path: they do not grow with the number of items, tags or links."""

from __future__ import annotations

from tests.support import Api, Tenant, count_statements, gid, make_board

CREATE = """
mutation ($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id version } errors { field code } }
}
"""
UPDATE = """
mutation ($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { opportunity { id version } errors { field code } }
}
"""


def _deal(board, n: int) -> dict:
    return {
        "title": "Counted",
        "amount": "10",
        "stageId": gid("Stage", board.stages[0]),
        "customerId": gid("Customer", board.customer),
        "contactIds": [gid("Contact", board.contact)],
        "tags": [f"t{i}" for i in range(min(n, 20))],
        "items": [{"itemName": f"i{i}", "rate": "1"} for i in range(n)],
        "customFields": [{"definitionId": gid("CustomFieldDefinition", board.definitions[0]), "value": "x"}],
    }


async def test_create_costs_the_same_for_1_and_50_items(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    await api(CREATE, {"input": _deal(board, 1)})  # warm the key cache
    counts = []
    for n in (1, 50):
        with count_statements(engine) as seen:
            out = await api(CREATE, {"input": _deal(board, n)})
        assert out["createOpportunity"]["errors"] == []
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    # measured on both databases; the key lookup is cached. 14 before the change log, which
    # reads the new deal back (its row, then its items, contacts, tags and custom fields) and
    # inserts its change: 6 more, none per item; 19 since the card's place is read with its
    # column's end (one statement) and written with its row, not placed after the INSERT (two)
    assert counts[0] == 19, counts


async def test_update_of_one_field_is_a_handful_of_statements(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    deal = (await api(CREATE, {"input": _deal(board, 2)}))["createOpportunity"]["opportunity"]["id"]
    with count_statements(engine) as seen:
        out = await api(UPDATE, {"id": deal, "input": {"amount": "12"}})
    assert out["updateOpportunity"]["opportunity"]["version"] == 2
    # version bump (RETURNING the row), the change, the payload's read; the key is cached;
    # the change log: the row after, the change's INSERT (3 before it)
    assert len(seen) == 5, seen
