"""What the benchmark reports of the connector's own pacing (bench/manifest_facts.py, limits.py)."""

import itertools

import pytest
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    ConcurrentDeclarativeSource,
)

from bench import limits, manifest_facts
from tooling import runtime


@pytest.mark.parametrize(
    "config",
    [{}, {"requests_per_second": 7, "requests_per_minute": 15}],
    ids=["defaults", "lowered"],
)
def test_the_benchmark_reads_the_pacing_the_runtime_paces_by(config):
    """Each rate of the limiter the runtime builds from the manifest, as the benchmark reads it."""
    manifest = runtime.manifest()
    full_config = {**config, "username": "someone", "password": "something"}
    source = ConcurrentDeclarativeSource(config=full_config, source_config=manifest)
    source.streams(full_config)  # builds the budget that every stream's requests go through
    # The runtime's limiter: pyrate_limiter rates, their intervals in milliseconds.
    built = {
        (rate.limit, rate.interval / 1000)
        for policy in source._constructor._api_budget._policies
        for rate in policy._bucket.rates
    }
    budget = manifest_facts.client_budget(manifest, config)
    assert {(budget.per_second, budget.second), (budget.per_minute, budget.minute)} == built
    assert budget.second < 60 <= budget.minute


def greedy_span(requests: int, per_second: int, per_minute: int, second: float, minute: float):
    """The span of the fastest schedule under moving windows, request by request: each one as
    soon as the request `limit` before it is a window old."""
    times: list[float] = []
    for i in range(requests):
        earliest = [times[-1]] if times else [0.0]
        for limit, window in ((per_second, second), (per_minute, minute)):
            if limit and i >= limit:
                earliest.append(times[i - limit] + window)
        times.append(max(earliest))
    return times[-1] - times[0] if times else 0.0


@pytest.mark.parametrize(("second", "minute"), [(1.0, 60.0), (1.2, 61.0)])
def test_the_span_bound_is_the_fastest_schedule_under_both_windows(second, minute):
    for requests, per_second, per_minute in itertools.product(
        [1, 2, 15, 16, 20, 21, 41, 500, 501, 1234], [0, 7, 20], [0, 15, 500]
    ):
        if not (per_second or per_minute):
            continue
        bound = limits.span_bound(requests, per_second, per_minute, second, minute)
        expected = greedy_span(requests, per_second, per_minute, second, minute)
        assert bound == pytest.approx(expected), (requests, per_second, per_minute)
