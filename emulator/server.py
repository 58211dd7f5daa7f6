"""An HTTP server that answers like ConfigCat's Public Management API, for a seeded account.

Every request goes through the same steps: optional latency, fault rules, HTTP Basic auth, the
rate limits, then the endpoint, whose answer has its date-times written as the server is set to.
The rate limits count a request at the time it arrived, as ConfigCat's middleware does, not after
the latency. Each request is logged with the status it got.

Neighbours: `routes` holds the endpoints themselves (which path answers, and with what);
`account` the data they read, which `seed` fills; `rate_limits`, `faults` and `datetimes` the
rules the server applies around them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .account import AUDIT_LOG_RETENTION_DAYS, Account
from .datetimes import DATETIME_STYLES, UTC_OFFSETS, served
from .faults import STATUS_KINDS, FaultInjector, FaultRule
from .rate_limits import RATE_LIMIT_SCOPES, RateLimiter, RateLimitRule
from .routes import (
    AUDIT_LOG_RETENTION_ANSWER_ALIASES,
    AUDIT_LOG_RETENTION_ANSWERS,
    ROUTES,
    Api,
    ApiError,
    match_route,
    not_found,
)
from .seed import build_account

DEFAULT_USERNAME = "emulator-user"
DEFAULT_PASSWORD = "emulator-password-3f9c1e7a"

JSON_TYPE = "application/json; charset=utf-8"


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


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body)


# -- the server -------------------------------------------------------------------------------


class EmulatorServer:
    """Serves an Account over HTTP on a background thread; use as a context manager.

    Options where the real API is unknown or set per plan, each a plain attribute that may be
    changed while the server runs:

    * `latency_ms`: added before each answer (the rate limits count the request before it);
    * `datetime_style` (`DATETIME_STYLES`, default "trimmed") and `utc_offset` (`UTC_OFFSETS`,
      default "Z"): how every date-time is written (`datetimes.served`);
    * `rate_limit_per_second`, `rate_limit_per_minute` (0 = off, the default) and
      `rate_limit_scope` (`RATE_LIMIT_SCOPES`, default "credential"): see `rate_limits`;
    * `audit_log_retention_days` (default 750, Enterprise; 7 is Free, 35 Pro and Smart) and
      `audit_log_retention_answer`, what a window reaching before the retention gets
      (`AUDIT_LOG_RETENTION_ANSWERS`, default "empty"; "reject-ended" refuses a window that ends
      before it, "reject-started" one that starts before it; "reject" is "reject-ended").

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
            (
                "audit_log_retention_answer",
                AUDIT_LOG_RETENTION_ANSWER_ALIASES.get(
                    audit_log_retention_answer, audit_log_retention_answer
                ),
                AUDIT_LOG_RETENTION_ANSWERS,
            ),
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

    def connector_config(self, **overrides: Any) -> dict[str, Any]:
        """The connector config that syncs this server (its credential and URL), plus `overrides`.

        The one place tests, scripts and the benchmark get it from.
        """
        return {
            "username": self.username,
            "password": self._password,
            "base_url": self.url,
            **overrides,
        }

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
        arrived: int,
    ) -> Response:
        """The answer to a request that no fault rule took over.

        `arrived`: when the request arrived, in ticks (100 ns) since the Unix epoch. The rate
        limits count the request at that time, not when this runs: ConfigCat's limits are
        ASP.NET middleware that counts a request before any work is done on it, while here
        the configured latency (and any stall) has already been slept through, and a sleep
        under load oversleeps by a varying amount that the real service would not add.
        """
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
            verdict = self._rate_limiter.hit(key, rules, arrived)
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
    if rule.kind == "answer":
        if isinstance(rule.body, bytes):
            return Response(rule.status, rule.body, content_type="text/plain")
        return json_response(rule.status, rule.body)
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
        arrived_ns = time.time_ns()
        arrived = arrived_ns / 1e9  # the request log's time.time()
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
        if fault is not None and (
            fault.kind in STATUS_KINDS or fault.kind in {"html_200", "answer"}
        ):
            response = fault_response(fault)
        else:
            authorization = self.headers.get("Authorization", "")
            response = emulator.respond(
                self.command,
                target.path,
                query,
                template,
                params,
                authorization,
                arrived=arrived_ns // 100,
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
