"""The connector's own pacing keeps ConfigCat's two rate limits, so that no request meets a 429.

The emulator counts like ConfigCat's AspNetCoreRateLimit: fixed windows per credential that open
at a window's first request. A 429 is never needed: every request here must be answered 200.
"""

import multiprocessing

from emulator import EmulatorServer, build_account
from emulator.server import RequestLogEntry
from tests.expectations import expected_records
from tests.sync_helpers import RUNTIMES, Outcome, Scenarios, record_counts, run

# Streams of the small account that need 20 requests: the two top lists, then one per product.
PRODUCT_STREAMS = ["organizations", "products", "tags", "environments", "segments", "webhooks"]
PRODUCT_STREAMS += ["integrations", "permission_groups"]
# A per-minute limit lower than the requests those streams need, set on both sides.
MINUTE_LIMIT = 15

# The minute-budget syncs sit out a minute window each: they run in the background, both
# runtimes at once (tests/sync_helpers.py), while the default-pacing syncs run.
scenario = Scenarios(__name__, slow={"minute_budget"})
start_scenarios, outcome = scenario.fixtures()


def _serve(connection, options: dict) -> None:
    with EmulatorServer(**options) as server:
        connection.send(server.connector_config())
        connection.recv()
    connection.send(server.request_log)


class EmulatorProcess:
    """An EmulatorServer in a process of its own: its `account`, `connector_config()`, and its
    `request_log` once stopped.

    The emulator stamps a request's arrival when its handler thread first runs. In the test's
    process that thread shares the GIL with the test's other threads (other emulators answering,
    a sync's output being parsed), so under load the first requests of a sync, each on a new
    connection, were stamped up to 0.6 s late while later ones were not (four busy threads
    beside it; other busy processes moved the stamps by 65 ms at most). These tests judge the
    connector's pacing by those stamps, against margins of 1 s and 200 ms."""

    def __init__(self, **options) -> None:
        self._options = options
        self.account = build_account(options.get("seed", 1), options.get("scale", "small"))
        self._log: list[RequestLogEntry] = []

    def __enter__(self) -> "EmulatorProcess":
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._options), daemon=True)
        self._process.start()
        child.close()  # the child's end is the child's: its exit then ends the pipe here
        try:
            self._config = self._connection.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(f"the emulator's process exited: {self._process.exitcode}") from None
        return self

    def __exit__(self, *exc_info) -> None:
        self._connection.send("stop")
        self._log = self._connection.recv()
        self._process.join()

    def connector_config(self, **overrides) -> dict:
        return {**self._config, **overrides}

    @property
    def request_log(self) -> list[RequestLogEntry]:
        return list(self._log)


def statuses(server: EmulatorProcess) -> list[int]:
    return [entry.status for entry in server.request_log]


def arrivals(server: EmulatorProcess) -> list[tuple[float, int, str]]:
    """Each request in the order it arrived: seconds after the first, its status, its path.
    (The request log is in the order the answers were sent.)"""
    log = sorted(server.request_log, key=lambda entry: entry.timestamp)
    return [(round(e.timestamp - log[0].timestamp, 3), e.status, e.path) for e in log]


def test_a_full_sync_at_the_default_pacing_meets_no_429_under_both_limits(cdk):
    with EmulatorProcess(
        latency_ms=20, rate_limit_per_second=20, rate_limit_per_minute=500
    ) as server:
        sync = run(server, executable=RUNTIMES[cdk])
    assert sync.result.returncode == 0, sync.result.stderr[-2000:]
    assert len(statuses(server)) > 200, "enough requests to fill the per-second window many times"
    assert set(statuses(server)) == {200}, [a for a in arrivals(server) if a[1] != 200]
    assert record_counts(sync.result) == expected_records(server.account)


@scenario
def minute_budget() -> Outcome:
    with EmulatorProcess(rate_limit_per_second=20, rate_limit_per_minute=MINUTE_LIMIT) as server:
        return run(
            server,
            config=server.connector_config(requests_per_minute=MINUTE_LIMIT),
            streams=PRODUCT_STREAMS,
        )


@scenario.used("minute_budget")
def test_the_minute_budget_waits_for_the_next_window_instead_of_meeting_429(outcome, cdk):
    sync = outcome("minute_budget", cdk)
    server = sync.server
    arrived = arrivals(server)
    assert sync.result.returncode == 0, (sync.result.stderr[-2000:], arrived)
    assert MINUTE_LIMIT < len(arrived) <= 2 * MINUTE_LIMIT, arrived
    assert set(statuses(server)) == {200}, arrived
    # The request after the first MINUTE_LIMIT waited for ConfigCat's minute window to close.
    assert arrived[MINUTE_LIMIT][0] >= 60, arrived
    expected = expected_records(server.account)
    assert {name: record_counts(sync.result)[name] for name in PRODUCT_STREAMS} == {
        name: expected[name] for name in PRODUCT_STREAMS
    }
