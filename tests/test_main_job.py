"""The main job, `make sync` (scripts/sync.py): the files it writes as records arrive, what it
shows while it runs (plain lines, or a live table on a terminal), and its `--config` path."""

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from pathlib import Path

import pytest
from rich.console import Console

from emulator import EmulatorServer, build_account
from scripts.sync import RecordFiles, sync
from scripts.sync_display import LiveDisplay, PlainDisplay, Wait, live_display_wanted, retry_wait
from tests.expectations import expected_records
from tooling import runtime

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# rich's variables that would turn the live display on whatever stdout is.
DISPLAY_VARIABLES = ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR")


def main_job(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.sync", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=job_environment(env),
    )


def job_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment (REQUEST_CACHE_PATH included), stdout judged by itself."""
    base = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES}
    return {**base, **(extra or {})}


def written_records(output: Path) -> dict[str, list[dict]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in output.glob("*.jsonl")
    }


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One `make sync` of the bundled emulator (seed 2) with stdout a pipe: (output, process)."""
    output = tmp_path_factory.mktemp("output")
    cache = tmp_path_factory.mktemp("request-cache")
    completed = main_job(
        "--output", str(output), "--seed", "2", env={"REQUEST_CACHE_PATH": str(cache)}
    )
    return output, completed


def test_default_run_writes_every_stream_of_the_bundled_emulator(default_run):
    output, completed = default_run
    assert completed.returncode == 0, completed.stderr
    records = written_records(output)
    assert set(records) == set(runtime.stream_names())
    assert {name: len(rows) for name, rows in records.items()} == expected_records(build_account(2))
    total = sum(map(len, records.values()))
    assert f"Done: {total} records in {output.resolve()}/" in completed.stdout


def test_plain_output_names_each_stream_when_it_starts_and_when_it_completes(default_run):
    output, completed = default_run
    lines = completed.stdout.splitlines()
    assert "\x1b" not in completed.stdout  # no control codes when stdout is not a terminal
    assert lines[0].startswith("Syncing every stream from the bundled emulator at ")
    assert lines[-1].startswith("Done: ")
    width = max(map(len, runtime.stream_names()))
    for name, count in expected_records(build_account(2)).items():
        started = lines.index(f"  {name:<{width}}  started")
        done = lines.index(f"  {name:<{width}}  {count:>6} records  -> {output / name}.jsonl")
        assert started < done
    assert len(lines) == 2 + 2 * len(runtime.stream_names())


def test_records_are_on_disk_while_the_job_still_runs(tmp_path):
    """The emulator holds every stale_flags request until a file has been checked: the job
    cannot end before that, so a stream's complete file then proves it was written as it went."""
    account = build_account(1)
    expected = expected_records(account)
    release = threading.Event()
    completed_line = re.compile(r"^  (\w+) +(\d+) records  -> (.+)$")
    checked_while_running = []
    with EmulatorServer(account=account) as server:
        take = server.faults.take

        def held_take(target: str):
            if "/staleflags" in target:
                release.wait(timeout=120)
            return take(target)

        server.faults.take = held_take
        config = tmp_path / "config.json"
        config.write_text(json.dumps(server.connector_config()))
        with (
            (tmp_path / "stderr.txt").open("w") as stderr,
            subprocess.Popen(
                [sys.executable, "-m", "scripts.sync", "--config", str(config)]
                + ["--output", str(tmp_path / "out")],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=REPO,
                env=job_environment(),
            ) as process,
        ):
            try:
                for line in process.stdout:
                    match = completed_line.match(line.rstrip("\n"))
                    if not match:
                        continue
                    name, count, path = match[1], int(match[2]), Path(match[3])
                    assert count == expected[name]
                    assert len(path.read_text().splitlines()) == count
                    if not release.is_set():
                        assert name != "stale_flags"
                        assert process.poll() is None
                        checked_while_running.append(name)
                        release.set()
            finally:
                release.set()
                process.wait(timeout=300)
    assert process.returncode == 0, (tmp_path / "stderr.txt").read_text()
    assert checked_while_running


def status(stream: str, value: str, *reasons: str) -> dict:
    stream_status = {"stream_descriptor": {"name": stream}, "status": value}
    if reasons:
        stream_status["reasons"] = [{"type": reason} for reason in reasons]
    return {"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": stream_status}}


def record(stream: str, data: dict) -> dict:
    return {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}}


def log(message: str) -> dict:
    return {"type": "LOG", "log": {"level": "INFO", "message": message}}


def error(message: str) -> dict:
    failure = {"message": message, "failure_type": "system_error"}
    return {"type": "TRACE", "trace": {"type": "ERROR", "error": failure}}


