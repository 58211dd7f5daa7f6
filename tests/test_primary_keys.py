"""Every stream's primary key names one record, at every scale and shape of the emulator.

Two checks of the same property (no key twice in a full sync):

* the stock runtime syncs every stream at the shapes of a few hundred requests (`RUNTIME_SCALES`);
* at the scales where a sync takes minutes (`DERIVED_SCALES`: 2,300 and 22,000 requests), the
  records are derived instead: `ManifestReader` reads the manifest (its partition routers,
  URLs, request parameters, pagination, record selectors and `AddFields`, interpolated by the
  airbyte-cdk's own Jinja) and asks the emulator's routes in-process, without HTTP or pacing.
  It keeps only the key fields of each record. On the runtime's shapes it must derive exactly the
  keys the runtime synced, so it cannot drift from what the connector does unnoticed.

ConfigCat's `codeReferenceId` names a reference report, which covers many flags (OpenAPI:
`CodeReferenceModel`, `CodeReferenceRequest`): every account here serves each report under every
flag it covers (`reports_span_flags`), as the API does.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import dpath
import isodate
import pytest
from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import (
    ManifestComponentTransformer,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import (
    ManifestReferenceResolver,
)
from airbyte_cdk.sources.types import StreamSlice

from emulator import Account, EmulatorServer, build_account
from emulator.account import AUDIT_LOG_RETENTION_DAYS
from emulator.routes import ROUTES, Api, match_route
from emulator.scales import SCALES
from tooling import runtime

RUNTIME_SCALES = ("small", "many-flags", "many-products")
DERIVED_SCALES = ("medium", "large")
# The emulator applies no rate limit unless asked; the connector's own pacing is raised as far
# as its spec allows, so that the runtime's syncs are not paced either.
UNPACED = {"requests_per_second": 100, "requests_per_minute": 6000}

JINJA = JinjaInterpolation()


def test_every_scale_is_checked():
    assert set(RUNTIME_SCALES) | set(DERIVED_SCALES) == set(SCALES)


# -- the accounts ---------------------------------------------------------------------------------


def reports_span_flags(account: Account) -> Account:
    """Serve one `codeReferenceId` per report, under every flag the report covers.

    A report is one upload (`CodeReferenceRequest`): a config, a repository, a branch, a commit.
    If the seeded account already repeats report ids across flags, it is left as it is.
    """
    seen: Counter = Counter(
        reference["codeReferenceId"]
        for references in account.code_references.values()
        for reference in references
    )
    if any(count > 1 for count in seen.values()):
        return account
    config_of = {
        setting["settingId"]: config_id
        for config_id, settings in account.settings.items()
        for setting in settings
    }
    for setting_id, references in account.code_references.items():
        for reference in references:
            upload = (
                config_of[setting_id],
                reference["repository"],
                reference["branch"],
                reference["commitHash"],
            )
            reference["codeReferenceId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, repr(upload)))
    return account


def account_of(scale: str) -> Account:
    account = reports_span_flags(build_account(1, scale))
    reports = Counter(
        reference["codeReferenceId"]
        for references in account.code_references.values()
        for reference in references
    )
    # The case the key is for: a report under two flags or more.
    assert max(reports.values()) > 1
    return account


def repeated(keys: list[tuple]) -> list[tuple]:
    return sorted((key for key, count in Counter(keys).items() if count > 1), key=repr)


# -- the manifest, read against the emulator's routes ---------------------------------------------


def resolved_streams() -> dict[str, dict]:
    """The manifest's streams with references resolved and parameters propagated, by name."""
    resolved = ManifestReferenceResolver().preprocess_manifest(runtime.manifest())
    propagated = ManifestComponentTransformer().propagate_types_and_parameters("", resolved, {})
    return {stream["$parameters"]["name"]: stream for stream in propagated["streams"]}


