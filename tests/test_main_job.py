"""The main job, `make sync` (scripts/sync.py): the files it writes, and its `--config` path."""

import json
import subprocess
import sys
from pathlib import Path

from emulator import EmulatorServer, build_account
from tests.conftest import emulator_config
from tests.expectations import expected_records
from tooling import runtime

REPO = Path(__file__).resolve().parent.parent


def main_job(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.sync", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def written_records(output: Path) -> dict[str, list[dict]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in output.glob("*.jsonl")
    }


def test_default_run_writes_every_stream_of_the_bundled_emulator(tmp_path):
    completed = main_job("--output", str(tmp_path), "--seed", "2")
    assert completed.returncode == 0, completed.stderr
    records = written_records(tmp_path)
    assert set(records) == set(runtime.stream_names())
    assert {name: len(rows) for name, rows in records.items()} == expected_records(build_account(2))
    total = sum(map(len, records.values()))
    assert f"Done: {total} records in {tmp_path.resolve()}/" in completed.stdout


def test_config_option_syncs_the_api_it_names(tmp_path):
    account = build_account(3)
    with EmulatorServer(account=account) as server:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(emulator_config(server)))
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
        config.write_text(json.dumps(emulator_config(server, password=wrong)))
        completed = main_job("--config", str(config), "--output", str(tmp_path / "out"))
    assert completed.returncode == 1
    assert "ERROR (config_error):" in completed.stderr
    assert "Sync failed (exit code" in completed.stderr
    assert wrong not in completed.stdout + completed.stderr
