"""Each response filter of the manifest, as the runtime applies it, on both supported CDKs.

The runtime (`HttpResponseFilter._matches_filter`, airbyte-cdk 7.23.8 and 7.39.1) acts on an
answer when its status is in `http_codes` OR its `predicate` holds: the two are alternatives,
and the predicate sees the body, never the status (a 200 included). So each filter gets a truth
table: an answer that meets only its status condition, only its body condition, both, and
neither, each run by the stock runtime of airbyte-cdk 7.39.1 (the base image) and 7.23.8 (the
Builder's), asserting what the user sees: a failed sync (failure type and message), a skipped
partition (the log line), a retry that then succeeded, or records read as any others.

A cell that cannot exist for a filter (a status-only filter has no body condition, a
predicate-only one no status condition) is listed in IMPOSSIBLE with the reason, and
`test_the_impossible_cells_are_impossible_by_construction` checks that reason in the manifest.

Speed: a one-shot fault proves a retry decision with one wait of the shipped backoff (3 s); the
messages of a retry that never succeeds come from `fast_retry_manifest(0.001, max_retries=1)`
(tests/sync_helpers.py), a copy of the manifest with one retry and almost no wait. Every scenario
runs in the background (tests/sync_helpers.py).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from emulator import EmulatorServer, FaultRule
from emulator.routes import iso, parse_iso
from tests.sync_helpers import BACKGROUND, Outcome, Scenarios, fast_retry_manifest, stream_errors
from tooling import runtime

RUNTIMES = {"7.39.1": runtime.RUNTIME, "7.23.8": runtime.OLDEST_RUNTIME}

# A copy of the manifest whose retries are spent at once: 1 retry, waited 1 s.
START_DATE = "2026-06-01T00:00:00Z"


def refused_window() -> tuple[str, str]:
    """The fourth audit log window from START_DATE, of the first organization.

    The manifest's grid (README: Audit log: windows and retention): 28-day steps whose edges
    fall at now - 7 days + 1 hour, the first at or before START_DATE.
    """
    step = timedelta(days=28)
    edge = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7) + timedelta(hours=1)
    start = parse_iso(START_DATE)
    fourth = start - (start - edge) % step + 3 * step
    return iso(fourth), iso(fourth + step)


# -- what the user sees (written here, not rendered from the manifest) ---------------------------

CREDENTIAL_REJECTED = (
    "ConfigCat rejected the Public API credential (HTTP 401). Check the username and password of"
    " the credential at https://app.configcat.com/my-account/public-api-credentials and that"
    " base_url points to the ConfigCat Public Management API."
)


def access_denied(stream: str) -> str:
    return (
        f"ConfigCat refused access to stream {stream} (HTTP 403): the Public API credential's"
        " user lacks a permission this stream needs."
    )


def not_json(stream: str, content_type: str, base_url: str) -> str:
    return (
        f"The answer to stream {stream} is not valid JSON (Content-Type: {content_type}). If"
        f" base_url ({base_url}) is not the ConfigCat Public Management API, correct it;"
        " otherwise the API sent a broken page: run the sync again."
    )


def not_configcat(stream: str, base_url: str) -> str:
    return (
        f"The answer to stream {stream} is not one of the ConfigCat Public Management API. Check"
        f" base_url ({base_url}): it should be https://api.configcat.com unless you use a"
        " dedicated ConfigCat host."
    )


def server_error(stream: str) -> str:
    return (
        f"ConfigCat kept failing for stream {stream} (HTTP 408 or 5xx) after every retry; try the"
        " sync again later."
    )


def not_json_retried(stream: str) -> str:
    return (
        f"The answer to a request of stream {stream} was still not valid JSON after every retry;"
        " the sync stopped rather than read it as an empty page. Run it again later."
    )


def partition_skipped(stream: str) -> str:
    return (
        f"Skipped a partition of stream {stream}: ConfigCat answered HTTP 403 or 404 (no"
        " permission, or deleted since its parent was read). The other records of the stream"
        " are synced."
    )


RETENTION_SKIPPED = (
    "Skipped an audit log window of stream audit_logs: ConfigCat refused it as reaching before"
    " the audit log retention of the ConfigCat plan. Set start_date within the retention to skip"
    " these requests."
)


def audit_log_refused(api_says: str) -> str:
    return (
        f"ConfigCat refused an audit log window of stream audit_logs (HTTP 400): {api_says} (the"
        " sync stopped before this window and its state stays before it: the next sync reads it"
        " again)."
    )


# ModelState, as ConfigCat's CLI reads every error body, and ProblemDetails (RFC 7807), the other
# envelope ASP.NET writes: neither names the retention.
MODEL_STATE = {
    "fromUtcDateTime": ["The value is not valid.", "It must be earlier than toUtcDateTime."],
    "pageSize": ["Must be at most 100."],
}
MODEL_STATE_SAYS = (
    "fromUtcDateTime: The value is not valid. It must be earlier than toUtcDateTime.;"
    " pageSize: Must be at most 100."
)
PROBLEM_DETAILS = {
    "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    "title": "One or more validation errors occurred.",
    "status": 400,
    "errors": {"toUtcDateTime": ["The window may be at most 30 days long."]},
    "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
}
PROBLEM_DETAILS_SAYS = (
    "One or more validation errors occurred. toUtcDateTime: The window may be at most 30 days long."
)
RETENTION_REFUSAL = {
    "toUtcDateTime": [
        "The audit log retention of your plan is 35 days; toUtcDateTime must be later than"
        " 2026-09-27T00:00:00Z."
    ]
}
# Every word a filter's predicate looks for, in every case: an audit event may say them.
FILTER_WORDS = "retention Retention RETENTION Data retention policy"


# -- the cells -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    filter: str
    meets: str  # "status only", "body only", "both", "neither"
    answer: str  # the answer, in words
    stream: str
    fault: Callable[[EmulatorServer], None] | None
    action: str  # "failed", "skipped", "retried", "read"
    failure_type: str | None = None
    message: Callable[[EmulatorServer], str] | None = None  # exact (in a retry: its ending)
    fast: bool = False  # run the fast manifest (a retry budget that runs out at once)
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.filter}: {self.meets}: {self.answer} on {self.stream}"


def first_product(server: EmulatorServer) -> int:
    return server.account.products[0]["productId"]


def first_organization(server: EmulatorServer) -> str:
    return server.account.organizations[0]["organizationId"]


def on(path: Callable[[EmulatorServer], str], kind: str, times: int | None = 1, **rule):
    def add(server: EmulatorServer) -> None:
        server.faults.add(FaultRule(path_regex=path(server), kind=kind, times=times, **rule))

    return add


def organizations_path(server: EmulatorServer) -> str:
    return "^/v1/organizations$"


def tags_path(server: EmulatorServer) -> str:
    return f"^/v1/products/{first_product(server)}/tags$"


def webhooks_path(server: EmulatorServer) -> str:
    return f"^/v1/products/{first_product(server)}/webhooks$"


def refused_window_path(server: EmulatorServer) -> str:
    return (
        f"^/v2/organizations/{first_organization(server)}/auditlogs"
        # The query as sent: the date, then its time URL-encoded (T05%3A12%3A09Z).
        f"\\?fromUtcDateTime={refused_window()[0][:10]}T"
    )


def add_events_saying_the_filter_words(server: EmulatorServer) -> None:
    """Events in the refused window whose every text field says the words filters look for."""
    middle = parse_iso(refused_window()[0]) + timedelta(days=14)
    for second in range(3):
        server.account.add_audit_event(
            first_organization(server),
            at=iso(middle + timedelta(seconds=second)),
            why=f"{FILTER_WORDS} (why)",
            actionTarget=f"{FILTER_WORDS} (target)",
            where=f"{FILTER_WORDS} (where)",
            details=f'{{"note":"{FILTER_WORDS}","message":["retention"],"errors":{{}}}}',
        )


def base_url(server: EmulatorServer) -> str:
    return server.url


CELLS = [
    # credential_rejected: http_codes [401], no body condition.
    Cell(
        "credential_rejected",
        "status only",
        "401",
        "organizations",
        on(organizations_path, "401"),
        "failed",
        "config_error",
        lambda s: CREDENTIAL_REJECTED,
    ),
    # rate_limited: http_codes [429], no body condition.
    Cell(
        "rate_limited",
        "status only",
        "429 once, Retry-After 1",
        "tags",
        on(tags_path, "429", retry_after=1),
        "retried",
    ),
    # server_error: http_codes [408, 500, 502, 503, 504], no body condition.
    Cell("server_error", "status only", "500 once", "tags", on(tags_path, "500"), "retried"),
    Cell(
        "server_error",
        "status only",
        "503 every time",
        "webhooks",
        on(webhooks_path, "503", times=None),
        "failed",
        "transient_error",
        lambda s: server_error("webhooks"),
        fast=True,
    ),
    # access_denied (top-level lists): http_codes [403], no body condition.
    Cell(
        "access_denied",
        "status only",
        "403",
        "organizations",
        on(organizations_path, "403"),
        "failed",
        "config_error",
        lambda s: access_denied("organizations"),
    ),
    # not_json (top-level lists): predicate only (body not JSON or `{}`).
    Cell(
        "not_json",
        "body only",
        "200 HTML page",
        "organizations",
        on(organizations_path, "html_200"),
        "failed",
        "system_error",
        lambda s: not_json("organizations", "text/html; charset=utf-8", base_url(s)),
    ),
    Cell(
        "not_json",
        "body only",
        "200 {}",
        "organizations",
        on(organizations_path, "answer", status=200, body={}),
        "failed",
        "system_error",
        lambda s: not_json("organizations", "application/json; charset=utf-8", base_url(s)),
    ),
    # not_configcat (top-level lists): http_codes [404, 405] OR predicate `response is mapping`.
    Cell(
        "not_configcat",
        "status only",
        "404 with a JSON list",
        "organizations",
        on(organizations_path, "answer", status=404, body=[]),
        "failed",
        "config_error",
        lambda s: not_configcat("organizations", base_url(s)),
    ),
    Cell(
        "not_configcat",
        "body only",
        "200 with a JSON object",
        "organizations",
        on(organizations_path, "answer", status=200, body={"status": "ok"}),
        "failed",
        "config_error",
        lambda s: not_configcat("organizations", base_url(s)),
    ),
    Cell(
        "not_configcat",
        "both",
        "404 with a JSON object",
        "organizations",
        on(organizations_path, "404"),
        "failed",
        "config_error",
        lambda s: not_configcat("organizations", base_url(s)),
    ),
    # partition_gone (child streams): http_codes [403, 404], no body condition.
    Cell(
        "partition_gone",
        "status only",
        "404",
        "tags",
        on(tags_path, "404", times=None),
        "skipped",
        message=lambda s: partition_skipped("tags"),
    ),
    # not_json_retried (child streams): predicate only (body not JSON or `{}`).
    Cell(
        "not_json_retried",
        "body only",
        "200 truncated JSON once",
        "tags",
        on(tags_path, "malformed_json"),
        "retried",
    ),
    Cell(
        "not_json_retried",
        "body only",
        "200 HTML page every time",
        "tags",
        on(tags_path, "html_200", times=None),
        "failed",
        # A 200 has no default mapping: the runtime classifies the spent retries system_error.
        "system_error",
        lambda s: not_json_retried("tags"),
        fast=True,
    ),
    # beyond_retention (audit_logs): predicate only (an object without data/paging that says
    # "retention"). Its status-only cell is audit_log_refused's: a 400 that does not say it.
    Cell(
        "beyond_retention",
        "body only",
        "400 naming the retention",
        "audit_logs",
        on(refused_window_path, "answer", status=400, body=RETENTION_REFUSAL),
        "skipped",
        message=lambda s: RETENTION_SKIPPED,
    ),
    Cell(
        "beyond_retention",
        "body only",
        "200 object naming the retention",
        "audit_logs",
        on(refused_window_path, "answer", status=200, body={"message": ["Retention exceeded."]}),
        "skipped",
        message=lambda s: RETENTION_SKIPPED,
    ),
    Cell(
        "beyond_retention",
        "neither",
        "200 page whose events say every filter word",
        "audit_logs",
        add_events_saying_the_filter_words,
        "read",
    ),
    # audit_log_refused (audit_logs): http_codes [400], no body condition.
    Cell(
        "audit_log_refused",
        "status only",
        "400 ModelState",
        "audit_logs",
        on(refused_window_path, "answer", status=400, body=MODEL_STATE),
        "failed",
        "system_error",
        lambda s: audit_log_refused(MODEL_STATE_SAYS),
    ),
    Cell(
        "audit_log_refused",
        "status only",
        "400 ProblemDetails",
        "audit_logs",
        on(refused_window_path, "answer", status=400, body=PROBLEM_DETAILS),
        "failed",
        "system_error",
        lambda s: audit_log_refused(PROBLEM_DETAILS_SAYS),
    ),
    Cell(
        "audit_log_refused",
        "status only",
        "400 not JSON",
        "audit_logs",
        on(refused_window_path, "answer", status=400, body=b"Bad Request"),
        "failed",
        "system_error",
        lambda s: audit_log_refused("no message"),
    ),
    # Every filter's "neither": answers as ConfigCat gives them, read as any other.
    Cell("every filter", "neither", "200 list", "organizations", None, "read"),
    Cell("every filter", "neither", "200 list", "tags", None, "read"),
    # (audit_logs: beyond_retention's "neither" above.)
]

# (filter, cell): why no answer can meet it.
IMPOSSIBLE = {
    **{
        (name, cell): "no body condition: `http_codes` only, any body"
        for name in (
            "credential_rejected",
            "rate_limited",
            "server_error",
            "access_denied",
            "partition_gone",
            "audit_log_refused",
        )
        for cell in ("body only", "both")
    },
    **{
        (name, cell): "no status condition: `predicate` only, any status"
        for name in ("not_json", "not_json_retried", "beyond_retention")
        for cell in ("status only", "both")
    },
}


# -- running them --------------------------------------------------------------------------------


def events_since(server: EmulatorServer, start: str) -> dict[int, dict]:
    return {
        item["auditLogId"]: item
        for items in server.account.audit_logs.values()
        for item in items
        if parse_iso(item["auditLogDateTime"]) >= parse_iso(start)
    }


def in_refused_window(server: EmulatorServer) -> set[int]:
    start, end = (parse_iso(moment) for moment in refused_window())
    return {
        item["auditLogId"]
        for item in server.account.audit_logs[first_organization(server)]
        if start <= parse_iso(item["auditLogDateTime"]) < end
    }


def sync(
    server: EmulatorServer,
    stream: str,
    executable: Path,
    *,
    fast: bool = False,
    state: list | None = None,
) -> Outcome:
    incremental = {stream} if stream == "audit_logs" else set()
    with tempfile.TemporaryDirectory(prefix="configcat-cache-") as cache:
        started = time.monotonic()
        result = runtime.run(
            "read",
            server.connector_config(start_date=START_DATE),
            configured_catalog=runtime.catalog([stream], incremental=incremental),
            state=state,
            env={"REQUEST_CACHE_PATH": cache},
            executable=executable,
            manifest_path=fast_retry_manifest(0.001, max_retries=1)
            if fast
            else runtime.MANIFEST_PATH,
        )
        return Outcome(server, result, time.monotonic() - started)


scenario = Scenarios(__name__)
start_scenarios, outcome = scenario.fixtures()


def cell_scenario(cell: Cell, executable: Path) -> Callable[[], Outcome]:
    def run_cell() -> Outcome:
        with EmulatorServer() as server:
            if cell.fault is not None:
                cell.fault(server)
            return sync(server, cell.stream, executable, fast=cell.fast)

    return run_cell


def scenario_name(cell: Cell, cdk: str) -> str:
    return f"{cell.id} @ {cdk}"


for _cell in CELLS:
    for _cdk, _executable in RUNTIMES.items():
        scenario.add(scenario_name(_cell, _cdk), cell_scenario(_cell, _executable))

CELL_SCENARIOS = [scenario_name(cell, cdk) for cell in CELLS for cdk in RUNTIMES]
assert len(set(CELL_SCENARIOS)) == len(CELL_SCENARIOS), "two cells have the same id"


def expected_ids(server: EmulatorServer, cell: Cell) -> set:
    """The records a complete read of the cell's stream delivers (by primary key)."""
    if cell.stream == "audit_logs":
        return set(events_since(server, START_DATE))
    account = server.account
    if cell.stream == "organizations":
        return {o["organizationId"] for o in account.organizations}
    if cell.stream == "tags":
        return {t["tagId"] for p in account.products for t in account.tags[p["productId"]]}
    return {w["webhookId"] for p in account.products for w in account.webhooks[p["productId"]]}


