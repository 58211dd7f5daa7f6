"""Date-times as ConfigCat's API, an ASP.NET service, holds and writes them.

.NET counts time in ticks of 100 ns, so its date-times carry 7 fractional digits, one more than
Python's datetime. The account holds each one as a `UtcDateTime`: a str in .NET's round-trip
("o") form, always 7 digits and `Z` (`2026-11-05T02:15:47.1002513Z`). Nothing is lost, and since
the width never varies, text order is time order.

The OpenAPI document does not say how the API writes them; `served()` writes account data in one
of the plausible ways, chosen per server (the reference's section 5).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

TICKS_PER_SECOND = 10_000_000
# "trimmed": System.Text.Json, 0 to 7 fractional digits without trailing zeros (`...47.10025Z`,
# `...47Z`); "round_trip": the "o" format, always 7; "whole_seconds": no fraction at all.
DATETIME_STYLES = ("trimmed", "round_trip", "whole_seconds")
# "Z" as a UTC DateTime is written; "+00:00" as a DateTimeOffset at offset zero is.
UTC_OFFSETS = ("Z", "+00:00")

# Naive, meaning UTC: a naive datetime's isoformat() is the round-trip text without its offset.
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
# Python reads at most 6 fractional digits, so the fraction is read apart from the rest.
_FRACTION = re.compile(r"(?<=[T ]\d\d:\d\d:\d\d)\.(\d+)")


def ticks_of(delta: timedelta) -> int:
    """A duration in ticks."""
    return delta // _MICROSECOND * 10


def ticks_since_epoch(moment: datetime) -> int:
    """Ticks from 1970-01-01T00:00:00Z to `moment` (a naive one is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - moment.utcoffset()
    return ticks_of(moment - _EPOCH)


class UtcDateTime(str):
    """A UTC date-time to the tick, held as its round-trip text `YYYY-MM-DDTHH:MM:SS.fffffffZ`.

    Made from a datetime (exact to its microsecond; naive means UTC), from ISO 8601 text with 0
    to 7 fractional digits and any offset (naive means UTC), or from ticks (`from_ticks`).
    """

    __slots__ = ()

    def __new__(cls, value: str | datetime) -> UtcDateTime:
        if isinstance(value, UtcDateTime):
            return value
        if isinstance(value, datetime):
            return cls.from_ticks(ticks_since_epoch(value))
        return cls.from_ticks(_parse_ticks(value))

    @classmethod
    def from_ticks(cls, ticks: int) -> UtcDateTime:
        """The date-time `ticks` after 1970-01-01T00:00:00Z."""
        try:
            moment = _EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            raise ValueError(f"{ticks} ticks is out of the range of date-times") from None
        seconds = moment.isoformat(timespec="seconds")
        return str.__new__(cls, f"{seconds}.{ticks % TICKS_PER_SECOND:07d}Z")

    @property
    def ticks(self) -> int:
        """Ticks since 1970-01-01T00:00:00Z."""
        return ticks_since_epoch(datetime.fromisoformat(self[:19])) + int(self[20:27])

    def to_datetime(self) -> datetime:
        """As a Python datetime, which drops the 7th fractional digit."""
        return datetime.fromisoformat(self[:26]).replace(tzinfo=UTC)

    def wire(self, datetime_style: str = "trimmed", utc_offset: str = "Z") -> str:
        """The text the server writes for this date-time."""
        _check_options(datetime_style, utc_offset)
        fraction = self[20:27]
        if datetime_style == "trimmed":
            fraction = fraction.rstrip("0")
        elif datetime_style == "whole_seconds":
            fraction = ""
        return self[:19] + (f".{fraction}" if fraction else "") + utc_offset


def served(value: Any, datetime_style: str = "trimmed", utc_offset: str = "Z") -> Any:
    """Account data as the server sends it: a copy with each UtcDateTime written as `wire()`
    writes it with these options (the server's `datetime_style` and `utc_offset`)."""
    _check_options(datetime_style, utc_offset)

    def copy(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: copy(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [copy(inner) for inner in item]
        if isinstance(item, UtcDateTime):
            return item.wire(datetime_style, utc_offset)
        return item

    return copy(value)


def _check_options(datetime_style: str, utc_offset: str) -> None:
    if datetime_style not in DATETIME_STYLES:
        raise ValueError(
            f"unknown datetime_style {datetime_style!r}; choose from {DATETIME_STYLES}"
        )
    if utc_offset not in UTC_OFFSETS:
        raise ValueError(f"unknown utc_offset {utc_offset!r}; choose from {UTC_OFFSETS}")


def _parse_ticks(text: str) -> int:
    fraction = 0
    found = _FRACTION.search(text)
    if found:
        digits = found.group(1)
        if len(digits) > 7:
            raise ValueError(f"more than 7 fractional digits in {text!r}")
        fraction = int(digits.ljust(7, "0"))
        text = text[: found.start()] + text[found.end() :]
    return ticks_since_epoch(datetime.fromisoformat(text)) + fraction
