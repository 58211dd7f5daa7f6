"""Stream schemas, derived from ConfigCat's OpenAPI document.

Each stream's schema is the OpenAPI model of the items it reads, plus the parent ids the connector
adds to every record. `python -m tooling.stream_schemas` writes them to `schemas/*.json` and into
the `schemas:` section of `manifest.yaml`; the tests check that both match what it derives.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from tooling import runtime
from tooling.openapi import stream_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = REPO_ROOT / "schemas"
MANIFEST_PATH = REPO_ROOT / "manifest.yaml"
SCHEMAS_SECTION = "\nschemas:\n"
CONFIGURED_CATALOG = REPO_ROOT / "integration_tests" / "configured_catalog.json"

UUID = {"type": "string"}
ORGANIZATION_ID = {
    **UUID,
    "description": "Identifier of the Organization (added by the connector).",
}
PRODUCT_ID = {**UUID, "description": "Identifier of the Product (added by the connector)."}
CONFIG_ID = {**UUID, "description": "Identifier of the Config (added by the connector)."}
ENVIRONMENT_ID = {**UUID, "description": "Identifier of the Environment (added by the connector)."}


def _with(component: str, **added: dict[str, Any]) -> dict[str, Any]:
    schema = stream_schema(component)
    schema["properties"].update(added)
    return schema


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """A schema accepting what either object schema accepts (properties of both)."""
    merged = copy.deepcopy(left)
    for name, prop in right["properties"].items():
        mine = merged["properties"].get(name)
        if mine is None or mine == prop:
            merged["properties"][name] = copy.deepcopy(prop)
        elif mine.get("type") == "object" and prop.get("type") == "object":
            merged["properties"][name] = _merge(mine, prop)
        else:
            raise ValueError(f"property {name} differs between the merged models")
    return merged


def organization_members() -> dict[str, Any]:
    schema = _with(
        "OrganizationMemberModel",
        organizationId=ORGANIZATION_ID,
        role={
            "type": "string",
            "description": "Which list of the v2 members response the person is in: "
            "`admin` (admins), `billingManager` (billingManagers) or `member` (members).",
        },
    )
    permissions = schema["properties"]["permissions"]
    permissions["description"] = (
        "Product permissions of a member; absent for admins and billing managers."
    )
    return schema


def feature_flag_values() -> dict[str, Any]:
    v1 = stream_schema("ConfigSettingValueModel")
    v2 = stream_schema("ConfigSettingFormulaModel")
    # The setting object of v2 is v1's plus predefinedVariations.
    v1["properties"].pop("setting")
    schema = _merge(v2, v1)
    schema["description"] = (
        "The value of one feature flag or setting in one environment: ConfigSettingValueModel for "
        "configs with evaluationVersion v1, ConfigSettingFormulaModel for v2."
    )
    schema["properties"].update(
        productId=PRODUCT_ID,
        configId=CONFIG_ID,
        environmentId=ENVIRONMENT_ID,
        evaluationVersion={
            "type": "string",
            "description": "Evaluation version of the config (v1 or v2): says which of the "
            "v1 fields (value, rolloutRules, rolloutPercentageItems) or v2 fields (defaultValue, "
            "targetingRules, percentageEvaluationAttribute...) the record carries.",
        },
        settingId={"type": "integer", "description": "Identifier of the Feature Flag or Setting."},
        key={"type": "string", "description": "Key of the Feature Flag or Setting."},
    )
    return schema


def webhooks() -> dict[str, Any]:
    schema = _with("WebhookResponseModel", productId=PRODUCT_ID)
    header = schema["properties"]["webHookHeaders"]["items"]["properties"]
    header["value"] = {
        "type": ["string", "null"],
        "description": "The header value; null when isSecure is true (secrets are not synced).",
    }
    return schema


def integrations() -> dict[str, Any]:
    schema = _with("IntegrationModel", productId=PRODUCT_ID)
    schema["properties"]["parameters"] = {
        "type": ["object", "null"],
        "description": "Names of the integration's parameters. Their values may hold API keys, so "
        "every value is synced as null.",
        "additionalProperties": {"type": "null"},
    }
    return schema


def stale_flags() -> dict[str, Any]:
    return _with(
        "StaleFlagSettingModel",
        productId=PRODUCT_ID,
        configId=CONFIG_ID,
        configName={
            "type": "string",
            "description": "Name of the Config (added by the connector).",
        },
        evaluationVersion={"type": "string", "description": "Evaluation version of the Config."},
    )


def audit_logs() -> dict[str, Any]:
    return _with("AuditLogItemModel", organizationId=ORGANIZATION_ID)


def proxy_profiles() -> dict[str, Any]:
    schema = _with("ProxyProfileModel", organizationId=ORGANIZATION_ID)
    preferences = schema["properties"]["connectionPreferences"]["properties"]
    notification = preferences["webhookNotification"]["properties"]
    for key in ("signingKey1", "signingKey2"):
        notification[key] = {
            "type": "null",
            "description": "A signing key of the Proxy's webhook: a secret, always synced as null.",
        }
    return schema


def code_references() -> dict[str, Any]:
    return _with(
        "CodeReferenceModel",
        settingId={
            "type": "integer",
            "description": "Identifier of the Feature Flag or Setting (added by the connector).",
        },
        configId=CONFIG_ID,
        productId=PRODUCT_ID,
    )


STREAM_SCHEMAS = {
    "organizations": lambda: stream_schema("OrganizationModel"),
    "organization_members": organization_members,
    "organization_invitations": lambda: _with(
        "OrganizationInvitationModel", organizationId=ORGANIZATION_ID
    ),
    "products": lambda: stream_schema("ProductModel"),
    "tags": lambda: _with("TagModel", productId=PRODUCT_ID),
    "environments": lambda: _with("EnvironmentModel", productId=PRODUCT_ID),
    "configs": lambda: _with("ConfigModel", productId=PRODUCT_ID),
    "feature_flags": lambda: _with("SettingModel", productId=PRODUCT_ID),
    "feature_flag_values": feature_flag_values,
    "segments": lambda: _with("SegmentListModel", productId=PRODUCT_ID),
    "permission_groups": lambda: _with("PermissionGroupModel", productId=PRODUCT_ID),
    "product_members": lambda: stream_schema("MemberModel"),
    "webhooks": webhooks,
    "integrations": integrations,
    "stale_flags": stale_flags,
    "audit_logs": audit_logs,
    "organization_limitations": lambda: _with(
        "OrganizationLimitations", organizationId=ORGANIZATION_ID
    ),
    "proxy_profiles": proxy_profiles,
    "product_preferences": lambda: _with("PreferencesModel", productId=PRODUCT_ID),
    "product_invitations": lambda: _with("InvitationModel", productId=PRODUCT_ID),
    "deleted_flags": lambda: _with("DeletedSettingModel", configId=CONFIG_ID, productId=PRODUCT_ID),
    "code_references": code_references,
    "change_requests": lambda: _with("ChangeRequestModel", productId=PRODUCT_ID),
}


def build(name: str) -> dict[str, Any]:
    schema = STREAM_SCHEMAS[name]()
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def manifest_streams() -> list[str]:
    manifest = yaml.safe_load(MANIFEST_PATH.read_text())
    return list(manifest["definitions"]["streams"])


def write() -> None:
    names = [name for name in STREAM_SCHEMAS if name in set(manifest_streams())]
    SCHEMAS_DIR.mkdir(exist_ok=True)
    for stale in SCHEMAS_DIR.glob("*.json"):
        if stale.stem not in names:
            stale.unlink()
    schemas = {name: build(name) for name in names}
    for name, schema in schemas.items():
        (SCHEMAS_DIR / f"{name}.json").write_text(json.dumps(schema, indent=2) + "\n")
    text = MANIFEST_PATH.read_text()
    head = text.split(SCHEMAS_SECTION, 1)[0]
    body = yaml.safe_dump(schemas, sort_keys=False, width=100, allow_unicode=True)
    indented = "".join(f"  {line}" if line.strip() else line for line in body.splitlines(True))
    MANIFEST_PATH.write_text(f"{head}{SCHEMAS_SECTION}{indented}")
    CONFIGURED_CATALOG.write_text(json.dumps(configured_catalog(), indent=2))


def configured_catalog() -> dict[str, Any]:
    """Every stream of the manifest, in its order; incremental where the stream can be."""
    streams = yaml.safe_load(MANIFEST_PATH.read_text())["definitions"]["streams"]
    incremental = {name for name, stream in streams.items() if "incremental_sync" in stream}
    return runtime.catalog(incremental=incremental)


if __name__ == "__main__":
    write()
    print(f"wrote {len(list(SCHEMAS_DIR.glob('*.json')))} schemas", file=sys.stderr)
