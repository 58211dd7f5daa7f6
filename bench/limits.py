"""The shortest span the emulator's rate limits allow for N requests.

The emulator counts like AspNetCoreRateLimit: fixed windows per period that open at the first
request after the previous window ended (not at a clock boundary), per credential (or per
credential and path). Under `per_minute` a minute window holds at most that many requests, and
under `per_second` each second window at most that many. The fastest schedule of N requests is
therefore: full minute windows of `per_minute` requests each, every one of them packed at
`per_second` a second, the next minute window opening just after the previous one ended; then the
rest packed at `per_second` a second. The span runs from the first request to the last one, so
the last second window adds nothing: N requests in one minute take (ceil(N / per_second) - 1) s.
"""

from __future__ import annotations

import math


def span_bound(requests: int, per_second: int, per_minute: int) -> float:
    """Seconds from the first to the last of `requests` requests, at best (0 = no limit)."""
    if requests <= 1:
        return 0.0
    if per_minute <= 0:
        return 0.0 if per_second <= 0 else math.ceil(requests / per_second) - 1.0
    full_minutes = (requests - 1) // per_minute  # minute windows that close before the last
    rest = requests - full_minutes * per_minute
    seconds = 0.0 if per_second <= 0 else math.ceil(rest / per_second) - 1.0
    return 60.0 * full_minutes + seconds


def describe(requests: int, per_second: int, per_minute: int) -> str:
    if per_minute <= 0:
        return f"{requests} requests at {per_second} per second: ceil(N/{per_second}) - 1 s"
    full_minutes = (requests - 1) // per_minute
    rest = requests - full_minutes * per_minute
    return (
        f"{requests} requests = {full_minutes} full minute window(s) of {per_minute}"
        f" + {rest} at {per_second}/s: 60 s x {full_minutes}"
        f" + (ceil({rest}/{per_second}) - 1) s"
    )
