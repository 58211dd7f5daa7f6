"""Helpers shared by the fault, bad-configuration and secret tests.

Most fault scenarios spend their time asleep in the connector's backoff (a fault that never clears
costs the whole retry budget, about two minutes). `Background` starts the scenarios of every
selected test at once, each with its own emulator and request cache, so that the test session
waits for the slowest one rather than for their sum.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer
from tooling import runtime

# What the Authorization header carries: base64 of username:password, as good as the password.
BASIC_CREDENTIAL = base64.b64encode(f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}".encode()).decode()

MANIFEST = runtime.manifest()
PRIMARY_KEYS = {
    name: stream["primary_key"] for name, stream in MANIFEST["definitions"]["streams"].items()
}


@dataclass
class Outcome:
    """One run against one emulator. The server is stopped; its account and log stay readable."""

    server: EmulatorServer
    result: runtime.RunResult
    elapsed: float  # seconds the runtime ran
    peak_rss_kib: int | None = None  # only from `read_measuring_memory`


def run(
    server: EmulatorServer,
    command: str = "read",
    *,
    config: dict | None = None,
    streams: list[str] | None = None,
    debug: bool = False,
) -> Outcome:
    """Run the stock runtime against `server`, with a request cache of its own."""
    with tempfile.TemporaryDirectory(prefix="configcat-cache-") as cache:
        started = time.monotonic()
        result = runtime.run(
            command,
            config if config is not None else server.connector_config(),
            configured_catalog=runtime.catalog(streams) if command == "read" else None,
            debug=debug,
            env={"REQUEST_CACHE_PATH": cache},
        )
        return Outcome(server, result, time.monotonic() - started)


def read_measuring_memory(server: EmulatorServer, streams: list[str] | None = None) -> Outcome:
    """A sync like `runtime.run("read", ...)` that also reports the runtime's peak RSS.

    psutil is not installed and /proc/<pid>/status is gone once the process exits, so the
    process is reaped with os.wait4, whose rusage holds the exact high-water mark (ru_maxrss).
    """
    with tempfile.TemporaryDirectory(prefix="configcat-run-") as workdir:
        work = Path(workdir)
        (work / "config.json").write_text(json.dumps(server.connector_config()))
        (work / "catalog.json").write_text(json.dumps(runtime.catalog(streams)))
        args = [str(runtime.RUNTIME), "read", "--config", str(work / "config.json")]
        args += ["--catalog", str(work / "catalog.json")]
        args += ["--manifest-path", str(runtime.MANIFEST_PATH)]
        env = {**os.environ, "REQUEST_CACHE_PATH": str(work / "cache")}
        with open(work / "stdout", "w+") as stdout, open(work / "stderr", "w+") as stderr:
            started = time.monotonic()
            process = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env, cwd=work)
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.monotonic() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            stdout.seek(0)
            stderr.seek(0)
            result = runtime.parse_output(process.returncode, stdout.read(), stderr.read())
    return Outcome(server, result, elapsed, peak_rss_kib=usage.ru_maxrss)


def record_counts(result: runtime.RunResult) -> dict[str, int]:
    return {name: len(result.records.get(name, [])) for name in runtime.stream_names()}


def duplicated_keys(result: runtime.RunResult) -> dict[str, list[tuple]]:
    """Primary keys emitted more than once, per stream (empty when every record is unique)."""
    duplicated = {}
    for name, records in result.records.items():
        keys = Counter(tuple(record[field] for field in PRIMARY_KEYS[name]) for record in records)
        repeated = [key for key, count in keys.items() if count > 1]
        if repeated:
            duplicated[name] = repeated
    return duplicated


def stream_errors(result: runtime.RunResult) -> list[dict]:
    """TRACE errors of a stream. The runtime ends a failed sync with one more, stream-less error
    ("During the sync, the following streams did not sync successfully: ...") that it always
    classifies config_error: the stream errors carry the real classification."""
    return [error for error in result.errors if error.get("stream_descriptor")]


def targets(server: EmulatorServer, status: int) -> list[str]:
    """Path and query of each request the emulator answered with `status`, in order."""
    return [_target(entry) for entry in server.request_log if entry.status == status]


def _target(entry) -> str:
    query = "&".join(f"{key}={value}" for key, values in entry.query.items() for value in values)
    return entry.path + (f"?{query}" if query else "")


def answered_later(server: EmulatorServer, status: int) -> list[str]:
    """Targets answered with `status` that were requested again and then answered 200."""
    log = server.request_log
    return [
        _target(entry)
        for index, entry in enumerate(log)
        if entry.status == status
        and any(_target(later) == _target(entry) and later.status == 200 for later in log[index:])
    ]


def when(server: EmulatorServer, count: int, action: Callable[[], Any]) -> threading.Thread:
    """Call `action` once the emulator has answered `count` requests (e.g. to revoke access)."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while len(server.request_log) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