def delivered_ids(result: runtime.RunResult, stream: str) -> set:
    key = {
        "organizations": "organizationId",
        "tags": "tagId",
        "webhooks": "webhookId",
        "audit_logs": "auditLogId",
    }[stream]
    return {record[key] for record in result.records.get(stream, [])}


def skipped_part(server: EmulatorServer, cell: Cell) -> set:
    """The records of the partition or window the cell's fault takes away."""
    account = server.account
    if cell.stream == "audit_logs":
        return in_refused_window(server)
    product = first_product(server)
    if cell.stream == "tags":
        return {t["tagId"] for t in account.tags[product]}
    return {w["webhookId"] for w in account.webhooks[product]}


def retry_lines(result: runtime.RunResult) -> list[str]:
    return [line for line in result.logs("INFO") if "Retrying in" in line]


@pytest.fixture(scope="module", autouse=True)
def start_selected_cells(request):
    """Start the scenario of each selected cell (`scenario.used` would start every cell's)."""
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module.__name__ == __name__ and "cell" in params:
            BACKGROUND.start(scenario, scenario_name(params["cell"], params["cdk"]))


@pytest.mark.parametrize("cdk", list(RUNTIMES), ids=lambda cdk: f"cdk-{cdk}")
@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: cell.id)
def test_truth_table(outcome, cell, cdk):
    sync_ = outcome(scenario_name(cell, cdk))
    server, result = sync_.server, sync_.result
    # Never the 7.23.8 failure of a message naming an undeclared variable.
    assert "undeclared variables" not in result.stdout + result.stderr
    skip_lines = [line for line in result.logs() if line.startswith("Skipped")]
    expected, delivered = expected_ids(server, cell), delivered_ids(result, cell.stream)
    assert expected
    if cell.action == "failed":
        assert result.returncode != 0
        errors = stream_errors(result)
        assert [e["stream_descriptor"]["name"] for e in errors] == [cell.stream]
        assert errors[0]["failure_type"] == cell.failure_type
        message = cell.message(server)
        if cell.fast:  # a retry budget spent: the runtime's words, then ours
            assert errors[0]["message"].startswith("Exhausted available request attempts")
            assert errors[0]["message"].endswith(f"Exception: {message}")
        else:
            assert errors[0]["message"] == message
        assert skip_lines == []
        return
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.errors == []
    if cell.action == "skipped":
        assert skip_lines == [cell.message(server)]
        part = skipped_part(server, cell)
        assert part, "the fault took nothing away: the cell proves nothing"
        assert delivered == expected - part
        return
    assert skip_lines == []
    assert delivered == expected
    if cell.action == "retried":
        assert len(retry_lines(result)) == 1
        # The faulted request, then its retry (every retried cell faults the first product's tags).
        path = f"/v1/products/{first_product(server)}/tags"
        assert [e.path for e in server.request_log].count(path) == 2
    else:
        assert retry_lines(result) == []


