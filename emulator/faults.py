"""Faults the emulator injects on purpose, so a connector's error handling can be tested.

A rule matches requests whose target (path plus query string, e.g. `/v1/products?x=1`) the
regular expression finds a match in, and applies to the next `times` of them (`None`: forever).
Rules are consulted in the order they were added; the first live one that matches wins.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

# Kinds answered with an error status and a short JSON body.
STATUS_KINDS = frozenset({"401", "403", "404", "429", "500", "502", "503"})
# Kinds that change how the answer is delivered rather than which status it has.
DELIVERY_KINDS = frozenset({"reset", "stall", "malformed_json", "html_200"})
# "answer": the rule's own `status` and `body`, for an answer the other kinds do not give (a 400
# with a chosen message, a 200 with a chosen page).
FAULT_KINDS = STATUS_KINDS | DELIVERY_KINDS | {"answer"}


@dataclass
class FaultRule:
    path_regex: str = ".*"
    kind: str = "500"
    times: int | None = 1
    # Seconds in the Retry-After header of a "429"; None sends no Retry-After at all.
    retry_after: int | None = 1
    # How long a "stall" waits before answering normally.
    stall_seconds: float = 5.0
    # The status and body of an "answer": the body is sent JSON-encoded, or as it is (text/plain)
    # when it is `bytes`.
    status: int = 200
    body: Any = None
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose from {sorted(FAULT_KINDS)}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be None (forever) or >= 0")
        self.pattern = re.compile(self.path_regex)


class FaultInjector:
    """The server's list of live fault rules; safe to change while requests are served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # [rule, uses left (None: forever)]
        self._rules: list[list] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append([rule, rule.times])
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remaining(self, rule: FaultRule) -> int | None:
        """Uses left of an added rule (0 once spent; None for a rule that never runs out)."""
        with self._lock:
            for entry in self._rules:
                if entry[0] is rule:
                    return entry[1]
        raise KeyError("rule was not added")

    def take(self, target: str) -> FaultRule | None:
        """The rule to apply to a request for `target`, using up one of its uses."""
        with self._lock:
            for entry in self._rules:
                rule, left = entry
                if left == 0 or not rule.pattern.search(target):
                    continue
                if left is not None:
                    entry[1] = left - 1
                return rule
        return None
