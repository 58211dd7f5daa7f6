"""Benchmark a full sync of every stream against the emulator, with the stock runtime.

For each scale and regime it starts the emulator, runs `source-declarative-manifest read` on every
stream (a fresh REQUEST_CACHE_PATH each time) and prints per endpoint the requests sent, the
minimum the data needs and the 429s answered; then wall time, its lower bound, their ratio and the
sync process's peak memory, with PASS/MISS per target. It is a measurement: it exits 0 whatever
the figures (2 only for bad arguments).

Regimes (both with --latency-ms per response):
  latency  no rate limit.  Lower bound = minimum requests x latency / workers
           + depth of the longest parent chain x latency.
  limit    --rate-limit requests per second per credential, with X-Rate-Limit-* headers and 429 +
           Retry-After beyond it.  Lower bound = minimum requests / rate limit.

    python -m bench.run --scale medium --regime both --json bench.json
    make bench ARGS="--scale large --regime limit"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import emulator_setup, endpoints, manifest_facts
from bench.process import SyncProcess, run_read
from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer, build_account
from tooling import runtime

SCALES = ("small", "medium", "large")
REGIMES = ("latency", "limit")
# Targets of issue 5.
LATENCY_RATIO_TARGET = 1.3  # at medium and large
LIMIT_RATIO_TARGET = 1.25
RATE_LIMITED_SHARE_TARGET = 0.01
LATENCY_TARGET_SCALES = ("medium", "large")
# Peak memory may grow from the smallest scale measured by at most this many times the largest
# response body of the larger scale: a JSON body held as Python objects (and the requests and
# requests_cache copies of it) takes a few times its wire size.
MEMORY_GROWTH_ALLOWANCE = 5


@dataclass
class Measurement:
    scale: str
    regime: str
    latency_ms: int
    rate_limit: int
    workers: manifest_facts.Concurrency
    chain: manifest_facts.ParentChain
    sync: SyncProcess
    requests: endpoints.RequestFigures
    round_trip_ms: float  # measured keep-alive GET against the emulator before the sync
    first_request_after: float | None
    last_request_before_exit: float | None
    lower_bound: float = 0.0
    lower_bound_formula: str = ""
    targets: list[tuple[str, bool | None, str]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.sync.wall_seconds / self.lower_bound if self.lower_bound else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "regime": self.regime,
            "latency_ms": self.latency_ms,
            "emulator_round_trip_ms": round(self.round_trip_ms, 2),
            "rate_limit_per_second": self.rate_limit,
            "workers": self.workers.workers,
            "workers_source": self.workers.source,
            "parent_chain_depth": self.chain.depth,
            "parent_chain": self.chain.chain,
            "succeeded": self.sync.succeeded,
            "returncode": self.sync.returncode,
            "timed_out": self.sync.timed_out,
            "errors": self.sync.errors,
            "warnings": self.sync.warnings,
            "records": dict(self.sync.records),
            "wall_seconds": round(self.sync.wall_seconds, 3),
            "first_request_after_seconds": _round(self.first_request_after),
            "last_request_before_exit_seconds": _round(self.last_request_before_exit),
            "lower_bound_seconds": round(self.lower_bound, 3),
            "lower_bound_formula": self.lower_bound_formula,
            "ratio": round(self.ratio, 3),
            "peak_rss_bytes": self.sync.peak_rss_bytes,
            "sync_cpu_seconds": round(self.sync.cpu_seconds, 3),
            "emulator_cpu_seconds": round(self.sync.emulator_cpu_seconds, 3),
            "load_average_before_after": [round(x, 2) for x in self.sync.load_average],
            "cpus": os.cpu_count(),
            "requests": self.requests.as_dict(),
            "targets": [
                {"target": name, "pass": verdict, "detail": detail}
                for name, verdict, detail in self.targets
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def measure(
    account,
    scale: str,
    regime: str,
    args: argparse.Namespace,
    manifest: dict,
    streams: list[str],
) -> Measurement:
    rate_limit = args.rate_limit if regime == "limit" else 0
    server = EmulatorServer(account=account, latency_ms=args.latency_ms)
    with server:
        round_trip = emulator_setup.round_trip_ms(server)
        server.rate_limit_per_second = rate_limit  # after the round-trip check
        config = {
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
            "base_url": server.url,
        }
        if args.concurrency is not None:
            config["concurrency"] = args.concurrency
        config.update(args.set)
        sync = run_read(args.manifest, config, streams, timeout=args.timeout)
        log = server.request_log
        figures = endpoints.analyse(server, log)
    if args.request_log:
        _write_request_log(args.request_log, scale, regime, sync.started_at, log)
    first = min((entry.timestamp for entry in log), default=None)
    last = max((entry.timestamp for entry in log), default=None)
    measurement = Measurement(
        scale=scale,
        regime=regime,
        latency_ms=args.latency_ms,
        rate_limit=rate_limit,
        workers=manifest_facts.concurrency(manifest, config),
        chain=manifest_facts.parent_chain(manifest),
        sync=sync,
        requests=figures,
        round_trip_ms=round_trip,
        first_request_after=None if first is None else first - sync.started_at,
        last_request_before_exit=(
            None if last is None else sync.started_at + sync.wall_seconds - last
        ),
    )
    _lower_bound(measurement)
    _targets(measurement)
    return measurement


def _write_request_log(path: Path, scale: str, regime: str, started_at: float, log) -> None:
    """Append each request as a JSON line: seconds since the sync started, template, URL, status."""
    with path.open("a") as out:
        for entry in log:
            line = {
                "scale": scale,
                "regime": regime,
                "t": round(entry.timestamp - started_at, 4),
                "template": entry.template,
                "path": entry.path,
                "query": {key: values[0] for key, values in entry.query.items()},
                "status": entry.status,
            }
            out.write(json.dumps(line) + "\n")


def _lower_bound(m: Measurement) -> None:
    minimum = m.requests.minimum
    latency = m.latency_ms / 1000
    if m.regime == "latency":
        workers, depth = m.workers.workers, m.chain.depth
        m.lower_bound = minimum * latency / workers + depth * latency
        m.lower_bound_formula = (
            f"{minimum} minimum requests x {m.latency_ms} ms / {workers} workers"
            f" + parent chain depth {depth} x {m.latency_ms} ms"
        )
    else:
        m.lower_bound = minimum / m.rate_limit
        m.lower_bound_formula = f"{minimum} minimum requests / {m.rate_limit} per second"


def _targets(m: Measurement) -> None:
    over = [row for row in m.requests.endpoints if row.answered != row.minimum]
    detail = (
        "every endpoint at its minimum"
        if not over
        else f"{len(over)} endpoints off, {m.requests.answered - m.requests.minimum:+d} in all"
    )
    m.targets.append(("requests sent (not answered 429) == minimum", not over, detail))
    m.targets.append(
        (
            "sync succeeded",
            m.sync.succeeded,
            f"exit {m.sync.returncode}, {len(m.sync.errors)} errors",
        )
    )
    if m.regime == "latency":
        applies = m.scale in LATENCY_TARGET_SCALES
        verdict = m.ratio <= LATENCY_RATIO_TARGET if applies else None
        note = "" if applies else " (target set for medium and large only)"
        m.targets.append(
            (f"wall <= {LATENCY_RATIO_TARGET} x lower bound", verdict, f"{m.ratio:.2f}{note}")
        )
    else:
        m.targets.append(
            (
                f"wall <= {LIMIT_RATIO_TARGET} x lower bound",
                m.ratio <= LIMIT_RATIO_TARGET,
                f"{m.ratio:.2f}",
            )
        )
        share = m.requests.rate_limited / m.requests.sent if m.requests.sent else 0.0
        m.targets.append(
            (
                f"429s < {RATE_LIMITED_SHARE_TARGET:.0%} of requests",
                share < RATE_LIMITED_SHARE_TARGET,
                f"{m.requests.rate_limited}/{m.requests.sent} = {share:.2%}",
            )
        )


# -- printing -----------------------------------------------------------------------------------


def _verdict(value: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "info"}[value]


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def report(m: Measurement) -> None:
    limit = f"{m.rate_limit} requests/s per credential" if m.rate_limit else "no rate limit"
    title = f"{m.scale} / {m.regime}-bound: {m.latency_ms} ms per response, {limit}"
    print(f"\n=== {title} ===")
    status = "succeeded" if m.sync.succeeded else "FAILED"
    if m.sync.timed_out:
        status += " (killed at the timeout)"
    print(
        f"sync {status}: exit {m.sync.returncode}, {sum(m.sync.records.values())} records, "
        f"{len(m.sync.errors)} errors, {m.sync.warnings} warning logs"
    )
    for error in m.sync.errors[:5]:
        print(f"  error: {error}")
    if not m.sync.succeeded and m.sync.stderr_tail.strip():
        print("  stderr (tail): " + m.sync.stderr_tail.strip().replace("\n", "\n    "))
    print(
        f"emulator: keep-alive GET answered in {m.round_trip_ms:.1f} ms"
        f" (configured {m.latency_ms} ms)"
    )
    print(f"workers: {m.workers.workers} ({m.workers.source})")
    print(f"parent chain depth: {m.chain.depth} ({' <- '.join(m.chain.chain)})")
    print()
    width = max(len(row.template) for row in m.requests.endpoints)
    header = (
        f"{'endpoint':<{width}} {'sent':>6} {'429':>5} {'minimum':>7} {'extra':>6} {'distinct':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in m.requests.endpoints:
        errors = f"  ({row.other_errors} other non-2xx)" if row.other_errors else ""
        print(
            f"{row.template:<{width}} {row.sent:>6} {row.rate_limited:>5} {row.minimum:>7} "
            f"{row.extra:>+6} {row.distinct:>8}{errors}"
        )
    print("-" * len(header))
    total = m.requests
    print(
        f"{'total':<{width}} {total.sent:>6} {total.rate_limited:>5} {total.minimum:>7} "
        f"{total.answered - total.minimum:>+6}"
    )
    print(
        "  sent: every request the emulator got; 429: of those, answered 429;\n"
        "  extra: sent - 429 - minimum; distinct: distinct URLs (path + query) not answered 429."
    )
    audit = m.requests.audit
    per_org = audit.windows / audit.organizations if audit.organizations else 0
    print(
        f"  audit logs: minimum = sum, over the {audit.windows} distinct (organization,"
        " fromUtcDateTime, toUtcDateTime)\n"
        f"    windows the connector requested ({audit.organizations} organizations,"
        f" {per_org:.0f} windows each), of\n"
        f"    account.audit_log_page_count(window) = {audit.pages_minimum} pages"
        " (at least 1 a window, 100 items a page)."
    )
    if audit.without_bounds:
        print(f"  ({audit.without_bounds} audit log requests had no window and are not counted)")
    print(
        "  other minimums: account.expected_requests() (one GET per parent and per partition),\n"
        "    without /v1/products/{productId}/invitations, which no stream reads."
    )
    print()
    sync = m.sync
    first = (
        ""
        if m.first_request_after is None
        else f" (first request after {m.first_request_after:.2f} s"
    )
    if first:
        first += f", last {m.last_request_before_exit:.2f} s before exit)"
    print(f"wall time            {sync.wall_seconds:8.2f} s{first}")
    print(f"lower bound          {m.lower_bound:8.2f} s = {m.lower_bound_formula}")
    print(f"ratio                {m.ratio:8.2f}")
    achieved = total.sent * m.latency_ms / 1000 / sync.wall_seconds if sync.wall_seconds else 0
    print(f"requests in flight   {achieved:8.2f} on average (sent x latency / wall)")
    before, after = sync.load_average
    print(
        f"CPU time             {sync.cpu_seconds:8.2f} s sync process;"
        f" {sync.emulator_cpu_seconds:.2f} s emulator (benchmark process);"
        f" load average {before:.2f} -> {after:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"peak memory          {_mib(sync.peak_rss_bytes):>10} (sync process ru_maxrss);"
        f" largest response {total.largest_response_bytes / 1024:.1f} KiB"
        f" ({total.largest_response_template})"
    )
    print("targets")
    for name, verdict, detail in m.targets:
        print(f"  {_verdict(verdict)}  {name:<48} {detail}")


def memory_verdicts(measurements: list[Measurement]) -> list[dict[str, Any]]:
    """Peak memory across scales, per regime: growth over the smallest scale measured."""
    verdicts = []
    for regime in REGIMES:
        runs = sorted(
            (m for m in measurements if m.regime == regime), key=lambda m: SCALES.index(m.scale)
        )
        if len(runs) < 2:
            continue
        base = runs[0]
        for m in runs[1:]:
            growth = m.sync.peak_rss_bytes - base.sync.peak_rss_bytes
            allowance = MEMORY_GROWTH_ALLOWANCE * m.requests.largest_response_bytes
            verdicts.append(
                {
                    "regime": regime,
                    "from": base.scale,
                    "to": m.scale,
                    "growth_bytes": growth,
                    "allowance_bytes": allowance,
                    "pass": growth <= allowance,
                }
            )
    return verdicts


def summary(measurements: list[Measurement], memory: list[dict[str, Any]]) -> None:
    print("\n=== summary ===")
    print(
        f"{'scale':<7} {'regime':<8} {'ok':<3} {'sent':>6} {'429':>5} {'minimum':>7} {'extra':>6}"
        f" {'wall s':>8} {'bound s':>8} {'ratio':>6} {'peak MiB':>9}"
    )
    for m in measurements:
        r = m.requests
        print(
            f"{m.scale:<7} {m.regime:<8} {'yes' if m.sync.succeeded else 'NO':<3} {r.sent:>6}"
            f" {r.rate_limited:>5} {r.minimum:>7} {r.answered - r.minimum:>+6}"
            f" {m.sync.wall_seconds:>8.2f} {m.lower_bound:>8.2f} {m.ratio:>6.2f}"
            f" {m.sync.peak_rss_bytes / 2**20:>9.1f}"
        )
    if memory:
        print(
            f"peak memory growth (target: not beyond {MEMORY_GROWTH_ALLOWANCE} x the largest"
            " response of the larger scale)"
        )
        for item in memory:
            print(
                f"  {_verdict(item['pass'])}  {item['regime']}: {item['from']} -> {item['to']}"
                f" {item['growth_bytes'] / 2**20:+.1f} MiB"
                f" (allowance {item['allowance_bytes'] / 2**20:.1f} MiB)"
            )
    else:
        print("peak memory growth: measure two scales or more in one run to compare (--scale all)")


# -- command line -------------------------------------------------------------------------------


def _scales(text: str) -> list[str]:
    names = list(SCALES) if text == "all" else [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in SCALES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scale(s) {unknown}; choose from {SCALES}")
    return names


def _config_value(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scale",
        type=_scales,
        default=["medium"],
        help="small|medium|large, a comma list, or all (default: medium)",
    )
    parser.add_argument("--regime", choices=[*REGIMES, "both"], default="both")
    parser.add_argument("--latency-ms", type=int, default=80, help="per response (default 80)")
    parser.add_argument(
        "--rate-limit", type=int, default=20, help="per second, limit regime (default 20)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="passed to the connector config as `concurrency` (the manifest may ignore it)",
    )
    parser.add_argument(
        "--set",
        type=_config_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another connector config value (VALUE read as JSON if it parses, else a string);"
        " repeatable",
    )
    parser.add_argument("--seed", type=int, default=1, help="emulator data seed (default 1)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--manifest",
        type=Path,
        default=runtime.MANIFEST_PATH,
        help="manifest to run (default: the repo's manifest.yaml)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before a sync is killed"
    )
    parser.add_argument(
        "--request-log",
        type=Path,
        help="append every request (time since start, template, URL, status) as JSON lines",
    )
    args = parser.parse_args(argv)
    args.manifest = args.manifest.resolve()
    return args


def provenance(manifest_path: Path) -> dict[str, Any]:
    """What was measured: the manifest's hash and the repo's commit, with uncommitted changes."""

    def git(*command: str) -> str:
        try:
            return subprocess.run(
                ["git", *command], capture_output=True, text=True, cwd=runtime.REPO_ROOT
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "manifest": str(manifest_path),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest()[:12],
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": git(
            "status", "--porcelain", "--", "manifest.yaml", "emulator", "tooling"
        ).replace("\n", ", "),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM unwind normally, so that the running sync is killed with the benchmark.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    manifest = yaml.safe_load(args.manifest.read_text())
    streams = manifest_facts.stream_names(manifest)
    regimes = list(REGIMES) if args.regime == "both" else [args.regime]
    origin = provenance(args.manifest)
    changed = f", changed: {origin['uncommitted']}" if origin["uncommitted"] else ""
    print(
        f"Benchmark of {args.manifest} (sha256 {origin['manifest_sha256']}; repo at"
        f" {origin['commit']}{changed})"
        f" with the stock runtime:\nscales {', '.join(args.scale)}; regimes {', '.join(regimes)};"
        f" seed {args.seed}; {len(streams)} streams",
        flush=True,
    )
    measurements = []
    for scale in args.scale:
        account = build_account(args.seed, scale)
        for regime in regimes:
            print(f"... syncing {scale} / {regime}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            measurement = measure(account, scale, regime, args, manifest, streams)
            measurements.append(measurement)
            report(measurement)
            print(f"(measured in {time.perf_counter() - began:.0f} s)", flush=True)
    memory = memory_verdicts(measurements)
    summary(measurements, memory)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    **origin,
                    "seed": args.seed,
                    "concurrency_config": args.concurrency,
                    "config_values": dict(args.set),
                    "runs": [m.as_dict() for m in measurements],
                    "memory_growth": memory,
                },
                indent=2,
            )
        )
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
