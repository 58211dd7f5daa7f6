"""metadata.yaml: valid for Airbyte's registry, manifest-only, pinned to the tested runtime."""

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())


def _pinned_cdk_version() -> str:
    requirements = (ROOT / "requirements.txt").read_text()
    return re.search(r"^airbyte-cdk(?:\[[^]]*\])?==(\S+)$", requirements, re.MULTILINE).group(1)


def _without_ids(node):
    if isinstance(node, dict):
        return {key: _without_ids(value) for key, value in node.items() if key != "$id"}
    if isinstance(node, list):
        return [_without_ids(value) for value in node]
    return node


def test_metadata_validates_against_airbytes_metadata_schema():
    schema_file = resources.files("airbyte_connector_models") / (
        "metadata/v0/ConnectorMetadataDefinitionV0.json"
    )
    schema = json.loads(schema_file.read_text())
    # The bundled file inlines its sub-schemas but keeps their `$id`s, which would make its own
    # `#/properties/...` references resolve against the wrong document: drop the inner ids.
    schema = {**_without_ids(schema), "$id": schema.get("$id")}
    # Not jsonschema.validate: the shipped schema fails the meta-schema check in a part we do not
    # use (`generated.metrics` declares `type: ConnectorMetric`), so validate without that check.
    errors = [error.message for error in jsonschema.Draft7Validator(schema).iter_errors(METADATA)]
    assert errors == []


def test_metadata_declares_a_manifest_only_connector():
    data = METADATA["data"]
    assert {"language:manifest-only", "cdk:low-code"} <= set(data["tags"])
    assert data["connectorType"] == "source"
    assert (ROOT / data["icon"]).is_file()
    assert not (ROOT / "components.py").exists()


def test_base_image_is_the_runtime_the_tests_run():
    base_image = METADATA["data"]["connectorBuildOptions"]["baseImage"]
    expected = f"docker.io/airbyte/source-declarative-manifest:{_pinned_cdk_version()}"
    assert base_image.split("@")[0] == expected


def test_allowed_hosts_admit_the_configured_base_url():
    hosts = METADATA["data"]["allowedHosts"]["hosts"]
    assert "api.configcat.com" in hosts
    assert "${base_url}" in hosts


def test_metadata_carries_the_internal_levels_and_the_api_reference():
    """As Airbyte's manifest-only connectors carry them: support and quality levels, vendor docs."""
    assert set(METADATA["data"]["ab_internal"]) >= {"sl", "ql"}
    references = [
        link["url"]
        for link in METADATA["data"]["externalDocumentationUrls"]
        if link.get("type") == "api_reference"
    ]
    assert references == [
        "https://configcat.com/docs/api/reference/configcat-public-management-api/"
    ]
