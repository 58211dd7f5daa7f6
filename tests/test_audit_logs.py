"""Incremental audit logs with the stock runtime: nothing lost, nothing invented.

The standard acceptance suite does not run incremental syncs, so these tests do: two syncs with
events added in between, page and window boundaries, a failed sync resumed from its last state,
states from older versions, and plan retention (7, 35 or 750 days, under each of the emulator's
readings of what the API answers for an older window), on both supported runtimes. The syncs of
the retention matrix run in the background (`tests.sync_helpers.Background`), all at once.
"""

import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from emulator import EmulatorServer
from emulator.datetimes import UtcDateTime
from emulator.faults import FaultRule
from emulator.routes import AUDIT_LOG_RETENTION_ANSWERS, iso, parse_iso
from tests.sync_helpers import Scenarios
from tooling import runtime

STREAM = "audit_logs"
CATALOG = runtime.catalog([STREAM], incremental={STREAM})
LOOKBACK = timedelta(hours=1)  # the manifest's lookback_window
# The manifest's window grid: 28-day steps with edges at now - 7 days + MARGIN (so also at now -
# 35 days + MARGIN), and fromUtcDateTime never before the request's now - 750 days + MARGIN.
STEP = timedelta(days=28)
MARGIN = timedelta(hours=1)
PLANS = (7, 35, 750)  # retention in days: Free, Pro and Smart, Enterprise
RUNTIMES = {"newest": runtime.RUNTIME, "oldest": runtime.OLDEST_RUNTIME}

scenario = Scenarios(__name__)
start_scenarios, outcome = scenario.fixtures()


def sync(server, state=None, executable=runtime.RUNTIME, **config):
    result = runtime.run(
        "read",
        server.connector_config(**config),
        configured_catalog=CATALOG,
        state=state,
        executable=executable,
    )
    return result


# Tests marked so run on both supported runtimes: this project's airbyte-cdk and the Builder's.
on_both_runtimes = pytest.mark.parametrize(
    "executable", list(RUNTIMES.values()), ids=list(RUNTIMES)
)


def last_state(result) -> list[dict]:
    assert result.states, "the sync emitted no state"
    return [result.states[-1]]


def ids(records) -> set[int]:
    return {record["auditLogId"] for record in records}


def all_ids(server) -> set[int]:
    return {item["auditLogId"] for items in server.account.audit_logs.values() for item in items}


def audit_requests(server):
    return [
        entry for entry in server.request_log if entry.template and "auditlogs" in entry.template
    ]


@on_both_runtimes
def test_first_sync_reads_everything_and_a_second_reads_what_arrived_since(emulator, executable):
    first = sync(emulator, executable=executable)
    assert first.errors == [], first.stderr[-2000:]
    assert ids(first.records[STREAM]) == all_ids(emulator)
    assert len(first.records[STREAM]) == len(all_ids(emulator))

    now = datetime.now(UTC).replace(microsecond=0)
    organization_id = emulator.account.organizations[1]["organizationId"]
    added = {emulator.account.add_audit_event(organization_id, at=now)["auditLogId"]}
    added |= {
        emulator.account.add_audit_event(organization_id, at=now + timedelta(seconds=1))[
            "auditLogId"
        ]
    }

    second = sync(emulator, state=last_state(first), executable=executable)
    assert second.errors == []
    again = second.records.get(STREAM, [])
    assert added <= ids(again)
    # Besides the new events, only those within the lookback of the organization's previous
    # cursor come back.
    newest_before = {}
    for record in first.records[STREAM]:
        at = parse_iso(record["auditLogDateTime"])
        key = record["organizationId"]
        newest_before[key] = max(at, newest_before.get(key, at))
    for record in again:
        if record["auditLogId"] not in added:
            floor = newest_before[record["organizationId"]] - LOOKBACK
            assert parse_iso(record["auditLogDateTime"]) >= floor


