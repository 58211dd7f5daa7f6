"""Every stream and the error handler, in-process, with the CDK's HttpMocker.

Response bodies come from the emulator's seeded account (the same code that serves the
emulator, date-times written as it writes them by default), so they follow the OpenAPI document;
nothing is hand-copied.
"""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS

from emulator import served
from emulator.account import V1_VALUES, V2_VALUES
from emulator.routes import ROUTES, Api
from emulator.seed import build_account
from tooling.runtime import MANIFEST_PATH

BASE_URL = "https://api.configcat.com"
PASSWORD = "s3cret-Public-API-password-0123456789abcdef"
CONFIG = {"username": "08d86d63-user", "password": PASSWORD, "stale_flag_age_days": 14}
STALE_QUERY = {
    "staleFlagAgeDays": "14",
    "scope": "all",
    "staleFlagStaleInEnvironmentsType": "staleInAnyEnvironments",
}

ACCOUNT = build_account(seed=7, scale="small")
API = Api(ACCOUNT, audit_log_retention_days=750)
ORGANIZATIONS = [o["organizationId"] for o in ACCOUNT.organizations]
PRODUCTS = [p["productId"] for p in ACCOUNT.products]


def body(template: str, query: dict | None = None, **ids) -> dict | list:
    return served(ROUTES[template](API, query or {}, **ids))


def mock(http_mocker: HttpMocker, template: str, query=None, responses=None, **ids) -> None:
    path = template.format(**ids)
    request = HttpRequest(f"{BASE_URL}{path}", query_params=query)
    if responses is None:
        served_query = {k: [v] for k, v in (query or {}).items() if query != ANY_QUERY_PARAMS}
        responses = HttpResponse(_json(body(template, served_query, **ids)), 200)
    http_mocker.get(request, responses)


def _json(payload) -> str:
    return json.dumps(payload)


def mock_organizations(http_mocker, child: str | None = None) -> None:
    mock(http_mocker, "/v1/organizations")
    for organization_id in ORGANIZATIONS if child else []:
        mock(http_mocker, child, organizationId=organization_id)


def mock_products(http_mocker, child: str | None = None, query=None) -> None:
    mock(http_mocker, "/v1/products")
    for product_id in PRODUCTS if child else []:
        mock(http_mocker, child, query=query, productId=product_id)


def mock_configs(http_mocker, child: str) -> None:
    """The products, their configs, and `child` of every config."""
    mock_products(http_mocker, "/v1/products/{productId}/configs")
    for config_id in ACCOUNT.configs_by_id:
        mock(http_mocker, child, configId=config_id)


def run(stream: str, config=None, sync_mode=SyncMode.full_refresh, state=None) -> EntrypointOutput:
    config = config or CONFIG
    catalog = (
        CatalogBuilder()
        .with_stream(ConfiguredAirbyteStreamBuilder().with_name(stream).with_sync_mode(sync_mode))
        .build()
    )
    source = YamlDeclarativeSource(
        path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state
    )
    return read(source, config, catalog, state)


def records(output: EntrypointOutput) -> list[dict]:
    return [message.record.data for message in output.records]


def emitted(item: dict, **added) -> dict:
    """An API item as the runtime emits it: as served, top-level nulls dropped, parent ids added."""
    return {key: value for key, value in {**served(item), **added}.items() if value is not None}


def per_product(lists: dict) -> list[dict]:
    return [emitted(item, productId=p) for p in PRODUCTS for item in lists[p]]


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    """Backoffs are real in the emulator tests; here only their length is asserted."""
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_organizations():
    with HttpMocker() as http_mocker:
        mock_organizations(http_mocker)
        assert records(run("organizations")) == ACCOUNT.organizations


def test_products_keep_their_nested_organization():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker)
        synced = records(run("products"))
    assert [p["productId"] for p in synced] == PRODUCTS
    assert all(p["organization"]["organizationId"] in ORGANIZATIONS for p in synced)


def test_organization_members_list_everyone_with_their_role():
    with HttpMocker() as http_mocker:
        mock_organizations(http_mocker, "/v2/organizations/{organizationId}/members")
        synced = records(run("organization_members"))
    expected = [
        emitted(person, organizationId=organization_id, role=role)
        for organization_id in ORGANIZATIONS
        for role, key in (("admin", "admins"), ("billingManager", "billingManagers"))
        for person in ACCOUNT.organization_members[organization_id][key]
    ] + [
        emitted(person, organizationId=organization_id, role="member")
        for organization_id in ORGANIZATIONS
        for person in ACCOUNT.organization_members[organization_id]["members"]
    ]
    key = lambda r: (r["organizationId"], r["role"], r["userId"])  # noqa: E731
    assert sorted(synced, key=key) == sorted(expected, key=key)