# airbyte-cdk 7.39.1's wordings (sources/streams/http/rate_limiting.py).
BACKOFF_LOG = "UserDefinedBackoffException: Rate limit exceeded{}. Retrying in {} seconds."
RATE_LIMIT_LOG = BACKOFF_LOG.format(" (HTTP 429)", "3.0")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_record_is_in_its_file_before_the_next_message_is_read(tmp_path):
    def messages():
        yield status("tags", "STARTED")
        for i in range(5):
            yield record("tags", {"tagId": i})
            # sync() asks for the next message only once it has handled this one.
            assert read_jsonl(tmp_path / "tags.jsonl") == [{"tagId": j} for j in range(i + 1)]
        yield status("segments", "STARTED")
        yield record("segments", {"segmentId": "s"})
        assert read_jsonl(tmp_path / "segments.jsonl") == [{"segmentId": "s"}]
        yield status("tags", "COMPLETE")
        yield status("segments", "COMPLETE")

    out = io.StringIO()
    with RecordFiles(tmp_path, ["tags", "segments", "webhooks"]) as files:
        errors = sync(messages(), files, PlainDisplay(list(files.streams.values()), out=out))
    assert errors == []
    assert read_jsonl(tmp_path / "webhooks.jsonl") == []  # every stream has its file
    assert out.getvalue().splitlines() == [
        "  tags      started",
        "  segments  started",
        f"  tags           5 records  -> {tmp_path / 'tags.jsonl'}",
        f"  segments       1 records  -> {tmp_path / 'segments.jsonl'}",
        f"  webhooks       0 records  -> {tmp_path / 'webhooks.jsonl'}  (not synced)",
    ]


def test_plain_output_tells_rate_limit_waits_retries_and_incomplete_streams(tmp_path, capsys):
    messages = [
        status("tags", "STARTED"),
        status("tags", "RUNNING", "RATE_LIMITED"),
        log(RATE_LIMIT_LOG),
        log(BACKOFF_LOG.format(" (HTTP 503)", "5.0")),
        log(BACKOFF_LOG.format("", "1.5")),
        record("tags", {"tagId": 1}),
        status("tags", "INCOMPLETE"),
        error("Something broke"),
    ]
    with RecordFiles(tmp_path, ["tags"]) as files:
        errors = sync(messages, files, PlainDisplay(list(files.streams.values())))
    assert [e["message"] for e in errors] == ["Something broke"]
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "  tags  started",
        "  waiting 3s for the rate limit (tags)",
        "  waiting 5s to retry after HTTP 503",
        "  waiting 1.5s to retry after a timeout or connection error",
        f"  tags       1 records  -> {tmp_path / 'tags.jsonl'}  (incomplete)",
    ]
    assert err == "ERROR (system_error): Something broke\n"


@pytest.mark.parametrize(
    ("message", "wait"),
    [
        (RATE_LIMIT_LOG, Wait(3.0)),
        (
            "Caught retryable error 'x' after 2 tries. Waiting 4 seconds then retrying...",
            Wait(4.0, "an error"),
        ),
        (
            "Policy <p> reached call limit for endpoint /v1/products (rate). "
            "Sleeping for 0:00:00.412000 on attempt 1.",
            Wait(0.412),
        ),
        ("Marking stream tags as RUNNING", None),
        ("Status code: 429, Response Content: b'Retrying in 3 seconds'", None),
    ],
)
def test_waits_are_read_from_the_runtime_log_wordings(message, wait):
    assert retry_wait(message) == wait


def peak_of_a_sync(folder: Path, live: bool, count: int) -> int:
    """tracemalloc's peak while `count` fake records go through sync() into `folder`."""

    def messages():
        yield status("audit_logs", "STARTED")
        for i in range(count):
            yield record("audit_logs", {"auditLogId": i, "details": "x" * 200})
        yield status("audit_logs", "COMPLETE")

    def one_sync(folder: Path, records) -> int:
        with open(os.devnull, "w") as devnull, RecordFiles(folder, ["audit_logs"]) as files:
            streams = list(files.streams.values())
            console = Console(file=devnull, force_terminal=True)
            display = LiveDisplay(streams, console) if live else PlainDisplay(streams, out=devnull)
            tracemalloc.start()
            try:
                with display:
                    sync(records, files, display)
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    # A sync of one record first: the modules the display imports on first use (and compiles,
    # in a venv whose packages have no bytecode yet) are not what this measures.
    warm_up = folder / "warm-up"
    warm_up.mkdir()
    one_sync(warm_up, iter([status("audit_logs", "STARTED"), record("audit_logs", {})]))
    return one_sync(folder, messages())


