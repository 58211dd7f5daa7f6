"""The DuckDB file that `make pyairbyte` writes, made once per test session and read back.

`make pyairbyte` is slow (a full sync through PyAirbyte), so tests/conftest.py's session fixture
`pyairbyte_sync` runs it once for every test that reads its output (test_pyairbyte.py,
test_docs_sql.py). The file is read with the PyAirbyte venv's duckdb, which the main venv lacks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from emulator.seed import build_account
from scripts.pyairbyte_sync import DATABASE_NAME
from tooling import runtime

REPO_ROOT = runtime.REPO_ROOT
PYAIRBYTE_PYTHON = REPO_ROOT / ".venv-pyairbyte" / "bin" / "python"
# What `make pyairbyte` syncs by default: the emulator's seed-1, small account.
ACCOUNT = build_account(1, "small")
# Only the loopback interface: the emulator's 127.0.0.1.
OFFLINE = 'ip link set lo up && exec "$@"'


def _make_env() -> dict[str, str]:
    """This process's environment without the settings of a `make` that may be running pytest."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
    }


def make_pyairbyte(output: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Install .venv-pyairbyte as the Makefile does, then run `make pyairbyte` offline into
    `output`: its completed process and the DuckDB file it wrote."""
    install = subprocess.run(
        ["make", "-C", str(REPO_ROOT), ".venv-pyairbyte/.installed"],
        capture_output=True,
        text=True,
        timeout=1200,
        env=_make_env(),
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    sync = subprocess.run(
        ["unshare", "--net", "sh", "-c", OFFLINE, "sh"]
        + ["make", "-C", str(REPO_ROOT), "pyairbyte", f"ARGS=--output {output}"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**_make_env(), "PATH": f"{os.environ['PATH']}:/usr/sbin:/sbin"},
    )
    return sync, output / DATABASE_NAME


_PROGRAM = """\
import duckdb, json, sys
connection = duckdb.connect(sys.argv[1], read_only=True)
cursor = connection.execute(sys.argv[2])
columns = [(d[0], str(d[1])) for d in cursor.description]
print(json.dumps({"columns": columns, "rows": cursor.fetchall()}, default=str))
"""


def _run(database: Path, sql: str) -> dict:
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", _PROGRAM, str(database), sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def query(database: Path, sql: str) -> list[list]:
    """Rows of one query on the DuckDB file, as lists (date-times as their str())."""
    return _run(database, sql)["rows"]


def query_records(database: Path, sql: str) -> list[dict]:
    """Rows of one query as dicts by column name, JSON columns parsed."""
    result = _run(database, sql)
    records = []
    for row in result["rows"]:
        record = {}
        for (name, type_name), value in zip(result["columns"], row, strict=True):
            is_json = type_name == "JSON" and value is not None
            record[name] = json.loads(value) if is_json else value
        records.append(record)
    return records