def test_the_impossible_cells_are_impossible_by_construction():
    """A status-only filter has no predicate; a predicate-only one no http_codes."""
    filters = runtime.manifest()["definitions"]["response_filters"]
    for (name, cell), reason in IMPOSSIBLE.items():
        declared = filters[name]
        assert "error_message_contains" not in declared
        if reason.startswith("no body condition"):
            assert declared.get("http_codes") and "predicate" not in declared, (name, cell)
        else:
            assert declared.get("predicate") and "http_codes" not in declared, (name, cell)
    tested = {(cell.filter, cell.meets) for cell in CELLS}
    every_filter = set(filters)
    for name in every_filter:
        for meets in ("status only", "body only", "both"):
            assert (
                (name, meets) in tested
                or (name, meets) in IMPOSSIBLE
                or (
                    # beyond_retention's status-only answer (a 400 that does not say "retention") is
                    # audit_log_refused's cell.
                    name == "beyond_retention" and ("audit_log_refused", "status only") in tested
                )
            ), f"{name}: {meets} is neither tested nor impossible"
    assert every_filter == {
        "credential_rejected",
        "rate_limited",
        "server_error",
        "not_json",
        "not_json_retried",
        "not_configcat",
        "access_denied",
        "partition_gone",
        "beyond_retention",
        "audit_log_refused",
    }


