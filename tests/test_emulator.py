"""The emulator itself: data it holds, shapes it serves, errors, paging, rate limits and faults.

Expected values are computed from the account's plain structures, independently of the code
paths that serve them, so a wrong answer from the server fails here.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import requests

from emulator import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    SECRET_MARKER,
    EmulatorServer,
    FaultRule,
    UtcDateTime,
    build_account,
    served,
)
from emulator.__main__ import server_from_arguments
from emulator.account import AUDIT_LOG_TYPES, BASE_DATE
from emulator.datetimes import TICKS_PER_SECOND, ticks_of, ticks_since_epoch
from emulator.governance import GovernanceBuilder
from emulator.rate_limits import RateLimiter, RateLimitRule
from emulator.routes import ROUTES, iso
from tooling.openapi import strict_response_schema

REPO = Path(__file__).resolve().parent.parent
AUTH = (DEFAULT_USERNAME, DEFAULT_PASSWORD)
ORG_AUDIT = "/v2/organizations/{organizationId}/auditlogs"
CHANGE_REQUESTS = "/v2/products/{productId}/change-requests"
CHANGE_REQUEST = "/v2/change-requests/{changeRequestId}"
DELETED_FLAGS = "/v1/configs/{configId}/deleted-settings"
CODE_REFERENCES = "/v1/settings/{settingId}/code-references"
PROXY_PROFILES = "/v1/organizations/{organizationId}/proxy-profiles"
PROXY_SDK_KEYS = "/v1/proxy-profiles/{proxyProfileId}/sdk-keys"
LIMITATIONS = "/v1/organizations/{organizationId}/organization-limitations"
# Any form the server may write: 0 to 7 fractional digits, `Z` or `+00:00`.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|\+00:00)$")
# .NET's round-trip ("o") format of a UTC DateTime: as the account holds date-times, and as
# X-Rate-Limit-Reset carries one.
ROUND_TRIP_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
# What each datetime_style allows after the seconds (the offset excluded).
FRACTION_OF_STYLE = {
    "trimmed": re.compile(r"^(\.\d{0,6}[1-9])?$"),
    "round_trip": re.compile(r"^\.\d{7}$"),
    "whole_seconds": re.compile(r"^$"),
}


def get(server: EmulatorServer, path: str, auth=AUTH, **params) -> requests.Response:
    return requests.get(server.url + path, params=params, auth=auth, timeout=10)


def expected_pagings(total: int, page_size: int) -> list[dict]:
    """The `paging` block of every page of a list of `total` items read `page_size` at a time."""
    pages = math.ceil(total / page_size)
    return [
        {
            "currentPage": number,
            "totalPages": pages,
            "pageSize": page_size,
            "totalCount": total,
            "hasPrevious": number > 1,
            "hasNext": number < pages,
        }
        for number in range(1, pages + 1)
    ]


def fill(template: str, **ids) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)


def served_paths(account) -> list[tuple[str, str, dict]]:
    """(template, path, query) for every entity of the account, one per endpoint use."""
    paths = [("/v1/me", "/v1/me", {}), ("/v1/organizations", "/v1/organizations", {})]
    paths.append(("/v1/products", "/v1/products", {}))
    for organization in account.organizations:
        organization_id = organization["organizationId"]
        for template in (
            "/v2/organizations/{organizationId}/members",
            "/v1/organizations/{organizationId}/members",
            "/v1/organizations/{organizationId}/invitations",
            PROXY_PROFILES,
            LIMITATIONS,
            ORG_AUDIT,
        ):
            path = fill(template, organizationId=organization_id)
            paths.append((template, path, {}))
        window = {
            "fromUtcDateTime": "2026-10-02T00:00:00Z",
            "toUtcDateTime": "2026-11-01T00:00:00Z",
        }
        paths.append((ORG_AUDIT, path, window))
        for profile in account.proxy_profiles[organization_id]:
            path = fill(PROXY_SDK_KEYS, proxyProfileId=profile["proxyProfileId"])
            paths.append((PROXY_SDK_KEYS, path, {}))
    for product in account.products:
        product_id = product["productId"]
        for template in ROUTES:
            if template.startswith("/v1/products/{productId}"):
                paths.append((template, fill(template, productId=product_id), {}))
        path = fill(CHANGE_REQUESTS, productId=product_id)
        paths.append((CHANGE_REQUESTS, path, {}))
        paths.append((CHANGE_REQUESTS, path, {"pageSize": 100, "pageNumber": 1}))
        paths.append((CHANGE_REQUESTS, path, {"changeRequestStatusFilter": ["open", "closed"]}))
        for change_request in account.change_requests[product_id]:
            path = fill(CHANGE_REQUEST, changeRequestId=change_request["changeRequestId"])
            paths.append((CHANGE_REQUEST, path, {}))
        for config in account.configs[product_id]:
            config_id = config["configId"]
            template = "/v1/configs/{configId}/settings"
            paths.append((template, fill(template, configId=config_id), {}))
            paths.append((DELETED_FLAGS, fill(DELETED_FLAGS, configId=config_id), {}))
            for setting in account.settings[config_id]:
                path = fill(CODE_REFERENCES, settingId=setting["settingId"])
                paths.append((CODE_REFERENCES, path, {}))
            for environment in account.environments[product_id]:
                ids = {"configId": config_id, "environmentId": environment["environmentId"]}
                template = "/v1/configs/{configId}/environments/{environmentId}"
                paths.append((template, fill(template, **ids), {}))
                template = account.values_template(config_id)
                paths.append((template, fill(template, **ids), {}))
        for webhook in account.webhooks[product_id]:
            template = "/v1/webhooks/{webhookId}/keys"
            paths.append((template, fill(template, webhookId=webhook["webhookId"]), {}))
    return paths


def format_checker(date_times: list[str] | None = None) -> jsonschema.FormatChecker:
    """uuid as jsonschema checks it, plus the formats it leaves unchecked by default.

    Every date-time string checked is appended to `date_times`, when given.
    """
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time")
    def is_date_time(value) -> bool:
        if isinstance(value, str) and date_times is not None:
            date_times.append(value)
        return not isinstance(value, str) or bool(DATE_TIME.match(value))

    @checker.checks("int32")
    def is_int32(value) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def is_int64(value) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    return checker


# -- the modules --------------------------------------------------------------------------------


def emulator_imports() -> dict[str, set[str]]:
    """Each module of `emulator/` -> the emulator modules it imports (also under TYPE_CHECKING)."""
    package = REPO / "emulator"
    modules = {path.stem for path in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and not (node.module or "").startswith("emulator"):
                    continue
                base = (node.module or "").removeprefix("emulator").lstrip(".")
                names = [base] if base else [alias.name for alias in node.names]
                names = [name if node.level else f"emulator.{name}" for name in names]
                names = [name.removeprefix("emulator.") for name in names]
                if not base and node.level == 0:
                    names.append("__init__")
            else:
                continue
            for name in names:
                name = name.removeprefix("emulator.").split(".")[0]
                if name == "emulator":
                    name = "__init__"
                if name in modules and name != path.stem:
                    found.add(name)
        graph[path.stem] = found
    return graph


def test_no_two_emulator_modules_import_each_other():
    graph = emulator_imports()
    assert graph["seed"] >= {"governance", "scales"}  # the check sees relative imports
    assert graph["__init__"] >= {"seed", "server"}
    cycles = []
    for start in graph:
        # Every module reachable from `start`; a cycle through `start` leads back to it.
        seen, stack = set(), list(graph[start])
        while stack:
            module = stack.pop()
            if module not in seen:
                seen.add(module)
                stack += graph[module]
        if start in seen:
            cycles.append(start)
    assert not cycles, f"modules on an import cycle: {sorted(cycles)}; {graph}"


# -- the seeded data ------------------------------------------------------------------------------


def test_small_account_holds_what_the_tests_rely_on():
    account = build_account()
    assert len(account.organizations) == 2
    products_per_org = Counter(p["organization"]["organizationId"] for p in account.products)
    assert sorted(products_per_org.values()) == [1, 2]
    for product in account.products:
        product_id = product["productId"]
        assert 2 <= len(account.environments[product_id]) <= 3
        configs = account.configs[product_id]
        assert 2 <= len(configs) <= 3
        assert {c["evaluationVersion"] for c in configs} == {"v1", "v2"}
        for config in configs:
            settings = account.settings[config["configId"]]
            assert 3 <= len(settings) <= 6
            assert {s["settingType"] for s in settings} == {"boolean", "string", "int", "double"}
        assert len(account.permission_groups[product_id]) >= 2
        for group in account.permission_groups[product_id]:
            environment_ids = [e["environmentId"] for e in account.environments[product_id]]
            assert [a["environmentId"] for a in group["environmentAccesses"]] == environment_ids
            approvals = group["environmentApprovalPermissions"]
            assert [a["environmentId"] for a in approvals] == environment_ids
    settings = [s for product_settings in account.settings.values() for s in product_settings]
    assert any(s["isJson"] and s["settingType"] == "string" for s in settings)
    assert any(
        s["predefinedVariations"]
        and account.configs_by_id[s["configId"]]["evaluationVersion"] == "v2"
        for s in settings
    )
    assert any(s["tags"] for s in settings)

    values = [v for vs in account.setting_values.values() for v in vs]
    rules = [r for v in values for r in v.get("rolloutRules", [])]
    assert any(r["segmentId"] for r in rules) and any(r["comparator"] for r in rules)
    assert any(v.get("rolloutPercentageItems") for v in values)
    conditions = [c for v in values for r in v.get("targetingRules", []) for c in r["conditions"]]
    for kind in ("userCondition", "segmentCondition", "prerequisiteFlagCondition"):
        assert any(c[kind] for c in conditions), kind
    assert all(sum(c[k] is not None for k in c) == 1 for c in conditions)
    assert any(r["percentageOptions"] for v in values for r in v.get("targetingRules", []))
    assert any(v.get("percentageEvaluationAttribute") for v in values)

    headers = [h for ws in account.webhooks.values() for w in ws for h in w["webHookHeaders"]]
    assert {h["isSecure"] for h in headers} == {True, False}
    for organization_id, members in account.organization_members.items():
        assert members["admins"] and members["billingManagers"]
        admin_ids = {a["userId"] for a in members["admins"]}
        assert admin_ids & {m["userId"] for m in members["members"]}
        assert account.organization_invitations[organization_id]

    for items in account.audit_logs.values():
        assert 200 <= len(items) <= 300
        times = Counter(item["auditLogDateTime"] for item in items)
        assert max(times.values()) >= 2, "some events share a timestamp"
        assert any(t.endswith("T00:00:00.0000000Z") for t in times), "some fall on midnight"
        assert all(BASE_DATE - timedelta(days=120) <= datetime.fromisoformat(t) for t in times)
        assert {item["auditLogTypeEnum"] for item in items} <= set(AUDIT_LOG_TYPES)


@pytest.mark.parametrize("scale, products", [("medium", 20), ("large", 200)])
def test_bigger_scales(scale, products):
    account = build_account(scale=scale)
    assert len(account.organizations) == 2
    assert len(account.products) == products
    for product in account.products:
        assert len(account.environments[product["productId"]]) == 4
        configs = account.configs[product["productId"]]
        assert len(configs) == 3
        assert {c["evaluationVersion"] for c in configs} == {"v1", "v2"}
        assert all(len(account.settings[c["configId"]]) == 25 for c in configs)
    assert_governance_data_is_complete(account)


def test_account_shapes_put_their_requests_where_their_names_say():
    """The benchmark chooses the concurrency on both: flags in few products, or many products."""
    minimum = {}
    for scale in ("many-flags", "many-products"):
        account = build_account(scale=scale)
        configs = [c for p in account.products for c in account.configs[p["productId"]]]
        flags = sum(len(account.settings[c["configId"]]) for c in configs)
        minimum[scale] = (len(account.products), flags, sum(account.expected_requests().values()))
        assert_governance_data_is_complete(account)
    (few_products, many_flags, requests_a), (many_products, few_flags, requests_b) = (
        minimum["many-flags"],
        minimum["many-products"],
    )
    assert few_products <= 2 < 10 <= many_products
    assert many_flags >= 300 > 100 >= few_flags
    # Comparable syncs, each under the 500-a-minute limit (audit-log pages come on top).
    assert abs(requests_a - requests_b) <= 0.1 * requests_a
    assert max(requests_a, requests_b) < 450


def test_seeded_date_times_are_exact_to_the_tick_and_mixed():
    account = build_account()
    found: list[UtcDateTime] = []

    def collect(value, key=None) -> None:
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                collect(inner, inner_key)
        elif isinstance(value, list):
            for inner in value:
                collect(inner, key)
        elif key in ("createdAt", "updatedAt", "expires", "auditLogDateTime"):
            assert isinstance(value, UtcDateTime), (key, value)
            found.append(value)

    collect(
        [
            account.settings,
            list(account.setting_values.values()),
            account.segments,
            account.product_invitations,
            account.organization_invitations,
            account.audit_logs,
            account.change_requests,
        ]
    )
    assert all(ROUND_TRIP_Z.match(value) for value in found)
    kinds = Counter(
        "whole seconds"
        if value.endswith(".0000000Z")
        else "milliseconds"
        if value.endswith("0000Z")
        else "ticks"
        for value in found
    )
    assert kinds["ticks"] > len(found) / 2, kinds
    assert kinds["milliseconds"] > len(found) / 10 and kinds["whole seconds"] > len(found) / 10


def test_utc_date_times_read_any_spelling_to_the_tick():
    exact = UtcDateTime("2026-11-05T02:15:47.1002513Z")
    assert exact.ticks % TICKS_PER_SECOND == 1002513
    for spelling in (
        "2026-11-05T02:15:47.1002513+00:00",
        "2026-11-05T04:15:47.1002513+02:00",
        "2026-11-05T02:15:47.1002513",
    ):
        assert UtcDateTime(spelling) == exact, spelling
    assert UtcDateTime("2026-11-05T02:15:47.10025Z") == "2026-11-05T02:15:47.1002500Z"
    assert UtcDateTime("2026-11-05T02:15:47Z") == "2026-11-05T02:15:47.0000000Z"
    assert UtcDateTime(datetime(2026, 11, 5, 2, 15, 47, 100251)) == "2026-11-05T02:15:47.1002510Z"
    assert UtcDateTime.from_ticks(exact.ticks + 1) == "2026-11-05T02:15:47.1002514Z"
    assert exact.to_datetime() == datetime(2026, 11, 5, 2, 15, 47, 100251, tzinfo=UTC)
    assert exact.wire() == "2026-11-05T02:15:47.1002513Z"
    assert UtcDateTime("2026-11-05T02:15:47.10025Z").wire() == "2026-11-05T02:15:47.10025Z"
    assert UtcDateTime("2026-11-05T02:15:47Z").wire("round_trip", "+00:00") == (
        "2026-11-05T02:15:47.0000000+00:00"
    )
    assert exact.wire("whole_seconds") == "2026-11-05T02:15:47Z"
    for bad in ("yesterday", "2026-11-05T02:15:47.12345678Z"):
        with pytest.raises(ValueError):
            UtcDateTime(bad)
    with pytest.raises(ValueError):
        exact.wire("ticks")


def test_every_secret_carries_the_marker_and_all_kinds_are_listed():
    account = build_account()
    secrets = account.secrets()
    assert secrets and all(SECRET_MARKER in secret for secret in secrets)
    assert len(set(secrets)) == len(secrets)
    expected = [k["primary"] for k in account.sdk_keys.values()]
    expected += [k["key1"] for k in account.webhook_signing_keys.values()]
    expected += [
        h["value"]
        for ws in account.webhooks.values()
        for w in ws
        for h in w["webHookHeaders"]
        if h["isSecure"]
    ]
    expected += [
        value
        for i in account.integrations.values()
        for x in i
        for value in x["parameters"].values()
    ]
    notifications = [
        profile["connectionPreferences"]["webhookNotification"]
        for profiles in account.proxy_profiles.values()
        for profile in profiles
    ]
    signing_keys = [n["signingKey1"] for n in notifications if n]
    signing_keys += [n["signingKey2"] for n in notifications if n and n["signingKey2"]]
    assert signing_keys and all(SECRET_MARKER in key for key in signing_keys)
    expected += signing_keys
    assert set(expected) <= set(secrets)
    # Nothing that is not a secret carries the marker.
    non_secret = {
        "/v1/products": account.products,
        "settings": account.settings,
        "change requests": account.change_requests,
        "code references": {str(k): v for k, v in account.code_references.items()},
        "deleted flags": account.deleted_settings,
        "preferences": account.preferences,
        "limitations": account.organization_limitations,
        "SDK IDs": list(account.sdk_ids.values()),
    }
    assert SECRET_MARKER not in json.dumps(non_secret, default=str)


def test_same_seed_same_bytes_and_another_seed_other_data():
    paths = [path for _, path, query in served_paths(build_account()) if not query]
    with EmulatorServer(seed=1) as first, EmulatorServer(seed=1) as second:
        for path in paths:
            assert get(first, path).content == get(second, path).content, path
        with EmulatorServer(seed=2) as other:
            assert get(other, "/v1/products").content != get(first, "/v1/products").content


def test_different_seed_changes_ids_names_and_values():
    one, two = build_account(seed=1), build_account(seed=2)
    assert [p["productId"] for p in one.products] != [p["productId"] for p in two.products]
    assert list(one.setting_values.values()) != list(two.setting_values.values())
    assert one.secrets() != two.secrets()
    assert [c["createdAt"] for cs in one.change_requests.values() for c in cs] != [
        c["createdAt"] for cs in two.change_requests.values() for c in cs
    ]


def strings_in(value) -> list[str]:
    if isinstance(value, dict):
        return [text for inner in value.values() for text in strings_in(inner)]
    if isinstance(value, list):
        return [text for inner in value for text in strings_in(inner)]
    return [value] if isinstance(value, str) else []


def test_free_text_carries_what_users_type(account_server):
    """Notes, names, descriptions, hints, reasons and comments hold what real users type, the
    words the connector's response filters look for included, not text that agrees with it."""
    texts: list[str] = []
    for _, path, query in served_paths(account_server.account):
        response = get(account_server, path, **query)
        assert response.status_code == 200, path
        texts += strings_in(json.loads(response.content.decode("utf-8", errors="strict")))
    joined = "\n".join(texts)
    for word in ("retention", "retry", "not valid json", "rate limit", "error"):
        assert word in joined.lower(), word
    for fragment in ("Retention policy", "'", '"', "{{ config }}", "{% if", "{}", "\\"):
        assert fragment in joined, fragment
    for fragment in ("\n", "\r\n", "é", "ű", "チ", "功", "🚀", "\u2028", "<script>"):
        assert fragment in joined, fragment


