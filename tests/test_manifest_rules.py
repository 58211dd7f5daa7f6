"""Rules the manifest keeps that the runtime does not (yet) check for it.

- No stream group holds a stream with one of its ancestors: the CDK's rule ("a child stream must
  not share a group with its parent"), which airbyte-cdk 7.39.1 enforces for incremental streams
  only. The ancestors are the streams read through partition routers, whatever the sync mode.
- Children come before their parents in `streams:`, the order discovery and the configured
  catalog list them in: with one partition generator at a time, the first reader of a parent
  list fetches it and every later one gets it from the HTTP cache (tests/test_full_sync.py counts
  the requests).
- The manifest declares the oldest airbyte-cdk it supports, and uses no deprecated `path`.
"""

from __future__ import annotations

import warnings

from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import (
    ManifestComponentTransformer,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import (
    ManifestReferenceResolver,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from tooling import runtime

MANIFEST = runtime.manifest()
RESOLVED = ManifestComponentTransformer().propagate_types_and_parameters(
    "", ManifestReferenceResolver().preprocess_manifest(MANIFEST), {}
)
STREAMS = {stream["name"]: stream for stream in RESOLVED["streams"]}


def _parents(component) -> set[str]:
    """Names of the streams a component reads through partition routers, at any depth."""
    found: set[str] = set()
    if isinstance(component, dict):
        if component.get("type") == "ParentStreamConfig":
            parent = component["stream"]
            found.add(parent["name"])
            found |= _parents(parent)
            return found
        for value in component.values():
            found |= _parents(value)
    elif isinstance(component, list):
        for value in component:
            found |= _parents(value)
    return found


ANCESTORS = {name: _parents(stream["retriever"]) for name, stream in STREAMS.items()}


def test_the_streams_have_the_parents_the_design_says():
    assert ANCESTORS["organizations"] == ANCESTORS["products"] == set()
    assert ANCESTORS["feature_flag_values"] == {"environments", "configs", "products"}
    assert ANCESTORS["organization_members"] == {"organization_members", "organizations"}
    assert ANCESTORS["audit_logs"] == {"organizations"}


def test_no_stream_group_holds_a_stream_with_one_of_its_ancestors():
    groups = MANIFEST["stream_groups"]
    assert groups
    for group_name, group in groups.items():
        members = [entry["name"] for entry in group["streams"]]
        assert set(members) <= set(STREAMS), group_name
        for member in members:
            assert ANCESTORS[member] & set(members) == set(), (group_name, member)


def test_stream_group_entries_name_the_stream_they_refer_to():
    """The runtime matches a group's entries by their `name` key, not by the reference."""
    for group in MANIFEST["stream_groups"].values():
        for entry in group["streams"]:
            assert entry["$ref"] == f"#/definitions/streams/{entry['name']}"


def test_children_are_listed_before_their_parents():
    order = runtime.stream_names()
    for name in order:
        # Hidden parents (config_environments, change_request_summaries) are no streams.
        for ancestor in (ANCESTORS[name] - {name}) & set(order):
            assert order.index(ancestor) > order.index(name), (name, ancestor)


def test_the_manifest_declares_the_oldest_cdk_it_supports():
    assert MANIFEST["version"] == "7.23.8"
    builder_cdk = (runtime.REPO_ROOT / "requirements-builder-cdk.txt").read_text()
    assert f"airbyte-cdk[manifest-server]=={MANIFEST['version']}" in builder_cdk


def test_every_requester_names_its_endpoint_in_url():
    requesters = list(runtime.components_of_type(RESOLVED["streams"], "HttpRequester"))
    assert len(requesters) >= len(STREAMS)
    for requester in requesters:
        assert "path" not in requester
        assert requester["url"].startswith("{{ config.api_root }}/")


def test_loading_the_manifest_warns_of_nothing_deprecated_in_it():
    """1.0.0's `path` warned once per stream. (The HTTP cache's own `cache_name` warning comes
    from inside the CDK, whatever the manifest says.)"""
    config = {"username": "u", "password": "p"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        YamlDeclarativeSource(path_to_yaml=str(runtime.MANIFEST_PATH), config=config).streams(
            config
        )
    deprecations = {
        str(warning.message)
        for warning in caught
        if issubclass(warning.category, DeprecationWarning)
        and "cache_name" not in str(warning.message)
    }
    assert deprecations == set()
