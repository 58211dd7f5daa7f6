"""What the main job shows while it runs: plain lines, or a live table on a terminal (rich).

Both displays get the same calls from `scripts.sync`: a stream started, a record arrived, a stream
was rate limited or ended, the runtime waits before a retry, an error. Plain lines go to a
non-terminal stdout (CI, tests, `| tee`): no control codes, a line when a stream starts, a line
when it ends with its record count and file, a line per wait. On an interactive terminal a live
table shows every stream's records so far and state, and a countdown while the runtime waits.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.progress import Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner
from rich.text import Text

# How airbyte-cdk 7.39.1 logs a wait before a retry (LOG messages at INFO level):
# - sources/streams/http/rate_limiting.py, user_defined_backoff_handler, for every retry whose
#   wait comes from the manifest's backoff strategies (429 Retry-After, and the exponential
#   backoff of 5xx and timeouts): "UserDefinedBackoffException: Rate limit exceeded (HTTP 429).
#   Retrying in 3.0 seconds." -- "(HTTP nnn)" is missing when no response came (a timeout, a
#   connection error); the words say "Rate limit" whatever the status.
_USER_DEFINED_BACKOFF = re.compile(
    r"Rate limit exceeded(?: \(HTTP (?P<status>\d{3})\))?\. Retrying in (?P<seconds>[\d.]+) seconds"
)
# - the same file's default handlers, for a retry with no wait from the manifest:
#   "Caught retryable error '<error>' after 2 tries. Waiting 4 seconds then retrying..."
_DEFAULT_BACKOFF = re.compile(
    r"^Caught retryable error .* Waiting (?P<seconds>[\d.]+) seconds then retrying", re.S
)
# - sources/streams/call_rate.py, APIBudget._do_acquire, when the manifest's `api_budget` paces
#   requests: "Policy ... reached call limit for endpoint ... Sleeping for 0:00:00.412000 on
#   attempt 1." It is a DEBUG log, so the runtime prints it only with `--debug`.
_API_BUDGET_SLEEP = re.compile(r"Sleeping for (?:(?P<h>\d+):(?P<m>\d\d):)?(?P<s>[\d.]+) on attempt")


@dataclass(frozen=True)
class Wait:
    """The runtime waits `seconds` before a retry (or the next request)."""

    seconds: float
    # None: the rate limit (HTTP 429, or the api_budget's pacing); otherwise what is retried.
    retry_after: str | None = None

    @property
    def for_rate_limit(self) -> bool:
        return self.retry_after is None

    def describe(self, remaining: float | None = None) -> str:
        seconds = _seconds(self.seconds if remaining is None else remaining)
        if self.for_rate_limit:
            return f"waiting {seconds} for the rate limit"
        return f"waiting {seconds} to retry after {self.retry_after}"


def retry_wait(log_message: str) -> Wait | None:
    """The wait a runtime log line announces, if it announces one."""
    if match := _USER_DEFINED_BACKOFF.search(log_message):
        status = match["status"]
        seconds = float(match["seconds"])
        if status == "429":
            return Wait(seconds)
        return Wait(seconds, f"HTTP {status}" if status else "a timeout or connection error")
    if match := _DEFAULT_BACKOFF.search(log_message):
        return Wait(float(match["seconds"]), "an error")
    if match := _API_BUDGET_SLEEP.search(log_message):
        hours, minutes = int(match["h"] or 0), int(match["m"] or 0)
        return Wait(hours * 3600 + minutes * 60 + float(match["s"]))
    return None


def _seconds(value: float) -> str:
    return f"{max(value, 0):.0f}s" if value >= 10 else f"{max(value, 0):.2g}s"


# States of a stream not yet ended; it ends complete, incomplete or (never started) not synced.
_UNDER_WAY = ("queued", "running", "rate limited")


@dataclass
class StreamProgress:
    name: str
    path: Path
    records: int = 0
    # queued -> running (or rate limited) -> complete / incomplete
    state: str = "queued"


def live_display_wanted(console: Console) -> bool:
    """The live table on an interactive terminal, as rich judges it; plain lines otherwise.

    rich's variables decide when set: `TTY_INTERACTIVE=0` forces plain lines, `TTY_COMPATIBLE=1`
    (with `TERM` not dumb) or `TTY_INTERACTIVE=1` the live display. FORCE_COLOR, which some CI
    services set, asks for colours only: with stdout not a terminal it keeps plain lines.
    """
    if not console.is_interactive:
        return False
    if "1" in (os.environ.get("TTY_INTERACTIVE"), os.environ.get("TTY_COMPATIBLE")):
        return True
    if os.environ.get("FORCE_COLOR"):
        isatty = getattr(console.file, "isatty", None)
        return bool(isatty and isatty())
    return True


class PlainDisplay:
    """A line per event, flushed at once; nothing but text."""

    def __init__(
        self, streams: list[StreamProgress], out: IO[str] | None = None, err: IO[str] | None = None
    ) -> None:
        self.out = sys.stdout if out is None else out
        self.err = sys.stderr if err is None else err
        self.width = max((len(stream.name) for stream in streams), default=0)

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def started(self, stream: StreamProgress) -> None:
        self._line(f"  {stream.name:<{self.width}}  started")

    def record(self, stream: StreamProgress) -> None:
        pass

    def rate_limited(self, stream: StreamProgress) -> None:
        pass

    def ended(self, stream: StreamProgress) -> None:
        line = f"  {stream.name:<{self.width}}  {stream.records:>6} records  -> {stream.path}"
        self._line(line if stream.state == "complete" else f"{line}  ({stream.state})")

    def wait(self, wait: Wait, stream: str | None) -> None:
        self._line(f"  {wait.describe()}" + (f" ({stream})" if stream else ""))

    def error(self, error: dict[str, Any]) -> None:
        print(_error_line(error), file=self.err, flush=True)


def _error_line(error: dict[str, Any]) -> str:
    return f"ERROR ({error.get('failure_type')}): {error.get('message')}"


class _StateIcon(ProgressColumn):
    """A spinner while a stream is read, a check mark once complete, a cross if incomplete."""

    def __init__(self) -> None:
        super().__init__()
        self.spinner = Spinner("dots", style="cyan")

    def render(self, task: Task) -> RenderableType:
        state = task.fields["stream"].state
        if state == "complete":
            return Text("✓", style="green")
        if state == "incomplete":
            return Text("✗", style="bold red")
        if state == "queued":
            return Text("·", style="dim")
        if state not in _UNDER_WAY:
            return Text("-", style="red")
        return self.spinner.render(task.get_time())


class _StateText(ProgressColumn):
    def render(self, task: Task) -> RenderableType:
        stream: StreamProgress = task.fields["stream"]
        if stream.state == "complete":
            return Text(f"-> {stream.path}", style="green")
        if stream.state == "incomplete":
            return Text(f"incomplete -> {stream.path}", style="bold red")
        if stream.state == "rate limited":
            return Text("rate limited", style="yellow")
        if stream.state in ("running", "queued"):
            return Text("reading" if stream.state == "running" else "queued", style="dim")
        return Text(f"{stream.state} -> {stream.path}", style="red")


class _SyncProgress(Progress):
    """rich's Progress, one task (row) per stream, with a summary line under the table."""

    def __init__(self, display: LiveDisplay, console: Console) -> None:
        self.display = display  # before Progress renders a first time
        super().__init__(
            _StateIcon(),
            TextColumn("{task.description}"),
            # Read at each refresh: a record costs the display nothing.
            TextColumn("{task.fields[stream].records:>9,} records", justify="right"),
            TimeElapsedColumn(),
            _StateText(),
            console=console,
            refresh_per_second=8,
        )

    def get_renderables(self):  # noqa: ANN201 (rich's signature)
        yield self.make_tasks_table(self.tasks)
        yield self.display.summary()