def test_pages_of_a_window_are_all_read(emulator):
    organization_id = emulator.account.organizations[0]["organizationId"]
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    # 250 events in one window, 30 of them sharing one timestamp across a page boundary.
    for index in range(250):
        at = moment if 90 <= index < 120 else moment - timedelta(minutes=index)
        emulator.account.add_audit_event(organization_id, at=at)
    result = sync(emulator)
    assert result.errors == []
    assert ids(result.records[STREAM]) == all_ids(emulator)
    pages = [entry.query for entry in audit_requests(emulator)]
    assert any(page.get("pageNumber") == ["3"] for page in pages)
    assert all(int(page.get("pageSize", ["100"])[0]) <= 100 for page in pages)


def test_events_at_window_boundaries_are_not_skipped(emulator):
    """With a start_date, windows still sit on the grid (edges at now - 7 days + 1 hour, every 28
    days), and nothing older than start_date is requested."""
    start = datetime(2026, 6, 1, tzinfo=UTC)
    organization_id = emulator.account.organizations[0]["organizationId"]
    # The first grid edge after start_date, as of now; the sync computes it seconds later.
    edge = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7) + MARGIN
    while edge - STEP > start:
        edge -= STEP
    moments = [start, edge - timedelta(seconds=1)]
    moments += [edge + timedelta(seconds=n) for n in range(31)]
    moments += [start + timedelta(days=58)]
    added = {emulator.account.add_audit_event(organization_id, at=m)["auditLogId"] for m in moments}
    result = sync(emulator, start_date=iso(start))
    assert result.errors == []
    assert added <= ids(result.records[STREAM])
    expected = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if parse_iso(item["auditLogDateTime"]) >= start
    }
    assert ids(result.records[STREAM]) == expected
    windows = windows_per_organization(emulator)[organization_id]
    assert windows[0][0] == start
    # The second window starts on the edge (moved by the seconds the sync started later), and
    # the events a second either side of it were read.
    assert edge <= windows[1][0] <= edge + timedelta(seconds=30)
    for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert end == next_start
    for entry in audit_requests(emulator):
        window = parse_iso(entry.query["toUtcDateTime"][0]) - parse_iso(
            entry.query["fromUtcDateTime"][0]
        )
        assert window <= timedelta(days=30)
        assert parse_iso(entry.query["fromUtcDateTime"][0]) >= start


@on_both_runtimes
def test_a_failed_sync_resumed_from_its_last_state_loses_nothing(emulator, executable):
    # The credential is revoked when a window starting in September 2026 is read (the grid has
    # one or two such edges, whatever the day).
    emulator.faults.add(
        FaultRule(path_regex=r"auditlogs\?fromUtcDateTime=2026-09-", kind="401", times=None)
    )
    failed = sync(emulator, start_date="2026-06-01T00:00:00Z", executable=executable)
    assert failed.errors, "the injected failure did not stop the sync"
    delivered = ids(failed.records.get(STREAM, []))
    emulator.faults.clear()

    resumed = sync(
        emulator,
        state=last_state(failed),
        start_date="2026-06-01T00:00:00Z",
        executable=executable,
    )
    assert resumed.errors == []
    since_start = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if item["auditLogDateTime"] >= "2026-06-01T00:00:00Z"
    }
    assert delivered | ids(resumed.records[STREAM]) == since_start
    # It resumed rather than started over: windows finished before the failure are not re-read.
    assert len(resumed.records[STREAM]) < len(since_start)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="no-state"),
        pytest.param({}, id="empty-state"),
        pytest.param({"auditLogDateTime": "2026-09-01T00:00:00Z"}, id="global-cursor"),
    ],
)
@on_both_runtimes
def test_states_from_earlier_versions_are_taken(emulator, state, executable):
    given = None
    if state is not None:
        given = [
            {
                "type": "STREAM",
                "stream": {"stream_descriptor": {"name": STREAM}, "stream_state": state},
            }
        ]
    result = sync(emulator, state=given, executable=executable)
    assert result.errors == [], result.stderr[-2000:]
    floor = parse_iso(state["auditLogDateTime"]) - LOOKBACK if state else None
    expected = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if floor is None or parse_iso(item["auditLogDateTime"]) >= floor
    }
    assert ids(result.records[STREAM]) == expected


