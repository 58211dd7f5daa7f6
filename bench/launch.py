"""Start a command from a fresh, small interpreter and report its wall time, CPU and peak memory.

Why a separate launcher: Linux keeps the RSS high-water mark of the process image that calls
exec in the new program's `ru_maxrss`. A sync forked straight from the benchmark (which holds the
emulator's whole account, ~250 MiB at the large scale) would report the benchmark's memory, not
its own. This launcher is exec'd first (its own image is ~10 MiB), then forks and execs the command
and reads the command's `ru_maxrss` with `os.wait4`: the figure is the command's own peak.

    python -m bench.launch REPORT.json COMMAND [ARG ...]

REPORT.json gets {"returncode", "wall_seconds", "peak_rss_bytes", "cpu_seconds"}; the command's
stdin, stdout and stderr are inherited. The exit code is the command's.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    report_path, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    report = {
        "returncode": returncode,
        "wall_seconds": wall,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports KiB
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    with open(report_path, "w") as out:
        json.dump(report, out)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main())
