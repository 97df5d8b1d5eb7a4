"""The GC tuning: frozen start-up objects, the measured thresholds, long pauses logged without flooding the log."""

from __future__ import annotations

import gc
import logging
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from app import memory
from app import models as m
from tests.support import Api, Tenant, insert, make_board, opportunity, unscoped


def test_tuning_freezes_start_up_and_sets_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        memory.tune_garbage_collector()
        memory.tune_garbage_collector()  # twice: one watch, not two
        assert gc.get_threshold() == memory.THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gc.callbacks.count(memory._watch) == 1
    finally:
        gc.callbacks.remove(memory._watch)
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_long_pause_is_logged_once_a_minute_with_the_count_left_unsaid(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cpu = iter([0.0, 0.020, 1.0, 1.080, 2.0, 2.090, 3.0, 3.070])  # pauses of 20, 80, 90, 70 ms
    wall = iter([100.0, 130.0, 161.0])
    monkeypatch.setattr(memory.time, "thread_time", lambda: next(cpu))
    monkeypatch.setattr(memory.time, "monotonic", lambda: next(wall))
    watch = memory._PauseWatch()
    with caplog.at_level(logging.WARNING, "opportunity_gateway"):
        for generation in (0, 1, 2, 2):
            watch("start", {"generation": generation})
            watch("stop", {"generation": generation})
    assert [r.getMessage() for r in caplog.records] == [
        "garbage collection of generation 1 took 80 ms (over 50 ms; 0 more since the last warning)",
        "garbage collection of generation 2 took 70 ms (over 50 ms; 1 more since the last warning)",
    ]
    assert watch.long_pauses == 3 and round(watch.longest_ms) == 90


def _request_leftovers(marker: str) -> list[Any]:
    """Objects of a finished request still alive: GraphQL objects, or response dicts of `marker`."""
    return [
        o
        for o in gc.get_objects()
        if (type(o) is dict and type(o.get("title")) is str and o["title"] == marker)
        or (
            str(vars(type(o)).get("__module__", "")).startswith(
                "app."
            )  # the gateway's own types, not other tests'
            and not isinstance(o, Enum)
            and any("__strawberry_definition__" in vars(c) for c in type(o).__mro__)
        )
    ]


async def test_a_read_leaves_its_rows_to_reference_counting_not_the_collector(
    api: Api, tenant: Tenant, engine: Any
) -> None:
    # A request's objects (rows become GraphQL objects, then response dicts) must be freed by
    # reference counting when it ends. Held by a cycle instead (loaders and their batch
    # functions, the executor's kept completions, the metrics observation a pending timer
    # holds), every young collection walks them: 13 % of a 1000-row page's CPU, measured.
    org = tenant.organization_id
    board = await make_board(engine, org)
    marker = "leftover-check"
    ids = await insert(
        engine,
        *(
            opportunity(
                org,
                title=marker,
                stage_id=board.stages[0],
                customer_id=board.customer,
                contact_id=board.contact,
                owner_id=tenant.user_id,
                amount=Decimal("10"),
            )
            for _ in range(3)
        ),
    )
    async with unscoped(engine) as s:
        for oid in ids:
            s.add(
                m.OpportunityItem(
                    organization_id=org,
                    opportunity_id=oid,
                    item_name="Seat",
                    quantity=Decimal(2),
                    rate=Decimal(3),
                )
            )
            s.add(
                m.CustomFieldValue(
                    organization_id=org, opportunity_id=oid, definition_id=board.definitions[0], value="x"
                )
            )
    query = (
        "{ opportunities(first: 10) { totalCount nodes { id title amount expectedRevenue"
        " customer { name } contact { displayName } owner { displayName } stage { name }"
        " items { itemName amount } customFields { value definition { label } } } } }"
    )
    await api(query)  # warm: plans and statements kept per process are made here
    gc.collect()
    gc.disable()
    try:
        data = await api(query)
        assert [n["title"] for n in data["opportunities"]["nodes"]] == [marker] * 3
        [value] = data["opportunities"]["nodes"][0]["customFields"]
        assert value["value"] == "x" and value["definition"]["label"]
        del data
        assert _request_leftovers(marker) == []
    finally:
        gc.enable()
