"""Rate limits counted the way AspNetCoreRateLimit counts them.

ConfigCat's API answers with that .NET library's headers and 429 message, so the emulator plays
its rules: each rule (a limit per period) counts requests in fixed windows, and a window opens at
the first request after the previous one ended, not at a clock boundary. Rules are applied
longest period first and each counts a request before judging it, so a request that a shorter
period refuses still uses up the longer ones (the library's StackBlockedRequests, the stricter of
its two settings).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

from .datetimes import TICKS_PER_SECOND, UtcDateTime

# "credential": one set of counters per credential for the whole API; "path": one per credential
# and request (verb and path), as the library's endpoint rate limiting keys its counters.
RATE_LIMIT_SCOPES = ("credential", "path")


@dataclass(frozen=True)
class RateLimitRule:
    limit: int
    period: str  # as the library writes it in headers and messages: "1s", "1m"
    period_ticks: int

    @classmethod
    def per_second(cls, limit: int) -> RateLimitRule:
        return cls(limit, "1s", TICKS_PER_SECOND)

    @classmethod
    def per_minute(cls, limit: int) -> RateLimitRule:
        return cls(limit, "1m", 60 * TICKS_PER_SECOND)

    @property
    def message(self) -> str:
        """The library's plain-text body of a refused request."""
        return f"API calls quota exceeded! maximum admitted {self.limit} per {self.period}."


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer about one request."""

    refused_by: RateLimitRule | None = None
    retry_after: int = 0  # whole seconds, when refused
    # X-Rate-Limit-* of the longest period, when allowed: the library sends none on a 429.
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Fixed windows per counter key and period; safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (key, period) -> (start of the current window in ticks, requests counted in it)
        self._windows: dict[tuple[Hashable, str], tuple[int, int]] = {}

    def hit(self, key: Hashable, rules: list[RateLimitRule], now: int) -> Verdict:
        """Count one request for `key` at `now` (ticks since the Unix epoch) under `rules`."""
        longest_first = sorted(rules, key=lambda rule: rule.period_ticks, reverse=True)
        windows = []
        with self._lock:
            for rule in longest_first:
                start, count = self._windows.get((key, rule.period), (now, 0))
                # The library keeps a window while start + period >= now.
                if start + rule.period_ticks < now:
                    start, count = now, 0
                count += 1
                self._windows[(key, rule.period)] = (start, count)
                if count > rule.limit:
                    seconds = (start + rule.period_ticks - now) / TICKS_PER_SECOND
                    # The library writes max(seconds, 1) rounded to whole seconds ("F0").
                    return Verdict(refused_by=rule, retry_after=math.floor(max(seconds, 1) + 0.5))
                windows.append((start, count))
        longest = longest_first[0]
        start, count = windows[0]
        return Verdict(
            headers={
                "X-Rate-Limit-Limit": longest.period,
                "X-Rate-Limit-Remaining": str(longest.limit - count),
                "X-Rate-Limit-Reset": str(UtcDateTime.from_ticks(start + longest.period_ticks)),
            }
        )
