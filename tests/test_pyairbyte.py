"""PyAirbyte: `make pyairbyte`, the README's command, syncs every stream into DuckDB, offline.

The test installs what the command needs the way the command does (the Makefile's
.venv-pyairbyte target: a separate venv from requirements-pyairbyte.txt, about 10 s the first
time), then runs `make pyairbyte` with no network at all but the loopback interface, inside a
private network namespace: PyAirbyte must not reach Airbyte's registry or telemetry, and the
script's emulator still answers. The DuckDB file is then read with the same venv's duckdb. The
sync runs once per test session (tests/pyairbyte_cache.py, the `pyairbyte_sync` fixture), shared
with test_docs_sql.py.
"""

from __future__ import annotations

from collections import Counter

from scripts.pyairbyte_sync import EXAMPLE_QUERIES
from tests.expectations import expected_records
from tests.pyairbyte_cache import ACCOUNT
from tests.pyairbyte_cache import query as _query
from tooling import runtime


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