def dpath_get(body: Any, path: list[str]) -> Any:
    """`dpath.get(body, path, default=[])` for a path of object keys, each maybe a glob: one
    match per segment, no match gives []. dpath walks the whole body to match a glob, which the
    large scale's 2,400 flag value answers make slow."""
    for segment in path:
        if not isinstance(body, dict):
            return []
        matches = [key for key in body if fnmatchcase(key, segment)]
        if not matches:
            return []
        assert len(matches) == 1, (segment, matches)  # dpath.get raises on more than one
        body = body[matches[0]]
    return body


def _identity(stream: dict) -> str:
    return json.dumps({k: v for k, v in stream.items() if k != "schema_loader"}, sort_keys=True)


class ManifestReader:
    """The key fields of the records a full sync of a stream emits, derived from the manifest.

    It supports what the manifest uses: SimpleRetriever, SubstreamPartitionRouter (parent key,
    partition field, extra fields), a DatetimeBasedCursor's windows, request parameters,
    DefaultPaginator with CursorPagination, DpathExtractor (with RecordExpander) and AddFields.
    Anything else fails the test, so that a manifest change cannot be silently misread.
    """

    def __init__(self, account: Account, config: dict[str, Any]) -> None:
        self.api = Api(account, AUDIT_LOG_RETENTION_DAYS)
        self.config = config
        self.now = datetime.now(UTC).replace(microsecond=0)
        self._records: dict[str, list[dict]] = {}
        # Fields each parent's records must carry for its children: parent keys, extra fields.
        self._wanted: dict[str, set[str]] = {}
        self.requests = 0

    def keys(self, stream: dict) -> list[tuple]:
        """Call `want` for every stream first: a parent's records keep only the fields wanted."""
        primary_key = stream["primary_key"]
        return [tuple(record.get(field) for field in primary_key) for record in self.read(stream)]

    def want(self, stream: dict, fields: set[str]) -> None:
        self._wanted.setdefault(_identity(stream), set()).update(fields)
        router = stream["retriever"].get("partition_router")
        for parent in (router or {}).get("parent_stream_configs", []):
            extra = {path[0] for path in parent.get("extra_fields", [])}
            self.want(parent["stream"], {parent["parent_key"], *extra})

    def read(self, stream: dict) -> list[dict]:
        identity = _identity(stream)
        if identity not in self._records:
            wanted = self._wanted.get(identity, set())
            self._records[identity] = [
                {field: record.get(field) for field in wanted}
                for partition in self.partitions(stream)
                for record in self.records(stream, partition, wanted)
            ]
        return self._records[identity]

    def partitions(self, stream: dict) -> Iterator[StreamSlice]:
        retriever = stream["retriever"]
        assert retriever["type"] == "SimpleRetriever"
        router = retriever.get("partition_router")
        if router is None:
            partitions = [StreamSlice(partition={}, cursor_slice={})]
        else:
            assert router["type"] == "SubstreamPartitionRouter", router["type"]
            partitions = []
            for parent in router["parent_stream_configs"]:
                assert set(parent) <= {"type", "stream", "parent_key", "partition_field"} | {
                    "extra_fields",
                    "$parameters",
                    *parent.get("$parameters", {}),
                }, set(parent)
                for record in self.read(parent["stream"]):
                    if record.get(parent["parent_key"]) is None:
                        continue
                    extra = {
                        ".".join(path): dpath.get(record, path, default=None)
                        for path in parent.get("extra_fields", [])
                    }
                    partitions.append(
                        StreamSlice(
                            partition={
                                parent["partition_field"]: record[parent["parent_key"]],
                                "parent_slice": {},
                            },
                            cursor_slice={},
                            extra_fields=extra,
                        )
                    )
        cursor = stream.get("incremental_sync")
        for partition in partitions:
            if cursor is None:
                yield partition
                continue
            for window in self.windows(cursor):
                yield StreamSlice(
                    partition=partition.partition,
                    cursor_slice=window,
                    extra_fields=partition.extra_fields,
                )

    def windows(self, cursor: dict) -> Iterator[dict[str, str]]:
        """A DatetimeBasedCursor's windows from its start to now, as a first sync reads them."""
        assert cursor["type"] == "DatetimeBasedCursor"
        # Options that change which windows a first sync reads, or how they are sent, are not
        # read here: a manifest that uses one must teach this reader first.
        assert set(cursor) <= {
            "type",
            "cursor_field",
            "cursor_datetime_formats",
            "datetime_format",
            "start_datetime",
            "end_datetime",
            "step",
            "cursor_granularity",
            "lookback_window",
            "$parameters",
            *cursor.get("$parameters", {}),
        }, set(cursor)
        start_spec = cursor["start_datetime"]
        start = datetime.strptime(
            JINJA.eval(start_spec["datetime"], self.config), start_spec["datetime_format"]
        ).replace(tzinfo=UTC)
        step = isodate.parse_duration(cursor["step"])
        granularity = isodate.parse_duration(cursor["cursor_granularity"])
        output = cursor["datetime_format"]
        while start <= self.now:
            end = min(start + step - granularity, self.now)
            yield {"start_time": start.strftime(output), "end_time": end.strftime(output)}
            start = end + granularity

    def records(self, stream: dict, partition: StreamSlice, wanted: set[str]) -> Iterator[dict]:
        retriever = stream["retriever"]
        requester = retriever["requester"]
        assert requester["http_method"] == "GET"
        context = {"stream_slice": partition, "parameters": requester.get("$parameters", {})}
        url = JINJA.eval(requester["url"], self.config, **context)
        query = {
            name: value if isinstance(value, list) else [str(value)]
            for name, template in requester.get("request_parameters", {}).items()
            if (value := JINJA.eval(template, self.config, **context)) is not None
        }
        paginator = retriever.get("paginator")
        page_token = None
        while True:
            page_query = dict(query)
            if paginator is not None:
                strategy = paginator["pagination_strategy"]
                assert strategy["type"] == "CursorPagination"
                page_query[paginator["page_size_option"]["field_name"]] = [
                    str(strategy["page_size"])
                ]
                if page_token is not None:
                    page_query[paginator["page_token_option"]["field_name"]] = [str(page_token)]
            body = self.get(url, page_query)
            yield from self.transformed(stream, self.extracted(retriever, body), partition, wanted)
            if paginator is None:
                return
            stop = JINJA.eval(strategy["stop_condition"], self.config, response=body)
            if stop:
                return
            page_token = JINJA.eval(strategy["cursor_value"], self.config, response=body)

    def get(self, url: str, query: dict[str, list[str]]) -> Any:
        assert url.startswith(self.config["api_root"]), url
        template, params = match_route(url[len(self.config["api_root"]) :])
        assert template is not None, url
        self.requests += 1
        return ROUTES[template](self.api, query, **params)

    def extracted(self, retriever: dict, body: Any) -> Iterator[dict]:
        extractor = retriever["record_selector"]["extractor"]
        assert extractor["type"] == "DpathExtractor"
        assert set(retriever["record_selector"]) <= {
            "type",
            "extractor",
            "$parameters",
            *retriever["record_selector"].get("$parameters", {}),
        }
        parameters = extractor.get("$parameters", {})
        path = [
            JINJA.eval(part, self.config, parameters=parameters) for part in extractor["field_path"]
        ]
        if not path:
            found = body
        elif "*" in path:
            found = dpath.values(body, path)
        else:
            found = dpath_get(body, path)
        items = found if isinstance(found, list) else [found] if found else []
        expander = extractor.get("record_expander")
        for item in items:
            if expander is None:
                yield dict(item)
                continue
            assert set(expander) <= {
                "type",
                "expand_records_from_field",
                "remain_original_record",
            } | {
                "$parameters",
                *expander.get("$parameters", {}),
            }
            for expanded in dpath.get(item, expander["expand_records_from_field"], default=[]):
                record = dict(expanded)
                if expander.get("remain_original_record"):
                    record["original_record"] = item
                yield record

    def transformed(
        self, stream: dict, records: Iterator[dict], partition: StreamSlice, wanted: set[str]
    ) -> Iterator[dict]:
        transformations = stream.get("transformations", [])
        # A value that does not read the record is the same for every record of the partition.
        same_for_partition: dict[tuple[int, int], Any] = {}
        for record in records:
            for transformation in transformations:
                if transformation["type"] == "RemoveFields":
                    for pointer in transformation["field_pointers"]:
                        if len(pointer) == 1:
                            record.pop(pointer[0], None)
                    continue
                assert transformation["type"] == "AddFields", transformation["type"]
                for field in transformation["fields"]:
                    assert set(field) <= {"type", "path", "value", "value_type"} | {
                        "$parameters",
                        *field.get("$parameters", {}),
                    }, set(field)
                    if field["path"][0] not in wanted:
                        continue
                    assert len(field["path"]) == 1, field["path"]
                    value_type = {"integer": int, "string": str, "boolean": bool}.get(
                        field.get("value_type")
                    )
                    cached = "record" not in field["value"]
                    if cached and (id(transformation), id(field)) in same_for_partition:
                        value = same_for_partition[id(transformation), id(field)]
                    else:
                        value = JINJA.eval(
                            field["value"],
                            self.config,
                            valid_types=(value_type,) if value_type else None,
                            record=record,
                            stream_slice=partition,
                            parameters=transformation.get("$parameters", {}),
                        )
                        if cached:
                            same_for_partition[id(transformation), id(field)] = value
                    record[field["path"][0]] = value
            yield record