def test_asking_for_more_than_the_plans_retention_does_not_fail(emulator):
    emulator.audit_log_retention_days = 7
    result = sync(emulator)
    assert result.errors == []
    kept = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if parse_iso(item["auditLogDateTime"]) >= emulator.account.now() - timedelta(days=7)
    }
    assert ids(result.records[STREAM]) == kept


def test_full_refresh_reads_every_event(emulator):
    result = runtime.run(
        "read", emulator.connector_config(), configured_catalog=runtime.catalog([STREAM])
    )
    assert result.errors == []
    assert ids(result.records[STREAM]) == all_ids(emulator)


# -- ConfigCat's .NET date-times: 0 to 7 fractional digits, `Z` or `+00:00` --------------------


def cursors(state: list[dict]) -> dict[str, datetime]:
    """The cursor of each organization in a per-partition state."""
    partitions = state[0]["stream"]["stream_state"]["states"]
    return {
        entry["partition"]["organizationId"]: parse_iso(entry["cursor"]["auditLogDateTime"])
        for entry in partitions
    }


@pytest.mark.parametrize(
    ("style", "offset"),
    [("trimmed", "Z"), ("round_trip", "Z"), ("round_trip", "+00:00"), ("trimmed", "+00:00")],
)
def test_a_second_sync_starts_from_the_cursor_whatever_the_date_time_form(emulator, style, offset):
    emulator.datetime_style = style
    emulator.utc_offset = offset
    first = sync(emulator)
    assert first.errors == [], first.stderr[-2000:]
    assert ids(first.records[STREAM]) == all_ids(emulator)
    fractions = {
        len(r["auditLogDateTime"].split(".")[1]) - len(offset)
        for r in first.records[STREAM]
        if "." in r["auditLogDateTime"]
    }
    if style == "round_trip":
        assert fractions == {7}
    newest = {}
    for record in first.records[STREAM]:
        at = parse_iso(record["auditLogDateTime"])
        newest[record["organizationId"]] = max(at, newest.get(record["organizationId"], at))
    state = last_state(first)
    cursor = cursors(state)
    # Rounded down to whole seconds: never past an event, never more than a second behind.
    for organization_id, at in newest.items():
        assert at - timedelta(seconds=1) < cursor[organization_id] <= at

    emulator.reset_log()
    second = sync(emulator, state=state)
    assert second.errors == [], second.stderr[-2000:]
    requested = audit_requests(emulator)
    assert requested
    for entry in requested:
        organization_id = entry.path.split("/")[3]
        start = parse_iso(entry.query["fromUtcDateTime"][0])
        assert start >= cursor[organization_id] - LOOKBACK - timedelta(seconds=1)
    for record in second.records.get(STREAM, []):
        floor = cursor[record["organizationId"]] - LOOKBACK
        assert parse_iso(record["auditLogDateTime"]) >= floor


def test_a_plain_stream_state_with_seven_fractional_digits_is_taken(emulator):
    emulator.datetime_style = "round_trip"
    value = "2026-09-01T00:00:00.1234567Z"
    given = [
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": STREAM},
                "stream_state": {"auditLogDateTime": value},
            },
        }
    ]
    result = sync(emulator, state=given)
    assert result.errors == [], result.stderr[-2000:]
    floor = parse_iso(value) - LOOKBACK
    expected = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if parse_iso(item["auditLogDateTime"]) >= floor
    }
    assert expected and ids(result.records[STREAM]) == expected


