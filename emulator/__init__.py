"""A local emulator of ConfigCat's Public Management API serving a seeded, fixed account."""

from .data import SECRET_MARKER, Account, build_account
from .datetimes import UtcDateTime, served
from .faults import FaultRule
from .server import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "SECRET_MARKER",
    "Account",
    "EmulatorServer",
    "FaultRule",
    "UtcDateTime",
    "build_account",
    "served",
]
