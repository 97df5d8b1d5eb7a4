"""upsertOpportunities: by (source, externalId), create or update, all or nothing, race-safe."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app import models as m
from tests.support import Api, Tenant, gid, make_board, make_tenant, unscoped

UPSERT = """
mutation ($source: String!, $inputs: [UpsertOpportunityInput!]!) {
  upsertOpportunities(source: $source, inputs: $inputs) {
    opportunities { id title amount currency description version stage { id } externalIds { source externalId } }
    errors { field code message attemptedValue }
  }
}
"""

BY_KEY = """
query ($f: OpportunityFilter) {
  opportunities(filter: $f) { totalCount nodes { title externalIds { source externalId } } }
}
"""


async def _count(engine) -> int:
    async with unscoped(engine) as s:
        return int(await s.scalar(select(func.count()).select_from(m.Opportunity)) or 0)


async def test_new_keys_create_and_known_keys_update(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    first = await api(
        UPSERT,
        {
            "source": "apideck",
            "inputs": [
                {"externalId": "A-1", "title": "Rocket", "amount": "10.50", "description": "x"},
                {"externalId": "A-2", "title": "Moon", "stageId": gid("Stage", board.stages[1])},
            ],
        },
    )
    payload = first["upsertOpportunities"]
    assert payload["errors"] == []
    rocket, moon = payload["opportunities"]
    assert (rocket["title"], rocket["amount"], rocket["version"]) == ("Rocket", "10.5000", 1)
    assert rocket["externalIds"] == [{"source": "apideck", "externalId": "A-1"}]
    assert moon["stage"] == {"id": gid("Stage", board.stages[1])}
    second = await api(
        UPSERT,
        {
            "source": "apideck",
            "inputs": [
                {"externalId": "A-1", "amount": "99", "description": None},  # title omitted: kept
                {"externalId": "A-3", "title": "Mars"},
            ],
        },
    )
    payload = second["upsertOpportunities"]
    assert payload["errors"] == []
    updated, mars = payload["opportunities"]
    assert updated["id"] == rocket["id"]
    assert (updated["title"], updated["amount"], updated["description"], updated["version"]) == (
        "Rocket",
        "99.0000",
        None,
        2,
    )
    assert mars["externalIds"] == [{"source": "apideck", "externalId": "A-3"}]
    assert await _count(engine) == 3
    found = await api(
        BY_KEY, {"f": {"externalId": {"source": {"eq": "apideck"}, "externalId": {"in": ["A-1", "A-3"]}}}}
    )
    assert sorted(n["title"] for n in found["opportunities"]["nodes"]) == ["Mars", "Rocket"]
    none = await api(BY_KEY, {"f": {"externalId": {"source": {"eq": "oro"}}}})
    assert none["opportunities"]["totalCount"] == 0


async def test_the_same_key_in_another_source_or_organization_is_another_deal(
    api: Api, tenant: Tenant, engine
) -> None:
    other = await make_tenant(engine, "Other Upsert Org")
    await api(UPSERT, {"source": "oro", "inputs": [{"externalId": "7", "title": "Ours"}]})
    await api(UPSERT, {"source": "nexudus", "inputs": [{"externalId": "7", "title": "Nexudus one"}]})
    theirs = await api(
        UPSERT, {"source": "oro", "inputs": [{"externalId": "7", "title": "Theirs"}]}, key=other.key
    )
    assert theirs["upsertOpportunities"]["opportunities"][0]["version"] == 1
    assert await _count(engine) == 3
    ours = await api(BY_KEY, {"f": {"externalId": {"source": {"eq": "oro"}, "externalId": {"eq": "7"}}}})
    assert [n["title"] for n in ours["opportunities"]["nodes"]] == ["Ours"]


async def test_errors_are_at_their_input_and_nothing_is_written(api: Api, tenant: Tenant, engine) -> None:
    await api(UPSERT, {"source": "s", "inputs": [{"externalId": "known", "title": "Known"}]})
    result = await api(
        UPSERT,
        {
            "source": "s",
            "inputs": [
                {"externalId": "new-ok", "title": "Fine"},
                {"externalId": "new-untitled", "amount": "5"},
                {"externalId": "known", "title": None},
                {"externalId": "known2", "title": "x", "probability": 101},
            ],
        },
    )
    payload = result["upsertOpportunities"]
    assert payload["opportunities"] == []
    fields = sorted((tuple(e["field"]), e["code"]) for e in payload["errors"])
    assert (("inputs", "1", "title"), "REQUIRED") in fields
    assert (("inputs", "3", "probability"), "OUT_OF_RANGE") in fields
    assert await _count(engine) == 1  # neither new deal was made
    # the update's own error, once the creates are fine
    result = await api(
        UPSERT,
        {
            "source": "s",
            "inputs": [{"externalId": "new", "title": "N"}, {"externalId": "known", "title": None}],
        },
    )
    payload = result["upsertOpportunities"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["inputs", "1", "title"], "REQUIRED")]
    assert await _count(engine) == 1


async def test_a_key_twice_in_one_call_and_empty_keys_are_refused(api: Api) -> None:
    result = await api(
        UPSERT,
        {
            "source": "s",
            "inputs": [
                {"externalId": "k", "title": "a"},
                {"externalId": "k", "title": "b"},
                {"externalId": " ", "title": "c"},
            ],
        },
    )
    errors = [(e["field"], e["code"]) for e in result["upsertOpportunities"]["errors"]]
    assert errors == [
        (["inputs", "1", "externalId"], "DUPLICATE"),
        (["inputs", "2", "externalId"], "REQUIRED"),
    ]


async def test_over_1000_inputs_are_refused_before_anything_runs(api: Api, engine) -> None:
    inputs = [{"externalId": str(i), "title": f"D{i}"} for i in range(1001)]
    result = await api(UPSERT, {"source": "s", "inputs": inputs})
    assert [(e["field"], e["code"]) for e in result["upsertOpportunities"]["errors"]] == [
        (["inputs"], "OUT_OF_RANGE")
    ]
    assert await _count(engine) == 0


async def test_two_concurrent_upserts_of_one_new_key_make_one_deal(api: Api, engine) -> None:
    runs = await asyncio.gather(
        *(
            api(UPSERT, {"source": "race", "inputs": [{"externalId": "same", "title": f"T{i}"}]})
            for i in range(4)
        )
    )
    ids = {r["upsertOpportunities"]["opportunities"][0]["id"] for r in runs}
    assert all(r["upsertOpportunities"]["errors"] == [] for r in runs)
    assert len(ids) == 1
    assert await _count(engine) == 1
    versions = sorted(r["upsertOpportunities"]["opportunities"][0]["version"] for r in runs)
    assert versions == [1, 2, 3, 4]  # one create, then three updates of that deal
    async with unscoped(engine) as s:
        assert await s.scalar(select(func.count()).select_from(m.ExternalId)) == 1


PLACES = "{ opportunities { nodes { title position version stage { id } } } }"


async def test_known_keys_that_change_column_and_ones_that_stay_are_updated_together(
    api: Api, tenant: Tenant, engine
) -> None:
    board = await make_board(engine, tenant.organization_id)
    qualify, propose = gid("Stage", board.stages[0]), gid("Stage", board.stages[1])
    first = [{"externalId": f"k{i}", "title": f"k{i}", "stageId": qualify} for i in range(1, 5)]
    first.append({"externalId": "k5", "title": "k5", "stageId": propose})
    assert (await api(UPSERT, {"source": "s", "inputs": first}))["upsertOpportunities"]["errors"] == []
    again = [
        {"externalId": "k1", "stageId": propose},
        {"externalId": "k2", "title": "k2 renamed"},
        {"externalId": "k3", "stageId": propose, "amount": "3"},
        {"externalId": "k4", "amount": "4"},
        {"externalId": "k5", "stageId": qualify},
    ]
    assert (await api(UPSERT, {"source": "s", "inputs": again}))["upsertOpportunities"]["errors"] == []
    deals = (await api(PLACES))["opportunities"]["nodes"]
    columns = {
        stage: sorted((d["position"], d["title"]) for d in deals if d["stage"]["id"] == stage)
        for stage in (qualify, propose)
    }
    # as if the deals had been updated one after another, in input order: both columns dense
    assert columns == {
        qualify: [(1, "k2 renamed"), (2, "k4"), (3, "k5")],
        propose: [(1, "k1"), (2, "k3")],
    }
    assert {d["version"] for d in deals} == {2}  # one change each, however often a move shifted it