def test_windows_refused_for_being_older_than_the_retention_are_skipped(emulator):
    """A plan keeping 7 days, asked from 750 days back, refuses the old windows with a 400."""
    emulator.audit_log_retention_days = 7
    emulator.audit_log_retention_answer = "reject-ended"
    result = sync(emulator)
    assert result.errors == [], result.stderr[-2000:]
    kept = {
        item["auditLogId"]
        for items in emulator.account.audit_logs.values()
        for item in items
        if parse_iso(item["auditLogDateTime"]) >= emulator.account.now() - timedelta(days=7)
    }
    assert kept and ids(result.records[STREAM]) == kept
    refused = [entry for entry in audit_requests(emulator) if entry.status == 400]
    assert refused
    skipped = [line for line in result.logs() if "older than the audit log retention" in line]
    assert len(skipped) == len(refused)


# -- every event the plan keeps, under every reading of the retention, on both runtimes ----------


@dataclass
class RetentionRun:
    server: EmulatorServer  # stopped; its account and request log stay readable
    result: runtime.RunResult
    before: datetime  # the wall clock just before the runtime started
    after: datetime  # and just after it ended


def add_probe_events(server: EmulatorServer, now: datetime) -> None:
    """Events at the emulator's now (which makes it the wall clock's), every 5 days back to 760
    days, and around each plan's boundary: a minute outside it, half an hour inside it (within
    the margin) and two minutes past the margin."""
    organizations = [o["organizationId"] for o in server.account.organizations]
    moments = [now - timedelta(days=5 * n, hours=n % 24) for n in range(1, 153)]
    for days in PLANS:
        boundary = now - timedelta(days=days)
        moments += [
            boundary - timedelta(minutes=1),
            boundary + timedelta(minutes=30),
            boundary + MARGIN + timedelta(minutes=2),
        ]
    for index, moment in enumerate(sorted(moments)):
        server.account.add_audit_event(organizations[index % len(organizations)], at=moment)
    server.account.add_audit_event(organizations[0], at=now)


def retention_sync(days: int, reading: str, executable: Path) -> RetentionRun:
    server = EmulatorServer(audit_log_retention_days=days, audit_log_retention_answer=reading)
    with server, tempfile.TemporaryDirectory(prefix="configcat-cache-") as cache:
        add_probe_events(server, datetime.now(UTC).replace(microsecond=0))
        before = datetime.now(UTC)
        result = runtime.run(
            "read",
            server.connector_config(),
            configured_catalog=CATALOG,
            executable=executable,
            env={"REQUEST_CACHE_PATH": cache},
        )
        return RetentionRun(server, result, before, datetime.now(UTC))


RETENTION_CASES = [
    (days, reading, name)
    for days in PLANS
    for reading in AUDIT_LOG_RETENTION_ANSWERS
    for name in RUNTIMES
]
for _days, _reading, _name in RETENTION_CASES:
    scenario.add(
        f"retention_{_days}_{_reading}_{_name}",
        partial(retention_sync, _days, _reading, RUNTIMES[_name]),
    )


def kept_by_plan(server: EmulatorServer, days: int) -> dict[int, datetime]:
    """auditLogId -> time of every event the emulator's account still serves on this plan."""
    account = server.account
    until = UtcDateTime.from_ticks(account.now_exact().ticks + 1)
    return {
        item["auditLogId"]: parse_iso(item["auditLogDateTime"])
        for organization in account.organizations
        for item in account.audit_log_items(
            organization["organizationId"], "2000-01-01T00:00:00Z", until, retention_days=days
        )
    }


def windows_per_organization(server: EmulatorServer) -> dict[str, list[tuple[datetime, datetime]]]:
    """The distinct (fromUtcDateTime, toUtcDateTime) windows requested, per organization."""
    windows = defaultdict(set)
    for entry in audit_requests(server):
        windows[entry.path.split("/")[3]].add(
            (
                parse_iso(entry.query["fromUtcDateTime"][0]),
                parse_iso(entry.query["toUtcDateTime"][0]),
            )
        )
    return {organization: sorted(found) for organization, found in windows.items()}


