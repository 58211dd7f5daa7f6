"""A local emulator of ConfigCat's Public Management API serving a seeded, fixed account.

Where things are: `account` — the data model and its queries; `scales` — how many of each entity
a scale holds (`SCALES`); `seed` — the seeded data that fills it (`build_account`), with
`governance` drawing the change requests, deleted flags, code references, preferences, Proxy
Profiles and limitations last (imports go one way: `scales` <- `governance` <- `seed`), and
`texts` the free text users type;
`routes` — each endpoint and its answer (`ROUTES`, `Api`); `server` — HTTP, auth, the request
log (`EmulatorServer`); `rate_limits`, `faults`, `datetimes` — the rate limits, deliberate faults
and .NET date-time writing the server applies. No two modules import each other.
"""

from .account import SECRET_MARKER, Account
from .datetimes import UtcDateTime, served
from .faults import FaultRule
from .routes import ROUTES, Api, match_route
from .scales import SCALES
from .seed import build_account
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