def derived_keys(account: Account) -> tuple[dict[str, list[tuple]], int]:
    reader = ManifestReader(account, {"api_root": "https://emulator.invalid"})
    streams = resolved_streams()
    for stream in streams.values():
        reader.want(stream, set(stream["primary_key"]))
    keys = {name: reader.keys(stream) for name, stream in streams.items()}
    return keys, reader.requests


# -- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=RUNTIME_SCALES)
def runtime_sync(request):
    with EmulatorServer(account=account_of(request.param)) as server:
        result = runtime.run(
            "read",
            server.connector_config(**UNPACED),
            configured_catalog=runtime.catalog(),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.errors == []
    return server.account, result


def test_the_runtime_syncs_no_key_twice(runtime_sync):
    _, result = runtime_sync
    streams = resolved_streams()
    assert set(result.records) == set(streams)
    for name, stream in streams.items():
        records = result.records[name]
        assert records, name
        keys = [tuple(record.get(field) for field in stream["primary_key"]) for record in records]
        assert [key for key in keys if None in key] == [], name
        assert repeated(keys) == [], name


def test_the_keys_derived_from_the_manifest_are_the_runtimes(runtime_sync):
    """The derivation the large scales rely on, checked against the runtime where both run."""
    account, result = runtime_sync
    derived, _ = derived_keys(account)
    for name, stream in resolved_streams().items():
        synced = [
            tuple(r.get(field) for field in stream["primary_key"]) for r in result.records[name]
        ]
        assert sorted(derived[name], key=repr) == sorted(synced, key=repr), name


@pytest.mark.parametrize("scale", DERIVED_SCALES)
def test_no_key_is_derived_twice(scale):
    derived, requests = derived_keys(account_of(scale))
    assert requests > 2000
    for name, keys in derived.items():
        assert keys, name
        assert [key for key in keys if None in key] == [], name
        assert repeated(keys) == [], name


def test_a_report_id_alone_would_repeat():
    """Why code_references' key has the flag: its report id alone repeats across flags."""
    keys, _ = derived_keys(account_of("small"))
    stream = resolved_streams()["code_references"]
    assert "codeReferenceId" in stream["primary_key"]
    report = stream["primary_key"].index("codeReferenceId")
    assert repeated([(key[report],) for key in keys["code_references"]]) != []
