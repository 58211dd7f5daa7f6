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
import sys
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
import yaml

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer
from tooling import runtime

# What the Authorization header carries: base64 of username:password, as good as the password.
BASIC_CREDENTIAL = base64.b64encode(f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}".encode()).decode()

MANIFEST = runtime.manifest()
LAUNCHER = runtime.REPO_ROOT / "bench" / "launch.py"

# The runtimes the README supports, by test id: this project's airbyte-cdk and the Builder's.
# Behaviour tests take the `cdk` fixture (tests/conftest.py) to run on both.
RUNTIMES = {"cdk-7.39.1": runtime.RUNTIME, "cdk-7.23.8": runtime.OLDEST_RUNTIME}
DEFAULT_CDK = "cdk-7.39.1"

# A scenario runs on the runtime its Background thread was started for (`run` reads it).
_scenario = threading.local()


def scenario_runtime() -> Path:
    return RUNTIMES[getattr(_scenario, "cdk", DEFAULT_CDK)]


# In the fast manifest, the ExponentialBackoffStrategy waits FAST_BACKOFF_FACTOR * 2**n s (n = 1
# to 6) instead of 2**n s; everything else is the shipped manifest.
FAST_BACKOFF_FACTOR = 0.01
_fast_manifests: dict[tuple[float, int | None], Path] = {}
_fast_manifest_lock = threading.Lock()


def fast_retry_manifest(
    factor: float = FAST_BACKOFF_FACTOR, max_retries: int | None = None
) -> Path:
    """manifest.yaml with a small exponential backoff factor (and, given, another max_retries in
    every DefaultErrorHandler), for tests that prove that a fault is retried and then fails, not
    how long the shipped waits are (those are proved on the shipped manifest: tests/test_faults.py,
    a 429 without Retry-After). Derived from manifest.yaml at test time, written once per variant
    and test process to a temporary file."""
    with _fast_manifest_lock:
        if (factor, max_retries) not in _fast_manifests:
            manifest = runtime.manifest()
            strategies = list(runtime.components_of_type(manifest, "ExponentialBackoffStrategy"))
            assert strategies, "manifest.yaml has no ExponentialBackoffStrategy any more"
            for strategy in strategies:
                strategy["factor"] = factor
            if max_retries is not None:
                handlers = list(runtime.components_of_type(manifest, "DefaultErrorHandler"))
                assert handlers, "manifest.yaml has no DefaultErrorHandler any more"
                for handler in handlers:
                    handler["max_retries"] = max_retries
            folder = Path(tempfile.mkdtemp(prefix="configcat-fast-manifest-"))
            path = folder / "manifest.yaml"
            path.write_text(yaml.safe_dump(manifest, sort_keys=False))
            _fast_manifests[factor, max_retries] = path
        return _fast_manifests[factor, max_retries]


def backoff_waits(factor: float, retries: int = 6) -> tuple[float, ...]:
    """The waits the runtime logs for an ExponentialBackoffStrategy: factor * 2**n, plus the 1 s
    that the runtime adds to every user-defined wait."""
    return tuple(factor * 2**n + 1 for n in range(1, retries + 1))


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
    executable: Path | None = None,
    manifest_path: Path = runtime.MANIFEST_PATH,
) -> Outcome:
    """Run the stock runtime against `server`, with a request cache of its own.

    `executable`: by default the runtime the running scenario was started for (this project's
    airbyte-cdk outside a scenario)."""
    with tempfile.TemporaryDirectory(prefix="configcat-cache-") as cache:
        started = time.monotonic()
        result = runtime.run(
            command,
            config if config is not None else server.connector_config(),
            configured_catalog=runtime.catalog(streams) if command == "read" else None,
            debug=debug,
            env={"REQUEST_CACHE_PATH": cache},
            executable=executable or scenario_runtime(),
            manifest_path=manifest_path,
        )
        return Outcome(server, result, time.monotonic() - started)


