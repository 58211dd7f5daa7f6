"""The Connector Builder: its backend, the CDK's manifest server, takes manifest.yaml as it is.

The server runs as the Builder runs it (`manifest-server start`, a separate process on a free
port), on both ends of the supported airbyte-cdk range: 7.39.1 (this project's, the base image's)
and 7.23.8 (the newest Airbyte platform's Builder, from .venv-builder-cdk). Each stream is
test-read as the Builder's "Test" button does, against the emulator, in both of the Builder's
modes: YAML mode reads the manifest as written, UI mode reads what the Builder's resolve (with
migration and normalization, as the webapp asks for them) returned. Each read is checked the way
the Builder rates a tested stream: a response, only successful responses, records, primary keys
present and unique.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml

from emulator import EmulatorServer, FaultRule
from emulator.routes import parse_iso
from tooling import runtime

MANIFEST = runtime.manifest()
STREAMS = MANIFEST["definitions"]["streams"]
BUILDER_CDKS = {
    "7.39.1": Path(sys.executable).parent / "manifest-server",
    "7.23.8": runtime.REPO_ROOT / ".venv-builder-cdk" / "bin" / "manifest-server",
}
# How the webapp opens a YAML: it resolves it with these flags and keeps the answer (UI mode).
BUILDER_RESOLVE_FLAGS = {"__should_migrate": True, "__should_normalize": True}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", params=list(BUILDER_CDKS), ids=lambda cdk: f"cdk-{cdk}")
def builder(request, tmp_path_factory):
    """The base URL of a running manifest server of one airbyte-cdk version. (make test runs the
    tests of each in a worker of their own, by this id: tests/conftest.py.)"""
    executable = BUILDER_CDKS[request.param]
    if not executable.exists():
        pytest.fail(f"{executable} is missing: `make test` installs requirements-builder-cdk.txt")
    workdir = tmp_path_factory.mktemp("manifest-server")
    port = _free_port()
    env = {**os.environ, "REQUEST_CACHE_PATH": str(workdir / "request-cache")}
    env.pop("AB_JWT_SIGNATURE_SECRET", None)  # set, it would require a bearer token
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(executable), "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"manifest-server exited: {log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/health/", timeout=2).json() == {"status": "ok"}:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"manifest-server did not answer: {log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def testing_values(account_server):
    """The Builder's testing values: the emulator's credential, and an audit log start date.

    The start date is the one value a Builder user must set: the audit log is read in 28-day
    windows from the oldest (750 days back by default), and a test read stops after 5 slices.
    """
    newest = max(
        parse_iso(item["auditLogDateTime"])
        for items in account_server.account.audit_logs.values()
        for item in items
    )
    start = (newest - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return account_server.connector_config(start_date=start)


def _post(builder: str, endpoint: str, payload: dict) -> requests.Response:
    return requests.post(f"{builder}/v1/manifest/{endpoint}", json=payload, timeout=300)


@pytest.fixture(scope="module")
def ui_manifest(builder):
    """The manifest of the Builder's UI mode: what resolve answers with the webapp's flags."""
    response = _post(builder, "resolve", {"manifest": {**MANIFEST, **BUILDER_RESOLVE_FLAGS}})
    assert response.status_code == 200, response.text[:2000]
    return response.json()["manifest"]


@pytest.fixture(scope="module")
def builder_read(builder, ui_manifest, testing_values):
    """The Builder's test read of one stream in one mode, with its default limits; each once."""
    manifests = {"yaml": MANIFEST, "ui": ui_manifest}
    results: dict[tuple[str, str], requests.Response] = {}

    def read(stream: str, mode: str = "yaml") -> requests.Response:
        if (stream, mode) not in results:
            results[stream, mode] = _post(
                builder,
                "test_read",
                {
                    "manifest": manifests[mode],
                    "config": testing_values,
                    "stream_name": stream,
                    "state": [],
                    "custom_components_code": None,
                    "record_limit": 100,
                    "page_limit": 5,
                    "slice_limit": 5,
                },
            )
        return results[stream, mode]

    return read


