"""Full syncs of every stream with the stock runtime while the emulator breaks its answers.

Each scenario runs its own emulator (seed 1, small) and is started in the background together
with the others (see tests/sync_helpers.py); each test then checks one outcome. Whatever the
fault, a full-refresh sync must either deliver every record exactly once or fail loudly: never
drop or repeat records silently.
"""

import time
from itertools import pairwise

import pytest

from emulator import DEFAULT_PASSWORD, EmulatorServer, FaultRule, build_account
from tests.expectations import expected_records
from tests.sync_helpers import (
    BASIC_CREDENTIAL,
    FAST_BACKOFF_FACTOR,
    Scenarios,
    answered_later,
    backoff_waits,
    duplicated_keys,
    fast_retry_manifest,
    read_measuring_memory,
    record_counts,
    run,
    scenario_runtime,
    stream_errors,
    targets,
    when,
)
from tooling import runtime

# The manifest's exponential backoff (factor 1) waits 2**n s, and the runtime adds 1 s to every
# wait: 3, 5, 9, 17, 33 and 65 s for its 6 retries.
BACKOFF_WAITS = (3, 5, 9, 17, 33, 65)
assert backoff_waits(1) == BACKOFF_WAITS
# Faults that never clear run on the fast manifest (tests/sync_helpers.py): the same retries
# after waits of about 1 s each, instead of sitting through the 132 s above.
FAST_WAITS = backoff_waits(FAST_BACKOFF_FACTOR)
# Retry-After: 1 is honoured as 1 s plus the runtime's 1 s margin.
RETRY_AFTER_WAIT = 2
READ_TIMEOUT = 30  # read_timeout_in_seconds in the manifest
STALL_SECONDS = 35


scenario = Scenarios(__name__, slow={"unending_503", "stalled_answer", "huge_config", "storm_429"})
start_scenarios, outcome = scenario.fixtures()


def retry_logs(result, status: int | None = None) -> list[str]:
    """The runtime's log line for each retry it waited for (worded as a rate limit, whatever
    the cause: "UserDefinedBackoffException: Rate limit exceeded (HTTP 503). Retrying in 3.0
    seconds.", without "(HTTP ...)" for a connection error)."""
    marker = f"(HTTP {status})" if status else ""
    return [
        line
        for line in result.logs("INFO")
        if line.startswith("UserDefinedBackoffException: Rate limit exceeded") and marker in line
    ]


def waits(lines: list[str]) -> list[float]:
    return [float(line.rsplit("Retrying in ", 1)[1].split()[0]) for line in lines]


def assert_complete(sync, without: frozenset[str] = frozenset()):
    """Every record the account holds (but of the streams left out), each once, and a clean exit."""
    result = sync.result
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.errors == []
    expected = expected_records(sync.server.account)
    expected.update(dict.fromkeys(without, 0))
    assert record_counts(result) == expected
    assert duplicated_keys(result) == {}


# -- transient faults: retried, nothing lost ----------------------------------------------------


@scenario
def storm_429():
    with EmulatorServer() as server:
        for path in (
            "^/v1/organizations$",
            "^/v1/products$",
            "/settings$",
            "/values$",
            "/members$",
        ):
            server.faults.add(FaultRule(path_regex=path, kind="429", times=4, retry_after=1))
        return run(server)


@scenario.used("storm_429")
def test_a_429_storm_with_retry_after_is_waited_out_and_loses_nothing(outcome, cdk):
    sync = outcome("storm_429", cdk)
    server = sync.server
    assert_complete(sync)
    rejected = targets(server, 429)
    assert len(rejected) == 20
    assert answered_later(server, 429) == rejected
    # Each 429 was followed by a wait of exactly Retry-After (+1 s), not the exponential backoff.
    assert waits(retry_logs(sync.result, 429)) == [RETRY_AFTER_WAIT] * 20


