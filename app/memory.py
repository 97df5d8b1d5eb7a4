"""The cyclic garbage collector: frozen after start-up, thresholds chosen from measurements, long pauses logged."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger("opportunity_gateway")

# Measured with bench/gc_soak.py (bench/results-reads.md): see tune_garbage_collector.
THRESHOLDS = (20_000, 10, 5)
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
    collected: with the earlier (50_000, 50, 100) a full collection came every ~60k requests,
    RSS climbed from 95 to 343 MB in 5,000 board requests and the eventual full collection
    took 652 ms. THRESHOLDS collect gen 2 every ~250 board requests instead, when it holds
    little, keeping RSS flat; a gen-0 threshold of 20_000 keeps each young collection short
    (a 50_000 one measured up to 60-87 ms of CPU with 8 requests in flight).
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
