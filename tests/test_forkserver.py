"""A command started by the fork server (tooling/forkserver.py) is what a fresh start would give.

The tests start runtime commands through it (tests/conftest.py); these check, on both runtimes,
that the child's output, exit code, environment and working directory are the command's own.
"""

import json
import os
import signal
import time

import pytest

from emulator import FaultRule
from tests.sync_helpers import RUNTIMES
from tooling import runtime
from tooling.forkserver import ForkServer


@pytest.fixture
def fresh(monkeypatch):
    """Run `fn` with commands started from fresh interpreters, as the platform starts them."""

    def call(fn):
        with monkeypatch.context() as patch:
            patch.setattr(runtime, "_fork_servers", None)
            return fn()

    return call


def test_commands_are_started_by_the_fork_server_in_the_tests():
    assert runtime._fork_servers is not None


def test_spec_is_the_same_as_from_a_fresh_start(cdk, fresh):
    forked = runtime.run("spec", {}, executable=RUNTIMES[cdk])
    started = fresh(lambda: runtime.run("spec", {}, executable=RUNTIMES[cdk]))
    assert forked.returncode == started.returncode == 0
    assert forked.of_type("SPEC") == started.of_type("SPEC") != []
    assert RUNTIMES[cdk] in runtime._fork_servers


def test_a_refused_command_exits_and_writes_as_from_a_fresh_start(cdk, fresh):
    config = {"username": "u", "password": "p"}
    # A read without --catalog: the runtime's argument parser refuses it.
    forked = runtime.run("read", config, executable=RUNTIMES[cdk])
    started = fresh(lambda: runtime.run("read", config, executable=RUNTIMES[cdk]))
    assert forked.returncode == started.returncode == 2
    assert forked.stderr.splitlines()[-1] == started.stderr.splitlines()[-1]
    assert "--catalog" in forked.stderr


@pytest.mark.parametrize("deployment_mode", ["", "cloud"])
def test_the_child_has_the_commands_environment_and_folder(
    cdk, emulator, tmp_path, deployment_mode
):
    """The server never had DEPLOYMENT_MODE; a command given `cloud` runs as the platform's cloud
    does (the emulator's plain-HTTP URL refused as insecure), with its config found
    relative to its own working directory."""
    (tmp_path / "config.json").write_text(json.dumps(emulator.connector_config()))
    args = [str(RUNTIMES[cdk]), "check", "--config", "config.json"]
    args += ["--manifest-path", str(runtime.MANIFEST_PATH)]
    assert "DEPLOYMENT_MODE" not in os.environ
    env = dict(os.environ)
    if deployment_mode:
        env["DEPLOYMENT_MODE"] = deployment_mode
    server = ForkServer(RUNTIMES[cdk])  # one of its own: started without DEPLOYMENT_MODE
    try:
        with open(tmp_path / "stderr.txt", "w+") as stderr:
            process = server.popen(args, stderr=stderr, env=env, cwd=tmp_path)
            stdout = process.stdout.read()
            process.stdout.close()
            result = runtime.parse_output(process.wait(), stdout, "")
    finally:
        server.close()
    [status] = [message["connectionStatus"] for message in result.of_type("CONNECTION_STATUS")]
    if deployment_mode:
        assert status["status"] == "FAILED"
        assert "insecure" in status["message"]
    else:
        assert status["status"] == "SUCCEEDED"
    assert result.returncode == 0


def test_a_killed_child_reports_the_signal_as_popen_does(cdk, emulator):
    emulator.faults.add(FaultRule(path_regex="^/v1/organizations$", kind="stall", stall_seconds=60))
    started = time.monotonic()
    with runtime.messages(
        "read",
        emulator.connector_config(),
        configured_catalog=runtime.catalog(["organizations"]),
        executable=RUNTIMES[cdk],
    ) as live:
        live._process.kill()
        list(live.lines())
    assert live.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 30
