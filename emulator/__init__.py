"""A local emulator of ConfigCat's Public Management API serving a seeded, fixed account.

Where things are: `account` — the data model and its queries; `seed` — the seeded data that fills
it (`build_account`, `SCALES`), with `governance` drawing the change requests, deleted flags, code
references, preferences, Proxy Profiles and limitations last; `routes` — each endpoint and its
answer (`ROUTES`, `Api`); `server` — HTTP, auth, the request log (`EmulatorServer`);
`rate_limits`, `faults`, `datetimes` — the rate limits, deliberate faults and .NET date-time
writing the server applies.
"""

from .account import Account
from .datetimes import UtcDateTime, served
from .faults import FaultRule
from .routes import ROUTES, Api, match_route
from .seed import SCALES, SECRET_MARKER, build_account
from .server import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "ROUTES",
    "SCALES",
    "SECRET_MARKER",
    "Account",
    "Api",
    "EmulatorServer",
    "FaultRule",
    "UtcDateTime",
    "build_account",
    "match_route",
    "served",
]