def test_free_text_reaches_the_api_s_maximum_lengths_and_never_passes_them():
    account = build_account()
    settings = [s for settings in account.settings.values() for s in settings]
    change_requests = list(account.change_requests_by_id.values())
    values = [v for vs in account.setting_values.values() for v in vs]
    limits = {  # the OpenAPI document's maxLength, in UTF-16 code units as .NET counts
        "hint": (1000, [s["hint"] for s in settings]),
        "name": (255, [s["name"] for s in settings] + [p["name"] for p in account.products]),
        "description": (
            1000,
            [p["description"] for p in account.products]
            + [c["description"] for configs in account.configs.values() for c in configs]
            + [e["description"] for es in account.environments.values() for e in es]
            + [link["description"] for v in values for link in v["integrationLinks"]],
        ),
        "title": (255, [c["title"] for c in change_requests]),
        "reason": (1000, [c["reason"] for c in change_requests]),
        "body": (5000, [m["body"] for c in change_requests for m in c["comments"]]),
    }
    for field, (limit, values) in limits.items():
        lengths = [len(text.encode("utf-16-le")) // 2 for text in values if text is not None]
        assert max(lengths) <= limit, field
    for field in ("hint", "description", "body"):
        limit, values = limits[field]
        assert any(len(text or "") == limit for text in values), field


def test_served_text_is_the_account_s_to_the_character(account_server):
    """No escaping bug: quotes, backslashes, braces, line breaks and non-ASCII text come back as
    the account holds them, in strict UTF-8 JSON."""
    account = account_server.account
    checked = Counter()
    for config_id, settings in account.settings.items():
        response = get(account_server, f"/v1/configs/{config_id}/settings")
        assert json.loads(response.content.decode("utf-8")) == served(settings)
        checked["settings"] += 1
    for change_request_id, change_request in account.change_requests_by_id.items():
        path = fill(CHANGE_REQUEST, changeRequestId=change_request_id)
        assert get(account_server, path).json() == served(change_request)
        checked["change requests"] += 1
    window = {"fromUtcDateTime": "2026-10-02T00:00:00Z", "toUtcDateTime": "2026-11-01T00:00:00Z"}
    for organization in account.organizations:
        organization_id = organization["organizationId"]
        expected = account.audit_log_items(organization_id, *window.values())
        served_items = []
        for page_number in range(1, 100):
            page = get(
                account_server,
                fill(ORG_AUDIT, organizationId=organization_id),
                **window,
                pageNumber=page_number,
            ).json()
            served_items += page["data"]
            if not page["paging"] or not page["paging"]["hasNext"]:
                break
        assert served_items == served(expected)
        whys = [item["why"] for item in served_items if item["why"]]
        assert any("{" in why or "\\" in why or '"' in why for why in whys)
        checked["audit logs"] += 1
    assert min(checked.values()) > 0


def test_ids_the_api_shares_are_shared():
    account = build_account()
    # The same person (id, name, email) in both organizations.
    people = [
        {(u["userId"], u["fullName"], u["email"]) for u in account.organization_users[o]}
        for o in account.organization_users
    ]
    assert set.intersection(*people)
    # A tag on several flags.
    flags = [flag for settings in account.settings.values() for flag in settings]
    tagged = Counter(tag["tagId"] for flag in flags for tag in flag["tags"])
    assert max(tagged.values()) > 1
    # A report over several flags (see test_a_code_reference_report_spans_flags_of_one_config).
    reports = Counter(r["codeReferenceId"] for rs in account.code_references.values() for r in rs)
    assert max(reports.values()) > 1


# -- shapes -------------------------------------------------------------------------------------


def test_every_route_is_exercised_by_the_schema_check():
    assert {template for template, _, _ in served_paths(build_account())} == set(ROUTES)


@pytest.mark.parametrize("template", sorted(ROUTES))
def test_responses_match_the_openapi_document_exactly(account_server, template):
    date_times: list[str] = []
    validator = jsonschema.Draft7Validator(
        strict_response_schema(template), format_checker=format_checker(date_times)
    )
    checked = 0
    for path_template, path, query in served_paths(account_server.account):
        if path_template != template:
            continue
        response = get(account_server, path, **query)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
        ]
        assert not errors, (path, errors[:5])
        checked += 1
    assert checked
    # The default style: System.Text.Json's, which never writes a trailing zero.
    assert all(FRACTION_OF_STYLE["trimmed"].match(text[19:-1]) for text in date_times), date_times
    assert all(text.endswith("Z") for text in date_times)


