"""The Airbyte platform's runtime: the stock `source-declarative-manifest`, run the two ways it is.

(a) Injected: a connector published from the Builder. The platform passes the manifest inside the
    config, under `__injected_declarative_manifest`, and no --manifest-path.
(b) Local manifest mode: this repo built as a manifest-only connector image. The base image
    (airbyte/source-declarative-manifest) switches to it when
    /airbyte/integration_code/source_declarative_manifest/manifest.yaml exists (a fixed path,
    `_is_local_manifest_command` in airbyte_cdk/cli/source_declarative_manifest/_run.py). The
    image's layout is rebuilt here exactly as its Dockerfile makes it, and made visible at that
    path to the connector process only, through a bind mount in a private mount namespace: other
    runtimes on the machine (other tests) never see it and keep their own mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.expectations import expected_records
from tooling import runtime

MANIFEST = runtime.manifest()
INTEGRATION_CODE = Path("/airbyte/integration_code")
LOCAL_MANIFEST = INTEGRATION_CODE / "source_declarative_manifest" / "manifest.yaml"
# The base image's ENTRYPOINT script, as its Dockerfile writes it.
IMAGE_MAIN_PY = (
    'from source_declarative_manifest.run import run\n\nif __name__ == "__main__":\n    run()\n'
)
# Inside a private mount namespace: bind the layout over the fixed path, then run the connector.
IN_NAMESPACE = 'mount --bind "$1" /airbyte/integration_code && cd "$2" && shift 2 && exec "$@"'


@pytest.fixture(autouse=True)
def fresh_interpreters(monkeypatch):
    """How the platform starts the runtime is what this module tests: a fresh interpreter per
    command, not a child of the tests' fork server (tests/conftest.py)."""
    monkeypatch.setattr(runtime, "_fork_servers", None)


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory):
    """The base image's /airbyte/integration_code with this manifest, in a temporary folder.

    Only the empty mount point is created at the real path (and removed afterwards); a manifest
    already there is never shadowed or touched.
    """
    if LOCAL_MANIFEST.exists():
        pytest.fail(f"{LOCAL_MANIFEST} exists on this machine: refusing to run beside it")
    layout = tmp_path_factory.mktemp("integration_code")
    package = layout / "source_declarative_manifest"
    package.mkdir()
    # The CDK's own files, found without importing them.
    stock = Path(find_spec("airbyte_cdk").submodule_search_locations[0])
    stock = stock / "cli" / "source_declarative_manifest"
    (layout / "main.py").write_text(IMAGE_MAIN_PY)
    (package / "__init__.py").write_text("")
    (package / "run.py").write_text((stock / "_run.py").read_text())
    (package / "spec.json").write_text((stock / "spec.json").read_text())
    shutil.copyfile(runtime.MANIFEST_PATH, package / "manifest.yaml")

    created = [path for path in (INTEGRATION_CODE.parent, INTEGRATION_CODE) if not path.exists()]
    for path in created:
        path.mkdir()
    try:
        yield layout
    finally:
        for path in reversed(created):
            path.rmdir()  # fails, and says so, if anything was left inside


def _run_local(layout: Path, argv: list[str], cwd: Path, args: list[str]) -> runtime.RunResult:
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", IN_NAMESPACE, "sh"]
        + [str(layout), str(cwd), *argv, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return runtime.parse_output(completed.returncode, completed.stdout, completed.stderr)


LAUNCHERS = {
    # Where the platform runs the image: its ENTRYPOINT from its WORKDIR. The copied run.py finds
    # the manifest as data of its package, source_declarative_manifest.
    "image_entrypoint": ([sys.executable, str(INTEGRATION_CODE / "main.py")], INTEGRATION_CODE),
    # The CDK's console script in local mode reads manifest.yaml from its working directory.
    "installed_cli": ([str(runtime.RUNTIME)], LOCAL_MANIFEST.parent),
}


@pytest.fixture(params=["injected", *LAUNCHERS])
def connector(request, tmp_path):
    """Runs one connector command (spec, check, discover, read) in one of the three modes."""
    mode = request.param

    def run(command: str, config: dict, catalog: dict | None = None) -> runtime.RunResult:
        if mode == "injected":
            return runtime.run(command, config, configured_catalog=catalog, inject_manifest=True)
        layout = request.getfixturevalue("image_layout")
        argv, cwd = LAUNCHERS[mode]
        args = [command]
        if command != "spec":
            args += ["--config", _write(tmp_path / "config.json", config)]
        if catalog is not None:
            args += ["--catalog", _write(tmp_path / "catalog.json", catalog)]
        return _run_local(layout, argv, cwd, args)

    run.mode = mode
    return run


def _write(path: Path, content: dict) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def test_spec_is_the_connectors_own_in_local_mode_and_the_generic_one_when_injected(
    connector, account_server
):
    result = connector("spec", account_server.connector_config())
    assert result.returncode == 0, result.stderr[-2000:]
    (spec,) = [message["spec"] for message in result.of_type("SPEC")]
    specification = spec["connectionSpecification"]
    if connector.mode == "injected":
        # The platform reads a Builder connector's spec from its manifest, not from this command.
        assert specification["required"] == ["__injected_declarative_manifest"]
        return
    assert specification == MANIFEST["spec"]["connection_specification"]
    assert spec["documentationUrl"] == MANIFEST["spec"]["documentation_url"]
    properties = specification["properties"]
    assert {"username", "password", "base_url", "start_date", "concurrency"} <= set(properties)
    assert properties["password"]["airbyte_secret"] is True
    assert properties["base_url"]["default"] == "https://api.configcat.com"


def test_check_succeeds(connector, account_server):
    result = connector("check", account_server.connector_config())
    assert result.returncode == 0, result.stderr[-2000:]
    statuses = [message["connectionStatus"] for message in result.of_type("CONNECTION_STATUS")]
    assert statuses == [{"status": "SUCCEEDED"}]


def test_check_fails_on_a_wrong_password(connector, account_server):
    result = connector("check", account_server.connector_config(password="not-the-password"))
    statuses = [message["connectionStatus"] for message in result.of_type("CONNECTION_STATUS")]
    assert [status["status"] for status in statuses] == ["FAILED"]
    assert "Public API credential" in statuses[0]["message"]
    assert "not-the-password" not in result.stdout + result.stderr


def test_discover_lists_every_stream(connector, account_server):
    result = connector("discover", account_server.connector_config())
    assert result.returncode == 0, result.stderr[-2000:]
    (catalog,) = [message["catalog"] for message in result.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    assert list(streams) == runtime.stream_names()
    for name, stream in streams.items():
        primary_key = MANIFEST["definitions"]["streams"][name]["primary_key"]
        assert stream["source_defined_primary_key"] == [[field] for field in primary_key]
        assert stream["json_schema"]["properties"] == MANIFEST["schemas"][name]["properties"]
    assert "incremental" in streams["audit_logs"]["supported_sync_modes"]


def test_read_delivers_every_record(connector, account_server):
    result = connector(
        "read",
        account_server.connector_config(),
        runtime.catalog(incremental={"audit_logs"}),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.errors == []
    counts = {name: len(result.records.get(name, [])) for name in runtime.stream_names()}
    assert counts == expected_records(account_server.account)
    states = [state for state in result.states if state.get("stream")]
    assert {state["stream"]["stream_descriptor"]["name"] for state in states} >= {"audit_logs"}
