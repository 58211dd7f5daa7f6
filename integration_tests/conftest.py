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
