"""What the lower bounds need from a manifest: its concurrency, its deepest parent chain and its
own pacing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.sources.declarative.concurrency_level import ConcurrencyLevel
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    HTTPAPIBudget as HTTPAPIBudgetModel,
)
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import (
    ManifestComponentTransformer,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import (
    ManifestReferenceResolver,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import (
    ModelToComponentFactory,
)

from emulator.routes import ROUTES
from tooling import runtime

# The CDK's worker count when a manifest has no `concurrency_level`
# (ConcurrentDeclarativeSource._LOWEST_SAFE_CONCURRENCY_LEVEL).
CDK_DEFAULT_CONCURRENCY = 2


@dataclass(frozen=True)
class Concurrency:
    workers: int
    source: str  # how the figure was found, for the report


@dataclass(frozen=True)
class ParentChain:
    depth: int  # streams in the longest chain, the stream itself included
    chain: list[str]  # that chain, child first


@dataclass(frozen=True)
class ClientBudget:
    """At most `per_second` requests in any `second` seconds and `per_minute` in any `minute`
    (0 = no such rate)."""

    per_second: int = 0
    second: float = 1.0
    per_minute: int = 0
    minute: float = 60.0


def resolve(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the CDK sees it: `$ref`s replaced, `$parameters` (e.g. `name`) propagated.

    The same two steps as ConcurrentDeclarativeSource._pre_process_manifest.
    """
    resolved = ManifestReferenceResolver().preprocess_manifest(
        {"type": "DeclarativeSource", **manifest}
    )
    return ManifestComponentTransformer().propagate_types_and_parameters("", resolved, {})


def concurrency(manifest: dict[str, Any], config: dict[str, Any]) -> Concurrency:
    """The worker count the runtime will use with this config.

    `concurrency_level.default_concurrency` is an int, or an interpolation of the config that the
    CDK evaluates (capped by `max_concurrency`); without the block the CDK uses 2 workers.
    """
    block = resolve(manifest).get("concurrency_level")
    if not block:
        return Concurrency(CDK_DEFAULT_CONCURRENCY, "no concurrency_level: CDK default")
    default = block.get("default_concurrency")
    maximum = block.get("max_concurrency")
    try:
        workers = ConcurrencyLevel(
            default_concurrency=default, max_concurrency=maximum, config=config, parameters={}
        ).get_concurrency_level()
    except Exception as error:  # an interpolation we cannot evaluate: take its literal default
        found = re.search(r"config\.get\(\s*['\"]\w+['\"]\s*,\s*(\d+)\s*\)", str(default))
        if not found:
            raise ValueError(f"cannot evaluate default_concurrency {default!r}") from error
        workers = int(found.group(1))
        if maximum:
            workers = min(workers, int(maximum))
    return Concurrency(
        int(workers), f"concurrency_level: default_concurrency={default!r}, max={maximum}"
    )


def _parent_streams(stream: dict[str, Any]) -> list[dict[str, Any]]:
    parents = []
    parent_stream = (stream.get("incremental_sync") or {}).get("parent_stream")
    if parent_stream:
        parents.append(parent_stream)
    router = (stream.get("retriever") or {}).get("partition_router")
    routers = list(router) if isinstance(router, list) else [router]
    while routers:
        current = routers.pop()
        if not isinstance(current, dict):
            continue
        parents += [config["stream"] for config in current.get("parent_stream_configs") or []]
        routers += current.get("partition_routers") or []
        routers += current.get("stream_slicers") or []
        if current.get("underlying_partition_router"):
            routers.append(current["underlying_partition_router"])
    return parents


def _longest_chain(stream: dict[str, Any]) -> list[str]:
    chains = [_longest_chain(parent) for parent in _parent_streams(stream)]
    return [stream.get("name", "?")] + max(chains, key=len, default=[])


def parent_chain(manifest: dict[str, Any]) -> ParentChain:
    """The longest chain of SubstreamPartitionRouter parents among the manifest's streams.

    A stream without a parent has depth 1 (organizations, products); a child of products 2
    (tags, configs); feature_flag_values goes through config_environments, configs and products: 4.
    """
    chains = [_longest_chain(stream) for stream in resolve(manifest).get("streams", [])]
    longest = max(chains, key=len, default=[])
    return ParentChain(len(longest), longest)


def stream_names(manifest: dict[str, Any]) -> list[str]:
    return [stream["name"] for stream in resolve(manifest).get("streams", [])]


def endpoints_read(manifest: dict[str, Any], streams: list[str]) -> set[str]:
    """The emulator's route templates that these streams request, their parents' included."""
    templates = set()
    for stream in resolve(manifest).get("streams", []):
        if stream["name"] not in streams:
            continue
        for requester in runtime.components_of_type(stream, "HttpRequester"):
            # `{{ config.api_root }}/v1/products/{{ stream_partition.productId }}/tags` matches
            # /v1/products/{productId}/tags; a template in a segment matches any segment.
            path = re.sub(
                r"^\{\{\s*config\.api_root\s*\}\}", "", " ".join(requester["url"].split())
            )
            pattern = re.sub(r"\{\{.*?\}\}", "[^/]+", path)
            templates |= {t for t in ROUTES if re.fullmatch(pattern, t)}
    return templates


def client_budget(manifest: dict[str, Any], config: dict[str, Any]) -> ClientBudget:
    """The manifest's own pacing with this config, its rates built as the runtime builds them.

    A moving-window rate shorter than a minute paces like ConfigCat's per-second limit, one of
    a minute or longer like its per-minute limit; of two in one class, the lower limit counts.
    """
    definition = resolve(manifest).get("api_budget")
    if not definition:
        return ClientBudget()
    factory = ModelToComponentFactory()
    rates = [
        (rate.limit, rate.interval.total_seconds())
        for policy in HTTPAPIBudgetModel.parse_obj(definition).policies
        for rate in (factory.create_rate(model, config) for model in getattr(policy, "rates", []))
    ]
    short = min(((limit, s) for limit, s in rates if s < 60), default=(0, 1.0))
    long = min(((limit, s) for limit, s in rates if s >= 60), default=(0, 60.0))
    return ClientBudget(*short, *long)
