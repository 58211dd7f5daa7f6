"""Stream schemas: exact, derived from ConfigCat's OpenAPI document, never drifting."""

import json

import pytest

from tooling import runtime, stream_schemas

STREAMS = runtime.stream_names()
MANIFEST = runtime.manifest()


def _objects(schema, path="$"):
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "object" in (schema.get("type") or []):
            yield path, schema
        for key, value in schema.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _objects(value, f"{path}[{index}]")


def test_stream_definitions_are_keyed_by_their_names():
    for key, stream in MANIFEST["definitions"]["streams"].items():
        assert stream["$parameters"]["name"] == key
    listed = [ref["$ref"].rsplit("/", 1)[1] for ref in MANIFEST["streams"]]
    assert listed == STREAMS


def test_one_schema_file_per_stream():
    files = {path.stem for path in stream_schemas.SCHEMAS_DIR.glob("*.json")}
    assert files == set(STREAMS)


@pytest.mark.parametrize("name", STREAMS)
def test_schema_file_and_manifest_inline_schema_are_identical(name):
    on_disk = json.loads((stream_schemas.SCHEMAS_DIR / f"{name}.json").read_text())
    assert MANIFEST["schemas"][name] == on_disk
    stream = MANIFEST["definitions"]["streams"][name]
    assert stream["schema_loader"]["schema"] == {"$ref": f"#/schemas/{name}"}


@pytest.mark.parametrize("name", STREAMS)
def test_schema_is_what_the_openapi_document_says(name):
    on_disk = json.loads((stream_schemas.SCHEMAS_DIR / f"{name}.json").read_text())
    assert on_disk == stream_schemas.build(name), "run `make schemas` to regenerate"


@pytest.mark.parametrize("name", STREAMS)
def test_every_object_is_open_to_new_fields(name):
    schema = MANIFEST["schemas"][name]
    closed = [path for path, obj in _objects(schema) if obj.get("additionalProperties") is False]
    assert closed == []
    assert schema["additionalProperties"] is True


@pytest.mark.parametrize(
    ("stream", "field"),
    [
        ("tags", "tagId"),
        ("feature_flags", "settingId"),
        ("feature_flag_values", "settingId"),
        ("stale_flags", "settingId"),
        ("permission_groups", "permissionGroupId"),
        ("product_members", "permissionGroupId"),
        ("organization_invitations", "permissionGroupId"),
        ("webhooks", "webhookId"),
        ("audit_logs", "auditLogId"),
    ],
)
def test_integer_ids_stay_integers(stream, field):
    assert MANIFEST["schemas"][stream]["properties"][field]["type"] == "integer"


def test_products_nest_their_organization():
    organization = MANIFEST["schemas"]["products"]["properties"]["organization"]
    assert organization["type"] == "object"
    assert set(organization["properties"]) == {"organizationId", "name"}


def test_nullable_fields_accept_null():
    products = MANIFEST["schemas"]["products"]["properties"]
    assert products["description"]["type"] == ["string", "null"]
    assert products["name"]["type"] == "string"


@pytest.mark.parametrize("name", STREAMS)
def test_child_records_carry_their_parent_ids(name):
    properties = MANIFEST["schemas"][name]["properties"]
    parents = {
        "organizations": set(),
        "products": set(),
        "organization_members": {"organizationId"},
        "organization_invitations": {"organizationId"},
        "audit_logs": {"organizationId"},
        "organization_limitations": {"organizationId"},
        "proxy_profiles": {"organizationId"},
        "deleted_flags": {"productId", "configId"},
        "code_references": {"productId", "configId", "settingId"},
        "feature_flags": {"productId", "configId"},
        "feature_flag_values": {"productId", "configId", "environmentId", "settingId", "key"},
        "stale_flags": {"productId", "configId", "settingId", "key"},
    }.get(name, {"productId"})
    assert parents <= set(properties)


def test_the_documented_configured_catalog_lists_every_stream():
    """`make schemas` writes it; the acceptance tests and the README's commands read it."""
    listed = json.loads(stream_schemas.CONFIGURED_CATALOG.read_text())
    assert listed == stream_schemas.configured_catalog()
    assert [entry["stream"]["name"] for entry in listed["streams"]] == runtime.stream_names()
    modes = {entry["stream"]["name"]: entry["sync_mode"] for entry in listed["streams"]}
    assert modes["audit_logs"] == "incremental"
