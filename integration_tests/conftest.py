"""Serve the ConfigCat API emulator where integration_tests/config.json points."""

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer

CONFIG = json.loads((Path(__file__).parent / "config.json").read_text())


@pytest.fixture(scope="session", autouse=True)
def configcat_emulator():
    assert CONFIG["username"] == DEFAULT_USERNAME
    assert CONFIG["password"] == DEFAULT_PASSWORD
    address = urlsplit(CONFIG["base_url"])
    with EmulatorServer(host=address.hostname, port=address.port) as server:
        yield server


# The standard suite parametrizes every test with every config of acceptance-test-config.yml and
# skips, when it runs, the pairs whose command the config's section does not run: the bad
# credentials are listed under `connection` only, so they run `check` alone. Those pairs are
# deselected here instead, so that a skip in the report always means something. The command of
# each test is the one its `skip_unless_runs` call names in airbyte_cdk.test.standard_tests; a
# test missing from this table is kept and keeps the suite's own skip.
COMMAND_OF_TEST = {
    "test_check": "check",
    "test_config_matches_spec": "spec",
    "test_discover": "discover",
    "test_basic_read": "read",
    "test_fail_read_with_bad_catalog": "read",
}


def pytest_collection_modifyitems(config, items):
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        scenario = callspec.params.get("scenario") if callspec else None
        command = COMMAND_OF_TEST.get(getattr(item, "originalname", ""))
        if scenario is not None and command is not None and not scenario.runs(command):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