@pytest.mark.parametrize(
    "datetime_style, utc_offset",
    [("trimmed", "+00:00"), ("round_trip", "Z"), ("round_trip", "+00:00"), ("whole_seconds", "Z")],
)
def test_every_date_time_is_written_in_the_configured_style(datetime_style, utc_offset):
    """Every date-time of every endpoint (found by its format in the OpenAPI document) takes the
    style, and the answers still match the document."""
    date_times: list[str] = []
    checker = format_checker(date_times)
    validators = {
        template: jsonschema.Draft7Validator(
            strict_response_schema(template), format_checker=checker
        )
        for template in ROUTES
    }
    with EmulatorServer(datetime_style=datetime_style, utc_offset=utc_offset) as styled:
        for template, path, query in served_paths(styled.account):
            response = get(styled, path, **query)
            assert response.status_code == 200, (path, response.text)
            errors = [e.message for e in validators[template].iter_errors(response.json())]
            assert not errors, (path, errors[:5])
    assert len(date_times) > 100
    for text in date_times:
        assert text.endswith(utc_offset), text
        assert FRACTION_OF_STYLE[datetime_style].match(text[19 : -len(utc_offset)]), text


def fraction_lengths(texts: list[str]) -> set[int]:
    return {len(text[19:].removesuffix("Z").removesuffix("+00:00").lstrip(".")) for text in texts}


def test_default_answers_mix_date_time_lengths(account_server):
    account = account_server.account
    organization_id = account.organizations[0]["organizationId"]
    page = get(
        account_server,
        fill(ORG_AUDIT, organizationId=organization_id),
        fromUtcDateTime="2026-10-02T00:00:00Z",
        toUtcDateTime="2026-11-01T00:00:00Z",
    ).json()["data"]
    assert len(page) > 50
    lengths = fraction_lengths([item["auditLogDateTime"] for item in page])
    assert {0, 7} < lengths, lengths
    settings_lengths = [
        fraction_lengths([s["createdAt"] for s in get(account_server, path).json()])
        for template, path, _ in served_paths(account)
        if template == "/v1/configs/{configId}/settings"
    ]
    assert all(len(lengths) >= 2 for lengths in settings_lengths), settings_lengths
    assert any({0, 7} <= lengths for lengths in settings_lengths), settings_lengths


def test_served_is_what_the_wire_carries(emulator):
    account = emulator.account
    config_id = next(iter(account.settings))
    organization_id = account.organizations[0]["organizationId"]
    window = {"fromUtcDateTime": "2026-10-02T00:00:00Z", "toUtcDateTime": "2026-11-01T00:00:00Z"}
    expected_page = account.audit_log_items(organization_id, *window.values())[:100]
    for options in [{}, {"datetime_style": "round_trip", "utc_offset": "+00:00"}]:
        for name, value in options.items():
            setattr(emulator, name, value)  # changed while the server runs
        settings = get(emulator, f"/v1/configs/{config_id}/settings").json()
        assert settings == served(account.settings[config_id], **options)
        page = get(emulator, fill(ORG_AUDIT, organizationId=organization_id), **window).json()
        assert page["data"] == served(expected_page, **options)
    assert settings[0]["createdAt"].endswith("+00:00")
    # A copy: nothing served is the account's own object.
    copied = served(account.settings[config_id])
    copied[0]["tags"].append("x")
    assert "x" not in account.settings[config_id][0]["tags"]


def test_values_envelopes_carry_their_config_and_environment(account_server):
    account = account_server.account
    for (config_id, environment_id), values in account.setting_values.items():
        template = account.values_template(config_id)
        body = get(
            account_server, fill(template, configId=config_id, environmentId=environment_id)
        ).json()
        assert body["config"]["configId"] == config_id
        assert body["environment"]["environmentId"] == environment_id
        listed = body["settingValues"] if template.startswith("/v1") else body["settingFormulas"]
        assert [v["setting"]["settingId"] for v in listed] == [
            s["settingId"] for s in account.settings[config_id]
        ]
        assert len(listed) == len(values)


# -- auth and errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/me", "/v1/products", "/no/such/path"])
def test_missing_credentials_get_401(account_server, path):
    response = get(account_server, path, auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()


def test_wrong_credentials_get_401_without_echo(account_server):
    sent_user, sent_password = "probe-user-7c1d", "probe-password-93ab"
    for auth in [(sent_user, sent_password), (DEFAULT_USERNAME, sent_password)]:
        response = get(account_server, "/v1/me", auth=auth)
        assert response.status_code == 401
        echoed = response.text + json.dumps(dict(response.headers))
        assert sent_user not in echoed and sent_password not in echoed
    garbage = requests.get(
        account_server.url + "/v1/me", headers={"Authorization": "Basic !!not-base64!!"}, timeout=10
    )
    assert garbage.status_code == 401
    assert "not-base64" not in garbage.text


def test_unknown_ids_and_paths_get_404(account_server):
    account = account_server.account
    product_a, product_b = account.products[0], account.products[-1]
    config_a = account.configs[product_a["productId"]][0]
    foreign_environment = account.environments[product_b["productId"]][0]
    unknown = "00000000-0000-4000-8000-000000000000"
    for path in [
        f"/v1/products/{unknown}",
        f"/v1/products/{unknown}/tags",
        f"/v1/products/{unknown}/staleflags",
        f"/v2/organizations/{unknown}/members",
        f"/v2/organizations/{unknown}/auditlogs",
        f"/v1/configs/{unknown}/settings",
        f"/v1/configs/{config_a['configId']}/environments/{unknown}",
        f"/v1/configs/{config_a['configId']}/environments/{foreign_environment['environmentId']}",
        fill(
            account.values_template(config_a["configId"]),
            configId=config_a["configId"],
            environmentId=foreign_environment["environmentId"],
        ),
        "/v1/webhooks/999999/keys",
        "/v1/webhooks/not-a-number/keys",
        f"/v2/products/{unknown}/change-requests",
        "/v2/change-requests/999999",
        "/v2/change-requests/not-a-number",
        "/v2/change-requests/99999999999999999999999",
        f"/v1/configs/{unknown}/deleted-settings",
        "/v1/settings/999999/code-references",
        "/v1/settings/not-a-number/code-references",
        f"/v1/products/{unknown}/preferences",
        f"/v1/organizations/{unknown}/proxy-profiles",
        f"/v1/organizations/{unknown}/organization-limitations",
        f"/v1/proxy-profiles/{unknown}/sdk-keys",
        "/v1/proxy-profiles/not-a-uuid/sdk-keys",
        "/v1/products/not-a-uuid",
        "/v1/nothing-here",
        "/v1/products/",
    ]:
        response = get(account_server, path)
        assert response.status_code == 404, path
        assert response.json()


def test_writes_get_405(account_server):
    response = requests.post(account_server.url + "/v1/products", auth=AUTH, json={}, timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_values_of_the_other_evaluation_version_get_400(account_server):
    account = account_server.account
    for config_id, config in account.configs_by_id.items():
        environment = account.environments[config["product"]["productId"]][0]
        other = "v2" if config["evaluationVersion"] == "v1" else "v1"
        path = f"/{other}/configs/{config_id}/environments/{environment['environmentId']}/values"
        response = get(account_server, path)
        assert response.status_code == 400, path
        body = response.json()
        assert all(isinstance(messages, list) for messages in body.values())


@pytest.mark.parametrize("age", ["6", "91", "0", "abc", "30.5"])
def test_stale_flag_age_out_of_range_gets_400(account_server, age):
    product_id = account_server.account.products[0]["productId"]
    response = get(account_server, f"/v1/products/{product_id}/staleflags", staleFlagAgeDays=age)
    assert response.status_code == 400
    assert "staleFlagAgeDays" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        {"pageSize": "101"},
        {"pageSize": "0"},
        {"pageNumber": "0"},
        {"pageNumber": "x"},
        {"fromUtcDateTime": "2026-09-01T00:00:00Z", "toUtcDateTime": "2026-10-01T00:00:01Z"},
        {"fromUtcDateTime": "2026-10-02T00:00:00Z", "toUtcDateTime": "2026-10-01T00:00:00Z"},
        {"fromUtcDateTime": "yesterday"},
        {"auditLogType": "notAType"},
        {"productId": "not-a-uuid"},
    ],
)
def test_bad_audit_log_queries_get_400(account_server, query):
    organization_id = account_server.account.organizations[0]["organizationId"]
    response = get(account_server, fill(ORG_AUDIT, organizationId=organization_id), **query)
    assert response.status_code == 400, response.text


def test_a_window_of_exactly_30_days_is_allowed(account_server):
    organization_id = account_server.account.organizations[0]["organizationId"]
    response = get(
        account_server,
        fill(ORG_AUDIT, organizationId=organization_id),
        fromUtcDateTime="2026-09-01T00:00:00Z",
        toUtcDateTime="2026-10-01T00:00:00Z",
    )
    assert response.status_code == 200


# -- audit logs ---------------------------------------------------------------------------------


def in_window(account, organization_id, start: datetime, end: datetime) -> list[dict]:
    """The account's items in [start, end), computed without the server's query code."""
    return [
        item
        for item in account.audit_logs[organization_id]
        if ticks_since_epoch(start)
        <= UtcDateTime(item["auditLogDateTime"]).ticks
        < ticks_since_epoch(end)
    ]