# -- a refused window loses nothing --------------------------------------------------------------


def refused_then_resumed(executable: Path) -> Callable[[], tuple[Outcome, Outcome]]:
    def run_both():
        with EmulatorServer() as server:
            server.faults.add(
                FaultRule(
                    path_regex=refused_window_path(server),
                    kind="answer",
                    status=400,
                    body=MODEL_STATE,
                    times=1,
                )
            )
            failed = sync(server, "audit_logs", executable)
            resumed = sync(server, "audit_logs", executable, state=[failed.result.states[-1]])
            return failed, resumed

    return run_both


for _cdk, _executable in RUNTIMES.items():
    scenario.add(f"refused then resumed @ {_cdk}", refused_then_resumed(_executable))


@scenario.used(*(f"refused then resumed @ {cdk}" for cdk in RUNTIMES))
@pytest.mark.parametrize("cdk", list(RUNTIMES), ids=lambda cdk: f"cdk-{cdk}")
def test_a_refused_window_fails_the_sync_and_the_resumed_sync_reads_it(outcome, cdk):
    failed, resumed = outcome(f"refused then resumed @ {cdk}")
    server = failed.server
    window = in_refused_window(server)
    assert window, "the refused window holds no event: the test proves nothing"
    errors = stream_errors(failed.result)
    assert [(e["failure_type"], e["message"]) for e in errors] == [
        ("system_error", audit_log_refused(MODEL_STATE_SAYS))
    ]
    assert delivered_ids(failed.result, "audit_logs").isdisjoint(window)
    # The state it emitted keeps the organization before the refused window.
    states = failed.result.states[-1]["stream"]["stream_state"]["states"]
    cursor = {s["partition"]["organizationId"]: s["cursor"]["auditLogDateTime"] for s in states}
    assert parse_iso(cursor[first_organization(server)]) < parse_iso(refused_window()[0])

    assert resumed.result.returncode == 0, resumed.result.stderr[-2000:]
    assert resumed.result.errors == []
    again = delivered_ids(resumed.result, "audit_logs")
    assert window <= again
    assert delivered_ids(failed.result, "audit_logs") | again == set(
        events_since(server, START_DATE)
    )