@pytest.mark.parametrize(("days", "reading", "runtime_name"), RETENTION_CASES)
@scenario.used(*(f"retention_{d}_{r}_{n}" for d, r, n in RETENTION_CASES))
def test_a_first_sync_delivers_every_event_the_plan_keeps(outcome, days, reading, runtime_name):
    """With the default start, whatever the API answers for windows older than the plan keeps.

    The one exception is the documented margin: an event that leaves the retention within an
    hour of the sync is not delivered where the API refuses a window that starts before the
    retention (every plan's first window then starts an hour inside it), nor on a 750-day plan
    (fromUtcDateTime is sent no earlier than 750 days minus an hour ago, whatever the reading).
    """
    run = outcome(f"retention_{days}_{reading}_{runtime_name}")
    assert run.result.errors == [], [e.get("internal_message", "")[:300] for e in run.result.errors]
    delivered = ids(run.result.records.get(STREAM, []))
    kept = kept_by_plan(run.server, days)
    boundary = run.server.account.retention_boundary(days).to_datetime()
    lossy = reading == "reject-started" or days == 750
    lost, unsure = set(), set()
    if lossy:
        # The grid (or the clamp) is computed between `before` and `after`: events older than
        # its earliest possible edge are surely left out, those up to its latest may be.
        lost = {i for i, at in kept.items() if at < run.before - timedelta(days=days) + MARGIN}
        unsure = {
            i
            for i, at in kept.items()
            if i not in lost and at < run.after - timedelta(days=days) + MARGIN
        }
        assert run.after - run.before < timedelta(minutes=2)
        # The probe half an hour inside the boundary is in the margin.
        assert any(at - boundary == timedelta(minutes=30) for i, at in kept.items() if i in lost)
    assert delivered - unsure == set(kept) - lost - unsure
    assert delivered <= set(kept)
    if not lossy:
        assert any(
            at - boundary == timedelta(minutes=30) for i, at in kept.items() if i in delivered
        )

    # 28 windows per organization, one request each (no window holds more than a page here).
    requests = defaultdict(int)
    for entry in audit_requests(run.server):
        requests[entry.path.split("/")[3]] += 1
    organizations = {o["organizationId"] for o in run.server.account.organizations}
    assert set(requests) == organizations
    assert set(requests.values()) == {28}, dict(requests)


@pytest.mark.parametrize("runtime_name", list(RUNTIMES))
@scenario.used(*(f"retention_750_empty_{n}" for n in RUNTIMES))
def test_first_sync_windows_sit_on_the_plans_boundaries(outcome, runtime_name):
    """What the manifest relies on from the runtime's window generation, on both runtimes: the
    windows follow each other from the start in 28-day steps (the last one ends at now), so a
    start on the grid puts window edges at now - 7 days + 1 hour and now - 35 days + 1 hour."""
    run = outcome(f"retention_750_empty_{runtime_name}")
    earliest, latest = run.before.replace(microsecond=0), run.after
    for organization_id, windows in windows_per_organization(run.server).items():
        assert len(windows) == 28, organization_id
        for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
            assert end == next_start  # toUtcDateTime is one second past the window's last
        lengths = [end - start for start, end in windows]
        assert all(length == STEP for length in lengths[1:-1])
        assert all(length <= timedelta(days=30) for length in lengths)
        last_start, last_end = windows[-1]
        # The last window starts on the 7-day edge, the one before on the 35-day edge.
        assert earliest - timedelta(days=7) + MARGIN - timedelta(seconds=1) <= last_start
        assert last_start <= latest - timedelta(days=7) + MARGIN
        assert windows[-2][0] == last_start - STEP
        assert earliest <= last_end <= latest + timedelta(seconds=1)
        # The first is clamped to 750 days minus the margin before its request.
        first_start = windows[0][0]
        assert earliest - timedelta(days=750) + MARGIN - timedelta(seconds=1) <= first_start
        assert first_start <= latest - timedelta(days=750) + MARGIN