@pytest.mark.parametrize("mode", ["yaml", "ui"])
@pytest.mark.parametrize("stream", runtime.stream_names())
def test_every_stream_test_reads_records_without_error(builder_read, stream, mode):
    response = builder_read(stream, mode)
    assert response.status_code == 200, response.text[:2000]
    result = response.json()
    errors = [log["message"] for log in result["logs"] if log["level"] == "ERROR"]
    assert errors == []

    pages = [page for slice_ in result["slices"] for page in slice_["pages"]]
    requests_made = [page["response"] for page in pages if page["response"]] + [
        auxiliary["response"] for auxiliary in result["auxiliary_requests"]
    ]
    assert requests_made, "hasResponse"
    assert {response["status"] for response in requests_made} == {200}, "responsesAreSuccessful"
    records = [record for page in pages for record in page["records"]]
    assert records, "hasRecords"
    primary_key = STREAMS[stream]["primary_key"]
    assert all(record.get(field) is not None for record in records for field in primary_key), (
        "primaryKeysArePresent"
    )
    keys = Counter(tuple(record[field] for field in primary_key) for record in records)
    assert [key for key, count in keys.items() if count > 1] == [], "primaryKeysAreUnique"


@pytest.mark.parametrize("stream", runtime.stream_names())
def test_every_field_the_builder_detects_is_declared(builder_read, stream):
    """With hand-written schemas the Builder warns when its detected schema has more fields."""
    response = builder_read(stream)
    assert response.status_code == 200, response.text[:2000]
    detected = response.json()["inferred_schema"]["properties"]
    declared = MANIFEST["schemas"][stream]["properties"]
    assert set(detected) - set(declared) == set()


def test_resolve_accepts_the_manifest_unchanged(builder):
    response = _post(builder, "resolve", {"manifest": MANIFEST})
    assert response.status_code == 200, response.text[:2000]
    resolved = response.json()["manifest"]
    assert [stream["name"] for stream in resolved["streams"]] == runtime.stream_names()
    assert resolved["spec"] == MANIFEST["spec"]
    assert resolved["check"] == MANIFEST["check"]
    for stream in resolved["streams"]:
        assert stream["schema_loader"]["schema"] == MANIFEST["schemas"][stream["name"]]


def test_ui_mode_keeps_every_endpoint_in_url_with_the_base_intact(ui_manifest):
    """The migration rewrites a deprecated `path` into `url`; once it mangled the base URL."""
    requesters = list(runtime.components_of_type(ui_manifest["streams"], "HttpRequester"))
    assert len(requesters) >= len(STREAMS)
    for requester in requesters:
        assert "path" not in requester
        assert requester["url"].startswith("{{ config.api_root }}/")


def test_check_succeeds_with_the_testing_values(builder, testing_values):
    response = _post(builder, "check", {"manifest": MANIFEST, "config": testing_values})
    assert response.status_code == 200, response.text[:2000]
    assert response.json() == {"success": True, "message": None}


def test_check_names_the_credential_when_it_is_wrong(builder, testing_values):
    config = {**testing_values, "password": "not-the-password"}
    response = _post(builder, "check", {"manifest": MANIFEST, "config": config})
    assert response.status_code == 200, response.text[:2000]
    result = response.json()
    assert result["success"] is False
    assert "Public API credential" in result["message"]
    assert "not-the-password" not in response.text


def test_discover_lists_every_stream_with_its_key_and_schema(builder, testing_values):
    response = _post(builder, "discover", {"manifest": MANIFEST, "config": testing_values})
    assert response.status_code == 200, response.text[:2000]
    streams = {stream["name"]: stream for stream in response.json()["catalog"]["streams"]}
    assert list(streams) == runtime.stream_names()
    for name, stream in streams.items():
        assert stream["source_defined_primary_key"] == [
            [field] for field in STREAMS[name]["primary_key"]
        ]
        assert stream["json_schema"]["properties"] == MANIFEST["schemas"][name]["properties"]
    assert streams["audit_logs"]["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert streams["audit_logs"]["default_cursor_field"] == ["auditLogDateTime"]


def _duplicate_keys(node: yaml.Node, path: str = "") -> list[str]:
    found = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                found.append(f"{path}/{key.value} (line {key.start_mark.line + 1})")
            seen.add(key.value)
            found += _duplicate_keys(value, f"{path}/{key.value}")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, f"{path}/{index}")
    return found


def test_manifest_has_no_duplicate_keys():
    """The Builder's YAML editor refuses a repeated key; Python's YAML keeps the last silently."""
    assert _duplicate_keys(yaml.compose(runtime.MANIFEST_PATH.read_text())) == []


