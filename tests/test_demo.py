"""Demo data: the same rows for the same seed, and every rule of the model kept."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from app.db import make_engine
from app.demo import BASE_DATE, TABLES, has_data, seed_demo
from app.enums import CustomFieldType

N = 200


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


async def seeded(engine: AsyncEngine, n: int = N, **kw: Any) -> AsyncEngine:
    await seed_demo(engine, opportunities=n, progress=False, **kw)
    return engine


async def rows(engine: AsyncEngine, table: str, *columns: str) -> list[Any]:
    t = TABLES[table]
    query = select(*(t.c[c] for c in columns)) if columns else select(t)
    async with engine.connect() as conn:
        return list((await conn.execute(query.order_by(*t.primary_key.columns))).all())


async def snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    return {t.name: await rows(engine, t.name) for t in SQLModel.metadata.sorted_tables}


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await conn.execute(delete(table))


def assert_dense(pairs: list[tuple[Any, int]]) -> None:
    """Within each group, the positions are exactly 1..n."""
    groups: dict[Any, list[int]] = defaultdict(list)
    for key, position in pairs:
        groups[key].append(position)
    for key, positions in groups.items():
        assert sorted(positions) == list(range(1, len(positions) + 1)), key


async def test_the_same_seed_gives_the_same_rows(engine: AsyncEngine) -> None:
    first = await snapshot(await seeded(engine, seed=3))
    await empty(engine)
    again = await snapshot(await seeded(engine, seed=3))
    await empty(engine)
    other = await snapshot(await seeded(engine, seed=4))

    assert len(first["opportunity"]) == N
    assert again == first
    assert other["opportunity"] != first["opportunity"]
    assert other["customer"] != first["customer"]


async def test_report_and_has_data(engine: AsyncEngine) -> None:
    assert not await has_data(engine)
    report = await seed_demo(engine, opportunities=N, progress=False)

    assert await has_data(engine)
    assert [name for _, name in report.organizations] == ["Acme Demo", "Globex Demo", "Initech Demo"]
    for table, count in report.counts.items():
        assert len(await rows(engine, table)) == count, table
    per_org = Counter(org_id for (org_id,) in await rows(engine, "opportunity", "organization_id"))
    counts = [per_org[org_id] for org_id, _ in report.organizations]
    assert sum(counts) == N and counts[0] > counts[1] > counts[2] > 0


async def test_positions_are_dense(engine: AsyncEngine) -> None:
    await seeded(engine)

    assert_dense(await rows(engine, "opportunity", "stage_id", "position"))
    assert_dense(await rows(engine, "opportunity_item", "opportunity_id", "position"))
    assert_dense(await rows(engine, "opportunity_tag", "opportunity_id", "position"))
    assert_dense(await rows(engine, "opportunity_contact", "opportunity_id", "position"))
    assert_dense(await rows(engine, "opportunity_lost_reason", "opportunity_id", "position"))
    assert_dense(await rows(engine, "stage", "pipeline_id", "position"))


async def test_stages_have_one_won_and_one_lost_and_rising_probabilities(engine: AsyncEngine) -> None:
    await seeded(engine)
    by_pipeline = defaultdict(list)
    for pipeline_id, position, stage_type, probability in await rows(
        engine, "stage", "pipeline_id", "position", "type", "probability"
    ):
        by_pipeline[pipeline_id].append((position, stage_type, probability))

    for stages in by_pipeline.values():
        types = [t for _, t, _ in sorted(stages)]
        assert 5 <= len(stages) <= 7
        assert types.count("WON") == 1 and types.count("LOST") == 1
        open_probabilities = [p for _, t, p in sorted(stages) if t == "OPEN"]
        assert open_probabilities == sorted(open_probabilities)


async def test_status_follows_the_stage(engine: AsyncEngine) -> None:
    await seeded(engine)
    stage_type = dict(await rows(engine, "stage", "id", "type"))
    reason_kind = dict(await rows(engine, "close_reason", "id", "kind"))
    lost = defaultdict(list)
    for opp_id, _, reason_id in sorted(
        await rows(engine, "opportunity_lost_reason", "opportunity_id", "position", "close_reason_id")
    ):
        lost[opp_id].append(reason_id)
    opps = await rows(engine, "opportunity", "id", "status", "stage_id", "closed_at", "close_reason_id")

    for opp_id, status, stage_id, closed_at, reason_id in opps:
        assert status == stage_type[stage_id]
        assert (closed_at is None) == (status == "OPEN")
        assert (reason_id is None) == (status == "OPEN")
        if status != "OPEN":
            assert reason_kind[reason_id] == status
        if status == "LOST":
            assert 1 <= len(lost[opp_id]) <= 2 and lost[opp_id][0] == reason_id
            assert all(reason_kind[r] == "LOST" for r in lost[opp_id])
    assert {status for _, status, *_ in opps} == {"OPEN", "WON", "LOST"}
    assert set(lost) <= {opp_id for opp_id, status, *_ in opps if status == "LOST"}


async def test_custom_fields_cover_every_type(engine: AsyncEngine) -> None:
    await seeded(engine)
    definitions = await rows(
        engine, "custom_field_definition", "id", "organization_id", "field_type", "options", "is_required"
    )
    values = await rows(engine, "custom_field_value", "opportunity_id", "definition_id", "value")
    opps = await rows(engine, "opportunity", "id", "organization_id")

    for org_id in {org for _, org in opps}:
        types = {t for _, org, t, _, _ in definitions if org == org_id}
        assert types == {t.value for t in CustomFieldType}
    kinds = {d[0]: d for d in definitions}
    for _, definition_id, value in values:
        _, _, field_type, options, _ = kinds[definition_id]
        assert field_type != "HEADING"
        if field_type == "SELECT_BOX":
            assert value in options
        if field_type == "CHECK_BOX":
            assert value in ("true", "false")
        if field_type == "DATE":
            date.fromisoformat(value)
    required = {d[0] for d in definitions if d[4]}
    # One example of a required field, in Globex Demo only: the demo key's organization (Acme
    # Demo) requires none, so a first createOpportunity there needs no custom field at all.
    org_names = dict(await rows(engine, "organization", "id", "name"))
    labels = dict(await rows(engine, "custom_field_definition", "id", "label"))
    assert sorted((org_names[kinds[d][1]], labels[d]) for d in required) == [("Globex Demo", "Contract term")]
    # every demo deal still has a contract term, required or not
    terms = {d for d, label in labels.items() if label == "Contract term"}
    assert {opp for opp, definition, _ in values if definition in terms} == {opp for opp, _ in opps}
    answered = {(opp, definition) for opp, definition, _ in values}
    for opp_id, org_id in opps:
        for definition_id in required:
            if kinds[definition_id][1] == org_id:
                assert (opp_id, definition_id) in answered


async def test_private_opportunities_have_an_access_list(engine: AsyncEngine) -> None:
    await seeded(engine)
    access = defaultdict(set)
    for opp_id, user_id in await rows(engine, "opportunity_access", "opportunity_id", "user_id"):
        access[opp_id].add(user_id)
    opps = await rows(engine, "opportunity", "id", "is_private", "owner_id")

    private = {opp_id for opp_id, is_private, _ in opps if is_private}
    assert private and len(private) < len(opps) / 4
    assert set(access) == private
    for opp_id, _, owner_id in opps:
        assert owner_id not in access[opp_id]


async def test_money_is_exact_in_several_currencies(engine: AsyncEngine) -> None:
    await seeded(engine)
    opps = await rows(
        engine, "opportunity", "amount", "currency", "conversion_rate", "bid_type", "per_period_value"
    )
    items = await rows(engine, "opportunity_item", "quantity", "rate", "base_rate")

    assert len({currency for _, currency, *_ in opps}) >= 3
    assert any(amount is None for amount, *_ in opps)
    for amount, _, rate, bid_type, periods in opps:
        assert amount is None or (isinstance(amount, Decimal) and amount == amount.quantize(Decimal("0.01")))
        assert rate is None or rate > 0
        assert (periods is None) == (bid_type == "FIXED")
    assert {bid_type for *_, bid_type, _ in opps} > {"FIXED"}
    assert all(isinstance(q, Decimal) and q > 0 and r > 0 and b > 0 for q, r, b in items)


async def test_contacts_belong_to_the_customer(engine: AsyncEngine) -> None:
    await seeded(engine)
    customer_of = dict(await rows(engine, "contact", "id", "customer_id"))
    participants: defaultdict[int, dict[int, int]] = defaultdict(dict)
    for opp_id, contact_id, position in await rows(
        engine, "opportunity_contact", "opportunity_id", "contact_id", "position"
    ):
        participants[opp_id][position] = contact_id

    for opp_id, customer_id, contact_id in await rows(
        engine, "opportunity", "id", "customer_id", "contact_id"
    ):
        assert customer_of[contact_id] == customer_id
        assert participants[opp_id][1] == contact_id
        assert all(customer_of[c] == customer_id for c in participants[opp_id].values())


async def test_timestamps_are_ordered_and_fixed(engine: AsyncEngine) -> None:
    await seeded(engine)
    columns = (
        "created_at",
        "updated_at",
        "stage_changed_at",
        "closed_at",
        "last_activity_at",
        "last_contacted_at",
    )
    for created, updated, moved, closed, active, contacted in await rows(engine, "opportunity", *columns):
        assert created.tzinfo is not None and created.microsecond == 0
        assert created <= moved <= updated <= BASE_DATE
        assert closed is None or closed == moved
        assert active is None or moved <= active <= updated
        assert contacted is None or created <= contacted <= (active or updated)
    assert min(c for (c,) in await rows(engine, "opportunity", "created_at")).year == BASE_DATE.year - 2


async def test_an_existing_organization_gets_more_data_without_clashes(engine: AsyncEngine) -> None:
    await seeded(engine, 100, organization="Umbrella Corp")
    before = {t: len(await rows(engine, t)) for t in ("user", "pipeline", "stage", "custom_field_definition")}
    report = await seed_demo(engine, opportunities=150, organization="Umbrella Corp", progress=False)

    assert [name for _, name in report.organizations] == ["Umbrella Corp"]
    assert len(await rows(engine, "opportunity")) == 250
    # the same seed draws the same users and lookups again: they are reused, not duplicated
    assert {t: len(await rows(engine, t)) for t in before} == before
    assert_dense(await rows(engine, "opportunity", "stage_id", "position"))
    emails = await rows(engine, "user", "organization_id", "email")
    assert len(set(emails)) == len(emails)


async def test_later_inserts_get_fresh_ids(engine: AsyncEngine) -> None:
    await seeded(engine, 50, organization="Umbrella Corp")
    # explicit ids must not leave PostgreSQL's sequences behind
    org_id = (await rows(engine, "organization", "id"))[0][0]
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(TABLES["customer"]).values(
                organization_id=org_id, name="Late Customer", created_at=BASE_DATE, updated_at=BASE_DATE
            )
        )
        (new_id,) = result.inserted_primary_key or (None,)
    async with engine.connect() as conn:
        assert new_id == await conn.scalar(select(func.max(TABLES["customer"].c.id)))
