"""Requests per endpoint template, from the emulator's log, against the fewest the data needs.

The minimum is `Account.expected_requests()` (one GET per parent and per partition), kept to the
endpoints that a stream of the connector reads, plus the audit log pages: for every distinct
(organization, fromUtcDateTime, toUtcDateTime) window the connector asked for,
`Account.audit_log_page_count` of that window (at least one page, 100 items a page). So the audit
figure is the minimum *for the windows the connector chose*; the window count is reported too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator import Account
from emulator.routes import match_route
from emulator.server import EmulatorServer, RequestLogEntry

AUDIT_LOGS = "/v2/organizations/{organizationId}/auditlogs"
# Listed by expected_requests() but read by no stream of the connector (none since product
# invitations became a stream).
NOT_READ: set[str] = set()
UNKNOWN = "(unknown path)"
V1_MEMBERS = "/v1/organizations/{organizationId}/members"
V2_MEMBERS = "/v2/organizations/{organizationId}/members"


@dataclass
class EndpointFigures:
    template: str
    sent: int = 0  # every request, whatever its answer
    rate_limited: int = 0  # answered 429
    other_errors: int = 0  # answered neither 2xx nor 429
    distinct: int = 0  # distinct URLs (path + query) among the requests not answered 429
    minimum: int = 0

    @property
    def answered(self) -> int:
        """Requests not answered 429: what the target `sent == minimum` compares."""
        return self.sent - self.rate_limited

    @property
    def extra(self) -> int:
        return self.answered - self.minimum


@dataclass
class AuditWindows:
    windows: int = 0  # distinct (organization, from, to) windows requested
    organizations: int = 0
    pages_minimum: int = 0
    without_bounds: int = 0  # requests missing fromUtcDateTime or toUtcDateTime (not counted)


@dataclass
class RequestFigures:
    endpoints: list[EndpointFigures] = field(default_factory=list)
    audit: AuditWindows = field(default_factory=AuditWindows)
    largest_response_bytes: int = 0
    largest_response_template: str = ""

    @property
    def sent(self) -> int:
        return sum(row.sent for row in self.endpoints)

    @property
    def rate_limited(self) -> int:
        return sum(row.rate_limited for row in self.endpoints)

    @property
    def answered(self) -> int:
        return sum(row.answered for row in self.endpoints)

    @property
    def minimum(self) -> int:
        return sum(row.minimum for row in self.endpoints)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoints": [
                {**asdict(row), "answered": row.answered, "extra": row.extra}
                for row in self.endpoints
            ],
            "audit_windows": asdict(self.audit),
            "largest_response_bytes": self.largest_response_bytes,
            "largest_response_template": self.largest_response_template,
            "sent": self.sent,
            "rate_limited": self.rate_limited,
            "answered": self.answered,
            "minimum": self.minimum,
        }


def minimum_requests(account: Account, only: set[str] | None = None) -> dict[str, int]:
    """expected_requests() without the endpoints no stream reads (audit logs come separately).

    `only`: keep these templates (a run of some streams); the v1 organization members endpoint
    (read by Airbyte's earlier connector) needs what the v2 one needs, one GET per organization.
    """
    expected = account.expected_requests()
    if only is not None and V1_MEMBERS in only:
        expected[V1_MEMBERS] = expected.get(V2_MEMBERS, 0)
    return {
        template: count
        for template, count in expected.items()
        if template not in NOT_READ and (only is None or template in only)
    }


def _url(entry: RequestLogEntry) -> tuple[str, tuple]:
    return entry.path, tuple(sorted((key, tuple(values)) for key, values in entry.query.items()))


def audit_windows(server: EmulatorServer, log: list[RequestLogEntry]) -> AuditWindows:
    windows = set()
    without_bounds = 0
    for entry in log:
        if entry.template != AUDIT_LOGS or entry.status == 429:
            continue
        start, end = entry.query.get("fromUtcDateTime"), entry.query.get("toUtcDateTime")
        if not start or not end:
            without_bounds += 1
            continue
        organization_id = match_route(entry.path)[1]["organizationId"]
        windows.add((organization_id, start[0], end[0]))
    pages = 0
    for organization_id, start, end in windows:
        if organization_id not in server.account.organizations_by_id:
            continue
        # The query's own text, so that the window is compared to the tick, as the server does.
        pages += server.account.audit_log_page_count(
            organization_id,
            start,
            end,
            retention_days=server.audit_log_retention_days,
        )
    return AuditWindows(
        windows=len(windows),
        organizations=len({window[0] for window in windows}),
        pages_minimum=pages,
        without_bounds=without_bounds,
    )


def analyse(
    server: EmulatorServer, log: list[RequestLogEntry], only: set[str] | None = None
) -> RequestFigures:
    """Figures per endpoint; `only`: the templates the streams synced need (None: every stream)."""
    minimum = minimum_requests(server.account, only)
    audit = audit_windows(server, log)
    if only is None or AUDIT_LOGS in only:
        minimum[AUDIT_LOGS] = audit.pages_minimum
    order = list(minimum)
    rows: dict[str, EndpointFigures] = {
        template: EndpointFigures(template, minimum=count) for template, count in minimum.items()
    }
    urls: dict[str, set] = defaultdict(set)
    for entry in log:
        template = entry.template or UNKNOWN
        row = rows.get(template)
        if row is None:
            row = rows[template] = EndpointFigures(template)
            order.append(template)
        row.sent += 1
        if entry.status == 429:
            row.rate_limited += 1
            continue
        if not 200 <= entry.status < 300:
            row.other_errors += 1
        urls[template].add(_url(entry))
    for template, seen in urls.items():
        rows[template].distinct = len(seen)
    figures = RequestFigures([rows[template] for template in order], audit)
    _largest_response(server, log, figures)
    return figures


def _largest_response(server: EmulatorServer, log: list[RequestLogEntry], figures) -> None:
    """Size of the largest body served with 200, recomputed from the emulator's data.

    The log has no sizes, so every distinct successful URL is answered again in-process
    (the emulator's own routing, no HTTP, no latency).
    """
    seen = set()
    sizes: Counter = Counter()
    for entry in log:
        key = _url(entry)
        if entry.status != 200 or entry.template is None or key in seen:
            continue
        seen.add(key)
        params = match_route(entry.path)[1]
        response = server._route("GET", entry.query, entry.template, params)
        if len(response.body) > sizes[entry.template]:
            sizes[entry.template] = len(response.body)
    if sizes:
        template, size = sizes.most_common(1)[0]
        figures.largest_response_bytes = size
        figures.largest_response_template = template