def test_organization_invitations_carry_their_organization():
    with HttpMocker() as http_mocker:
        mock_organizations(http_mocker, "/v1/organizations/{organizationId}/invitations")
        synced = records(run("organization_invitations"))
    expected = [
        emitted(item, organizationId=o)
        for o in ORGANIZATIONS
        for item in ACCOUNT.organization_invitations[o]
    ]
    assert sorted(synced, key=str) == sorted(expected, key=str)


@pytest.mark.parametrize(
    ("stream", "endpoint", "lists"),
    [
        ("tags", "tags", ACCOUNT.tags),
        ("environments", "environments", ACCOUNT.environments),
        ("configs", "configs", ACCOUNT.configs),
        ("segments", "segments", ACCOUNT.segments),
        ("permission_groups", "permissions", ACCOUNT.permission_groups),
        ("product_members", "members", ACCOUNT.product_members),
        ("product_invitations", "invitations", ACCOUNT.product_invitations),
    ],
)
def test_product_children_carry_their_product(stream, endpoint, lists):
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, f"/v1/products/{{productId}}/{endpoint}")
        synced = records(run(stream))
    assert sorted(synced, key=str) == sorted(per_product(lists), key=str)


def test_webhooks_never_emit_secure_header_values():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, "/v1/products/{productId}/webhooks")
        synced = records(run("webhooks"))
    assert len(synced) == len(per_product(ACCOUNT.webhooks))
    secrets = {
        h["value"]
        for w in per_product(ACCOUNT.webhooks)
        for h in w["webHookHeaders"]
        if h["isSecure"]
    }
    assert secrets
    for webhook in synced:
        for header in webhook["webHookHeaders"]:
            assert (header["value"] is None) == header["isSecure"]
            assert header["value"] not in secrets


def test_integrations_keep_parameter_names_only():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, "/v1/products/{productId}/integrations")
        synced = records(run("integrations"))
    # Products are read concurrently: compare in integrationId order.
    synced = sorted(synced, key=lambda i: i["integrationId"])
    expected = sorted(per_product(ACCOUNT.integrations), key=lambda i: i["integrationId"])
    assert [i["integrationId"] for i in synced] == [i["integrationId"] for i in expected]
    for got, source in zip(synced, expected, strict=True):
        if source["parameters"] is None:
            assert "parameters" not in got
        else:
            assert got["parameters"] == dict.fromkeys(source["parameters"])


def test_stale_flags_one_record_per_flag_with_its_config():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, "/v1/products/{productId}/staleflags", query=STALE_QUERY)
        synced = records(run("stale_flags"))
    expected = [
        (p, config["configId"], setting["settingId"])
        for p in PRODUCTS
        for config in ACCOUNT.stale_flags(p, stale_flag_age_days=14)["configs"]
        for setting in config["settings"]
    ]
    assert expected
    assert sorted((r["productId"], r["configId"], r["settingId"]) for r in synced) == sorted(
        expected
    )


def test_feature_flags_per_config():
    with HttpMocker() as http_mocker:
        mock_configs(http_mocker, "/v1/configs/{configId}/settings")
        synced = records(run("feature_flags"))
    expected = [
        emitted(setting, productId=ACCOUNT.product_of_config(config_id)["productId"])
        for config_id, settings in ACCOUNT.settings.items()
        for setting in settings
    ]
    assert sorted(synced, key=str) == sorted(expected, key=str)


def test_product_preferences_one_record_per_product():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, "/v1/products/{productId}/preferences")
        synced = records(run("product_preferences"))
    expected = [emitted(ACCOUNT.preferences[p], productId=p) for p in PRODUCTS]
    assert sorted(synced, key=str) == sorted(expected, key=str)


def test_organization_limitations_one_record_per_organization():
    with HttpMocker() as http_mocker:
        mock_organizations(
            http_mocker, "/v1/organizations/{organizationId}/organization-limitations"
        )
        synced = records(run("organization_limitations"))
    expected = [
        emitted(ACCOUNT.organization_limitations[o], organizationId=o) for o in ORGANIZATIONS
    ]
    assert sorted(synced, key=str) == sorted(expected, key=str)


