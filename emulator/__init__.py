"""A local emulator of ConfigCat's Public Management API serving a seeded, fixed account."""

from .account import Account
from .datetimes import UtcDateTime, served
from .faults import FaultRule
from .seed import SECRET_MARKER, build_account
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