@scenario
def no_retry_after_429():
    with EmulatorServer() as server:
        product = server.account.products[0]["productId"]
        server.faults.add(
            FaultRule(
                path_regex=f"^/v1/products/{product}/tags$", kind="429", times=3, retry_after=None
            )
        )
        return run(server)


@scenario.used("no_retry_after_429")
def test_a_429_without_retry_after_backs_off_exponentially(outcome, cdk):
    sync = outcome("no_retry_after_429", cdk)
    server = sync.server
    assert_complete(sync)
    assert waits(retry_logs(sync.result, 429)) == list(BACKOFF_WAITS[:3])
    product = server.account.products[0]["productId"]
    requests = [e for e in server.request_log if e.path == f"/v1/products/{product}/tags"]
    assert [e.status for e in requests] == [429, 429, 429, 200]
    gaps = [later.timestamp - earlier.timestamp for earlier, later in pairwise(requests)]
    assert all(gap >= wait - 0.5 for gap, wait in zip(gaps, BACKOFF_WAITS, strict=False)), gaps


@scenario
def server_errors():
    with EmulatorServer() as server:
        server.faults.add(FaultRule(path_regex="/tags$", kind="500", times=2))
        server.faults.add(FaultRule(path_regex="/values$", kind="502", times=2))
        server.faults.add(FaultRule(path_regex="^/v1/organizations$", kind="503", times=2))
        return run(server)


@scenario.used("server_errors")
def test_5xx_bursts_are_retried_and_lose_nothing(outcome, cdk):
    sync = outcome("server_errors", cdk)
    server = sync.server
    assert_complete(sync)
    for status in (500, 502, 503):
        assert len(targets(server, status)) == 2
        assert answered_later(server, status) == targets(server, status)
        assert len(retry_logs(sync.result, status)) == 2


@scenario
def connection_resets():
    with EmulatorServer() as server:
        server.faults.add(FaultRule(path_regex="/segments$", kind="reset", times=3))
        return run(server)


@scenario.used("connection_resets")
def test_connection_resets_are_retried_and_lose_nothing(outcome, cdk):
    sync = outcome("connection_resets", cdk)
    server = sync.server
    assert_complete(sync)
    reset = targets(server, 0)  # the emulator logs status 0 for a reset connection
    assert len(reset) == 3
    assert answered_later(server, 0) == reset
    assert len(retry_logs(sync.result)) >= 3


@scenario
def stalled_answer():
    with EmulatorServer() as server:
        product = server.account.products[0]["productId"]
        server.faults.add(
            FaultRule(
                path_regex=f"^/v1/products/{product}/permissions$",
                kind="stall",
                stall_seconds=STALL_SECONDS,
            )
        )
        done = run(server)
        # The emulator logs the stalled request only when it answers, which can be after the
        # sync (that retried it) has ended: wait for it.
        deadline = time.monotonic() + 10
        # (airbyte-cdk 7.23.8 has no read timeout: one request, that waits for the answer.)
        requests = 1 if scenario_runtime() == runtime.OLDEST_RUNTIME else 2
        while time.monotonic() < deadline and len(permission_requests(server, product)) < requests:
            time.sleep(0.1)
        return done


def permission_requests(server, product):
    return [e for e in server.request_log if e.path == f"/v1/products/{product}/permissions"]


@scenario.used("stalled_answer")
def test_an_answer_stalled_past_the_read_timeout_is_retried(outcome, cdk):
    sync = outcome("stalled_answer", cdk)
    server = sync.server
    assert_complete(sync)
    product = server.account.products[0]["productId"]
    # Log entries carry the time each request arrived.
    first, *retries = sorted(permission_requests(server, product), key=lambda e: e.timestamp)
    if cdk == "cdk-7.23.8":
        # 7.23.8 ignores read_timeout_in_seconds (README: In Airbyte): it waits for the stalled
        # answer (35 s) instead of retrying after 30 s.
        assert retries == []
        assert retry_logs(sync.result) == []
        assert sync.elapsed >= STALL_SECONDS
        return
    assert len(retries) == 1
    assert retries[0].timestamp - first.timestamp >= READ_TIMEOUT
    assert len(retry_logs(sync.result)) == 1
    assert sync.elapsed >= READ_TIMEOUT


