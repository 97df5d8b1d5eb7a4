"""The GC tuning: frozen start-up objects, the measured thresholds, long pauses logged without flooding the log."""

from __future__ import annotations

import gc
import logging

import pytest

from app import memory


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
