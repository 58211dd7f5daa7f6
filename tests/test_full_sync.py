"""A full sync of every stream with the stock runtime against the emulator, at several seeds.

Expected records are computed from the emulator's account, never copied from a sync.
"""

import functools
import json
from collections import Counter

import jsonschema
import pytest

from bench.endpoints import analyse
from emulator import DEFAULT_PASSWORD, EmulatorServer
from tests.expectations import expected_records
from tooling import runtime

SEEDS = (1, 2, 3)
MANIFEST = runtime.manifest()


def undeclared_fields(value, schema, path="") -> list[str]:
    """Paths in `value` that `schema` does not declare (additionalProperties aside)."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = []
        for key, item in value.items():
            if key in properties:
                missing += undeclared_fields(item, properties[key], f"{path}.{key}")
            elif not isinstance(schema.get("additionalProperties"), dict):
                missing.append(f"{path}.{key}")
        return missing
    if isinstance(value, list):
        return [p for item in value for p in undeclared_fields(item, schema.get("items", {}), path)]
    return []


@functools.cache
def full_sync(seed: int, executable=runtime.RUNTIME):
    """A full sync of a fresh emulator at `seed`, done once per test process and shared by every
    test that only inspects its output. The server is stopped; its account and request log
    stay readable."""
    with EmulatorServer(seed=seed) as server:
        result = runtime.run(
            "read",
            server.connector_config(),
            configured_catalog=runtime.catalog(),
            executable=executable,
        )
    return server, result


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def synced(request):
    return full_sync(request.param)


def test_output_lines_split_at_newlines_only():
    """Free text may hold U+2028 and the like raw (the runtime writes JSON without escaping
    them); a reader that split there would drop the record."""
    record = {"type": "RECORD", "record": {"stream": "s", "data": {"why": "a\u2028b\x85c\x1ed"}}}
    stdout = json.dumps(record, ensure_ascii=False) + "\n" + json.dumps(record) + "\n"
    result = runtime.parse_output(0, stdout, "")
    assert result.records == {"s": [record["record"]["data"]] * 2}


def test_sync_succeeds(synced):
    _, result = synced
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.errors == []


def test_every_record_is_delivered_once(synced):
    server, result = synced
    counts = {name: len(result.records.get(name, [])) for name in runtime.stream_names()}
    assert counts == expected_records(server.account)
    for name, stream in MANIFEST["definitions"]["streams"].items():
        keys = Counter(
            tuple(record[field] for field in stream["primary_key"])
            for record in result.records.get(name, [])
        )
        assert [key for key, count in keys.items() if count > 1] == [], name


@pytest.mark.parametrize("stream", runtime.stream_names())
def test_records_validate_against_their_schema(synced, stream):
    _, result = synced
    validator = jsonschema.Draft7Validator(MANIFEST["schemas"][stream])
    for record in result.records[stream]:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record)]
        assert errors == [], json.dumps(record)[:500]


@pytest.mark.parametrize("stream", runtime.stream_names())
def test_every_field_the_api_returns_is_in_the_schema(synced, stream):
    _, result = synced
    schema = MANIFEST["schemas"][stream]
    undeclared = {p for r in result.records[stream] for p in undeclared_fields(r, schema)}
    assert undeclared == set()


def test_no_request_is_answered_with_an_error(synced):
    server, _ = synced
    failed = [(e.path, e.status) for e in server.request_log if e.status >= 400]
    assert failed == []
    assert all(entry.template for entry in server.request_log)


def known_extra(account) -> dict[str, int]:
    """The one known cost above the minimum: feature_flags is not cached (see the manifest), so
    code_references reads each config's flags again as its parent."""
    return {"/v1/configs/{configId}/settings": len(account.configs_by_id)}


def test_every_endpoint_gets_exactly_the_requests_its_data_needs(synced):
    """Each parent list is fetched once and served from the HTTP cache to every other reader.

    This rests on the order of `streams:` and on the runtime's cache (tests/test_manifest_rules.py);
    a runtime change that breaks either fails here.
    """
    server, _ = synced
    figures = analyse(server, server.request_log)
    extra = {row.template: row.sent - row.minimum for row in figures.endpoints if row.extra}
    assert extra == known_extra(server.account)


def test_the_oldest_supported_cdk_syncs_the_same_records_with_the_same_requests():
    """airbyte-cdk 7.23.8, the Builder's, against this project's 7.39.1 on the same account (each
    sync on a fresh emulator of seed 1; the 7.39.1 one is the sync the tests above inspect)."""
    results = {}
    for executable in (runtime.RUNTIME, runtime.OLDEST_RUNTIME):
        server, result = full_sync(SEEDS[0], executable)
        assert result.returncode == 0, result.stderr[-2000:]
        figures = analyse(server, server.request_log)
        extra = {row.template: row.sent - row.minimum for row in figures.endpoints if row.extra}
        assert extra == known_extra(server.account)
        results[executable] = {
            name: sorted(json.dumps(record, sort_keys=True) for record in records)
            for name, records in result.records.items()
        }
    newest, oldest = results.values()
    assert set(newest) == set(runtime.stream_names())
    assert oldest == newest


def test_flag_values_are_read_from_the_endpoint_of_the_configs_evaluation_version(synced):
    server, result = synced
    account = server.account
    for record in result.records["feature_flag_values"]:
        config = account.configs_by_id[record["configId"]]
        assert record["evaluationVersion"] == config["evaluationVersion"]
        environment = account.environments_by_id[record["environmentId"]]
        assert environment["product"]["productId"] == config["product"]["productId"]
        assert record["productId"] == config["product"]["productId"]
        if config["evaluationVersion"] == "v1":
            assert "value" in record and "defaultValue" not in record
        else:
            assert "defaultValue" in record and "value" not in record


def test_members_are_listed_once_per_role(synced):
    server, result = synced
    expected = set()
    for organization_id, members in server.account.organization_members.items():
        for role, people in (
            ("admin", members["admins"]),
            ("billingManager", members["billingManagers"]),
            ("member", members["members"]),
        ):
            expected |= {(organization_id, role, person["userId"]) for person in people}
    synced_keys = {
        (r["organizationId"], r["role"], r["userId"])
        for r in result.records["organization_members"]
    }
    assert synced_keys == expected
    for record in result.records["organization_members"]:
        assert ("permissions" in record) == (record["role"] == "member")


def test_no_secret_appears_in_the_output(synced):
    server, result = synced
    output = result.stdout + result.stderr
    secrets = [*server.account.secrets(), DEFAULT_PASSWORD]
    assert len(secrets) > 10
    assert [secret for secret in secrets if secret in output] == []


def test_secret_values_are_synced_as_null_but_their_names_are_kept(synced):
    server, result = synced
    headers = [h for w in result.records["webhooks"] for h in w["webHookHeaders"]]
    assert {h["isSecure"] for h in headers} == {True, False}
    for header in headers:
        assert (header["value"] is None) == header["isSecure"]
    with_parameters = [i for i in result.records["integrations"] if i.get("parameters")]
    assert with_parameters
    for integration in with_parameters:
        assert set(integration["parameters"].values()) == {None}