# -- faults that do not clear: the sync fails, loudly ------------------------------------------


@scenario
def unending_503():
    with EmulatorServer() as server:
        product = server.account.products[0]["productId"]
        server.faults.add(
            FaultRule(path_regex=f"^/v1/products/{product}/webhooks$", kind="503", times=None)
        )
        return run(server, manifest_path=fast_retry_manifest())


@scenario.used("unending_503")
def test_a_503_that_never_clears_fails_the_sync_once_the_retries_are_spent(outcome, cdk):
    sync = outcome("unending_503", cdk)
    server, account = sync.server, sync.server.account
    product = account.products[0]["productId"]
    assert sync.result.returncode != 0
    errors = stream_errors(sync.result)
    assert [(e["stream_descriptor"]["name"], e["failure_type"]) for e in errors] == [
        ("webhooks", "transient_error")
    ]
    # "Exhausted available request attempts. Please see logs for more details. Exception:
    # ConfigCat kept failing for stream webhooks (HTTP 408 or 5xx) after every retry; try the
    # sync again later." (The stream, not the URL: airbyte-cdk 7.23.8 has no `request_url`.)
    assert (
        "ConfigCat kept failing for stream webhooks (HTTP 408 or 5xx) after every retry; try the"
        " sync again later." in errors[0]["message"]
    )
    # One request and 6 retries, spread over the whole backoff, then it gives up.
    requests = [e for e in server.request_log if e.path == f"/v1/products/{product}/webhooks"]
    assert [e.status for e in requests] == [503] * 7
    assert waits(retry_logs(sync.result, 503)) == pytest.approx(FAST_WAITS)
    assert requests[-1].timestamp - requests[0].timestamp >= sum(FAST_WAITS) - 1
    assert sync.elapsed < sum(FAST_WAITS) + 90
    # Everything else was delivered, once.
    expected = expected_records(account)
    expected["webhooks"] -= len(account.webhooks[product])
    assert record_counts(sync.result) == expected
    assert duplicated_keys(sync.result) == {}


@scenario
def credential_revoked():
    with EmulatorServer() as server:
        # After 30 requests the credential stops working, for every endpoint.
        revoke = when(server, 30, lambda: server.faults.add(FaultRule(kind="401", times=None)))
        done = run(server)
        revoke.join()
        return done


@scenario.used("credential_revoked")
def test_a_credential_revoked_mid_sync_fails_fast_as_a_config_error(outcome, cdk):
    sync = outcome("credential_revoked", cdk)
    server = sync.server
    assert sync.result.returncode != 0
    errors = stream_errors(sync.result)
    assert errors
    assert {e["failure_type"] for e in errors} == {"config_error"}
    assert {e["message"] for e in errors} == {
        "ConfigCat rejected the Public API credential (HTTP 401). Check the username and password"
        " of the credential at https://app.configcat.com/my-account/public-api-credentials and"
        " that base_url points to the ConfigCat Public Management API."
    }
    # A 401 is never retried, so nothing waits for a backoff (one retry budget is 132 s). (A URL
    # may still be rejected twice: a parent that failed is not cached, and two streams read it.)
    assert targets(server, 401)
    assert retry_logs(sync.result) == []
    assert sync.elapsed < 60
    output = sync.result.stdout + sync.result.stderr
    assert DEFAULT_PASSWORD not in output
    assert BASIC_CREDENTIAL not in output
    counts, expected = record_counts(sync.result), expected_records(server.account)
    assert all(counts[name] <= expected[name] for name in expected)
    assert duplicated_keys(sync.result) == {}


# -- a partition the user may not read, or that is gone: skipped, the rest delivered -------------


