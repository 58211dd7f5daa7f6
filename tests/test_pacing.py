"""The connector's own pacing keeps ConfigCat's two rate limits, so that no request meets a 429.

The emulator counts like ConfigCat's AspNetCoreRateLimit: fixed windows per credential that open
at a window's first request. A 429 is never needed: every request here must be answered 200.
"""

from emulator import EmulatorServer
from tests.expectations import expected_records
from tests.sync_helpers import RUNTIMES, record_counts, run

# Streams of the small account that need 20 requests: the two top lists, then one per product.
PRODUCT_STREAMS = ["organizations", "products", "tags", "environments", "segments", "webhooks"]
PRODUCT_STREAMS += ["integrations", "permission_groups"]


def statuses(server: EmulatorServer) -> list[int]:
    return [entry.status for entry in server.request_log]


def test_a_full_sync_at_the_default_pacing_meets_no_429_under_both_limits(cdk):
    with EmulatorServer(
        latency_ms=20, rate_limit_per_second=20, rate_limit_per_minute=500
    ) as server:
        sync = run(server, executable=RUNTIMES[cdk])
    assert sync.result.returncode == 0, sync.result.stderr[-2000:]
    assert len(statuses(server)) > 200, "enough requests to fill the per-second window many times"
    assert set(statuses(server)) == {200}
    assert record_counts(sync.result) == expected_records(server.account)


def test_the_minute_budget_waits_for_the_next_window_instead_of_meeting_429(cdk):
    # A per-minute limit lower than the requests these streams need, set on both sides.
    limit = 15
    with EmulatorServer(rate_limit_per_second=20, rate_limit_per_minute=limit) as server:
        sync = run(
            server,
            config=server.connector_config(requests_per_minute=limit),
            streams=PRODUCT_STREAMS,
            executable=RUNTIMES[cdk],
        )
    log = server.request_log
    assert sync.result.returncode == 0, sync.result.stderr[-2000:]
    assert limit < len(log) <= 2 * limit
    assert set(statuses(server)) == {200}
    # The request after the first `limit` waited for ConfigCat's minute window to close.
    assert log[limit].timestamp - log[0].timestamp >= 60
    expected = expected_records(server.account)
    assert {name: record_counts(sync.result)[name] for name in PRODUCT_STREAMS} == {
        name: expected[name] for name in PRODUCT_STREAMS
    }