# -- the beliefs the manifest rests on ----------------------------------------------------------


def belief_manifest(path: Path, message: str) -> Path:
    """The manifest with one filter more, first in the top-level handler: it acts on a 200
    whose body is a JSON list (what organizations answers), with a predicate only, and FAILs
    with `message`, so that what the runtime rendered shows in the error."""
    manifest = runtime.manifest()
    definitions = manifest["definitions"]
    definitions["response_filters"]["belief"] = {
        "type": "HttpResponseFilter",
        "http_codes": [418],
        "predicate": "{{ response is not mapping }}",
        "action": "FAIL",
        "failure_type": "config_error",
        "error_message": message,
    }
    definitions["error_handler"]["response_filters"].insert(
        0, {"$ref": "#/definitions/response_filters/belief"}
    )
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


CONTEXT_MESSAGE = (
    "config={{ config.get('username') }} response={{ response | length }}"
    " headers={{ headers.get('Content-Type') }} parameters={{ parameters.name }}"
)


@pytest.mark.parametrize("cdk", list(RUNTIMES), ids=lambda cdk: f"cdk-{cdk}")
def test_a_predicate_alone_acts_on_a_200_and_the_message_sees_four_names(emulator, cdk, tmp_path):
    """`_matches_filter` ORs the status and the predicate: a filter whose `http_codes` do not
    hold acts on a 200 because its predicate holds. `config`, `response`, `headers` and
    `parameters` render on both CDKs."""
    manifest = belief_manifest(tmp_path / "manifest.yaml", CONTEXT_MESSAGE)
    result = runtime.run(
        "read",
        emulator.connector_config(),
        configured_catalog=runtime.catalog(["organizations"]),
        executable=RUNTIMES[cdk],
        manifest_path=manifest,
    )
    errors = stream_errors(result)
    organizations = len(emulator.account.organizations)
    assert [(e["failure_type"], e["message"]) for e in errors] == [
        (
            "config_error",
            f"config={emulator.username} response={organizations}"
            " headers=application/json; charset=utf-8 parameters=organizations",
        )
    ]
    assert result.records.get("organizations", []) == []
    assert [entry.status for entry in emulator.request_log] == [200]


