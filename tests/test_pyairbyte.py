"""PyAirbyte: `make pyairbyte`, the README's command, syncs every stream into DuckDB, offline.

The test installs what the command needs the way the command does (the Makefile's
.venv-pyairbyte target: a separate venv from requirements-pyairbyte.txt, about a minute the first
time), then runs `make pyairbyte` with no network at all but the loopback interface, inside a
private network namespace: PyAirbyte must not reach Airbyte's registry or telemetry, and the
script's emulator still answers. The DuckDB file is then read with the same venv's duckdb.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

import pytest

from emulator.seed import build_account
from scripts.pyairbyte_sync import DATABASE_NAME, EXAMPLE_QUERIES
from tests.expectations import expected_records
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


@pytest.fixture(scope="module")
def pyairbyte_sync(tmp_path_factory):
    """The output of `make pyairbyte`, run offline, and the DuckDB file it wrote."""
    install = subprocess.run(
        ["make", "-C", str(REPO_ROOT), ".venv-pyairbyte/.installed"],
        capture_output=True,
        text=True,
        timeout=1200,
        env=_make_env(),
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    output = tmp_path_factory.mktemp("pyairbyte")
    sync = subprocess.run(
        ["unshare", "--net", "sh", "-c", OFFLINE, "sh"]
        + ["make", "-C", str(REPO_ROOT), "pyairbyte", f"ARGS=--output {output}"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**_make_env(), "PATH": f"{os.environ['PATH']}:/usr/sbin:/sbin"},
    )
    return sync, output / DATABASE_NAME


def _query(database, sql: str) -> list[list]:
    """Rows of one query on the DuckDB file, read with the PyAirbyte venv's duckdb."""
    program = (
        "import duckdb, json, sys\n"
        "connection = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(json.dumps(connection.execute(sys.argv[2]).fetchall(), default=str))\n"
    )
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", program, str(database), sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def test_make_pyairbyte_succeeds_without_network(pyairbyte_sync):
    sync, database = pyairbyte_sync
    assert sync.returncode == 0, sync.stdout[-3000:] + sync.stderr[-3000:]
    assert database.is_file()
    assert f"Done: {database}" in sync.stdout


def test_every_stream_is_a_table_with_every_record(pyairbyte_sync):
    _, database = pyairbyte_sync
    counts = {
        name: _query(database, f'SELECT count(*) FROM "{name}"')[0][0]
        for name in runtime.stream_names()
    }
    assert counts == expected_records(ACCOUNT)


def test_every_example_query_returns_rows_and_is_printed(pyairbyte_sync):
    sync, database = pyairbyte_sync
    for title, sql in EXAMPLE_QUERIES.items():
        assert _query(database, sql), title
        assert f"\n{title}:\n" in sync.stdout


def test_boolean_flags_on_and_off_per_environment_are_the_accounts(pyairbyte_sync):
    _, database = pyairbyte_sync
    expected = Counter()
    for (config_id, environment_id), values in ACCOUNT.setting_values.items():
        product = ACCOUNT.configs_by_id[config_id]["product"]["name"]
        environment = ACCOUNT.environments_by_id[environment_id]["name"]
        for value in values:
            if value["setting"]["settingType"] == "boolean":
                is_on = value["value"] if "value" in value else value["defaultValue"]["boolValue"]
                expected[product, environment, is_on] += 1
    rows = _query(
        database, EXAMPLE_QUERIES["Boolean flags on and off, per product and environment"]
    )
    synced = Counter()
    for product, environment, flags_on, flags_off in rows:
        synced[product, environment, True] += flags_on
        synced[product, environment, False] += flags_off
    assert +synced == +expected
    assert {key[2] for key in expected} == {True, False}


def test_members_per_product_are_the_accounts(pyairbyte_sync):
    _, database = pyairbyte_sync
    expected = {
        product["name"]: len({m["userId"] for m in ACCOUNT.product_members[product["productId"]]})
        for product in ACCOUNT.products
    }
    rows = _query(database, EXAMPLE_QUERIES["Members per product"])
    assert dict(rows) == expected


def test_flags_without_code_references_are_the_accounts(pyairbyte_sync):
    _, database = pyairbyte_sync
    expected = {}
    for config_id, settings in ACCOUNT.settings.items():
        product = ACCOUNT.product_of_config(config_id)["name"]
        unused = [s for s in settings if not ACCOUNT.code_references[s["settingId"]]]
        if unused:
            expected[product] = expected.get(product, 0) + len(unused)
    assert expected
    rows = _query(database, EXAMPLE_QUERIES["Flags with no code references, per product"])
    assert dict(rows) == expected


def test_open_change_requests_are_the_accounts(pyairbyte_sync):
    _, database = pyairbyte_sync
    open_requests = [
        item
        for items in ACCOUNT.change_requests.values()
        for item in items
        if item["changeRequestStatus"] == "open"
    ]
    rows = _query(database, EXAMPLE_QUERIES["Open change requests: who asked, how many approvals"])
    assert len(rows) == min(10, len(open_requests))
    titles = {item["title"] for item in open_requests}
    assert {row[1] for row in rows} <= titles
