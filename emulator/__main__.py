"""Run the emulator until killed: `python -m emulator --port 8089 --seed 1 --scale small`."""

from __future__ import annotations

import argparse
import signal
import threading

from .account import AUDIT_LOG_RETENTION_DAYS
from .datetimes import DATETIME_STYLES, UTC_OFFSETS
from .rate_limits import RATE_LIMIT_SCOPES
from .routes import AUDIT_LOG_RETENTION_ANSWER_ALIASES, AUDIT_LOG_RETENTION_ANSWERS
from .scales import SCALES
from .server import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer


def server_from_arguments(argv: list[str] | None = None) -> EmulatorServer:
    """The (not yet started) server that these command-line arguments describe."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=0, help="requests per second; 0 = off")
    parser.add_argument(
        "--rate-limit-per-minute", type=int, default=0, help="requests per minute; 0 = off"
    )
    parser.add_argument(
        "--rate-limit-scope",
        choices=RATE_LIMIT_SCOPES,
        default="credential",
        help="count per credential, or per credential and request path",
    )
    parser.add_argument("--datetime-style", choices=DATETIME_STYLES, default="trimmed")
    parser.add_argument("--utc-offset", choices=UTC_OFFSETS, default="Z")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument(
        "--fail-first", type=int, default=0, help="answer the first N requests with 429"
    )
    parser.add_argument(
        "--audit-log-retention-days",
        type=int,
        default=AUDIT_LOG_RETENTION_DAYS,
        help="days of audit log the plan keeps: 7 Free, 35 Pro and Smart, 750 Enterprise",
    )
    parser.add_argument(
        "--audit-log-retention-answer",
        choices=(*AUDIT_LOG_RETENTION_ANSWERS, *AUDIT_LOG_RETENTION_ANSWER_ALIASES),
        default="empty",
        help=(
            "what a window reaching before the retention gets: empty = its events inside the"
            " retention (none if it ends before); reject-ended = a 400 naming the retention if it"
            " ends before the retention; reject-started = a 400 naming the retention if it starts"
            " before the retention (reject = reject-ended)"
        ),
    )
    args = parser.parse_args(argv)
    return EmulatorServer(
        seed=args.seed,
        scale=args.scale,
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        latency_ms=args.latency_ms,
        rate_limit_per_second=args.rate_limit,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_scope=args.rate_limit_scope,
        datetime_style=args.datetime_style,
        utc_offset=args.utc_offset,
        fail_first=args.fail_first,
        audit_log_retention_days=args.audit_log_retention_days,
        audit_log_retention_answer=args.audit_log_retention_answer,
    )


def main(argv: list[str] | None = None) -> None:
    server = server_from_arguments(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with server:
        print(f"ConfigCat emulator listening on {server.url} (user={server.username})", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