def read_measuring_memory(server: EmulatorServer, streams: list[str] | None = None) -> Outcome:
    """A sync like `runtime.run("read", ...)` that also reports the runtime's peak RSS.

    Started through bench/launch.py, as the benchmark starts its syncs: Linux keeps the RSS
    high-water mark of the image that calls exec in the new program's `ru_maxrss`, so a runtime
    started straight from this test process (which holds the emulator's account) would report
    this process's memory whenever it is the larger. The launcher's own image is about 10 MiB.
    """
    with tempfile.TemporaryDirectory(prefix="configcat-run-") as workdir:
        work = Path(workdir)
        (work / "config.json").write_text(json.dumps(server.connector_config()))
        (work / "catalog.json").write_text(json.dumps(runtime.catalog(streams)))
        report = work / "launch.json"
        args = [sys.executable, str(LAUNCHER), str(report)]
        args += [str(scenario_runtime()), "read", "--config", str(work / "config.json")]
        args += ["--catalog", str(work / "catalog.json")]
        args += ["--manifest-path", str(runtime.MANIFEST_PATH)]
        env = {**os.environ, "REQUEST_CACHE_PATH": str(work / "cache")}
        with open(work / "stdout", "w+") as stdout, open(work / "stderr", "w+") as stderr:
            started = time.monotonic()
            returncode = subprocess.run(
                args, stdout=stdout, stderr=stderr, env=env, cwd=work
            ).returncode
            elapsed = time.monotonic() - started
            stdout.seek(0)
            stderr.seek(0)
            result = runtime.parse_output(returncode, stdout.read(), stderr.read())
        peak_rss_kib = json.loads(report.read_text())["peak_rss_bytes"] // 1024
    return Outcome(server, result, elapsed, peak_rss_kib=peak_rss_kib)


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

    def start(self, registry: Scenarios, name: str, cdk: str = DEFAULT_CDK) -> Future:
        with self._lock:
            key = (registry.module_name, name, cdk)
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._run, registry.functions[name], cdk)
            return self._futures[key]

    @staticmethod
    def _run(function: Callable[[], Outcome], cdk: str) -> Outcome:
        _scenario.cdk = cdk
        try:
            return function()
        finally:
            del _scenario.cdk

    def start_selected(self, items, module=None) -> None:
        """Start the scenarios of `items`; under pytest-xdist, of those in `module` only: a worker
        collects every test but runs only its share (`--dist loadfile` keeps a module's tests
        in one worker), so scenarios of other modules may be another worker's."""
        if module is not None and os.environ.get("PYTEST_XDIST_WORKER"):
            items = [item for item in items if getattr(item, "module", None) is module]
        wanted = {
            (registry, name, _cdk_of(item))
            for item in items
            if (registry := getattr(item.module, "scenario", None)) is not None
            and isinstance(registry, Scenarios)
            for name in getattr(getattr(item, "function", None), "scenarios", ())
        }

        def order(triple):
            registry, name, cdk = triple
            return (name not in registry.slow, registry.module_name, name, cdk)

        for registry, name, cdk in sorted(wanted, key=order):
            self.start(registry, name, cdk)


def _cdk_of(item) -> str:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("cdk", DEFAULT_CDK) if callspec is not None else DEFAULT_CDK


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

        @scenario.used("storm_429")
        def test_...(outcome, cdk): outcome("storm_429", cdk)   # on each runtime

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
        module, at the module's first test; `outcome(name)` waits for one, `outcome(name, cdk)`
        for the one run on that runtime (a test taking the `cdk` fixture)."""

        @pytest.fixture(scope="module", autouse=True)
        def start_scenarios(request):
            BACKGROUND.start_selected(request.session.items, request.module)

        @pytest.fixture(scope="module")
        def outcome():
            return lambda name, cdk=DEFAULT_CDK: BACKGROUND.start(self, name, cdk).result()

        return start_scenarios, outcome
