"""Rate limits with the `limits` package: a moving window, answered by 429.

Two limiters use this: requests per API key (`OG_RATE_LIMIT`, e.g. "600/minute" or
"20/second;600/minute") and failed key attempts per client address
(`OG_AUTH_FAILURE_LIMIT`, "20/minute"); an empty expression turns either off. Counters
live in `OG_RATE_LIMIT_STORAGE`: process memory by default (per worker), or a shared
store such as `redis://host`. Every answer to a keyed request carries the IETF draft
`RateLimit-*` headers, a refusal also `Retry-After`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window has room again

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_after).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.reset_after).encode()))
        return out


class RateLimiter:
    """Counts events per key (an API key, a client address) against every configured window."""

    def __init__(self, limit: str, storage: str = "memory://", namespace: str = "api-key") -> None:
        self.items: list[RateLimitItem] = parse_many(limit) if limit.strip() else []
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage)) if self.items else None
        self.namespace = namespace

    @property
    def enabled(self) -> bool:
        return self.strategy is not None

    def hit(self, key: str) -> Decision | None:
        """Count one request for `key`; None when rate limiting is off."""
        if self.strategy is None:
            return None
        decisions = [self._hit(item, key) for item in self.items]
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset_after)
        return min(decisions, key=lambda d: d.remaining)

    def refusal(self, key: str) -> Decision | None:
        """The refusal `key` would get now, without counting anything; None while it has room."""
        if self.strategy is None:
            return None
        full = [item for item in self.items if not self.strategy.test(item, self.namespace, key)]
        if not full:
            return None
        return max((self._decision(item, key, allowed=False) for item in full), key=lambda d: d.reset_after)

    def _hit(self, item: RateLimitItem, key: str) -> Decision:
        assert self.strategy is not None
        return self._decision(item, key, allowed=self.strategy.hit(item, self.namespace, key))

    def _decision(self, item: RateLimitItem, key: str, *, allowed: bool) -> Decision:
        assert self.strategy is not None
        stats = self.strategy.get_window_stats(item, self.namespace, key)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, item.amount, max(stats.remaining, 0), reset_after)
