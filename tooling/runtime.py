"""Drive the stock manifest-only runtime (`source-declarative-manifest`) as a subprocess.

The demo, the benchmark and the end-to-end tests all run the connector exactly as Airbyte does:
the CDK's generic entry point with `manifest.yaml`, never an in-process shortcut. The tests start
those processes through fork servers (`start_by_fork`, tooling/forkserver.py), which import the
runtime once instead of once per command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from tooling.forkserver import ForkServer

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "manifest.yaml"
RUNTIME = Path(sys.executable).parent / "source-declarative-manifest"
# The oldest airbyte-cdk the manifest supports, the Builder's (requirements-builder-cdk.txt).
OLDEST_RUNTIME = REPO_ROOT / ".venv-builder-cdk" / "bin" / "source-declarative-manifest"


# executable -> its fork server, once `start_by_fork` was called in this process.
_fork_servers: dict[Path, ForkServer] | None = None


def start_by_fork() -> None:
    """From now on, start runtime commands in this process as children of a fork server per
    runtime (tooling/forkserver.py) instead of from a fresh interpreter."""
    global _fork_servers
    if _fork_servers is None:
        _fork_servers = {}


def _start(args: list[str], *, stderr: IO[str], env: dict[str, str], cwd: Path):
    executable = Path(args[0])
    if _fork_servers is None:
        return subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=cwd
        )
    server = _fork_servers.setdefault(executable, ForkServer(executable))
    return server.popen(args, stderr=stderr, env=env, cwd=cwd)


@dataclass
class RunResult:
    returncode: int
    messages: list[dict[str, Any]]
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def of_type(self, message_type: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message.get("type") == message_type]

    @property
    def errors(self) -> list[dict[str, Any]]:
        traces = self.of_type("TRACE")
        return [trace["trace"]["error"] for trace in traces if trace["trace"]["type"] == "ERROR"]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [message["state"] for message in self.of_type("STATE")]

    def logs(self, *levels: str) -> list[str]:
        return [
            message["log"]["message"]
            for message in self.of_type("LOG")
            if not levels or message["log"]["level"] in levels
        ]


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST_PATH.read_text())


def stream_names() -> list[str]:
    """The streams in the manifest's `streams:` order, the order discovery lists them in.

    Keys of `definitions.streams` are the stream names (tests/test_schemas.py checks it).
    """
    return [entry["$ref"].rsplit("/", 1)[1] for entry in manifest()["streams"]]


def components_of_type(node: Any, type_name: str) -> Iterator[dict[str, Any]]:
    """Every component of that `type` in a (resolved) manifest or part of one, at any depth."""
    if isinstance(node, dict):
        if node.get("type") == type_name:
            yield node
        for value in node.values():
            yield from components_of_type(value, type_name)
    elif isinstance(node, list):
        for value in node:
            yield from components_of_type(value, type_name)


def catalog(streams: list[str] | None = None, incremental: set[str] = frozenset()) -> dict:
    """A configured catalog of the named streams (all by default), full refresh unless listed."""
    entries = []
    for name in streams or stream_names():
        mode = "incremental" if name in incremental else "full_refresh"
        entries.append(
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": [
                        "full_refresh",
                        *([mode] if mode == "incremental" else []),
                    ],
                },
                "sync_mode": mode,
                "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
            }
        )
    return {"streams": entries}


def run(command: str, config: dict[str, Any], **options: Any) -> RunResult:
    """Run one connector command with the stock runtime and parse its Airbyte messages.

    `options` are those of `messages`: `inject_manifest` passes the manifest inside the config
    (`__injected_declarative_manifest`), as the Airbyte platform does for connectors published
    from the Builder; `executable` is the runtime to run, this project's airbyte-cdk by default.
    The whole output is kept: for a run whose records must not all be held in memory, iterate
    `messages` instead.
    """
    with messages(command, config, **options) as live:
        stdout = "".join(live.lines())
    return parse_output(live.returncode, stdout, live.stderr)


class LiveRun:
    """A connector command while it runs: its stdout as it comes, then its exit code and stderr.

    Iterate it for the Airbyte messages (or `lines()` for the raw stdout lines), one at a time as
    the runtime writes them; nothing is kept. `returncode` and `stderr` are set once the output
    has ended (or the `messages` block has). A run past its timeout is killed, and reading on
    raises `subprocess.TimeoutExpired` as `subprocess.run` does.
    """

    def __init__(
        self,
        process: subprocess.Popen,
        args: list[str],
        timeout: float | None,
        stderr_file: IO[str],
    ) -> None:
        self.args = args
        self.timeout = timeout
        self.returncode: int | None = None
        self.stderr = ""
        self.timed_out = False
        self._process = process
        self._stderr_file = stderr_file
        self._timer = None
        if timeout is not None:
            self._timer = threading.Timer(timeout, self._kill_on_timeout)
            self._timer.daemon = True
            self._timer.start()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return airbyte_messages(self.lines())

    def lines(self) -> Iterator[str]:
        """The runtime's stdout lines (with their newline), each as soon as it is written."""
        yield from self._process.stdout
        self._finish()
        if self.timed_out:
            raise subprocess.TimeoutExpired(self.args, self.timeout, stderr=self.stderr)

    def close(self) -> None:
        """End the run: the process is killed if still running (the reader stopped early)."""
        if self._process.poll() is None:
            self._process.kill()
        self._finish()

    def _kill_on_timeout(self) -> None:
        self.timed_out = True
        self._process.kill()

    def _finish(self) -> None:
        if self.returncode is not None:
            return
        self._process.stdout.close()
        self.returncode = self._process.wait()
        if self._timer is not None:
            self._timer.cancel()
        self._stderr_file.seek(0)
        self.stderr = self._stderr_file.read()