@pytest.mark.parametrize(
    ("cdk", "renders"), [("7.39.1", True), ("7.23.8", False)], ids=["cdk-7.39.1", "cdk-7.23.8"]
)
def test_request_url_renders_on_7_39_1_only(emulator, cdk, renders, tmp_path):
    """Why no message names `request_url`: on 7.23.8 the filter raises when it acts."""
    manifest = belief_manifest(tmp_path / "manifest.yaml", "at {{ request_url }}")
    result = runtime.run(
        "read",
        emulator.connector_config(),
        configured_catalog=runtime.catalog(["organizations"]),
        executable=RUNTIMES[cdk],
        manifest_path=manifest,
    )
    assert result.returncode != 0
    errors = stream_errors(result)
    assert len(errors) == 1
    if renders:
        assert errors[0]["message"] == f"at {emulator.url}/v1/organizations"
    else:
        assert "undeclared variables: {'request_url'}" in errors[0]["internal_message"]
        assert errors[0]["message"] != f"at {emulator.url}/v1/organizations"


def test_both_runtimes_are_the_versions_the_tests_claim():
    for cdk, executable in RUNTIMES.items():
        site = executable.parent.parent / "lib"
        found = list(site.glob("python3*/site-packages/airbyte_cdk-*.dist-info"))
        assert [path.name for path in found] == [f"airbyte_cdk-{cdk}.dist-info"], executable


def test_the_shipped_manifest_names_no_request_url():
    filters = runtime.manifest()["definitions"]["response_filters"]
    for name, declared in filters.items():
        for key in ("error_message", "predicate"):
            assert "request_url" not in str(declared.get(key, "")), name