@scenario
def forbidden_webhooks():
    with EmulatorServer() as server:
        product = server.account.products[0]["productId"]
        server.faults.add(
            FaultRule(path_regex=f"^/v1/products/{product}/webhooks$", kind="403", times=None)
        )
        return run(server)


@scenario
def permissions_gone():
    with EmulatorServer() as server:
        product = server.account.products[0]["productId"]
        server.faults.add(
            FaultRule(path_regex=f"^/v1/products/{product}/permissions$", kind="404", times=None)
        )
        return run(server)


@scenario.used("forbidden_webhooks", "permissions_gone")
@pytest.mark.parametrize(
    ("name", "stream", "endpoint", "status"),
    [
        ("forbidden_webhooks", "webhooks", "webhooks", 403),
        # The stream's name differs from its endpoint's, so the log must name the stream itself.
        ("permissions_gone", "permission_groups", "permissions", 404),
    ],
)
def test_a_403_or_404_on_one_products_endpoint_skips_only_that_partition(
    outcome, cdk, name, stream, endpoint, status
):
    sync = outcome(name, cdk)
    server, account = sync.server, sync.server.account
    product = account.products[0]["productId"]
    assert sync.result.returncode == 0, sync.result.stderr[-2000:]
    assert sync.result.errors == []
    expected = expected_records(account)
    lists = {"webhooks": account.webhooks, "permission_groups": account.permission_groups}
    expected[stream] -= len(lists[stream][product])
    assert record_counts(sync.result) == expected
    assert duplicated_keys(sync.result) == {}
    assert targets(server, status) == [f"/v1/products/{product}/{endpoint}"]  # not retried
    # The stream's own name, not its endpoint's, and no URL (airbyte-cdk 7.23.8 has no
    # `request_url`): one line for the one partition.
    skipped = [line for line in sync.result.logs() if line.startswith("Skipped")]
    assert skipped == [
        f"Skipped a partition of stream {stream}: ConfigCat answered HTTP 403 or 404 (no"
        " permission, or deleted since its parent was read). The other records of the stream are"
        " synced."
    ]


# -- answers that are not JSON: retried; if they never parse, the sync fails -------------------


def broken_settings(kind: str, times: int | None):
    # A fault that never clears spends the whole retry budget: on the fast manifest.
    manifest = runtime.MANIFEST_PATH if times is not None else None

    def run_scenario():
        with EmulatorServer() as server:
            config = server.account.configs[server.account.products[0]["productId"]][0]
            path = f"^/v1/configs/{config['configId']}/settings$"
            server.faults.add(FaultRule(path_regex=path, kind=kind, times=times))
            return run(server, manifest_path=manifest or fast_retry_manifest())

    return run_scenario


scenario.add("malformed_settings_twice", broken_settings("malformed_json", times=2))
scenario.add("html_settings_twice", broken_settings("html_200", times=2))
scenario.add("malformed_settings_forever", broken_settings("malformed_json", times=None))
scenario.slow.add("malformed_settings_forever")


@scenario.used("malformed_settings_twice", "html_settings_twice")
@pytest.mark.parametrize("name", ["malformed_settings_twice", "html_settings_twice"])
def test_an_answer_that_is_not_json_is_retried_and_loses_nothing(outcome, cdk, name):
    sync = outcome(name, cdk)
    assert_complete(sync)
    account = sync.server.account
    config_id = account.configs[account.products[0]["productId"]][0]["configId"]
    settings_requests = [
        entry for entry in sync.server.request_log if entry.path.endswith(f"{config_id}/settings")
    ]
    # The two broken answers, then one for each reader of the config's flags: feature_flags and
    # code_references (through its parent). Neither is cached, so a retry asks again.
    assert len(settings_requests) == 2 + 2