def test_proxy_profiles_never_emit_signing_keys():
    with HttpMocker() as http_mocker:
        mock_organizations(http_mocker, "/v1/organizations/{organizationId}/proxy-profiles")
        synced = records(run("proxy_profiles"))
    profiles = [p for o in ORGANIZATIONS for p in ACCOUNT.proxy_profiles[o]]
    assert sorted(p["proxyProfileId"] for p in synced) == sorted(
        p["proxyProfileId"] for p in profiles
    )
    notifications = [
        p["connectionPreferences"]["webhookNotification"]
        for p in synced
        if p["connectionPreferences"]["webhookNotification"] is not None
    ]
    assert notifications
    for notification in notifications:
        assert notification["signingKey1"] is None and notification["signingKey2"] is None
        assert notification["webhookProxyUrl"]
    dumped = json.dumps(synced)
    assert [secret for secret in ACCOUNT.secrets() if secret in dumped] == []


def test_deleted_flags_per_config():
    with HttpMocker() as http_mocker:
        mock_configs(http_mocker, "/v1/configs/{configId}/deleted-settings")
        synced = records(run("deleted_flags"))
    expected = [
        emitted(
            item,
            configId=config_id,
            productId=ACCOUNT.product_of_config(config_id)["productId"],
        )
        for config_id, items in ACCOUNT.deleted_settings.items()
        for item in items
    ]
    assert expected
    assert sorted(synced, key=str) == sorted(expected, key=str)


def test_code_references_one_request_per_flag():
    with HttpMocker() as http_mocker:
        mock_configs(http_mocker, "/v1/configs/{configId}/settings")
        for setting_id in ACCOUNT.code_references:
            mock(http_mocker, "/v1/settings/{settingId}/code-references", settingId=str(setting_id))
        synced = records(run("code_references"))
    config_of = {
        setting["settingId"]: config_id
        for config_id, settings in ACCOUNT.settings.items()
        for setting in settings
    }
    expected = [
        emitted(
            reference,
            settingId=setting_id,
            configId=config_of[setting_id],
            productId=ACCOUNT.product_of_config(config_of[setting_id])["productId"],
        )
        for setting_id, references in ACCOUNT.code_references.items()
        for reference in references
    ]
    assert expected
    assert sorted(synced, key=str) == sorted(expected, key=str)


def test_change_requests_every_status_each_read_in_full():
    statuses = ["open", "applied", "closed"]
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/products")
        for product_id in PRODUCTS:
            items = ACCOUNT.change_requests[product_id]
            pages = [items[start : start + 100] for start in range(0, len(items), 100)] or [[]]
            for number, _ in enumerate(pages, start=1):
                query = {"changeRequestStatusFilter": statuses, "pageSize": "100"}
                if number > 1:
                    query["pageNumber"] = str(number)
                served_query = {"changeRequestStatusFilter": statuses, "pageSize": ["100"]}
                served_query["pageNumber"] = [str(number)]
                answer = body(
                    "/v2/products/{productId}/change-requests", served_query, productId=product_id
                )
                request = HttpRequest(
                    f"{BASE_URL}/v2/products/{product_id}/change-requests", query_params=query
                )
                http_mocker.get(request, HttpResponse(_json(answer), 200))
            for item in items:
                mock(
                    http_mocker,
                    "/v2/change-requests/{changeRequestId}",
                    changeRequestId=str(item["changeRequestId"]),
                )
        synced = records(run("change_requests"))
    expected = [emitted(item, productId=p) for p in PRODUCTS for item in ACCOUNT.change_requests[p]]
    assert {item["changeRequestStatus"] for item in expected} == set(statuses)
    assert sorted(synced, key=str) == sorted(expected, key=str)
    assert all("approvals" in record and "activities" in record for record in synced)


def test_feature_flag_values_only_for_environments_of_the_configs_product():
    with HttpMocker() as http_mocker:
        mock_products(http_mocker, "/v1/products/{productId}/configs")
        for product_id in PRODUCTS:
            mock(http_mocker, "/v1/products/{productId}/environments", productId=product_id)
        for config_id, environment_id in ACCOUNT.setting_values:
            mock(
                http_mocker,
                ACCOUNT.values_template(config_id),
                configId=config_id,
                environmentId=environment_id,
            )
        synced = records(run("feature_flag_values"))
    assert {ACCOUNT.values_template(c) for c, _ in ACCOUNT.setting_values} == {V1_VALUES, V2_VALUES}
    expected = {
        (config_id, environment_id, value["setting"]["settingId"])
        for (config_id, environment_id), values in ACCOUNT.setting_values.items()
        for value in values
    }
    assert {(r["configId"], r["environmentId"], r["settingId"]) for r in synced} == expected
    assert len(synced) == len(expected)