@contextmanager
def messages(
    command: str,
    config: dict[str, Any],
    *,
    configured_catalog: dict | None = None,
    state: list | None = None,
    debug: bool = False,
    inject_manifest: bool = False,
    env: dict[str, str] | None = None,
    timeout: float | None = 900,
    executable: Path = RUNTIME,
    manifest_path: Path = MANIFEST_PATH,
) -> Iterator[LiveRun]:
    """Start one connector command with the stock runtime and stream its Airbyte messages.

    The same command line as `run`. Memory stays flat however much the connector emits: stdout
    is read a line at a time and stderr goes to a temporary file (read into `stderr` at the
    end), so neither pipe can fill up. The process is ended when the block is left. `timeout`
    None: no time limit. `manifest_path`: another manifest to run (a test's variant of this one).
    """
    with tempfile.TemporaryDirectory(prefix="configcat-run-") as workdir:
        work = Path(workdir)
        if inject_manifest:
            injected = yaml.safe_load(Path(manifest_path).read_text())
            config = {**config, "__injected_declarative_manifest": injected}
        args = [str(executable), command, "--config", _write(work / "config.json", config)]
        if not inject_manifest:
            args += ["--manifest-path", str(manifest_path)]
        if configured_catalog is not None:
            args += ["--catalog", _write(work / "catalog.json", configured_catalog)]
        if state is not None:
            args += ["--state", _write(work / "state.json", state)]
        if debug:
            args.append("--debug")
        with open(work / "stderr.txt", "w+", errors="replace") as stderr_file:
            process = _start(args, stderr=stderr_file, env={**os.environ, **(env or {})}, cwd=work)
            live = LiveRun(process, args, timeout, stderr_file)
            try:
                yield live
            finally:
                live.close()


def parse_output(returncode: int, stdout: str, stderr: str) -> RunResult:
    """A finished run's result: its Airbyte messages, and the records by stream."""
    # One message a line, split at "\n" only, as the platform reads them: `splitlines` would also
    # split at the U+2028, U+2029, \x1c-\x1e and \x85 that a record's text may hold raw.
    messages = list(airbyte_messages(stdout.split("\n")))
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        if message.get("type") == "RECORD":
            records[message["record"]["stream"]].append(message["record"]["data"])
    return RunResult(returncode, messages, stdout, stderr, dict(records))


def airbyte_messages(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The Airbyte messages among a connector's stdout lines (anything else is skipped)."""
    for line in lines:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict):
            yield message


def _write(path: Path, content: Any) -> str:
    path.write_text(json.dumps(content))
    return str(path)
