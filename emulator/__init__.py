"""A local emulator of ConfigCat's Public Management API serving a seeded, fixed account."""

from .data import SECRET_MARKER, Account, build_account
from .faults import FaultRule
from .server import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "SECRET_MARKER",
    "Account",
    "EmulatorServer",
    "FaultRule",
    "build_account",
]
