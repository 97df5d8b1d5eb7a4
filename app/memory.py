"""The cyclic garbage collector: frozen after start-up, thresholds chosen from measurements, long pauses logged."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger("opportunity_gateway")

# Measured with bench/gc_soak.py (bench/results-reads.md): see tune_garbage_collector.
THRESHOLDS = (20_000, 5, 5)
# A collection longer than this (CPU time of the collecting thread) is logged.
LONG_PAUSE_MS = 50.0
# ... at most once per this many seconds, with how many were left unsaid.
LOG_EVERY_SECONDS = 60.0


def tune_garbage_collector() -> None:
    """Keep the cyclic GC off the schema and caches, and collect request garbage while it is young.

    `gc.freeze()` moves everything start-up built (the schema, SQLAlchemy's and strawberry's
    caches) to the permanent generation, so no collection walks it again. A request leaves
    cyclic garbage behind (graphql-core's execution context, futures, closures); the request's
    loaders are emptied at its end, so that cycle holds little. What is left must still be
    collected, and most of it has been promoted by then (8 requests in flight keep their
    objects alive through young collections). With the earlier (50_000, 50, 100) a full
    collection came every ~60k requests: RSS climbed 140 -> 161 MB from request 1,000 to 2,000
    (bench/gc_soak.py) and the eventual full collection took 652 ms. (20_000, 5, 5) collects
    generation 2 every ~150 board requests, while it holds little: RSS stayed at 125-127 MB,
    and a gen-0 threshold of 20_000 keeps young collections near 35 ms of CPU (50_000: up to
    60-87 ms). Measured on a loaded 2-core machine; bench/results-reads.md has the table.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if _watch not in gc.callbacks:
        gc.callbacks.append(_watch)


class _PauseWatch:
    """Times every collection (thread CPU time: the collector holds the GIL) and logs long ones."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest_ms = 0.0
        self.long_pauses = 0
        self._unsaid = 0
        self._last_log = float("-inf")

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.thread_time()
            return
        ms = (time.thread_time() - self.started) * 1000
        self.longest_ms = max(self.longest_ms, ms)
        if ms <= LONG_PAUSE_MS:
            return
        self.long_pauses += 1
        now = time.monotonic()
        if now - self._last_log < LOG_EVERY_SECONDS:
            self._unsaid += 1
            return
        log.warning(
            "garbage collection of generation %d took %.0f ms (over %.0f ms; %d more since the last warning)",
            info["generation"],
            ms,
            LONG_PAUSE_MS,
            self._unsaid,
        )
        self._last_log, self._unsaid = now, 0


_watch = _PauseWatch()
