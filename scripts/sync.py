"""The main job: a full sync of every stream with the stock runtime.

By default against the bundled ConfigCat API emulator; with `--config` against a real account.
Each record is written to `<output>/<stream>.jsonl` (one JSON object a line) as it arrives, so
memory stays flat whatever the account's size, and the progress of every stream is shown as it
goes: plain lines when stdout is not a terminal, a live table when it is (scripts/sync_display.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from rich.console import Console

from scripts import source
from scripts.sync_display import (
    LiveDisplay,
    PlainDisplay,
    StreamProgress,
    Wait,
    live_display_wanted,
    retry_wait,
)
from tooling import runtime


class Display(Protocol):
    def started(self, stream: StreamProgress) -> None: ...
    def record(self, stream: StreamProgress) -> None: ...
    def rate_limited(self, stream: StreamProgress) -> None: ...
    def ended(self, stream: StreamProgress) -> None: ...
    def wait(self, wait: Wait, stream: str | None) -> None: ...
    def error(self, error: dict[str, Any]) -> None: ...


class RecordFiles:
    """`<folder>/<stream>.jsonl` for each stream, every record written to it when it arrives.

    A stream's file is (re)created when the stream starts or its first record comes, and is
    line-buffered: each record is on disk once written. On leaving the block every stream has
    its file, empty for a stream without records, as a full refresh leaves it.
    """

    def __init__(self, folder: Path, streams: Iterable[str]) -> None:
        self.folder = folder
        self.streams = {name: StreamProgress(name, folder / f"{name}.jsonl") for name in streams}
        self._open: dict[str, IO[str]] = {}
        self._written: set[str] = set()

    def __enter__(self) -> RecordFiles:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in self.streams:
            self.close(name)

    @property
    def total(self) -> int:
        return sum(stream.records for stream in self.streams.values())

    def stream(self, name: str) -> StreamProgress:
        if name not in self.streams:
            self.streams[name] = StreamProgress(name, self.folder / f"{name}.jsonl")
        return self.streams[name]

    def open(self, name: str) -> IO[str]:
        if name not in self._open:
            # A stream seen again after its end appends rather than losing what it wrote.
            mode = "a" if name in self._written else "w"
            self._open[name] = self.stream(name).path.open(mode, encoding="utf-8", buffering=1)
            self._written.add(name)
        return self._open[name]

    def write(self, name: str, record: dict[str, Any]) -> StreamProgress:
        self.open(name).write(json.dumps(record) + "\n")
        stream = self.stream(name)
        stream.records += 1
        return stream

    def close(self, name: str) -> None:
        if name not in self._written:
            self.open(name)
        if name in self._open:
            self._open.pop(name).close()


def sync(messages: Iterable[dict[str, Any]], files: RecordFiles, display: Display) -> list[dict]:
    """Write each record as it arrives and tell the display what happens; the TRACE errors.

    Holds one message at a time. Streams the runtime never ended are ended here: `incomplete`
    if they started, `not synced` if they never did.
    """
    errors: list[dict] = []
    # Streams reported rate limited and not yet paired with a wait, oldest first. On a 429 the
    # runtime emits the stream's RATE_LIMITED status, then logs the wait without naming the
    # stream: each rate-limit wait is told with the oldest unpaired status's stream.
    rate_limited: list[str] = []
    for message in messages:
        kind = message.get("type")
        if kind == "RECORD":
            stream = files.write(message["record"]["stream"], message["record"]["data"])
            if stream.state in ("queued", "rate limited"):
                stream.state = "running"
            display.record(stream)
        elif kind == "TRACE":
            trace = message["trace"]
            if trace.get("type") == "STREAM_STATUS":
                _stream_status(trace["stream_status"], files, display, rate_limited)
            elif trace.get("type") == "ERROR":
                errors.append(trace["error"])
                display.error(trace["error"])
        elif kind == "LOG":
            wait = retry_wait(message["log"].get("message") or "")
            if wait is not None:
                paired = rate_limited.pop(0) if wait.for_rate_limit and rate_limited else None
                display.wait(wait, paired)
    for stream in files.streams.values():
        if stream.state not in ("complete", "incomplete"):
            stream.state = "not synced" if stream.state == "queued" else "incomplete"
            files.close(stream.name)
            display.ended(stream)
    return errors


def _stream_status(
    status: dict[str, Any], files: RecordFiles, display: Display, rate_limited: list[str]
) -> None:
    stream = files.stream(status["stream_descriptor"]["name"])
    value = status.get("status")
    if value == "STARTED":
        stream.state = "running"
        files.open(stream.name)
        display.started(stream)
    elif value == "RUNNING":
        reasons = {reason.get("type") for reason in status.get("reasons") or []}
        if "RATE_LIMITED" in reasons:
            stream.state = "rate limited"
            rate_limited.append(stream.name)
            display.rate_limited(stream)
        else:
            stream.state = "running"
    elif value in ("COMPLETE", "INCOMPLETE"):
        stream.state = value.lower()
        files.close(stream.name)
        display.ended(stream)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    source.add_arguments(parser)
    parser.add_argument("--output", type=Path, default=Path("output"), help="default: output/")
    args = parser.parse_args()

    console = Console()
    try:
        with source.connector_config(args) as (config, origin):
            print(f"Syncing every stream from {origin} ...", flush=True)
            with RecordFiles(args.output, runtime.stream_names()) as files:
                streams = list(files.streams.values())
                live = live_display_wanted(console)
                display = LiveDisplay(streams, console) if live else PlainDisplay(streams)
                # No timeout: a large account takes as long as its rate limit needs.
                command = runtime.messages(
                    "read", config, configured_catalog=runtime.catalog(), timeout=None
                )
                with display, command as run:
                    errors = sync(run, files, display)
    except KeyboardInterrupt:
        print(f"Interrupted: {args.output}/ holds what was read until then.", file=sys.stderr)
        return 130
    if run.returncode != 0 or errors:
        print(f"Sync failed (exit code {run.returncode}).", file=sys.stderr)
        return 1
    print(f"Done: {files.total} records in {args.output.resolve()}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