def test_metadata_tells_the_builder_that_every_schema_is_hand_written():
    """Without it the Builder may replace a stream's schema with one detected from a test read."""
    metadata = MANIFEST.get("metadata") or {}
    assert metadata.get("autoImportSchema") == dict.fromkeys(runtime.stream_names(), False)


# -- a partition answering 404, a request meeting one 5xx: the test read still succeeds --------

# Top-level lists have no partition: a 404 there fails by design (not_configcat).
TOP_LEVEL = {"organizations", "products"}


def endpoint_regex(stream: str) -> str:
    """The requests of a stream's own endpoint (not its parents'), from its `$parameters.url`."""
    url = STREAMS[stream]["$parameters"]["url"]
    path = url.replace("{{ config.api_root }}", "")
    parts = re.split(r"\{\{.*?\}\}", path, flags=re.DOTALL)
    return "^" + "[^/?]+".join(re.escape(part.strip()) for part in parts) + r"(\?|$)"


def read_with_one_fault(builder, start_date: str, stream: str, kind: str) -> tuple:
    """The Builder's test read of `stream` against an emulator of its own, whose first request to
    the stream's own endpoint answers `kind`; the read's result, and whether the fault was met."""
    with EmulatorServer() as server:
        rule = server.faults.add(FaultRule(path_regex=endpoint_regex(stream), kind=kind, times=1))
        response = _post(
            builder,
            "test_read",
            {
                "manifest": MANIFEST,
                "config": server.connector_config(start_date=start_date),
                "stream_name": stream,
                "state": [],
                "custom_components_code": None,
                "record_limit": 100,
                "page_limit": 5,
                "slice_limit": 5,
            },
        )
        return response, server.faults.remaining(rule) == 0


@pytest.mark.parametrize(
    ("kind", "streams"),
    [
        ("404", [name for name in runtime.stream_names() if name not in TOP_LEVEL]),
        ("500", runtime.stream_names()),
    ],
)
def test_a_test_read_meeting_a_404_partition_or_a_5xx_shows_the_manifests_words(
    builder, testing_values, kind, streams
):
    """On 7.23.8 a message naming `request_url` made the first 5xx or skipped partition stop the
    read with "An unexpected error occurred". A test read runs without retries (the CDK passes
    `disable_retries` when it has test limits, 7.23.8 and 7.39.1 alike), so a 5xx ends that
    read, with the manifest's message; a 404 partition is skipped, and the read goes on.
    Streams are read at once (the manifest server answers test reads in a thread pool), each
    against its own emulator, so no other stream's read uses up its fault."""
    start_date = testing_values["start_date"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {
            stream: pool.submit(read_with_one_fault, builder, start_date, stream, kind)
            for stream in streams
        }
        outcomes = {stream: future.result() for stream, future in futures.items()}
    wrong = {}
    for stream, (response, met) in outcomes.items():
        if response.status_code != 200 or not met:
            wrong[stream] = (response.status_code, met, response.text[:500])
            continue
        result = response.json()
        errors = [log["message"] for log in result["logs"] if log["level"] == "ERROR"]
        records = [r for s in result["slices"] for p in s["pages"] for r in p["records"]]
        messages = [log["message"] for log in result["logs"]]
        skipped = [message for message in messages if message.startswith("Skipped")]
        if kind == "404":
            # A test read's logs hold no INFO line (the skip line is logged, not emitted as a
            # message): the 404 page, no error, and the other partitions' records show the skip.
            # The skip message is rendered when the filter acts, so a message that cannot render
            # would have ended the read with an error.
            # (organization_members' own endpoint is its parents' too: their requests are the
            # read's auxiliary requests.)
            statuses = [p["response"]["status"] for s in result["slices"] for p in s["pages"]]
            statuses += [a["response"]["status"] for a in result["auxiliary_requests"]]
            if errors or not records or 404 not in statuses or skipped:
                wrong[stream] = (errors, len(records), statuses, skipped)
        else:
            failed = (
                "Exhausted available request attempts. Please see logs for more details."
                f" Exception: ConfigCat kept failing for stream {stream} (HTTP 408 or 5xx) after"
                " every retry; try the sync again later."
            )
            if errors != [failed] or skipped:
                wrong[stream] = (errors, skipped)
    assert wrong == {}