# -- a resumed sync starts at its cursor minus the lookback, off the grid ------------------------


def resumed_after_a_quiet_week(reading: str, executable: Path) -> RetentionRun:
    """A Free plan (7 days) whose first organization's newest event, the state's cursor, is 8
    days old; events arrived since. The others have no state (a first sync, on the grid)."""
    server = EmulatorServer(audit_log_retention_days=7, audit_log_retention_answer=reading)
    with server, tempfile.TemporaryDirectory(prefix="configcat-cache-") as cache:
        now = datetime.now(UTC).replace(microsecond=0)
        organization_id = server.account.organizations[0]["organizationId"]
        for age in (timedelta(days=8), timedelta(days=6), timedelta(days=2), timedelta(0)):
            server.account.add_audit_event(organization_id, at=now - age)
        state = [
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": STREAM},
                    "stream_state": {
                        "states": [
                            {
                                # The partition as the runtime writes it (parent_slice included).
                                "partition": {
                                    "organizationId": organization_id,
                                    "parent_slice": {},
                                },
                                "cursor": {"auditLogDateTime": iso(now - timedelta(days=8))},
                            }
                        ]
                    },
                },
            }
        ]
        before = datetime.now(UTC)
        result = runtime.run(
            "read",
            server.connector_config(),
            configured_catalog=CATALOG,
            state=state,
            executable=executable,
            env={"REQUEST_CACHE_PATH": cache},
        )
        return RetentionRun(server, result, before, datetime.now(UTC))


RESUMED_CASES = [(reading, name) for reading in AUDIT_LOG_RETENTION_ANSWERS for name in RUNTIMES]
for _reading, _name in RESUMED_CASES:
    scenario.add(
        f"resumed_{_reading}_{_name}",
        partial(resumed_after_a_quiet_week, _reading, RUNTIMES[_name]),
    )


@pytest.mark.parametrize(("reading", "runtime_name"), RESUMED_CASES)
@scenario.used(*(f"resumed_{r}_{n}" for r, n in RESUMED_CASES))
def test_a_resumed_sync_whose_cursor_is_older_than_the_retention(outcome, reading, runtime_name):
    """The documented limitation (README: Incremental). A resumed sync's first window starts at
    the cursor minus the lookback, wherever that falls: the newest event read, not the last
    sync. Answered empty or refused only when it ends before the retention, the kept events are
    all delivered. Where the API refuses a window that starts before the retention, that first
    window (28 days, here up to now) is refused: its kept events are not delivered, and the
    cursor stays where it was, so the next sync asks for it again."""
    run = outcome(f"resumed_{reading}_{runtime_name}")
    assert run.result.errors == [], [e.get("internal_message", "")[:300] for e in run.result.errors]
    account = run.server.account
    organization_id = account.organizations[0]["organizationId"]
    kept = kept_by_plan(run.server, 7)
    mine = {item["auditLogId"] for item in account.audit_logs[organization_id]}
    delivered = ids(run.result.records.get(STREAM, []))
    # The other organizations had no state: a first sync, every kept event (none of them in
    # the margin, where a first sync under the strict reading would miss it).
    others = set(kept) - mine
    assert not {i for i in others if kept[i] < run.after - timedelta(days=7) + MARGIN}
    assert delivered - mine == others
    if reading == "reject-started":
        assert delivered & mine == set()
        assert kept.keys() & mine, "the organization has kept events the sync did not deliver"
        cursor = cursors(last_state(run.result))[organization_id]
        assert cursor == parse_iso(account.audit_logs[organization_id][-4]["auditLogDateTime"])
    else:
        assert delivered & mine == kept.keys() & mine
