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


CREATE_MANY = """
mutation ($inputs: [CreateOpportunityInput!]!) {
  createOpportunities(inputs: $inputs) { opportunities { id position } errors { field code } }
}
"""
UPSERT = """
mutation ($source: String!, $inputs: [UpsertOpportunityInput!]!) {
  upsertOpportunities(source: $source, inputs: $inputs) { opportunities { id position } errors { field code } }
}
"""


async def test_a_bulk_create_costs_the_same_for_5_and_40_deals(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    await api(CREATE, {"input": _deal(board, 1)})  # warm the key cache; one card in the column
    counts, positions = [], []
    for n in (5, 40):
        with count_statements(engine) as seen:
            out = await api(CREATE_MANY, {"inputs": [_deal(board, 3) for _ in range(n)]})
        assert out["createOpportunities"]["errors"] == []
        counts.append(len(seen))
        positions.append([o["position"] for o in out["createOpportunities"]["opportunities"]])
    # appended to the column's end in input order, the column dense
    assert positions == [list(range(2, 7)), list(range(7, 47))]
    assert counts[0] == counts[1], counts
    # definitions; the links' rows (stage, customer, contact); the base currency; the column
    # lock and its end; the deals' INSERT; one INSERT each for participants, tags, items and
    # custom values; the change log's reads (row, items, contacts, tags, custom values) and
    # INSERT; the payload
    assert counts[0] == 19, counts


async def test_an_upsert_of_new_keys_costs_the_same_for_5_and_40_deals(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    await api(CREATE, {"input": _deal(board, 1)})  # warm the key cache
    counts = []
    for n in (5, 40):
        # the update input's fields (it has no list fields): scalars and links
        inputs = [
            {
                "externalId": f"k{n}-{i}",
                "title": "Upserted",
                "amount": "5",
                "stageId": gid("Stage", board.stages[0]),
                "customerId": gid("Customer", board.customer),
                "contactId": gid("Contact", board.contact),
            }
            for i in range(n)
        ]
        with count_statements(engine) as seen:
            out = await api(UPSERT, {"source": "crm", "inputs": inputs})
        assert out["upsertOpportunities"]["errors"] == []
        assert len(out["upsertOpportunities"]["opportunities"]) == n
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    # the keys' lookup; definitions; the links' rows (stage, customer, contact); the base
    # currency; the column lock and its end; the deals' INSERT; the keys' claim; the change
    # log's read and INSERT; the payload. Known keys are still updated one deal at a time.
    assert counts[0] == 13, "\n".join(s[:60].replace("\n", " ") for s in seen)


async def test_an_upsert_of_known_keys_costs_the_same_for_5_and_40_deals(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    await api(CREATE, {"input": _deal(board, 1)})  # warm the key cache
    counts, versions = [], []
    for n in (5, 40):
        keys = [f"known{n}-{i}" for i in range(n)]
        first = [
            {"externalId": k, "title": "Upserted", "amount": "5", "stageId": gid("Stage", board.stages[0])}
            for k in keys
        ]
        await api(UPSERT, {"source": "crm", "inputs": first})
        # every key known, every deal changed: scalars, a link, a clear, one deal's own value
        again = [
            {
                "externalId": k,
                "title": f"Changed {i}",
                "amount": str(6 + i),
                "contactId": gid("Contact", board.contact),
            }
            | ({"description": None} if i % 2 else {"probability": 40})
            for i, k in enumerate(keys)
        ]
        with count_statements(engine) as seen:
            out = await api(UPSERT, {"source": "crm", "inputs": again})
        assert out["upsertOpportunities"]["errors"] == []
        counts.append(len(seen))
        versions.append(len(out["upsertOpportunities"]["opportunities"]))
    assert versions == [5, 40]
    deals = await api("{ opportunities(first: 100) { nodes { title amount probability version } } }")
    changed = {d["title"]: d for d in deals["opportunities"]["nodes"] if d["title"].startswith("Changed")}
    assert len(changed) == 40 and changed["Changed 39"]["amount"] == "45.0000"
    assert {d["version"] for d in changed.values()} == {2}
    assert counts[0] == counts[1], counts
    # the keys' lookup; the links' rows (contact); every deal's version bump (one UPDATE …
    # RETURNING); their changes (one UPDATE); the change log's read and INSERT; the payload
    assert counts[0] == 7, "\n".join(s[:60].replace("\n", " ") for s in seen)