@pytest.mark.parametrize("live", [False, True], ids=["plain", "live"])
def test_memory_stays_flat_whatever_the_number_of_records(tmp_path, live):
    """Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and the
    test process has pytest plugins' threads (ddtrace's telemetry) allocating on their own."""
    count = 100_000
    measure = (
        "import sys; from pathlib import Path; from tests.test_main_job import peak_of_a_sync; "
        "print(peak_of_a_sync(Path(sys.argv[1]), sys.argv[2] == 'live', int(sys.argv[3])))"
    )
    mode = "live" if live else "plain"
    completed = subprocess.run(
        [sys.executable, "-c", measure, str(tmp_path), mode, str(count)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=job_environment(),
    )
    assert completed.returncode == 0, completed.stderr
    peak = int(completed.stdout.split()[-1])
    # Holding the records would take over 30 MB; one at a time, well under 1 MB.
    assert peak < 1_000_000, peak
    with (tmp_path / "audit_logs.jsonl").open() as written:
        assert sum(1 for _ in written) == count


def test_a_terminal_gets_the_live_table(capsys):
    # A short output folder: the table cuts a long path (pytest-xdist's tmp_path is) with "…".
    with tempfile.TemporaryDirectory(prefix="live-") as folder:
        shown = live_table_of_a_sync(Path(folder), capsys)
    assert "\x1b[" in shown
    text = ANSI.sub("", shown)
    assert "waiting 3s for the rate limit (tags)" in text
    assert re.search(r"✓ tags +2 records .*-> .*tags\.jsonl", text)
    assert re.search(r"✗ segments +0 records .*incomplete -> ", text)
    assert re.search(r"- webhooks +0 records .*not synced -> ", text)
    assert "3/3 streams done, 2 records" in text
    assert capsys.readouterr().err == "ERROR (system_error): Something broke\n"


def live_table_of_a_sync(tmp_path, capsys) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    assert live_display_wanted(console)
    assert not live_display_wanted(Console(file=io.StringIO()))
    messages = [
        status("tags", "STARTED"),
        record("tags", {"tagId": 1}),
        status("tags", "RUNNING", "RATE_LIMITED"),
        log(RATE_LIMIT_LOG),
        record("tags", {"tagId": 2}),
        status("tags", "COMPLETE"),
        status("segments", "STARTED"),
        status("segments", "INCOMPLETE"),
        error("Something broke"),
    ]
    with RecordFiles(tmp_path, ["tags", "segments", "webhooks"]) as files:
        display = LiveDisplay(list(files.streams.values()), console)
        with display:
            sync(messages, files, display)
            # The errors are kept for after the table.
            assert capsys.readouterr().err == ""
    return out.getvalue()


def test_a_forced_terminal_runs_the_main_job_with_the_live_table(tmp_path):
    env = {"TTY_COMPATIBLE": "1", "TERM": "xterm-256color", "COLUMNS": "120"}
    completed = main_job("--output", str(tmp_path), env=env)
    assert completed.returncode == 0, completed.stderr
    assert "\x1b[" in completed.stdout
    text = ANSI.sub("", completed.stdout)
    total = sum(expected_records(build_account(1)).values())
    streams = len(runtime.stream_names())
    assert f"{streams}/{streams} streams done, {total:,} records" in text
    for name in runtime.stream_names():
        assert re.search(rf"✓ {name} +[\d,]+ records ", text), name
    assert f"Done: {total} records in {tmp_path.resolve()}/" in completed.stdout
    assert len(written_records(tmp_path)) == len(runtime.stream_names())


def test_config_option_syncs_the_api_it_names(tmp_path):
    account = build_account(3)
    with EmulatorServer(account=account) as server:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(server.connector_config()))
        completed = main_job("--config", str(config), "--output", str(tmp_path / "out"))
        requests_served = len(server.request_log)
    assert completed.returncode == 0, completed.stderr
    assert f"Syncing every stream from {server.url} ..." in completed.stdout
    assert requests_served > 0
    records = written_records(tmp_path / "out")
    assert sorted(row["productId"] for row in records["products"]) == sorted(
        product["productId"] for product in account.products
    )


def test_rejected_credentials_fail_with_the_reason_and_no_password(tmp_path):
    with EmulatorServer() as server:
        config = tmp_path / "config.json"
        wrong = "not-the-password-7d1e"
        config.write_text(json.dumps(server.connector_config(password=wrong)))
        completed = main_job("--config", str(config), "--output", str(tmp_path / "out"))
    assert completed.returncode == 1
    assert "ERROR (config_error):" in completed.stderr
    assert "Sync failed (exit code" in completed.stderr
    assert wrong not in completed.stdout + completed.stderr
