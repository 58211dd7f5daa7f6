"""One full sync with the stock runtime, timed and with the sync process's own peak memory.

The command line is the one `tooling.runtime.run` builds (`source-declarative-manifest read
--config --catalog --manifest-path`), with REQUEST_CACHE_PATH in a fresh directory. It is started
through `bench/launch.py`, which reports the sync process's own `ru_maxrss`, CPU time and wall
time: read from here, `ru_maxrss` would include the benchmark's memory (see launch.py).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooling import runtime

LAUNCHER = Path(__file__).resolve().parent / "launch.py"


@dataclass
class SyncProcess:
    returncode: int
    started_at: float  # time.time() just before the process was started
    wall_seconds: float  # process start to exit (reaped)
    peak_rss_bytes: int  # ru_maxrss of the sync process (its VmHWM at exit)
    cpu_seconds: float  # user + system CPU time of the sync process
    emulator_cpu_seconds: float  # CPU time of this process (the emulator) meanwhile
    load_average: tuple[float, float]  # 1-minute load average before and after the sync
    records: Counter = field(default_factory=Counter)  # stream -> records emitted
    errors: list[str] = field(default_factory=list)  # TRACE error messages
    warnings: int = 0  # LOG messages at WARN level or above
    stderr_tail: str = ""
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.errors and not self.timed_out


def run_read(
    manifest_path: Path,
    config: dict[str, Any],
    streams: list[str],
    *,
    timeout: float,
) -> SyncProcess:
    """`read` every listed stream in full refresh; the HTTP cache goes to a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="configcat-bench-") as workdir:
        work = Path(workdir)
        cache = work / "request-cache"
        cache.mkdir()
        config_path = work / "config.json"
        catalog_path = work / "catalog.json"
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(runtime.catalog(streams)))
        args = [
            str(runtime.RUNTIME),
            "read",
            "--config",
            str(config_path),
            "--catalog",
            str(catalog_path),
            "--manifest-path",
            str(manifest_path),
        ]
        env = {**os.environ, "REQUEST_CACHE_PATH": str(cache)}
        report_path = work / "launch.json"
        launcher = [sys.executable, "-I", str(LAUNCHER), str(report_path)]
        stdout_path, stderr_path = work / "stdout", work / "stderr"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            own_before = resource.getrusage(resource.RUSAGE_SELF)
            load_before = os.getloadavg()[0]
            started_at = time.time()
            start = time.perf_counter()
            process = subprocess.Popen(
                launcher + args,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=work,
                start_new_session=True,  # one process group: a timeout kills the sync too
            )
            try:
                process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                timed_out = True
            except BaseException:  # interrupted: leave no sync running behind
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise
            outer_wall = time.perf_counter() - start
            own_after = resource.getrusage(resource.RUSAGE_SELF)
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        result = SyncProcess(
            returncode=report.get("returncode", process.returncode),
            started_at=started_at,
            wall_seconds=report.get("wall_seconds", outer_wall),
            peak_rss_bytes=report.get("peak_rss_bytes", 0),
            cpu_seconds=report.get("cpu_seconds", 0.0),
            emulator_cpu_seconds=(own_after.ru_utime + own_after.ru_stime)
            - (own_before.ru_utime + own_before.ru_stime),
            load_average=(load_before, os.getloadavg()[0]),
            timed_out=timed_out,
        )
        _read_messages(stdout_path, result)
        result.stderr_tail = stderr_path.read_text(errors="replace")[-2000:]
    return result


def _read_messages(stdout_path: Path, result: SyncProcess) -> None:
    with stdout_path.open(encoding="utf-8", errors="replace") as lines:
        for message in runtime.airbyte_messages(lines):
            kind = message.get("type")
            if kind == "RECORD":
                result.records[message["record"]["stream"]] += 1
            elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
                result.errors.append(message["trace"]["error"].get("message", ""))
            elif kind == "LOG" and message["log"].get("level") in ("WARN", "ERROR", "FATAL"):
                result.warnings += 1