def read_all_pages(account_server, organization_id, **query) -> tuple[list[dict], list[dict]]:
    items, pagings, page = [], [], 1
    while True:
        response = get(
            account_server,
            fill(ORG_AUDIT, organizationId=organization_id),
            pageNumber=page,
            **query,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["data"]
        pagings.append(body["paging"])
        if not body["paging"]["hasNext"]:
            return items, pagings
        page += 1


def test_paging_walks_every_item_once_newest_first(account_server):
    account = account_server.account
    organization_id = account.organizations[0]["organizationId"]
    start, end = BASE_DATE - timedelta(days=30), BASE_DATE
    window = {"fromUtcDateTime": iso(start), "toUtcDateTime": iso(end), "pageSize": 7}
    items, pagings = read_all_pages(account_server, organization_id, **window)

    expected = in_window(account, organization_id, start, end)
    assert len(expected) > 14
    total = len(expected)
    assert sorted(i["auditLogId"] for i in items) == sorted(i["auditLogId"] for i in expected)
    assert len({i["auditLogId"] for i in items}) == len(items) == total
    # Served texts vary in width (`...47.1Z` is earlier than `...47.1002513Z`): sort by time.
    keys = [(UtcDateTime(i["auditLogDateTime"]), i["auditLogId"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert pagings == expected_pagings(total, page_size=7)
    assert all(len(p) == 7 for p in _chunks(items, 7)[:-1])

    beyond = get(
        account_server,
        fill(ORG_AUDIT, organizationId=organization_id),
        pageNumber=len(pagings) + 1,
        **window,
    ).json()
    assert beyond["data"] == []
    assert beyond["paging"]["hasNext"] is False and beyond["paging"]["hasPrevious"] is True


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def test_default_page_size_is_100_and_empty_windows_have_no_pages(account_server):
    organization_id = account_server.account.organizations[0]["organizationId"]
    path = fill(ORG_AUDIT, organizationId=organization_id)
    body = get(
        account_server,
        path,
        fromUtcDateTime="2026-09-01T00:00:00Z",
        toUtcDateTime="2026-10-01T00:00:00Z",
    ).json()
    assert body["paging"]["pageSize"] == 100
    assert len(body["data"]) == min(100, body["paging"]["totalCount"])
    empty = get(
        account_server,
        path,
        fromUtcDateTime="2027-01-01T00:00:00Z",
        toUtcDateTime="2027-01-02T00:00:00Z",
    ).json()
    assert empty["data"] == []
    assert empty["paging"]["totalCount"] == 0 and empty["paging"]["totalPages"] == 0
    assert empty["paging"]["hasNext"] is False


def test_from_is_inclusive_and_to_is_exclusive_at_shared_timestamps(account_server):
    account = account_server.account
    organization_id = account.organizations[0]["organizationId"]
    path = fill(ORG_AUDIT, organizationId=organization_id)
    shared = Counter(i["auditLogDateTime"] for i in account.audit_logs[organization_id])
    # The most shared stamp with a fraction, so that its spellings differ.
    stamp, count = next(
        (stamp, count) for stamp, count in shared.most_common() if not stamp.endswith(".0000000Z")
    )
    assert count >= 2

    def ids(start: str, end: str) -> set[int]:
        body = get(account_server, path, fromUtcDateTime=start, toUtcDateTime=end).json()
        assert body["paging"]["totalPages"] <= 1
        return {i["auditLogId"] for i in body["data"]}

    def shifted(by: timedelta) -> UtcDateTime:
        return UtcDateTime.from_ticks(stamp.ticks + ticks_of(by))

    at_stamp = {
        i["auditLogId"]
        for i in account.audit_logs[organization_id]
        if i["auditLogDateTime"] == stamp
    }
    one_second_later = shifted(timedelta(seconds=1))
    day_before = shifted(timedelta(days=-1))
    assert ids(stamp, one_second_later) == at_stamp
    assert not ids(day_before, stamp) & at_stamp
    assert at_stamp <= ids(day_before, one_second_later)
    # Other spellings of the same instant select the same items.
    no_zone = stamp.removesuffix("Z")
    plus_two = shifted(timedelta(hours=2)).wire("round_trip").replace("Z", "+02:00")
    for spelling in (no_zone, plus_two, stamp.wire(), stamp.wire("round_trip", "+00:00")):
        assert ids(spelling, one_second_later) == at_stamp, spelling
        assert not ids(day_before, spelling) & at_stamp, spelling
    # A `from` one tick after the stamp excludes it; a `to` one tick after includes it.
    one_tick = UtcDateTime.from_ticks(stamp.ticks + 1)
    assert not ids(one_tick, one_second_later) & at_stamp
    assert ids(day_before, one_tick) >= at_stamp


def test_date_filters_compare_to_the_tick(emulator):
    account = emulator.account
    organization_id = account.organizations[0]["organizationId"]
    path = fill(ORG_AUDIT, organizationId=organization_id)
    added = account.add_audit_event(organization_id, "2026-11-01T02:15:47.1002513Z")
    assert added["auditLogDateTime"] == "2026-11-01T02:15:47.1002513Z"
    assert account.now_exact() == "2026-11-01T02:15:47.1002513Z"

    def selected(start: str, end: str = "2026-11-02T00:00:00Z") -> bool:
        response = get(emulator, path, fromUtcDateTime=start, toUtcDateTime=end)
        assert response.status_code == 200, response.text
        return added["auditLogId"] in {i["auditLogId"] for i in response.json()["data"]}

    assert not selected("2026-11-01T02:15:47.1002514Z")
    assert selected("2026-11-01T02:15:47.1002513Z")
    assert selected("2026-11-01T02:15:47.1002513+00:00")
    assert selected("2026-11-01T04:15:47.1002513+02:00")
    assert not selected("2026-11-01T04:15:47.1002514+02:00")
    assert selected("2026-11-01T02:15:47.10025Z")  # .1002500, before the event
    assert not selected("2026-11-01T02:15:47.1003Z")
    assert selected("2026-11-01T02:15:47Z")
    assert not selected("2026-11-01T02:15:48Z")
    assert not selected("2026-11-01T00:00:00Z", end="2026-11-01T02:15:47.1002513Z")
    assert selected("2026-11-01T00:00:00Z", end="2026-11-01T02:15:47.1002514Z")
    # Without dates the window ends just after now, which is the event itself.
    newest = get(emulator, path).json()["data"][0]
    assert newest["auditLogId"] == added["auditLogId"]
    assert newest["auditLogDateTime"] == "2026-11-01T02:15:47.1002513Z"
    assert get(emulator, path, fromUtcDateTime="2026-11-01T02:15:47.12345678Z").status_code == 400


def test_midnight_events_belong_to_the_day_they_start(account_server):
    account = account_server.account
    organization_id = account.organizations[0]["organizationId"]
    midnight = next(
        i["auditLogDateTime"]
        for i in account.audit_logs[organization_id]
        if i["auditLogDateTime"].endswith("T00:00:00.0000000Z")
    )
    day = midnight.to_datetime()
    at_midnight = {
        i["auditLogId"]
        for i in account.audit_logs[organization_id]
        if i["auditLogDateTime"] == midnight
    }

    def ids(start: datetime, end: datetime) -> set[int]:
        items, _ = read_all_pages(
            account_server, organization_id, fromUtcDateTime=iso(start), toUtcDateTime=iso(end)
        )
        return {i["auditLogId"] for i in items}

    assert at_midnight <= ids(day, day + timedelta(days=1))
    assert not at_midnight & ids(day - timedelta(days=1), day)
    previous_day = ids(day - timedelta(days=1), day)
    next_day = ids(day, day + timedelta(days=1))
    expected = in_window(account, organization_id, day - timedelta(days=1), day + timedelta(days=1))
    assert previous_day | next_day == {i["auditLogId"] for i in expected}
    assert not previous_day & next_day


def test_without_dates_the_last_seven_days_are_served(account_server):
    account = account_server.account
    organization_id = account.organizations[1]["organizationId"]
    items, _ = read_all_pages(account_server, organization_id)
    now = account.now_exact().ticks
    # [now - 7 days, now], shifted by one tick: `to` is exclusive, and one tick past now.
    expected = [
        i
        for i in account.audit_logs[organization_id]
        if now - ticks_of(timedelta(days=7)) < i["auditLogDateTime"].ticks <= now
    ]
    assert expected
    assert {i["auditLogId"] for i in items} == {i["auditLogId"] for i in expected}


def test_scope_and_type_filters(account_server):
    account = account_server.account
    organization = account.organizations[0]
    organization_id = organization["organizationId"]
    start, end = BASE_DATE - timedelta(days=30), BASE_DATE
    window = {"fromUtcDateTime": iso(start), "toUtcDateTime": iso(end)}
    everything = in_window(account, organization_id, start, end)
    product = next(p for p in account.products if p["organization"] is organization)
    config = account.configs[product["productId"]][0]
    environment = account.environments[product["productId"]][0]
    cases = [
        ("productId", product["productId"]),
        ("configId", config["configId"]),
        ("environmentId", environment["environmentId"]),
    ]
    for key, value in cases:
        items, _ = read_all_pages(account_server, organization_id, **window, **{key: value})
        expected = [
            i for i in everything if account.audit_log_scopes[i["auditLogId"]][key] == value
        ]
        assert expected, key
        assert {i["auditLogId"] for i in items} == {i["auditLogId"] for i in expected}
    items, _ = read_all_pages(
        account_server, organization_id, **window, auditLogType="settingValueChanged"
    )
    expected = [i for i in everything if i["auditLogTypeEnum"] == "settingValueChanged"]
    assert expected and len(items) == len(expected)
    assert {i["auditLogTypeEnum"] for i in items} == {"settingValueChanged"}


def test_events_older_than_the_retention_are_not_returned():
    with EmulatorServer(audit_log_retention_days=60) as short:
        account = short.account
        organization_id = account.organizations[0]["organizationId"]
        cutoff = account.now() - timedelta(days=60)
        start, end = cutoff - timedelta(days=10), cutoff + timedelta(days=10)
        items, _ = read_all_pages(
            short, organization_id, fromUtcDateTime=iso(start), toUtcDateTime=iso(end)
        )
        expected = [
            i
            for i in in_window(account, organization_id, start, end)
            if i["auditLogDateTime"].ticks >= ticks_since_epoch(cutoff)
        ]
        assert expected and len(expected) < len(in_window(account, organization_id, start, end))
        assert {i["auditLogId"] for i in items} == {i["auditLogId"] for i in expected}
        # Windows wholly older than the retention are answered as any other: without events.
        body = get(
            short,
            fill(ORG_AUDIT, organizationId=organization_id),
            fromUtcDateTime=iso(start),
            toUtcDateTime=iso(cutoff),
        ).json()
        assert body["data"] == [] and body["paging"]["totalCount"] == 0


def test_windows_that_end_before_the_retention_can_be_rejected():
    with EmulatorServer(
        audit_log_retention_days=7, audit_log_retention_answer="reject-ended"
    ) as strict:
        account = strict.account
        organization_id = account.organizations[0]["organizationId"]
        path = fill(ORG_AUDIT, organizationId=organization_id)
        boundary = account.retention_boundary(7)
        assert boundary == UtcDateTime(BASE_DATE - timedelta(days=7))

        def answer(end: UtcDateTime) -> requests.Response:
            start = UtcDateTime.from_ticks(end.ticks - ticks_of(timedelta(days=20)))
            return get(strict, path, fromUtcDateTime=start, toUtcDateTime=end)

        for end in (boundary, UtcDateTime(BASE_DATE - timedelta(days=30))):
            refused = answer(end)
            assert refused.status_code == 400
            assert refused.json() == {
                "toUtcDateTime": [
                    "The audit log retention of your plan is 7 days; toUtcDateTime must be"
                    " later than 2026-10-25T00:00:00Z."
                ]
            }
        # A window that reaches into the retention gets the events inside it.
        straddling = answer(UtcDateTime(BASE_DATE - timedelta(days=5)))
        assert straddling.status_code == 200
        expected = {
            i["auditLogId"]
            for i in in_window(account, organization_id, BASE_DATE - timedelta(days=25), BASE_DATE)
            if boundary <= i["auditLogDateTime"] < UtcDateTime(BASE_DATE - timedelta(days=5))
        }
        assert expected
        assert {i["auditLogId"] for i in straddling.json()["data"]} == expected
        assert answer(UtcDateTime.from_ticks(boundary.ticks + 1)).status_code == 200
        assert get(strict, path).status_code == 200
        strict.audit_log_retention_answer = "empty"
        assert answer(boundary).json()["data"] == []


def test_windows_that_start_before_the_retention_can_be_rejected():
    """The reading of an API that validates fromUtcDateTime: a window reaching back is refused."""
    with EmulatorServer(
        audit_log_retention_days=35, audit_log_retention_answer="reject-started"
    ) as strict:
        account = strict.account
        organization_id = account.organizations[0]["organizationId"]
        path = fill(ORG_AUDIT, organizationId=organization_id)
        boundary = account.retention_boundary(35)
        assert boundary == UtcDateTime(BASE_DATE - timedelta(days=35))

        def answer(start: UtcDateTime) -> requests.Response:
            end = UtcDateTime.from_ticks(start.ticks + ticks_of(timedelta(days=20)))
            return get(strict, path, fromUtcDateTime=start, toUtcDateTime=end)

        # Refused even though it reaches 19 days into the retention, where the plan keeps events.
        one_tick_early = UtcDateTime.from_ticks(boundary.ticks - 1)
        kept_inside = in_window(account, organization_id, boundary.to_datetime(), BASE_DATE)
        assert kept_inside
        for start in (one_tick_early, UtcDateTime(BASE_DATE - timedelta(days=50))):
            refused = answer(start)
            assert refused.status_code == 400
            assert refused.json() == {
                "fromUtcDateTime": [
                    "The audit log retention of your plan is 35 days; fromUtcDateTime must not be"
                    " earlier than 2026-09-27T00:00:00Z."
                ]
            }
        at_boundary = answer(boundary)
        assert at_boundary.status_code == 200
        expected = {
            i["auditLogId"]
            for i in in_window(
                account, organization_id, boundary.to_datetime(), BASE_DATE - timedelta(days=15)
            )
        }
        assert expected
        assert {i["auditLogId"] for i in at_boundary.json()["data"]} == expected
        # Without fromUtcDateTime the window is the 7 days before toUtcDateTime (now): inside.
        assert get(strict, path).status_code == 200
        # The boundary follows the account's now: an event recorded later moves it.
        later = BASE_DATE + timedelta(days=3)
        account.add_audit_event(organization_id, at=later)
        assert account.retention_boundary(35) == UtcDateTime(later - timedelta(days=35))
        assert answer(boundary).status_code == 400
        assert answer(account.retention_boundary(35)).status_code == 200


def test_the_old_name_of_the_ended_reading_is_still_taken():
    with EmulatorServer(audit_log_retention_days=7, audit_log_retention_answer="reject") as strict:
        organization_id = strict.account.organizations[0]["organizationId"]
        path = fill(ORG_AUDIT, organizationId=organization_id)
        boundary = strict.account.retention_boundary(7)
        start = UtcDateTime.from_ticks(boundary.ticks - ticks_of(timedelta(days=20)))
        assert get(strict, path, fromUtcDateTime=start, toUtcDateTime=boundary).status_code == 400
        straddling = UtcDateTime.from_ticks(boundary.ticks + ticks_of(timedelta(days=1)))
        assert get(strict, path, fromUtcDateTime=start, toUtcDateTime=straddling).status_code == 200
    with pytest.raises(ValueError):
        EmulatorServer(audit_log_retention_answer="reject-everything")


def test_added_audit_events_are_served_first(emulator):
    account = emulator.account
    organization_id = account.organizations[0]["organizationId"]
    highest = max(i["auditLogId"] for items in account.audit_logs.values() for i in items)
    at = BASE_DATE + timedelta(hours=1, microseconds=250)
    added = emulator.account.add_audit_event(organization_id, at, why="test growth")
    assert added["auditLogId"] == highest + 1
    assert added["auditLogDateTime"] == "2026-11-01T01:00:00.0002500Z"
    assert account.now() == at

    newest = get(emulator, fill(ORG_AUDIT, organizationId=organization_id)).json()["data"][0]
    assert newest == served(added)
    assert newest["auditLogDateTime"] == "2026-11-01T01:00:00.00025Z"
    assert newest["why"] == "test growth"
    window = {"fromUtcDateTime": iso(BASE_DATE), "toUtcDateTime": "2026-11-02T00:00:00Z"}
    items, _ = read_all_pages(emulator, organization_id, **window)
    assert [i["auditLogId"] for i in items] == [added["auditLogId"]]
    other = account.organizations[1]["organizationId"]
    assert read_all_pages(emulator, other, **window)[0] == []
    with pytest.raises(ValueError):
        account.add_audit_event(organization_id, at, noSuchField=1)


# -- stale flags --------------------------------------------------------------------------------


def stale_ids(body: dict) -> set[int]:
    return {s["settingId"] for c in body["configs"] for s in c["settings"]}


def test_stale_flags_follow_value_update_times(account_server):
    account = account_server.account
    for product in account.products:
        product_id = product["productId"]
        path = f"/v1/products/{product_id}/staleflags"
        body = get(account_server, path).json()
        assert [c["configId"] for c in body["configs"]] == [
            c["configId"] for c in account.configs[product_id]
        ]
        assert [e["environmentId"] for e in body["environments"]] == [
            e["environmentId"] for e in account.environments[product_id]
        ]
        threshold = BASE_DATE - timedelta(days=30)
        expected = {
            value["setting"]["settingId"]
            for config in account.configs[product_id]
            for environment in account.environments[product_id]
            for value in account.setting_values[(config["configId"], environment["environmentId"])]
            if datetime.fromisoformat(value["updatedAt"]) < threshold
        }
        assert stale_ids(body) == expected
        assert stale_ids(get(account_server, path, staleFlagAgeDays=30).json()) == expected
        assert stale_ids(get(account_server, path, staleFlagAgeDays=90).json()) <= expected
        assert stale_ids(get(account_server, path, staleFlagAgeDays=7).json()) >= expected


def test_stale_flag_filters(account_server):
    account = account_server.account
    product = max(account.products, key=lambda p: len(account.environments[p["productId"]]))
    product_id = product["productId"]
    path = f"/v1/products/{product_id}/staleflags"
    base = get(account_server, path, staleFlagAgeDays=7).json()
    anywhere = stale_ids(base)
    everywhere = stale_ids(
        get(
            account_server,
            path,
            staleFlagAgeDays=7,
            staleFlagStaleInEnvironmentsType="staleInAllEnvironments",
        ).json()
    )
    assert everywhere < anywhere
    for config in base["configs"]:
        for setting in config["settings"]:
            assert any(v["isStale"] for v in setting["settingValues"])

    watched = stale_ids(get(account_server, path, staleFlagAgeDays=7, scope="watchedByMe").json())
    assert watched == anywhere & account.watched_setting_ids

    ignored = account.environments[product_id][0]["environmentId"]
    body = get(account_server, path, staleFlagAgeDays=7, ignoredEnvironmentIds=[ignored]).json()
    for config in body["configs"]:
        for setting in config["settings"]:
            flags = {v["environmentId"]: v["isStale"] for v in setting["settingValues"]}
            assert flags[ignored] is False and any(flags.values())

    tags = account.tags[product_id]
    body = get(
        account_server, path, staleFlagAgeDays=7, ignoredTagIds=[t["tagId"] for t in tags]
    ).json()
    tagged = {s["settingId"] for ss in account.settings.values() for s in ss if s["tags"]}
    assert stale_ids(body) == anywhere - tagged
    assert get(account_server, path, scope="mine").status_code == 400
    assert get(account_server, path, ignoredTagIds=["x"]).status_code == 400


# -- governance: change requests, deleted flags, code references, preferences, proxies ----------


def governance_counts(account) -> dict[str, int]:
    """Records each governance stream would sync, counted from the account's plain structures."""
    profiles = [p for ps in account.proxy_profiles.values() for p in ps]
    return {
        "change_requests": sum(len(items) for items in account.change_requests.values()),
        "deleted_flags": sum(len(items) for items in account.deleted_settings.values()),
        "code_references": sum(len(items) for items in account.code_references.values()),
        "product_preferences": len(account.preferences),
        "product_invitations": sum(len(items) for items in account.product_invitations.values()),
        "proxy_profiles": len(profiles),
        "organization_limitations": len(account.organization_limitations),
    }


def assert_governance_data_is_complete(account) -> None:
    """Every governance stream has records, and every product has change requests of every
    status, a deleted flag, preferences and invitations."""
    assert all(governance_counts(account).values()), governance_counts(account)
    for product in account.products:
        product_id = product["productId"]
        statuses = {c["changeRequestStatus"] for c in account.change_requests[product_id]}
        assert statuses == {"open", "applied", "closed"}, product["name"]
        assert account.deleted_settings[account.configs[product_id][0]["configId"]]
        assert product_id in account.preferences and account.product_invitations[product_id]
    for organization in account.organizations:
        organization_id = organization["organizationId"]
        profiles = account.proxy_profiles[organization_id]
        notified = [p["connectionPreferences"]["webhookNotification"] for p in profiles]
        assert None in notified and any(notified)
        assert organization_id in account.organization_limitations
    settings = [s["settingId"] for ss in account.settings.values() for s in ss]
    assert set(account.code_references) == set(settings)
    assert any(account.code_references.values())
    assert not all(account.code_references.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_governance_data_is_never_empty_at_small(seed):
    account = build_account(seed=seed)
    assert_governance_data_is_complete(account)
    # One product lists more change requests than the default page of 25.
    assert max(len(items) for items in account.change_requests.values()) > 25


def test_governance_data_leaves_the_rest_of_the_account_as_it_was(monkeypatch):
    """Drawn from a generator of its own: without it, the seed's other data is the same."""
    full = build_account()
    monkeypatch.setattr(GovernanceBuilder, "build", lambda self: None)
    bare = build_account()
    assert not bare.change_requests and not bare.proxy_profiles
    for name in (
        "me",
        "organizations",
        "products",
        "environments",
        "configs",
        "settings",
        "setting_values",
        "segments",
        "permission_groups",
        "product_members",
        "product_invitations",
        "webhooks",
        "integrations",
        "sdk_keys",
        "webhook_signing_keys",
        "organization_members",
        "organization_invitations",
        "feature_flag_limitations",
        "audit_logs",
        "code_referenced_setting_ids",
    ):
        assert getattr(full, name) == getattr(bare, name), name
    assert full.secrets()[: len(bare.secrets())] == bare.secrets()


def read_change_requests(account_server, product_id: str, **query) -> tuple[list[dict], list[dict]]:
    items, pagings, page = [], [], 1
    while True:
        path = fill(CHANGE_REQUESTS, productId=product_id)
        response = get(account_server, path, pageNumber=page, **query)
        assert response.status_code == 200, response.text
        body = response.json()["changeRequests"]
        items += body["data"]
        pagings.append(body["paging"])
        if not body["paging"]["hasNext"]:
            return items, pagings
        page += 1


def test_change_requests_page_like_the_audit_log_newest_first(account_server):
    account = account_server.account
    product = max(account.products, key=lambda p: len(account.change_requests[p["productId"]]))
    product_id = product["productId"]
    expected = account.change_requests[product_id]
    total = len(expected)
    assert total > 25
    path = fill(CHANGE_REQUESTS, productId=product_id)
    first = get(account_server, path).json()["changeRequests"]
    assert first["paging"] == {
        "currentPage": 1,
        "totalPages": math.ceil(total / 25),
        "pageSize": 25,
        "totalCount": total,
        "hasPrevious": False,
        "hasNext": True,
    }
    assert len(first["data"]) == 25
    items, pagings = read_change_requests(account_server, product_id, pageSize=7)
    assert [i["changeRequestId"] for i in items] == [c["changeRequestId"] for c in expected]
    assert len({i["changeRequestId"] for i in items}) == total
    keys = [(UtcDateTime(i["createdAt"]), i["changeRequestId"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert pagings == expected_pagings(total, page_size=7)
    everything = get(account_server, path, pageSize=100).json()["changeRequests"]
    assert len(everything["data"]) == total and everything["paging"]["totalPages"] == 1
    beyond = get(account_server, path, pageNumber=len(pagings) + 1, pageSize=7).json()[
        "changeRequests"
    ]
    assert beyond["data"] == []
    assert beyond["paging"]["hasNext"] is False and beyond["paging"]["hasPrevious"] is True


def test_change_request_status_filter_defaults_to_every_status(account_server):
    account = account_server.account
    product_id = account.products[0]["productId"]
    everything = account.change_requests[product_id]
    by_status = Counter(c["changeRequestStatus"] for c in everything)
    assert set(by_status) == {"open", "applied", "closed"}

    def ids(**query) -> list[int]:
        items, _ = read_change_requests(account_server, product_id, pageSize=100, **query)
        return [i["changeRequestId"] for i in items]

    assert ids() == [c["changeRequestId"] for c in everything]
    for status in by_status:
        selected = ids(changeRequestStatusFilter=status)
        assert len(selected) == by_status[status]
        assert selected == [
            c["changeRequestId"] for c in everything if c["changeRequestStatus"] == status
        ]
    both = ids(changeRequestStatusFilter=["open", "closed"])
    assert len(both) == by_status["open"] + by_status["closed"]
    assert ids(changeRequestStatusFilter=["open", "applied", "closed"]) == ids()


def test_change_request_scope_and_state_filters(account_server):
    account = account_server.account
    product_id = account.products[0]["productId"]
    everything = account.change_requests[product_id]

    def ids(**query) -> set[int]:
        items, _ = read_change_requests(account_server, product_id, pageSize=100, **query)
        return {i["changeRequestId"] for i in items}

    first = everything[0]
    setting_id = first["settingValues"][0]["settingId"]
    cases = [
        ({"configId": first["configId"]}, lambda c: c["configId"] == first["configId"]),
        (
            {"environmentId": first["environmentId"]},
            lambda c: c["environmentId"] == first["environmentId"],
        ),
        (
            {"settingId": setting_id},
            lambda c: setting_id in {v["settingId"] for v in c["settingValues"]},
        ),
        ({"scheduleFilter": "scheduled"}, lambda c: c["applyAt"] is not None),
        ({"scheduleFilter": "nonScheduled"}, lambda c: c["applyAt"] is None),
        ({"needsAttentionFilter": "needsAttention"}, lambda c: c["needsAttention"]),
        ({"needsAttentionFilter": "notNeedsAttention"}, lambda c: not c["needsAttention"]),
        (
            {"approveRequiredFilter": "approveRequired"},
            lambda c: account.environments_by_id[c["environmentId"]]["approveRequired"],
        ),
        (
            {"approveRequiredFilter": "approveNotRequired"},
            lambda c: not account.environments_by_id[c["environmentId"]]["approveRequired"],
        ),
    ]
    for query, wanted in cases:
        expected = {c["changeRequestId"] for c in everything if wanted(c)}
        assert ids(**query) == expected, query
    assert ids(scheduleFilter="scheduled") and ids(scheduleFilter="nonScheduled")
    assert ids(configId=first["configId"], changeRequestStatusFilter="open") == {
        c["changeRequestId"]
        for c in everything
        if c["configId"] == first["configId"] and c["changeRequestStatus"] == "open"
    }
    assert ids(settingId=999999) == set()


@pytest.mark.parametrize(
    "query",
    [
        {"changeRequestStatusFilter": "pending"},
        {"changeRequestStatusFilter": ["open", "Open"]},
        {"pageSize": "0"},
        {"pageSize": "101"},
        {"pageNumber": "0"},
        {"pageNumber": "x"},
        {"configId": "not-a-uuid"},
        {"environmentId": "not-a-uuid"},
        {"settingId": "abc"},
        {"settingId": "99999999999"},
        {"scheduleFilter": "later"},
        {"approveRequiredFilter": "yes"},
        {"needsAttentionFilter": "true"},
    ],
)
def test_bad_change_request_queries_get_400(account_server, query):
    product_id = account_server.account.products[0]["productId"]
    response = get(account_server, fill(CHANGE_REQUESTS, productId=product_id), **query)
    assert response.status_code == 400, response.text
    assert set(response.json()) <= set(query)


def test_change_request_summaries_agree_with_their_details(account_server):
    account = account_server.account
    checked = 0
    for product in account.products:
        items, _ = read_change_requests(account_server, product["productId"], pageSize=100)
        for summary in items:
            path = fill(CHANGE_REQUEST, changeRequestId=summary["changeRequestId"])
            detail = get(account_server, path).json()
            shared = set(summary) & set(detail)
            assert len(shared) == 20
            assert {key: summary[key] for key in shared} == {key: detail[key] for key in shared}
            changes = detail["settingValues"]
            assert summary["affectedSettingKeys"] == [c["settingKey"] for c in changes]
            assert summary["commentCount"] == len(detail["comments"])
            assert summary["conflictCount"] == sum(c["hasConflict"] for c in changes)
            config = account.configs_by_id[detail["configId"]]
            environment = account.environments_by_id[detail["environmentId"]]
            assert config["product"] is product and environment["product"] is product
            assert config["evaluationVersion"] == "v2"
            settings = {s["settingId"]: s for s in account.settings[detail["configId"]]}
            for change in changes:
                setting = settings[change["settingId"]]
                assert change["settingKey"] == setting["key"]
                assert change["settingType"] == setting["settingType"]
                assert change["originalEvaluationFormula"] != change["proposedEvaluationFormula"]
            checked += 1
    assert checked == sum(len(items) for items in account.change_requests.values())


def test_change_request_dates_and_people_follow_the_status(account_server):
    account = account_server.account
    for product in account.products:
        organization_id = product["organization"]["organizationId"]
        members = {m["email"] for m in account.product_members[product["productId"]]}
        for detail in account.change_requests[product["productId"]]:
            status = detail["changeRequestStatus"]
            created = detail["createdAt"]
            end = detail["appliedAt"] or detail["closedAt"] or UtcDateTime(BASE_DATE)
            assert created < end
            assert detail["creatorUserEmail"] in members
            applied = [detail[k] for k in ("appliedAt", "appliedByUserId", "appliedByUserEmail")]
            closed = [detail[k] for k in ("closedAt", "closedByUserId", "closedByUserEmail")]
            assert all(applied) if status == "applied" else applied == [None] * 3
            assert all(closed) if status == "closed" else closed == [None] * 3
            if status != "open":
                assert detail["needsAttention"] is False
            unfixed = [i for i in detail["changeRequestIssues"] if i["issueFixedAt"] is None]
            assert detail["needsAttention"] == bool(unfixed)
            for comment in detail["comments"]:
                assert created < comment["createdAt"] < end
            for approval in detail["approvals"]:
                assert created < approval["approvedAt"] < end
                assert approval["userEmail"] != detail["creatorUserEmail"]
                if approval["dismissedAt"] is not None:
                    assert approval["approvedAt"] < approval["dismissedAt"]
            active = [a for a in detail["approvals"] if a["dismissedAt"] is None]
            assert detail["approved"] == bool(active)
            activities = detail["activities"]
            assert activities[0]["changeRequestActivityType"] == "created"
            assert activities[0]["date"] == created
            assert activities[0]["userEmail"] == detail["creatorUserEmail"]
            assert [a["date"] for a in activities] == sorted(a["date"] for a in activities)
            assert all(created <= a["date"] <= end for a in activities)
            if detail["bypassApproval"]:
                kinds = {a["changeRequestActivityType"] for a in activities}
                assert "bypassApprovalEnabled" in kinds
            if status == "applied" and detail["applyAt"] is not None:
                assert (
                    timedelta(0)
                    <= (detail["appliedAt"].to_datetime() - detail["applyAt"].to_datetime())
                    < timedelta(minutes=1)
                )
        ids = [d["changeRequestId"] for d in account.change_requests[product["productId"]]]
        assert ids == sorted(ids, reverse=True)
        assert organization_id in account.organization_limitations


def test_applied_change_requests_proposed_the_values_served_now(account_server):
    """The newest applied change request of a flag in an environment was its last update: it
    proposed the value served now, when the value says it was updated, by its last updater.
    An open one without conflict started from the value served now."""
    account = account_server.account
    heads: dict[tuple, dict] = {}
    opened = 0
    for product in account.products:
        for detail in reversed(account.change_requests[product["productId"]]):
            pair = (detail["configId"], detail["environmentId"])
            values = {v["setting"]["settingId"]: v for v in account.setting_values[pair]}
            for change in detail["settingValues"]:
                value = values[change["settingId"]]
                if detail["changeRequestStatus"] == "applied":
                    heads[(*pair, change["settingId"])] = (detail, change, value)
                elif detail["changeRequestStatus"] == "open":
                    formula = change["originalEvaluationFormula"]
                    same = formula["defaultValue"] == value["defaultValue"] and len(
                        formula["targetingRules"]
                    ) == len(value["targetingRules"])
                    assert change["hasConflict"] == (value["updatedAt"] > detail["createdAt"])
                    if not change["hasConflict"]:
                        assert same
                        opened += 1
    assert heads and opened
    for detail, change, value in heads.values():
        formula = change["proposedEvaluationFormula"]
        assert formula["defaultValue"] == value["defaultValue"]
        assert len(formula["targetingRules"]) == len(value["targetingRules"])
        assert formula["percentageEvaluationAttribute"] == value["percentageEvaluationAttribute"]
        assert detail["appliedAt"] == value["updatedAt"]
        if value["lastUpdaterUserEmail"] is not None:
            assert detail["appliedByUserEmail"] == value["lastUpdaterUserEmail"]


def test_deleted_flags_are_not_live_flags(account_server):
    account = account_server.account
    for config_id, deleted in account.deleted_settings.items():
        body = get(account_server, fill(DELETED_FLAGS, configId=config_id)).json()
        assert body == deleted
        keys = [d["key"] for d in body]
        assert len(set(keys)) == len(keys)
        assert not set(keys) & {s["key"] for s in account.settings[config_id]}


def test_code_references_exist_for_the_flags_stale_flags_say_have_them(account_server):
    account = account_server.account
    for settings in account.settings.values():
        for setting in settings:
            path = fill(CODE_REFERENCES, settingId=setting["settingId"])
            reports = get(account_server, path).json()
            assert bool(reports) == (setting["settingId"] in account.code_referenced_setting_ids)
            assert len(reports) <= 3
            assert len({(r["repository"], r["branch"]) for r in reports}) == len(reports)
            for report in reports:
                assert report["commitHash"] in report["commitUrl"]
                assert report["references"]
                for lines in report["references"]:
                    assert setting["key"] in lines["referenceLine"]["lineText"]
                    number = lines["referenceLine"]["lineNumber"]
                    numbers = [line["lineNumber"] for line in lines["preLines"]]
                    assert numbers == list(range(number - len(numbers), number))
                    numbers = [line["lineNumber"] for line in lines["postLines"]]
                    assert numbers == list(range(number + 1, number + 1 + len(numbers)))
    # One scan (repository, branch) has one commit and one upload time for all its flags.
    scans: dict[tuple, set] = {}
    for reports in account.code_references.values():
        for report in reports:
            key = (report["repository"], report["branch"])
            scans.setdefault(key, set()).add((report["commitHash"], report["syncedAt"]))
    assert all(len(found) == 1 for found in scans.values())


def test_a_code_reference_report_spans_flags_of_one_config(account_server):
    """`codeReferenceId` names a report (one CodeReferenceRequest: a config, a repository, a
    branch, the references of many flags), so the same id comes back under each flag it covers:
    it alone does not name a record, (settingId, codeReferenceId) does."""
    account = account_server.account
    config_of = {s["settingId"]: c for c, settings in account.settings.items() for s in settings}
    flags_of: dict[str, list[int]] = {}
    reports: dict[str, set] = {}
    pairs = []
    for settings in account.settings.values():
        for setting in settings:
            path = fill(CODE_REFERENCES, settingId=setting["settingId"])
            for report in get(account_server, path).json():
                report_id = report["codeReferenceId"]
                flags_of.setdefault(report_id, []).append(setting["settingId"])
                upload = (report["repository"], report["branch"], report["commitHash"])
                reports.setdefault(report_id, set()).add(upload + (report["uploader"],))
                pairs.append((setting["settingId"], report_id))
    assert len(set(pairs)) == len(pairs)
    assert len(flags_of) < len(pairs)  # the old primary key [codeReferenceId] collides
    assert all(len(found) == 1 for found in reports.values())  # one upload each
    for flags in flags_of.values():
        assert len({config_of[flag] for flag in flags}) == 1
    # Every config's references come in a report covering several of its flags.
    for config_id in account.settings:
        assert any(
            len(flags) > 1 and config_of[flags[0]] == config_id for flags in flags_of.values()
        )
    # Some flags are in no report, some in several.
    counts = Counter(flag for flag, _ in pairs)
    assert any(count > 1 for count in counts.values())
    assert len(counts) < len(config_of)


def test_preferences_repeat_the_product_and_its_environments(account_server):
    account = account_server.account
    for product in account.products:
        body = get(account_server, f"/v1/products/{product['productId']}/preferences").json()
        assert body["reasonRequired"] == product["reasonRequired"]
        assert body["approveRequired"] == product["approveRequired"]
        environments = account.environments[product["productId"]]
        assert body["reasonRequiredEnvironments"] == [
            {
                "environmentId": e["environmentId"],
                "reasonRequired": e["reasonRequired"],
                "environmentName": e["name"],
            }
            for e in environments
        ]
        assert body["approveRequiredEnvironments"] == [
            {
                "environmentId": e["environmentId"],
                "approveRequired": e["approveRequired"],
                "environmentName": e["name"],
            }
            for e in environments
        ]


def test_organization_limitations_extend_the_feature_flag_limitations(account_server):
    account = account_server.account
    for organization_id, limitations in account.feature_flag_limitations.items():
        body = get(account_server, fill(LIMITATIONS, organizationId=organization_id)).json()
        assert {k: v for k, v in body.items() if k != "maxPredefinedVariations"} == limitations
        assert body["maxPredefinedVariations"] >= max(
            len(s["predefinedVariations"]) for ss in account.settings.values() for s in ss
        )
        # The values endpoints keep FeatureFlagLimitations' seven fields.
        assert "maxPredefinedVariations" not in limitations


def selected_pairs(account, organization_id: str, rules: list[dict]) -> list[tuple[str, str]]:
    """The (configId, environmentId) pairs the rules select, by fnmatch, apart from the server."""

    def matches(rule, product, config, environment) -> bool:
        for entity, level, id_key in (
            (product, "product", "productId"),
            (config, "config", "configId"),
            (environment, "environment", "environmentId"),
        ):
            if rule[f"{level}IdFilter"] not in (None, entity[id_key]):
                return False
            pattern = rule[f"{level}NameMatchFilter"]
            if pattern is not None and not fnmatch.fnmatchcase(
                entity["name"].lower(), pattern.lower()
            ):
                return False
        return True

    pairs = []
    for product in account.products:
        if product["organization"]["organizationId"] != organization_id:
            continue
        for config in account.configs[product["productId"]]:
            for environment in account.environments[product["productId"]]:
                kinds = {r["kind"] for r in rules if matches(r, product, config, environment)}
                if kinds == {"include"}:
                    pairs.append((config["configId"], environment["environmentId"]))
    return pairs


def test_proxy_profiles_and_the_sdk_keys_their_rules_select(account_server):
    account = account_server.account
    for organization_id, profiles in account.proxy_profiles.items():
        body = get(account_server, fill(PROXY_PROFILES, organizationId=organization_id)).json()
        assert [p["proxyProfileId"] for p in body["profiles"]] == [
            p["proxyProfileId"] for p in profiles
        ]
        for profile in body["profiles"]:
            rules = profile["sdkKeySelectionRules"]
            assert rules and any(r["kind"] == "include" for r in rules)
            path = fill(PROXY_SDK_KEYS, proxyProfileId=profile["proxyProfileId"])
            items = get(account_server, path).json()["items"]
            pairs = selected_pairs(account, organization_id, rules)
            assert [(i["configId"], i["environmentId"]) for i in items] == pairs
            for item in items:
                keys = account.sdk_keys[(item["configId"], item["environmentId"])]
                assert item["primarySdkKey"] == keys["primary"]
                assert item["secondarySdkKey"] == keys["secondary"]
                assert SECRET_MARKER not in item["sdkId"]
        # The Production profile serves every Production environment it does not exclude.
        production = get(
            account_server, fill(PROXY_SDK_KEYS, proxyProfileId=profiles[0]["proxyProfileId"])
        )
        environments = {i["environmentId"] for i in production.json()["items"]}
        assert environments and all(
            account.environments_by_id[e]["name"] == "Production" for e in environments
        )


# -- counting a sync ----------------------------------------------------------------------------


def test_expected_requests_match_a_crawl_of_the_hierarchy(emulator):
    account = emulator.account
    organizations = get(emulator, "/v1/organizations").json()
    products = get(emulator, "/v1/products").json()
    for organization in organizations:
        for template in (
            "/v2/organizations/{organizationId}/members",
            "/v1/organizations/{organizationId}/invitations",
            PROXY_PROFILES,
            LIMITATIONS,
        ):
            path = fill(template, organizationId=organization["organizationId"])
            assert get(emulator, path).status_code == 200
    for product in products:
        product_id = product["productId"]
        for child in (
            "tags",
            "segments",
            "permissions",
            "members",
            "invitations",
            "webhooks",
            "integrations",
            "staleflags",
            "preferences",
        ):
            assert get(emulator, f"/v1/products/{product_id}/{child}").status_code == 200
        page_number = 1
        while True:
            path = fill(CHANGE_REQUESTS, productId=product_id)
            body = get(emulator, path, pageSize=100, pageNumber=page_number).json()[
                "changeRequests"
            ]
            for summary in body["data"]:
                path = fill(CHANGE_REQUEST, changeRequestId=summary["changeRequestId"])
                assert get(emulator, path).status_code == 200
            if not body["paging"]["hasNext"]:
                break
            page_number += 1
        environments = get(emulator, f"/v1/products/{product_id}/environments").json()
        for config in get(emulator, f"/v1/products/{product_id}/configs").json():
            config_id = config["configId"]
            assert get(emulator, fill(DELETED_FLAGS, configId=config_id)).status_code == 200
            for setting in get(emulator, f"/v1/configs/{config_id}/settings").json():
                path = fill(CODE_REFERENCES, settingId=setting["settingId"])
                assert get(emulator, path).status_code == 200
            for environment in environments:
                ids = {"configId": config_id, "environmentId": environment["environmentId"]}
                version = config["evaluationVersion"]
                template = f"/{version}/configs/{{configId}}/environments/{{environmentId}}/values"
                assert get(emulator, fill(template, **ids)).status_code == 200
    made = Counter(entry.template for entry in emulator.request_log)
    assert dict(made) == account.expected_requests()
    # Not one GET of a secret-bearing endpoint is needed.
    assert PROXY_SDK_KEYS not in made


def test_expected_requests_count_change_request_pages_at_100_a_page():
    account = build_account()
    expected = account.expected_requests()
    sizes = [len(account.change_requests[p["productId"]]) for p in account.products]
    assert expected[CHANGE_REQUESTS] == sum(max(1, math.ceil(size / 100)) for size in sizes)
    assert expected[CHANGE_REQUEST] == sum(sizes)
    product_id = account.products[0]["productId"]
    account.change_requests[product_id] = []
    assert account.change_request_page_count(product_id) == 1
    assert account.change_request_page_count(account.products[1]["productId"], page_size=1) == (
        len(account.change_requests[account.products[1]["productId"]])
    )


def test_audit_log_page_count(account_server):
    account = account_server.account
    organization_id = account.organizations[0]["organizationId"]
    start, end = BASE_DATE - timedelta(days=30), BASE_DATE
    total = len(in_window(account, organization_id, start, end))
    assert account.audit_log_page_count(organization_id, start, end, page_size=10) == math.ceil(
        total / 10
    )
    later = BASE_DATE + timedelta(days=1)
    assert account.audit_log_page_count(organization_id, later, later + timedelta(days=1)) == 1


# -- request log, rate limit, latency -----------------------------------------------------------


def test_request_log_records_template_query_and_status(emulator):
    product_id = emulator.account.products[0]["productId"]
    get(emulator, f"/v1/products/{product_id}/staleflags", ignoredTagIds=["1", "2"])
    get(emulator, "/v1/unknown")
    get(emulator, "/v1/me", auth=None)
    first, second, third = emulator.request_log
    assert first.method == "GET"
    assert first.path == f"/v1/products/{product_id}/staleflags"
    assert first.template == "/v1/products/{productId}/staleflags"
    assert first.query == {"ignoredTagIds": ["1", "2"]}
    assert first.status == 200
    assert (second.template, second.status) == (None, 404)
    assert (third.template, third.status) == ("/v1/me", 401)
    assert first.timestamp <= second.timestamp <= third.timestamp
    emulator.reset_log()
    assert emulator.request_log == []


def burst(server: EmulatorServer, paths: list[str]) -> list[requests.Response]:
    """GETs of `paths` in order, all within a second of the first (retried until they are)."""
    for _ in range(5):
        with requests.Session() as session:
            session.auth = AUTH
            started = time.monotonic()
            responses = [session.get(server.url + path, timeout=10) for path in paths]
        if time.monotonic() - started < 0.9:
            return responses
        time.sleep(1.1)  # let the window end before trying again
    pytest.fail("could not fit the burst into one second")


def test_rate_limit_headers_and_429(emulator):
    emulator.rate_limit_per_second = 5
    before = datetime.now(UTC)
    responses = burst(emulator, ["/v1/me"] * 8)
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    allowed, refused = responses[:5], responses[5:]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in allowed] == ["4", "3", "2", "1", "0"]
    assert {r.headers["X-Rate-Limit-Limit"] for r in allowed} == {"1s"}
    # One window, opened by the first request: one reset for all, a second after it.
    resets = {r.headers["X-Rate-Limit-Reset"] for r in allowed}
    assert len(resets) == 1
    reset = resets.pop()
    assert ROUND_TRIP_Z.match(reset), reset
    assert 1 <= (UtcDateTime(reset).to_datetime() - before).total_seconds() <= 1.5
    for response in refused:
        assert response.headers["Retry-After"] == "1"
        assert response.headers["Content-Type"] == "text/plain"
        assert response.text == "API calls quota exceeded! maximum admitted 5 per 1s."
        assert "X-Rate-Limit-Remaining" not in response.headers
        assert "X-Rate-Limit-Reset" not in response.headers
    assert "Retry-After" not in allowed[0].headers
    assert Counter(e.status for e in emulator.request_log) == {200: 5, 429: 3}
    time.sleep(max(0.0, (UtcDateTime(reset).to_datetime() - datetime.now(UTC)).total_seconds()))
    time.sleep(0.05)
    response = get(emulator, "/v1/me")
    assert response.status_code == 200 and response.headers["X-Rate-Limit-Remaining"] == "4"


def test_rate_limit_per_minute(emulator):
    emulator.rate_limit_per_minute = 5
    before = datetime.now(UTC)
    responses = [get(emulator, "/v1/me") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert {r.headers["X-Rate-Limit-Limit"] for r in responses[:5]} == {"1m"}
    assert [r.headers["X-Rate-Limit-Remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    reset = UtcDateTime(responses[0].headers["X-Rate-Limit-Reset"]).to_datetime()
    assert 60 <= (reset - before).total_seconds() <= 61
    refused = responses[5]
    assert 58 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Content-Type"] == "text/plain"
    assert refused.text == "API calls quota exceeded! maximum admitted 5 per 1m."


def test_headers_report_the_longest_period_and_refused_requests_count_in_it(emulator):
    emulator.rate_limit_per_second = 3
    emulator.rate_limit_per_minute = 5
    responses = burst(emulator, ["/v1/me"] * 4)
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in responses[:3]] == ["4", "3", "2"]
    assert {r.headers["X-Rate-Limit-Limit"] for r in responses[:3]} == {"1m"}
    assert responses[3].text == "API calls quota exceeded! maximum admitted 3 per 1s."
    time.sleep(1.1)
    # The refused fourth request used up the minute's fourth call.
    responses = [get(emulator, "/v1/me") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert responses[0].headers["X-Rate-Limit-Remaining"] == "0"
    assert responses[1].text == "API calls quota exceeded! maximum admitted 5 per 1m."


def test_rate_limit_scope_path_counts_each_path_apart(emulator):
    emulator.rate_limit_per_second = 2
    paths = ["/v1/me", "/v1/organizations", "/v1/me", "/v1/products", "/v1/organizations"]
    assert [r.status_code for r in burst(emulator, paths)] == [200, 200, 429, 429, 429]
    time.sleep(1.1)
    emulator.rate_limit_scope = "path"
    responses = burst(emulator, [*paths, "/v1/me"])
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    remaining = [r.headers.get("X-Rate-Limit-Remaining") for r in responses]
    assert remaining == ["1", "1", "0", "1", "0", None]


def test_rate_limits_count_a_request_when_it_arrives_not_after_the_latency(emulator):
    """ConfigCat's limits are middleware that counts a request before any work on it.

    B arrives 0.4 s after A, inside the window A opened, and is refused; counted once its
    1 s of latency had passed, it would have fallen into a new window and been answered."""
    emulator.rate_limit_per_second = 1
    first = get(emulator, "/v1/me")
    time.sleep(0.4)
    emulator.latency_ms = 1000
    started = time.monotonic()
    second = get(emulator, "/v1/me")
    assert time.monotonic() - started >= 1.0  # the refusal still waits for the latency
    a, b = emulator.request_log
    assert b.timestamp - a.timestamp < 0.9, "B must arrive inside A's window for this test"
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.text == "API calls quota exceeded! maximum admitted 1 per 1s."


SECOND = TICKS_PER_SECOND


def test_rate_limit_windows_open_at_the_first_request_not_at_the_clock():
    limiter = RateLimiter()
    rule = RateLimitRule.per_second(2)
    start = 1_700_000_000 * SECOND + 7 * SECOND // 10  # 0.7 s past a whole second
    first = limiter.hit("key", [rule], start)
    assert first.refused_by is None
    assert first.headers == {
        "X-Rate-Limit-Limit": "1s",
        "X-Rate-Limit-Remaining": "1",
        "X-Rate-Limit-Reset": str(UtcDateTime.from_ticks(start + SECOND)),
    }
    # Past the whole second but still in the window that the first request opened.
    assert limiter.hit("key", [rule], start + 5 * SECOND // 10).refused_by is None
    refused = limiter.hit("key", [rule], start + 9 * SECOND // 10)
    assert refused.refused_by == rule and refused.retry_after == 1 and refused.headers == {}
    assert limiter.hit("key", [rule], start + SECOND).refused_by == rule  # the window's last tick
    assert limiter.hit("other", [rule], start + SECOND).refused_by is None
    later = limiter.hit("key", [rule], start + SECOND + 1)
    assert later.refused_by is None
    assert later.headers["X-Rate-Limit-Remaining"] == "1"
    assert later.headers["X-Rate-Limit-Reset"] == str(
        UtcDateTime.from_ticks(start + 2 * SECOND + 1)
    )


def test_rate_limit_minute_windows():
    limiter = RateLimiter()
    rule = RateLimitRule.per_minute(5)
    start = 1_700_000_000 * SECOND
    for index in range(5):
        verdict = limiter.hit("key", [rule], start + index * SECOND)
        assert verdict.headers["X-Rate-Limit-Remaining"] == str(4 - index)
    refused = limiter.hit("key", [rule], start + 20 * SECOND + SECOND // 4)
    assert refused.refused_by == rule and refused.retry_after == 40  # 39.75 s, rounded
    assert rule.message == "API calls quota exceeded! maximum admitted 5 per 1m."
    assert limiter.hit("key", [rule], start + 60 * SECOND).refused_by == rule
    again = limiter.hit("key", [rule], start + 60 * SECOND + 1)
    assert again.refused_by is None and again.headers["X-Rate-Limit-Remaining"] == "4"


def test_no_rate_limit_headers_when_the_limit_is_off(account_server):
    response = get(account_server, "/v1/me")
    assert "X-Rate-Limit-Remaining" not in response.headers


def test_latency_delays_each_response_but_requests_run_concurrently():
    with EmulatorServer(latency_ms=300) as slow:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: get(slow, "/v1/products").status_code, range(10)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 10
    assert 0.3 <= elapsed < 1.5


def test_keep_alive_answers_are_not_held_back_by_nagle(account_server):
    """A keep-alive answer with no latency configured comes back in a few ms, not after the
    ~40 ms delayed ACK that Nagle's algorithm waits for on the answer's last segment."""
    with requests.Session() as session:
        session.auth = AUTH
        session.get(account_server.url + "/v1/products", timeout=10).raise_for_status()
        times = []
        for _ in range(9):
            started = time.perf_counter()
            session.get(account_server.url + "/v1/products", timeout=10).raise_for_status()
            times.append(time.perf_counter() - started)
    assert min(times) < 0.025  # with Nagle on, every answer takes 40 ms or more


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "401", "403", "404"])
def test_status_faults(emulator, kind):
    rule = emulator.faults.add(FaultRule(path_regex=r"^/v1/products$", kind=kind, times=2))
    responses = [get(emulator, "/v1/products") for _ in range(3)]
    assert [r.status_code for r in responses] == [int(kind)] * 2 + [200]
    assert responses[0].json()
    assert get(emulator, "/v1/me").status_code == 200
    assert emulator.faults.remaining(rule) == 0
    assert [e.status for e in emulator.request_log] == [int(kind)] * 2 + [200, 200]
    assert ("WWW-Authenticate" in responses[0].headers) == (kind == "401")


def test_429_fault_with_and_without_retry_after(emulator):
    emulator.faults.add(FaultRule(kind="429", times=3, retry_after=2))
    responses = [get(emulator, "/v1/me") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert all(r.headers["Retry-After"] == "2" for r in responses[:3])
    emulator.faults.add(FaultRule(kind="429", times=1, retry_after=None))
    response = get(emulator, "/v1/me")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_fail_first_answers_the_first_requests_with_429():
    with EmulatorServer(fail_first=2) as failing:
        responses = [get(failing, "/v1/organizations") for _ in range(3)]
        assert [r.status_code for r in responses] == [429, 429, 200]
        assert responses[0].headers["Retry-After"] == "1"
        assert Counter(e.status for e in failing.request_log)[429] == 2


def test_forever_faults_until_cleared_and_query_aware_matching(emulator):
    organization_id = emulator.account.organizations[0]["organizationId"]
    path = fill(ORG_AUDIT, organizationId=organization_id)
    emulator.faults.add(FaultRule(path_regex=r"pageNumber=2", kind="503", times=None))
    assert all(get(emulator, path, pageNumber=2).status_code == 503 for _ in range(4))
    assert get(emulator, path, pageNumber=1).status_code == 200
    emulator.faults.clear()
    assert get(emulator, path, pageNumber=2).status_code == 200


def test_reset_fault_drops_the_connection(emulator):
    emulator.faults.add(FaultRule(kind="reset", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        get(emulator, "/v1/me")
    assert get(emulator, "/v1/me").status_code == 200
    assert [e.status for e in emulator.request_log] == [0, 200]


def test_stall_fault_answers_late_but_normally(emulator):
    emulator.faults.add(FaultRule(kind="stall", times=1, stall_seconds=0.5))
    started = time.monotonic()
    response = get(emulator, "/v1/me")
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 200 and response.json() == emulator.account.me
    emulator.faults.add(FaultRule(kind="stall", times=1, stall_seconds=2))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(emulator.url + "/v1/me", auth=AUTH, timeout=0.5)


def test_malformed_json_fault(emulator):
    emulator.faults.add(FaultRule(kind="malformed_json", times=1))
    response = get(emulator, "/v1/products")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert get(emulator, "/v1/products").content.startswith(response.content)


def test_html_200_fault(emulator):
    emulator.faults.add(FaultRule(kind="html_200", times=1))
    response = get(emulator, "/v1/products")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().lower().startswith("<!doctype html>")


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError):
        FaultRule(kind="teapot")


# -- command line -------------------------------------------------------------------------------


def test_cli_options_reach_the_server():
    server = server_from_arguments(
        [
            "--rate-limit",
            "20",
            "--rate-limit-per-minute",
            "500",
            "--rate-limit-scope",
            "path",
            "--datetime-style",
            "round_trip",
            "--utc-offset",
            "+00:00",
            "--audit-log-retention-days",
            "35",
            "--audit-log-retention-answer",
            "reject-started",
        ]
    )
    assert (server.rate_limit_per_second, server.rate_limit_per_minute) == (20, 500)
    assert server.rate_limit_scope == "path"
    assert (server.datetime_style, server.utc_offset) == ("round_trip", "+00:00")
    assert server.audit_log_retention_days == 35
    assert server.audit_log_retention_answer == "reject-started"
    defaults = server_from_arguments([])
    assert (defaults.rate_limit_per_second, defaults.rate_limit_per_minute) == (0, 0)
    assert (defaults.rate_limit_scope, defaults.datetime_style) == ("credential", "trimmed")
    assert (defaults.utc_offset, defaults.audit_log_retention_answer) == ("Z", "empty")
    with pytest.raises(ValueError):
        EmulatorServer(datetime_style="ticks")


def test_cli_prints_where_it_listens_but_not_the_password():
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--password", "cli-pass-5e2f"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        found = re.fullmatch(
            r"ConfigCat emulator listening on (http://127\.0\.0\.1:\d+) \(user=(.+)\)\n", line
        )
        assert found and found.group(2) == DEFAULT_USERNAME
        assert "cli-pass-5e2f" not in line
        url = found.group(1)
        response = requests.get(
            url + "/v1/me", auth=(DEFAULT_USERNAME, "cli-pass-5e2f"), timeout=10
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
