"""The emulator's measured round trip, checked before every sync.

The lower bounds assume each response takes the configured latency; the benchmark prints the round
trip it actually gets so a slow machine shows up next to the figures it would distort.
"""

from __future__ import annotations

import statistics
import time

import requests

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer


def round_trip_ms(server: EmulatorServer, samples: int = 8) -> float:
    """Median time of a keep-alive GET /v1/organizations, then the request log is emptied.

    Call it before the rate limit is switched on: these requests must not use up a window.
    """
    with requests.Session() as session:
        session.auth = (DEFAULT_USERNAME, DEFAULT_PASSWORD)
        url = f"{server.url}/v1/organizations"
        session.get(url, timeout=30).raise_for_status()  # opens the connection
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            session.get(url, timeout=30).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    server.reset_log()
    return statistics.median(times)