class LiveDisplay:
    """A live table (rich.progress) of every stream: records so far, state, time, file.

    Waits before a retry are printed above the table as they are announced and counted down
    under it. Errors are printed to stderr once the table has stopped, so they never land inside
    it; the final table stays on screen.
    """

    def __init__(self, streams: list[StreamProgress], console: Console | None = None) -> None:
        self.console = console or Console()
        self.streams = streams
        self.errors: list[dict[str, Any]] = []
        self._wait: Wait | None = None
        self._wait_ends = 0.0
        self._started = time.monotonic()
        self.progress = _SyncProgress(self, self.console)
        self.tasks = {
            stream.name: self.progress.add_task(stream.name, start=False, total=None, stream=stream)
            for stream in streams
        }

    def __enter__(self) -> LiveDisplay:
        self._started = time.monotonic()
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.refresh()
        self.progress.stop()
        for error in self.errors:
            print(_error_line(error), file=sys.stderr, flush=True)

    def summary(self) -> Text:
        done = sum(stream.state not in _UNDER_WAY for stream in self.streams)
        records = sum(stream.records for stream in self.streams)
        elapsed = timedelta(seconds=int(time.monotonic() - self._started))
        text = Text(
            f"{done}/{len(self.streams)} streams done, {records:,} records, {elapsed}", style="bold"
        )
        remaining = self._wait_ends - time.monotonic()
        if self._wait is not None and remaining > 0:
            text.append(f"  {self._wait.describe(remaining)}", style="yellow")
        return text

    def started(self, stream: StreamProgress) -> None:
        self.progress.start_task(self.tasks[stream.name])

    def record(self, stream: StreamProgress) -> None:
        pass  # the table reads `stream.records` when it refreshes

    def rate_limited(self, stream: StreamProgress) -> None:
        self.progress.refresh()

    def ended(self, stream: StreamProgress) -> None:
        task = self.tasks[stream.name]
        self.progress.start_task(task)  # a no-op once started
        # Finished: its elapsed time stops.
        self.progress.update(task, completed=stream.records, total=stream.records)

    def wait(self, wait: Wait, stream: str | None) -> None:
        self._wait, self._wait_ends = wait, time.monotonic() + wait.seconds
        named = f" ({stream})" if stream else ""
        self.progress.console.print(Text(f"{wait.describe()}{named}", style="yellow"))

    def error(self, error: dict[str, Any]) -> None:
        self.errors.append(error)