def test_audit_logs_follow_pages_until_has_next_is_false():
    organization_id = ORGANIZATIONS[0]
    items = served(ACCOUNT.audit_logs[organization_id][:3])

    def page(number: int, has_next: bool) -> HttpResponse:
        paging = {
            "currentPage": number,
            "totalPages": 2,
            "pageSize": 100,
            "totalCount": 3,
            "hasPrevious": number > 1,
            "hasNext": has_next,
        }
        chunk = items[:2] if number == 1 else items[2:]
        return HttpResponse(_json({"paging": paging, "data": chunk}), 200)

    start = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with HttpMocker() as http_mocker:
        http_mocker.get(
            HttpRequest(f"{BASE_URL}/v1/organizations"),
            HttpResponse(_json(ACCOUNT.organizations[:1]), 200),
        )
        path = f"{BASE_URL}/v2/organizations/{organization_id}/auditlogs"
        http_mocker.get(
            HttpRequest(path, query_params=ANY_QUERY_PARAMS), [page(1, True), page(2, False)]
        )
        output = run("audit_logs", config={**CONFIG, "start_date": start})
    synced = records(output)
    assert [r["auditLogId"] for r in synced] == [i["auditLogId"] for i in items]
    assert {r["organizationId"] for r in synced} == {organization_id}


# -- error handling --------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(no_backoff_sleep):
    limited = HttpResponse('{"message":["Too many requests."]}', 429, {"Retry-After": "7"})
    ok = HttpResponse(_json(ACCOUNT.organizations), 200)
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/organizations", responses=[limited, ok])
        synced = records(run("organizations"))
    assert synced == ACCOUNT.organizations
    # The CDK sleeps the header's seconds plus one.
    assert 7 <= max(no_backoff_sleep) <= 8


def test_429_without_retry_after_backs_off_exponentially(no_backoff_sleep):
    limited = HttpResponse("{}", 429)
    ok = HttpResponse(_json(ACCOUNT.organizations), 200)
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/organizations", responses=[limited, limited, limited, ok])
        synced = records(run("organizations"))
    assert synced == ACCOUNT.organizations
    # Backoffs are whole seconds of 2 or more (2**n + 1); the call-rate budget's own pauses,
    # which spin here since time.sleep is patched, are fractions and 0 or 1.
    waits = [wait for wait in no_backoff_sleep if wait >= 2 and float(wait).is_integer()]
    assert len(waits) == 3
    assert waits == sorted(waits) and waits[-1] >= 2 * waits[0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(status):
    failing = HttpResponse("<html>Bad gateway</html>", status, {"Content-Type": "text/html"})
    ok = HttpResponse(_json(ACCOUNT.organizations), 200)
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/organizations", responses=[failing, failing, ok])
        assert records(run("organizations")) == ACCOUNT.organizations


def test_401_fails_as_a_config_error_without_leaking_the_password():
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/organizations", responses=HttpResponse("", 401))
        output = run("organizations")
    assert output.records == []
    errors = [m.trace.error for m in output.errors]
    assert errors and errors[0].failure_type.value == "config_error"
    assert "rejected the Public API credential" in errors[0].message
    everything = "\n".join(
        m.model_dump_json() if hasattr(m, "model_dump_json") else str(m) for m in output._messages
    )
    basic = base64.b64encode(f"{CONFIG['username']}:{PASSWORD}".encode()).decode()
    assert PASSWORD not in everything
    assert basic not in everything


def test_child_404_skips_that_product_only():
    gone = PRODUCTS[0]
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/products")
        for product_id in PRODUCTS:
            responses = (
                HttpResponse('{"message":["Not found."]}', 404) if product_id == gone else None
            )
            mock(
                http_mocker,
                "/v1/products/{productId}/tags",
                responses=responses,
                productId=product_id,
            )
        output = run("tags")
    assert output.errors == []
    assert {r["productId"] for r in records(output)} == set(PRODUCTS) - {gone}
    # The line names the stream, not the URL (airbyte-cdk 7.23.8 has no `request_url`).
    skipped = [log.log.message for log in output.logs if log.log.message.startswith("Skipped")]
    assert skipped == [
        "Skipped a partition of stream tags: ConfigCat answered HTTP 403 or 404 (no permission,"
        " or deleted since its parent was read). The other records of the stream are synced."
    ]


def test_html_page_with_status_200_fails_instead_of_an_empty_stream():
    html = HttpResponse("<html><body>Maintenance</body></html>", 200, {"Content-Type": "text/html"})
    with HttpMocker() as http_mocker:
        mock(http_mocker, "/v1/organizations", responses=html)
        output = run("organizations")
    errors = [m.trace.error for m in output.errors]
    assert errors and errors[0].failure_type.value == "system_error"
    assert "not valid JSON" in errors[0].message
