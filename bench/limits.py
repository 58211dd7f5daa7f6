"""The shortest span the emulator's rate limits allow for N requests.

The emulator counts like AspNetCoreRateLimit: fixed windows per period that open at the first
request after the previous window ended (not at a clock boundary), per credential (or per
credential and path). Under `per_minute` a minute window holds at most that many requests, and
under `per_second` each second window at most that many. The fastest schedule of N requests is
therefore: full minute windows of `per_minute` requests each, every one of them packed at
`per_second` a second, the next minute window opening just after the previous one ended; then the
rest packed at `per_second` a second. The span runs from the first request to the last one, so
the last second window adds nothing: N requests in one minute take (ceil(N / per_second) - 1) s.
Unless `per_minute` requests at `per_second` a second take longer than a minute: then that pace
binds alone.

The same schedule is the fastest under moving windows (the connector's own budget): every
request after the first `per_minute` waits until the one `per_minute` before it is a window old,
so the first window's pattern repeats a window later. The windows' lengths are therefore
parameters: ConfigCat's are 1 s and 60 s, the manifest's a little longer.
"""

from __future__ import annotations

import math


def span_bound(
    requests: int, per_second: int, per_minute: int, second: float = 1.0, minute: float = 60.0
) -> float:
    """Seconds from the first to the last of `requests` requests, at best (0 = no limit), with
    at most `per_second` requests in a window of `second` seconds and `per_minute` in `minute`."""
    if requests <= 1:
        return 0.0
    paced = 0.0 if per_second <= 0 else (math.ceil(requests / per_second) - 1) * second
    if per_minute <= 0:
        return paced
    full_minutes = (requests - 1) // per_minute  # minute windows that close before the last
    rest = requests - full_minutes * per_minute
    seconds = 0.0 if per_second <= 0 else (math.ceil(rest / per_second) - 1) * second
    # A minute's requests that take longer than a minute at the per-second pace: it binds alone.
    return max(minute * full_minutes + seconds, paced)


def describe(requests: int, per_second: int, per_minute: int) -> str:
    paced = f"{requests} requests at {per_second} per second: ceil(N/{per_second}) - 1 s"
    if per_minute <= 0 or span_bound(requests, per_second, per_minute) == span_bound(
        requests, per_second, 0
    ):
        return paced
    full_minutes = (requests - 1) // per_minute
    rest = requests - full_minutes * per_minute
    return (
        f"{requests} requests = {full_minutes} full minute window(s) of {per_minute}"
        f" + {rest} at {per_second}/s: 60 s x {full_minutes}"
        f" + (ceil({rest}/{per_second}) - 1) s"
    )