class Background:
    """Scenarios run in threads: each builds its own emulator, runs the runtime, returns an Outcome.

    `start_selected` starts the scenarios of every test pytest selected, in every module, so that
    the slow ones overlap whichever module runs first; `start` returns one's future. Slow
    scenarios (those that sit through a whole retry budget) are queued first. At most WORKERS run
    at once: more would slow every run down (two CPUs here) for no gain in total time.
    """

    WORKERS = 6

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="scenario")
        self._futures: dict[tuple[str, str], Future] = {}
        self._lock = threading.Lock()

    def start(self, registry: Scenarios, name: str) -> Future:
        with self._lock:
            key = (registry.module_name, name)
            if key not in self._futures:
                self._futures[key] = self._pool.submit(registry.functions[name])
            return self._futures[key]

    def start_selected(self, items) -> None:
        wanted = {
            (registry, name)
            for item in items
            if (registry := getattr(item.module, "scenario", None)) is not None
            and isinstance(registry, Scenarios)
            for name in getattr(getattr(item, "function", None), "scenarios", ())
        }

        def order(pair):
            registry, name = pair
            return (name not in registry.slow, registry.module_name, name)

        for registry, name in sorted(wanted, key=order):
            self.start(registry, name)


BACKGROUND = Background()


class Scenarios:
    """The scenarios of one test module, run in the background by `BACKGROUND`.

    A scenario builds its own emulator, runs the runtime and returns an `Outcome`. In the module:

        scenario = Scenarios(__name__, slow={"unreachable_host"})
        start_scenarios, outcome = scenario.fixtures()

        @scenario
        def storm_429() -> Outcome: ...

        @scenario.used("storm_429")
        def test_...(outcome): outcome("storm_429")

    `slow` scenarios (those that sit through a whole retry budget) are queued first.
    """

    def __init__(self, module_name: str, slow: set[str] = frozenset()) -> None:
        self.module_name = module_name
        self.slow = set(slow)
        self.functions: dict[str, Callable[[], Outcome]] = {}

    def __call__(self, function: Callable[[], Outcome]) -> Callable[[], Outcome]:
        """Register a scenario under its function's name."""
        return self.add(function.__name__, function)

    def add(self, name: str, function: Callable[[], Outcome]) -> Callable[[], Outcome]:
        self.functions[name] = function
        return function

    @staticmethod
    def used(*names: str):
        """Mark a test as using these scenarios, so they start before the module's first test."""

        def mark(test):
            test.scenarios = names
            return test

        return mark

    def fixtures(self):
        """`start_scenarios` (autouse) starts the scenarios of every selected test, in every
        module, at the module's first test; `outcome(name)` waits for one."""

        @pytest.fixture(scope="module", autouse=True)
        def start_scenarios(request):
            BACKGROUND.start_selected(request.session.items)

        @pytest.fixture(scope="module")
        def outcome():
            return lambda name: BACKGROUND.start(self, name).result()

        return start_scenarios, outcome
