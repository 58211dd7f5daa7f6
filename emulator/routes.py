"""The API's GET endpoints: which path answers (`ROUTES`, `match_route`) and with what (`Api`).

Each route is a method of `Api` that reads the `Account` and returns the payload in the shape of
ConfigCat's OpenAPI document, or raises `ApiError`, the API's error answer. The helpers after
`match_route` read query parameters as the API does; the audit log's window rules are here too,
as are `iso` and `parse_iso`, how a client writes and reads a date-time.

Neighbours: `account` holds the data and its queries; `server` does the HTTP around a route (auth,
rate limits, faults, the request log, the style date-times are written in); `seed` fills the
account.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .account import AUDIT_LOG_TYPES, CHANGE_REQUEST_STATUSES, V1_VALUES, V2_VALUES, Account
from .datetimes import UtcDateTime, ticks_of

INT32_MAX = 2**31 - 1
# The optional yes/no filters of the change request list: query name -> (no, yes) values and
# the `Account.change_request_items` keyword each sets.
CHANGE_REQUEST_FLAG_FILTERS = {
    "scheduleFilter": (("nonScheduled", "scheduled"), "scheduled"),
    "approveRequiredFilter": (("approveNotRequired", "approveRequired"), "approve_required"),
    "needsAttentionFilter": (("notNeedsAttention", "needsAttention"), "needs_attention"),
}
# An audit log request's window [from, to): `from` defaults to `to` minus the default window,
# and the window may be no longer than the maximum.
AUDIT_LOG_DEFAULT_WINDOW = timedelta(days=7)
AUDIT_LOG_MAX_WINDOW = timedelta(days=30)
# What the v2 audit log answers for a window that reaches before the plan's retention, which is
# undocumented; each is a plausible reading, and the retention's boundary is the account's "now"
# minus the retention (`Account.retention_boundary`):
# * "empty": every window is answered, without the events older than the retention;
# * "reject-ended": a window that ends at or before the boundary, so holds nothing the plan still
#   keeps, is refused with a 400 that names the retention; one that reaches into it is answered;
# * "reject-started": an API that validates `fromUtcDateTime` refuses every window that starts
#   before the boundary with a 400 that names the retention, even one that also holds events the
#   plan keeps.
AUDIT_LOG_RETENTION_ANSWERS = ("empty", "reject-ended", "reject-started")
# The name "reject-ended" had before "reject-started" existed, still taken.
AUDIT_LOG_RETENTION_ANSWER_ALIASES = {"reject": "reject-ended"}


class ApiError(Exception):
    """An error answer; the body is `{key: [message]}`, the shape ConfigCat's CLI reads."""

    def __init__(self, status: int, key: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {key: [message]}


def not_found() -> ApiError:
    return ApiError(404, "message", "Not found.")


# -- endpoints --------------------------------------------------------------------------------


class Api:
    """The GET endpoints, each a method named in ROUTES taking the query and path parameters.

    Path parameters keep the API's camelCase names, so routes can pass them as keywords.
    """

    def __init__(
        self,
        account: Account,
        audit_log_retention_days: int,
        audit_log_retention_answer: str = "empty",
    ) -> None:
        self.account = account
        self.audit_log_retention_days = audit_log_retention_days
        self.audit_log_retention_answer = AUDIT_LOG_RETENTION_ANSWER_ALIASES.get(
            audit_log_retention_answer, audit_log_retention_answer
        )

    # lookups that turn unknown ids into 404s

    def _organization(self, organization_id: str) -> dict:
        try:
            return self.account.organizations_by_id[organization_id]
        except KeyError:
            raise not_found() from None

    def _product(self, product_id: str) -> dict:
        try:
            return self.account.products_by_id[product_id]
        except KeyError:
            raise not_found() from None

    def _config_and_environment(self, config_id: str, environment_id: str) -> tuple[dict, dict]:
        config = self.account.configs_by_id.get(config_id)
        environment = self.account.environments_by_id.get(environment_id)
        if config is None or environment is None or config["product"] is not environment["product"]:
            raise not_found()
        return config, environment

    # hierarchy

    def me(self, query: dict) -> Any:
        return self.account.me

    def organizations(self, query: dict) -> Any:
        return self.account.organizations

    def products(self, query: dict) -> Any:
        return self.account.products

    def product(self, query: dict, productId: str) -> Any:
        return self._product(productId)

    # per organization

    def organization_members(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        return self.account.organization_members[organizationId]

    def organization_members_v1(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        return self.account.organization_users[organizationId]

    def organization_invitations(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        return self.account.organization_invitations[organizationId]

    def proxy_profiles(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        return {"profiles": self.account.proxy_profiles[organizationId]}

    def organization_limitations(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        return self.account.organization_limitations[organizationId]

    def organization_audit_logs(self, query: dict, organizationId: str) -> Any:
        self._organization(organizationId)
        page_number = _int_param(query, "pageNumber", default=1, low=1, high=INT32_MAX)
        page_size = _int_param(query, "pageSize", default=100, low=1, high=100)
        filters = {
            name: _uuid_param(query, key)
            for name, key in (
                ("product_id", "productId"),
                ("config_id", "configId"),
                ("environment_id", "environmentId"),
            )
        }
        audit_log_type = _single(query, "auditLogType")
        if audit_log_type is not None and audit_log_type not in AUDIT_LOG_TYPES:
            raise ApiError(400, "auditLogType", f"The value '{audit_log_type}' is not valid.")
        from_utc, to_utc = self._audit_window(query)
        self._check_retention(from_utc, to_utc)
        items = self.account.audit_log_items(
            organizationId,
            from_utc,
            to_utc,
            audit_log_type=audit_log_type,
            retention_days=self.audit_log_retention_days,
            **filters,
        )
        return _page(items, page_number, page_size)

    def _check_retention(self, from_utc: UtcDateTime, to_utc: UtcDateTime) -> None:
        """Refuse a window as `audit_log_retention_answer` says (see AUDIT_LOG_RETENTION_ANSWERS).

        The boundary is the account's now minus the retention, the same moment `audit_log_items`
        keeps events from.
        """
        if self.audit_log_retention_answer == "empty":
            return
        boundary = self.account.retention_boundary(self.audit_log_retention_days)
        days = self.audit_log_retention_days
        if self.audit_log_retention_answer == "reject-ended" and to_utc <= boundary:
            raise ApiError(
                400,
                "toUtcDateTime",
                f"The audit log retention of your plan is {days} days; toUtcDateTime must be"
                f" later than {boundary.wire()}.",
            )
        if self.audit_log_retention_answer == "reject-started" and from_utc < boundary:
            raise ApiError(
                400,
                "fromUtcDateTime",
                f"The audit log retention of your plan is {days} days; fromUtcDateTime must not be"
                f" earlier than {boundary.wire()}.",
            )

    def _audit_window(self, query: dict) -> tuple[UtcDateTime, UtcDateTime]:
        """[from, to) of an audit log request: `to` defaults to now, `from` to 7 days before it."""
        from_utc = _date_param(query, "fromUtcDateTime")
        to_utc = _date_param(query, "toUtcDateTime")
        if to_utc is None:
            # `to` is exclusive: one tick past now, so that the newest event is included.
            to_utc = UtcDateTime.from_ticks(self.account.now_exact().ticks + 1)
        if from_utc is None:
            try:
                from_utc = UtcDateTime.from_ticks(to_utc.ticks - ticks_of(AUDIT_LOG_DEFAULT_WINDOW))
            except ValueError:  # a `to` within 7 days of year 1
                raise ApiError(400, "toUtcDateTime", "toUtcDateTime is out of range.") from None
        if from_utc > to_utc:
            raise ApiError(400, "fromUtcDateTime", "fromUtcDateTime must precede toUtcDateTime.")
        if to_utc.ticks - from_utc.ticks > ticks_of(AUDIT_LOG_MAX_WINDOW):
            raise ApiError(
                400,
                "toUtcDateTime",
                "The distance between fromUtcDateTime and toUtcDateTime cannot exceed 30 days.",
            )
        return from_utc, to_utc

    # per product

    def configs(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.configs[productId]

    def environments(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.environments[productId]

    def tags(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.tags[productId]

    def segments(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.segments[productId]

    def permission_groups(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.permission_groups[productId]

    def product_members(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.product_members[productId]

    def product_invitations(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.product_invitations[productId]

    def webhooks(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.webhooks[productId]

    def integrations(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return {"integrations": self.account.integrations[productId]}

    def preferences(self, query: dict, productId: str) -> Any:
        self._product(productId)
        return self.account.preferences[productId]

    def change_requests(self, query: dict, productId: str) -> Any:
        """Every status when `changeRequestStatusFilter` is absent (the API does not say)."""
        self._product(productId)
        page_number = _int_param(query, "pageNumber", default=1, low=1, high=INT32_MAX)
        page_size = _int_param(query, "pageSize", default=25, low=1, high=100)
        statuses = None
        if "changeRequestStatusFilter" in query:
            for value in query["changeRequestStatusFilter"]:
                if value not in CHANGE_REQUEST_STATUSES:
                    raise ApiError(
                        400, "changeRequestStatusFilter", f"The value '{value}' is not valid."
                    )
            statuses = frozenset(query["changeRequestStatusFilter"])
        filters: dict[str, Any] = {
            "config_id": _uuid_param(query, "configId"),
            "environment_id": _uuid_param(query, "environmentId"),
        }
        setting_id = _single(query, "settingId")
        if setting_id is not None:
            if not re.fullmatch(r"-?\d{1,10}", setting_id) or not (
                -INT32_MAX - 1 <= int(setting_id) <= INT32_MAX
            ):
                raise ApiError(400, "settingId", f"The value '{setting_id}' is not valid.")
            filters["setting_id"] = int(setting_id)
        for name, (allowed, keyword) in CHANGE_REQUEST_FLAG_FILTERS.items():
            value = _single(query, name)
            if value is None:
                continue
            if value not in allowed:
                raise ApiError(400, name, f"The value '{value}' is not valid.")
            filters[keyword] = value == allowed[1]
        items = self.account.change_request_items(productId, statuses=statuses, **filters)
        return {"changeRequests": _page(items, page_number, page_size)}

    def stale_flags(self, query: dict, productId: str) -> Any:
        self._product(productId)
        age = _int_param(query, "staleFlagAgeDays", default=30, low=7, high=90)
        scope = _enum_param(query, "scope", ("all", "watchedByMe"))
        stale_in = _enum_param(
            query,
            "staleFlagStaleInEnvironmentsType",
            ("staleInAnyEnvironments", "staleInAllEnvironments"),
        )
        ignored_environments = set()
        for value in query.get("ignoredEnvironmentIds", []):
            if not _is_uuid(value):
                raise ApiError(400, "ignoredEnvironmentIds", f"The value '{value}' is not valid.")
            ignored_environments.add(value)
        ignored_tags = set()
        for value in query.get("ignoredTagIds", []):
            if not re.fullmatch(r"-?\d+", value):
                raise ApiError(400, "ignoredTagIds", f"The value '{value}' is not valid.")
            ignored_tags.add(int(value))
        return self.account.stale_flags(
            productId,
            stale_flag_age_days=age,
            scope=scope,
            stale_in_environments_type=stale_in,
            ignored_environment_ids=frozenset(ignored_environments),
            ignored_tag_ids=frozenset(ignored_tags),
        )

    # per config

    def settings(self, query: dict, configId: str) -> Any:
        if configId not in self.account.configs_by_id:
            raise not_found()
        return self.account.settings[configId]

    def deleted_settings(self, query: dict, configId: str) -> Any:
        if configId not in self.account.configs_by_id:
            raise not_found()
        return self.account.deleted_settings[configId]

    def sdk_keys(self, query: dict, configId: str, environmentId: str) -> Any:
        self._config_and_environment(configId, environmentId)
        return self.account.sdk_keys[(configId, environmentId)]

    def values_v1(self, query: dict, configId: str, environmentId: str) -> Any:
        config, environment = self._values_of(V1_VALUES, configId, environmentId)
        return {
            "config": config,
            "environment": environment,
            "readOnly": False,
            "settingValues": self.account.setting_values[(configId, environmentId)],
            "featureFlagLimitations": self._limitations(config),
        }

    def values_v2(self, query: dict, configId: str, environmentId: str) -> Any:
        config, environment = self._values_of(V2_VALUES, configId, environmentId)
        return {
            "config": config,
            "environment": environment,
            "readOnly": False,
            "settingFormulas": self.account.setting_values[(configId, environmentId)],
            "featureFlagLimitations": self._limitations(config),
            "approveRequired": environment["approveRequired"],
            "canBypassApproval": True,
            "reasonRequired": environment["reasonRequired"],
        }

    def _values_of(self, template: str, config_id: str, environment_id: str) -> tuple[dict, dict]:
        config, environment = self._config_and_environment(config_id, environment_id)
        if self.account.values_template(config_id) != template:
            version = config["evaluationVersion"]
            raise ApiError(
                400,
                "configId",
                f"The Config's evaluationVersion is {version}; use the {version} endpoint.",
            )
        return config, environment

    def _limitations(self, config: dict) -> dict:
        organization_id = config["product"]["organization"]["organizationId"]
        return self.account.feature_flag_limitations[organization_id]

    # per setting

    def code_references(self, query: dict, settingId: str) -> Any:
        if not re.fullmatch(r"\d{1,10}", settingId):
            raise not_found()
        try:
            return self.account.code_references[int(settingId)]
        except KeyError:
            raise not_found() from None

    # per change request

    def change_request(self, query: dict, changeRequestId: str) -> Any:
        if not re.fullmatch(r"\d{1,19}", changeRequestId):
            raise not_found()
        try:
            return self.account.change_requests_by_id[int(changeRequestId)]
        except KeyError:
            raise not_found() from None

    # per Proxy Profile

    def proxy_profile_sdk_keys(self, query: dict, proxyProfileId: str) -> Any:
        if proxyProfileId not in self.account.proxy_profiles_by_id:
            raise not_found()
        return {"items": self.account.proxy_profile_sdk_keys(proxyProfileId)}

    # per webhook

    def webhook_signing_keys(self, query: dict, webhookId: str) -> Any:
        if not re.fullmatch(r"\d{1,10}", webhookId):
            raise not_found()
        try:
            return self.account.webhook_signing_keys[int(webhookId)]
        except KeyError:
            raise not_found() from None


ROUTES = {
    "/v1/me": Api.me,
    "/v1/organizations": Api.organizations,
    "/v1/products": Api.products,
    "/v1/products/{productId}": Api.product,
    "/v2/organizations/{organizationId}/members": Api.organization_members,
    "/v1/organizations/{organizationId}/members": Api.organization_members_v1,
    "/v1/organizations/{organizationId}/invitations": Api.organization_invitations,
    "/v2/organizations/{organizationId}/auditlogs": Api.organization_audit_logs,
    "/v1/organizations/{organizationId}/proxy-profiles": Api.proxy_profiles,
    "/v1/organizations/{organizationId}/organization-limitations": Api.organization_limitations,
    "/v1/products/{productId}/configs": Api.configs,
    "/v1/products/{productId}/environments": Api.environments,
    "/v1/products/{productId}/tags": Api.tags,
    "/v1/products/{productId}/segments": Api.segments,
    "/v1/products/{productId}/permissions": Api.permission_groups,
    "/v1/products/{productId}/members": Api.product_members,
    "/v1/products/{productId}/invitations": Api.product_invitations,
    "/v1/products/{productId}/webhooks": Api.webhooks,
    "/v1/products/{productId}/integrations": Api.integrations,
    "/v1/products/{productId}/staleflags": Api.stale_flags,
    "/v1/products/{productId}/preferences": Api.preferences,
    "/v2/products/{productId}/change-requests": Api.change_requests,
    "/v2/change-requests/{changeRequestId}": Api.change_request,
    "/v1/configs/{configId}/settings": Api.settings,
    "/v1/configs/{configId}/deleted-settings": Api.deleted_settings,
    "/v1/configs/{configId}/environments/{environmentId}": Api.sdk_keys,
    V1_VALUES: Api.values_v1,
    V2_VALUES: Api.values_v2,
    "/v1/webhooks/{webhookId}/keys": Api.webhook_signing_keys,
    "/v1/settings/{settingId}/code-references": Api.code_references,
    "/v1/proxy-profiles/{proxyProfileId}/sdk-keys": Api.proxy_profile_sdk_keys,
}
_ROUTE_PATTERNS = [
    (template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"))
    for template in ROUTES
]


def match_route(path: str) -> tuple[str | None, dict[str, str]]:
    """The ROUTES template a path matches and its path parameters; (None, {}) if none does."""
    for template, pattern in _ROUTE_PATTERNS:
        found = pattern.match(path)
        if found:
            return template, found.groupdict()
    return None, {}


# -- query parameters -------------------------------------------------------------------------


def _page(items: list, page_number: int, page_size: int) -> dict:
    """One page of `items` and its PagingResponseInfo (no pages at all when there are none)."""
    total_pages = math.ceil(len(items) / page_size)
    start = (page_number - 1) * page_size
    return {
        "paging": {
            "currentPage": page_number,
            "totalPages": total_pages,
            "pageSize": page_size,
            "totalCount": len(items),
            "hasPrevious": page_number > 1,
            "hasNext": page_number < total_pages,
        },
        "data": items[start : start + page_size],
    }


def _single(query: dict, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int_param(query: dict, name: str, *, default: int, low: int, high: int) -> int:
    text = _single(query, name)
    if text is None:
        return default
    if not re.fullmatch(r"-?\d+", text) or not low <= int(text) <= high:
        raise ApiError(400, name, f"The field {name} must be between {low} and {high}.")
    return int(text)


def _enum_param(query: dict, name: str, allowed: tuple[str, ...]) -> str:
    text = _single(query, name)
    if text is None:
        return allowed[0]
    if text not in allowed:
        raise ApiError(400, name, f"The value '{text}' is not valid.")
    return text


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _uuid_param(query: dict, name: str) -> str | None:
    text = _single(query, name)
    if text is not None and not _is_uuid(text):
        raise ApiError(400, name, f"The value '{text}' is not valid.")
    return text


def _date_param(query: dict, name: str) -> UtcDateTime | None:
    """A date-time to the tick: 0 to 7 fractional digits, any offset (none means UTC)."""
    text = _single(query, name)
    if text is None:
        return None
    try:
        return UtcDateTime(text)
    except ValueError:
        raise ApiError(400, name, f"The value '{text}' is not a valid date-time.") from None


# -- date-times as a client writes and reads them ---------------------------------------------

# For tests and scripts; the routes themselves read query date-times to the tick (`_date_param`).


def iso(moment: datetime) -> str:
    """A datetime as a client writes it in a query: UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Read an ISO-8601 date-time to the microsecond; one without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