@scenario.used("malformed_settings_forever")
def test_an_answer_that_never_parses_fails_the_sync_and_yields_nothing_of_it(outcome, cdk):
    sync = outcome("malformed_settings_forever", cdk)
    account = sync.server.account
    config_id = account.configs[account.products[0]["productId"]][0]["configId"]
    assert sync.result.returncode != 0
    errors = stream_errors(sync.result)
    # feature_flags fails, and so does code_references, which reads the same page as its parent:
    # the runtime names the parent stream in that error too.
    assert [e["stream_descriptor"]["name"] for e in errors] == ["feature_flags"] * 2
    for error in errors:
        assert error["failure_type"] in {"system_error", "transient_error"}
        assert (
            "The answer to a request of stream feature_flags was still not valid JSON after every"
            " retry" in error["message"]
        )
    # Nothing of the broken page was emitted; every other config's flags and every other
    # stream were delivered, once. code_references delivers nothing: its partitions come from
    # the parent read that failed.
    flags = sync.result.records["feature_flags"]
    assert [flag for flag in flags if flag["configId"] == config_id] == []
    expected = expected_records(account)
    expected["feature_flags"] -= len(account.settings[config_id])
    expected["code_references"] = 0
    assert record_counts(sync.result) == expected
    assert duplicated_keys(sync.result) == {}


# -- a huge answer -----------------------------------------------------------------------------

HUGE_FLAG_COUNT = 20_000
# Peak RSS of a whole small sync is about 85 MiB. With 20,000 more flags in one config, the
# largest answer is that config's flag values in one environment, ~16 MB of JSON; the runtime
# reads an answer whole, and CPython holds a parsed JSON document in roughly 10x its size, so one
# such page in memory at a time costs ~250 MiB more. 512 MiB leaves room for that and fails a
# connector that keeps the config's ~60 MB of answers (all its flags and values) at once.
PEAK_RSS_LIMIT_MIB = 512


def huge_account():
    """A small account plus HUGE_FLAG_COUNT flags in its first config, with their values."""
    account = build_account(1, "small")
    product = account.products[0]["productId"]
    config_id = account.configs[product][0]["configId"]
    settings = account.settings[config_id]
    originals = len(settings)
    next_id = 1 + max(s["settingId"] for every in account.settings.values() for s in every)
    environments = [e["environmentId"] for e in account.environments[product]]
    for n in range(HUGE_FLAG_COUNT):
        template = n % originals
        copy = {
            "settingId": next_id + n,
            "key": f"{settings[template]['key']}Copy{n}",
            "order": originals + n,
        }
        settings.append({**settings[template], **copy})
        for environment in environments:
            values = account.setting_values[(config_id, environment)]
            value = values[template]
            values.append({**value, "setting": {**value["setting"], **copy}})
    return account


# Left out: code_references, one request per flag (20,000 requests, 40 minutes at ConfigCat's
# 500 a minute, none of them large); and stale_flags, whose records each copy their config from
# RecordExpander's original_record (airbyte-cdk 7.23.8 has no parent_fields), so a config with
# n stale flags costs n copies of n flags: hours at 20,000 (README: Performance).
HUGE_CONFIG_LEFT_OUT = frozenset({"code_references", "stale_flags"})


@scenario
def huge_config():
    with EmulatorServer(account=huge_account()) as server:
        streams = [name for name in runtime.stream_names() if name not in HUGE_CONFIG_LEFT_OUT]
        return read_measuring_memory(server, streams)


@scenario.used("huge_config")
def test_a_config_with_tens_of_thousands_of_flags_syncs_in_bounded_memory(outcome, cdk):
    sync = outcome("huge_config", cdk)
    account = sync.server.account
    assert_complete(sync, without=HUGE_CONFIG_LEFT_OUT)
    counts = record_counts(sync.result)
    assert counts["feature_flags"] > HUGE_FLAG_COUNT
    assert counts["feature_flag_values"] > 2 * HUGE_FLAG_COUNT
    assert sum(map(len, account.settings.values())) == counts["feature_flags"]
    peak_mib = sync.peak_rss_kib / 1024
    print(f"peak RSS of the sync: {peak_mib:.0f} MiB in {sync.elapsed:.1f} s")
    assert peak_mib < PEAK_RSS_LIMIT_MIB
