"""The emulator as the benchmark runs it: real 80 ms responses, checked before every sync.

Python's http.server leaves Nagle's algorithm on. On a keep-alive connection the last small
segment of each response then waits for the client's delayed ACK, about 40 ms on Linux: at
`latency_ms=80` every response took ~124 ms, so no connector could come near a bound computed with
80 ms. The benchmark switches Nagle off on the emulator's connections (TCP_NODELAY, the
`disable_nagle_algorithm` switch of socketserver's StreamRequestHandler) for the duration of a
run, without changing the emulator's files, and measures the round trip it actually gets.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer
from emulator import server as emulator_server


@contextmanager
def nagle_off(enabled: bool = True) -> Iterator[None]:
    """TCP_NODELAY on every connection the emulator accepts meanwhile (when `enabled`)."""
    handler = emulator_server._Handler
    before = handler.disable_nagle_algorithm
    handler.disable_nagle_algorithm = enabled or before
    try:
        yield
    finally:
        handler.disable_nagle_algorithm = before


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
