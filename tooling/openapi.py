"""ConfigCat's OpenAPI document turned into JSON Schemas.

Two flavours are derived from the same document:

* strict schemas check that the emulator answers exactly as the document says: every property
  present, nothing extra, enums closed, `null` only where the document says nullable;
* stream schemas describe what the connector emits: the same properties and types, open to new
  fields and new enum values, so that ConfigCat adding a field or an enum value never breaks a sync.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

# ConfigCat's published document (openapi-generator's normalized copy, 2026-08), kept verbatim.
SPEC_PATH = Path(__file__).resolve().parent / "configcat-openapi.yaml"

# Formats that mean something to Airbyte destinations; the rest (uuid, int32, double...) are dropped
# from stream schemas because the JSON type already says all a destination uses.
KEPT_FORMATS = {"date-time", "date"}


@functools.cache
def load_spec() -> dict[str, Any]:
    return yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def component(name: str) -> dict[str, Any]:
    return load_spec()["components"]["schemas"][name]


def _ref_name(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref}")
    return ref[len(prefix) :]


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Let `schema` also accept null."""
    schema = dict(schema)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def convert(schema: dict[str, Any], *, strict: bool, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Convert an OpenAPI 3.0 schema object into a self-contained JSON Schema."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        if name in _seen:
            raise ValueError(f"recursive schema {' -> '.join((*_seen, name))}")
        return convert(component(name), strict=strict, _seen=(*_seen, name))

    nullable = schema.get("nullable", False)
    if "allOf" in schema:
        if len(schema["allOf"]) != 1:
            raise ValueError(f"allOf with {len(schema['allOf'])} members is not supported")
        result = convert(schema["allOf"][0], strict=strict, _seen=_seen)
        if "description" in schema and not strict:
            result["description"] = schema["description"]
    elif "oneOf" in schema:
        members = [convert(member, strict=strict, _seen=_seen) for member in schema["oneOf"]]
        if all(set(member) <= {"type", "format", "description"} for member in members):
            # A union of scalars (SettingValueType): a list of types says the same, and
            # destinations understand it better than oneOf.
            result = {"type": [member["type"] for member in members]}
        else:
            result = {"oneOf": members}
    else:
        result = _convert_plain(schema, strict=strict, seen=_seen)
    return _with_null(result) if nullable else result


def _convert_plain(
    schema: dict[str, Any], *, strict: bool, seen: tuple[str, ...]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "type" in schema:
        result["type"] = schema["type"]
    if not strict and schema.get("description"):
        result["description"] = " ".join(schema["description"].split())
    fmt = schema.get("format")
    if fmt and (strict or fmt in KEPT_FORMATS):
        result["format"] = fmt
    if strict:
        for keyword in ("enum", "minimum", "maximum", "maxLength", "minLength"):
            if keyword in schema:
                result[keyword] = schema[keyword]
    if schema.get("type") == "array":
        result["items"] = convert(schema.get("items", {}), strict=strict, _seen=seen)
    if schema.get("type") == "object" or "properties" in schema:
        result["type"] = "object"
        properties = schema.get("properties", {})
        result["properties"] = {
            name: convert(prop, strict=strict, _seen=seen) for name, prop in properties.items()
        }
        extra = schema.get("additionalProperties")
        if strict:
            if isinstance(extra, dict):
                result["additionalProperties"] = convert(extra, strict=True, _seen=seen)
            else:
                result["additionalProperties"] = False
            # The document lists every property as required; a nullable one is sent as null.
            result["required"] = sorted(properties)
        else:
            result["additionalProperties"] = True
    return result


def strict_response_schema(path_template: str, method: str = "get", status: str = "200") -> dict:
    """The JSON Schema that a response body of `method path_template` must satisfy exactly."""
    operation = load_spec()["paths"][path_template][method]
    content = operation["responses"][status]["content"]
    media = content.get("application/json") or next(iter(content.values()))
    schema = convert(media["schema"], strict=True)
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def stream_schema(component_name: str) -> dict[str, Any]:
    """An open JSON Schema for records shaped like the named OpenAPI component."""
    return copy.deepcopy(convert({"$ref": f"#/components/schemas/{component_name}"}, strict=False))
