"""An HTTP server that answers like ConfigCat's Public Management API, for a seeded account.

Every request goes through the same steps: optional latency, fault rules, HTTP Basic auth, the
rate limits, then the endpoint, whose answer has its date-times written as the server is set to.
Each request is logged with the status it got.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .data import (
    AUDIT_LOG_DEFAULT_WINDOW,
    AUDIT_LOG_MAX_WINDOW,
    AUDIT_LOG_RETENTION_DAYS,
    AUDIT_LOG_TYPES,
    V1_VALUES,
    V2_VALUES,
    Account,
    build_account,
)
from .datetimes import DATETIME_STYLES, UTC_OFFSETS, UtcDateTime, served, ticks_of
from .faults import STATUS_KINDS, FaultInjector, FaultRule
from .rate_limits import RATE_LIMIT_SCOPES, RateLimiter, RateLimitRule

DEFAULT_USERNAME = "emulator-user"
DEFAULT_PASSWORD = "emulator-password-3f9c1e7a"

JSON_TYPE = "application/json; charset=utf-8"
INT32_MAX = 2**31 - 1
# What the v2 audit log answers for a window that ends before the plan's retention: "empty", a
# page without the events (as for any window), or "reject", a 400 that names the retention.
AUDIT_LOG_RETENTION_ANSWERS = ("empty", "reject")


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]  # every value of repeated keys, in order
    status: int  # 0 when the connection was reset without an answer
    template: str | None  # the matched OpenAPI path, None for an unknown path
    timestamp: float  # time.time() when the request arrived


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE


class ApiError(Exception):
    """An error answer; the body is `{key: [message]}`, the shape ConfigCat's CLI reads."""

    def __init__(self, status: int, key: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {key: [message]}


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body)


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
        self.audit_log_retention_answer = audit_log_retention_answer

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
        if self.audit_log_retention_answer == "reject":
            self._check_retention(to_utc)
        items = self.account.audit_log_items(
            organizationId,
            from_utc,
            to_utc,
            audit_log_type=audit_log_type,
            retention_days=self.audit_log_retention_days,
            **filters,
        )
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

    def _check_retention(self, to_utc: UtcDateTime) -> None:
        """Refuse a window that ends before the plan's retention, so holds nothing to serve."""
        boundary = self.account.retention_boundary(self.audit_log_retention_days)
        if to_utc <= boundary:
            days = self.audit_log_retention_days
            raise ApiError(
                400,
                "toUtcDateTime",
                f"Audit logs are kept for {days} days on your plan; toUtcDateTime must be later"
                f" than {boundary.wire()}.",
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
    "/v1/configs/{configId}/settings": Api.settings,
    "/v1/configs/{configId}/environments/{environmentId}": Api.sdk_keys,
    V1_VALUES: Api.values_v1,
    V2_VALUES: Api.values_v2,
    "/v1/webhooks/{webhookId}/keys": Api.webhook_signing_keys,
}
_ROUTE_PATTERNS = [
    (template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"))
    for template in ROUTES
]


def match_route(path: str) -> tuple[str | None, dict[str, str]]:
    for template, pattern in _ROUTE_PATTERNS:
        found = pattern.match(path)
        if found:
            return template, found.groupdict()
    return None, {}


# -- query parameters -------------------------------------------------------------------------


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


# -- the server -------------------------------------------------------------------------------


class EmulatorServer:
    """Serves an Account over HTTP on a background thread; use as a context manager.

    Options where the real API is unknown or set per plan, each a plain attribute that may be
    changed while the server runs:

    * `latency_ms`: added before each answer;
    * `datetime_style` (`DATETIME_STYLES`, default "trimmed") and `utc_offset` (`UTC_OFFSETS`,
      default "Z"): how every date-time is written (`datetimes.served`);
    * `rate_limit_per_second`, `rate_limit_per_minute` (0 = off, the default) and
      `rate_limit_scope` (`RATE_LIMIT_SCOPES`, default "credential"): see `rate_limits`;
    * `audit_log_retention_days` and `audit_log_retention_answer` (`AUDIT_LOG_RETENTION_ANSWERS`,
      default "empty").

    `faults` holds the fault rules.
    """

    def __init__(
        self,
        account: Account | None = None,
        seed: int = 1,
        scale: str = "small",
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        latency_ms: int = 0,
        rate_limit_per_second: int = 0,
        fail_first: int = 0,
        audit_log_retention_days: int = AUDIT_LOG_RETENTION_DAYS,
        *,
        rate_limit_per_minute: int = 0,
        rate_limit_scope: str = "credential",
        datetime_style: str = "trimmed",
        utc_offset: str = "Z",
        audit_log_retention_answer: str = "empty",
    ) -> None:
        for name, value, allowed in (
            ("rate_limit_scope", rate_limit_scope, RATE_LIMIT_SCOPES),
            ("datetime_style", datetime_style, DATETIME_STYLES),
            ("utc_offset", utc_offset, UTC_OFFSETS),
            ("audit_log_retention_answer", audit_log_retention_answer, AUDIT_LOG_RETENTION_ANSWERS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose from {allowed}")
        self.account = account if account is not None else build_account(seed, scale)
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.latency_ms = latency_ms
        self.rate_limit_per_second = rate_limit_per_second
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rate_limit_scope = rate_limit_scope
        self.datetime_style = datetime_style
        self.utc_offset = utc_offset
        self.audit_log_retention_days = audit_log_retention_days
        self.audit_log_retention_answer = audit_log_retention_answer
        self.faults = FaultInjector()
        if fail_first:
            self.faults.add(FaultRule(kind="429", times=fail_first, retry_after=1))
        self._rate_limiter = RateLimiter()
        self._log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> EmulatorServer:
        self._httpd = _HttpServer((self.host, self.port), _Handler)
        self._httpd.emulator = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="configcat-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # request log

    @property
    def request_log(self) -> list[RequestLogEntry]:
        """A snapshot of every request so far, oldest first."""
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def record(self, entry: RequestLogEntry) -> None:
        with self._log_lock:
            self._log.append(entry)

    # answering

    def respond(
        self,
        method: str,
        path: str,
        query: dict,
        template: str | None,
        params: dict,
        authorization: str,
    ) -> Response:
        """The answer to a request that no fault rule took over."""
        if not self._authenticated(authorization):
            return unauthorized()
        rules = []
        if self.rate_limit_per_minute > 0:
            rules.append(RateLimitRule.per_minute(self.rate_limit_per_minute))
        if self.rate_limit_per_second > 0:
            rules.append(RateLimitRule.per_second(self.rate_limit_per_second))
        rate_headers = {}
        if rules:
            key = (
                (self.username, method, path) if self.rate_limit_scope == "path" else self.username
            )
            verdict = self._rate_limiter.hit(key, rules, time.time_ns() // 100)
            if verdict.refused_by is not None:
                return quota_exceeded(verdict.refused_by, verdict.retry_after)
            rate_headers = verdict.headers
        response = self._route(method, query, template, params)
        response.headers.update(rate_headers)
        return response

    def _route(self, method: str, query: dict, template: str | None, params: dict) -> Response:
        if method != "GET":
            response = json_response(405, {"message": [f"Method {method} is not allowed."]})
            response.headers["Allow"] = "GET"
            return response
        if template is None:
            return json_response(404, not_found().body)
        api = Api(self.account, self.audit_log_retention_days, self.audit_log_retention_answer)
        try:
            payload = ROUTES[template](api, query, **params)
            return json_response(200, served(payload, self.datetime_style, self.utc_offset))
        except ApiError as error:
            return json_response(error.status, error.body)

    def _authenticated(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, separator, password = decoded.partition(":")
        # Compare both parts every time, so timing does not tell which one was wrong.
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return bool(separator) and user_ok and password_ok


def unauthorized() -> Response:
    response = json_response(401, {"message": ["Unauthorized."]})
    response.headers["WWW-Authenticate"] = 'Basic realm="ConfigCat Public Management API"'
    return response


def quota_exceeded(rule: RateLimitRule, retry_after: int) -> Response:
    """AspNetCoreRateLimit's refusal: Retry-After alone, and its message as plain text."""
    return Response(
        429,
        rule.message.encode(),
        headers={"Retry-After": str(retry_after)},
        content_type="text/plain",
    )


def too_many_requests(retry_after: int | None) -> Response:
    response = json_response(429, {"message": ["Too many requests."]})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def fault_response(rule: FaultRule) -> Response:
    """The answer of a fault that replaces the whole response."""
    if rule.kind == "html_200":
        page = "<!DOCTYPE html><html><head><title>Maintenance</title></head>"
        page += "<body><h1>We'll be back soon</h1></body></html>"
        return Response(200, page.encode(), content_type="text/html; charset=utf-8")
    if rule.kind == "401":
        return unauthorized()
    if rule.kind == "429":
        return too_many_requests(rule.retry_after)
    messages = {
        "403": "Forbidden.",
        "404": "Not found.",
        "500": "Internal server error.",
        "502": "Bad gateway.",
        "503": "Service unavailable.",
    }
    return json_response(int(rule.kind), {"message": [messages[rule.kind]]})


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    emulator: EmulatorServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: with Nagle on, the last small segment of each keep-alive answer waits for the
    # client's delayed ACK (~40 ms on Linux), which would add to every configured latency.
    disable_nagle_algorithm = True
    server_version = "ConfigCatEmulator/1.0"
    server: _HttpServer

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator keeps its own request log."""

    def _handle(self) -> None:
        emulator = self.server.emulator
        arrived = time.time()
        if self.command != "GET":
            # The body of a refused write is never read; closing keeps it from being parsed
            # as the next request on this connection.
            self.close_connection = True
        target = urlsplit(self.path)
        query = parse_qs(target.query, keep_blank_values=True)
        template, params = match_route(target.path)

        def record(status: int) -> None:
            emulator.record(
                RequestLogEntry(self.command, target.path, query, status, template, arrived)
            )

        if emulator.latency_ms > 0:
            time.sleep(emulator.latency_ms / 1000)
        fault = emulator.faults.take(target.path + (f"?{target.query}" if target.query else ""))
        if fault is not None and fault.kind == "reset":
            record(0)
            self._reset_connection()
            return
        if fault is not None and fault.kind == "stall":
            time.sleep(fault.stall_seconds)
        if fault is not None and (fault.kind in STATUS_KINDS or fault.kind == "html_200"):
            response = fault_response(fault)
        else:
            authorization = self.headers.get("Authorization", "")
            response = emulator.respond(
                self.command, target.path, query, template, params, authorization
            )
            if fault is not None and fault.kind == "malformed_json":
                response = Response(200, response.body[: len(response.body) // 2])
        record(response.status)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _reset_connection(self) -> None:
        """Drop the connection with a TCP RST instead of answering."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket; the descriptor only closes once both let go.
        self.rfile.close()
        self.connection.close()
