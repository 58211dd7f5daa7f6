import pytest

from emulator import EmulatorServer
from tests.sync_helpers import RUNTIMES


@pytest.fixture(params=list(RUNTIMES))
def cdk(request):
    """The id of a supported runtime (`cdk-7.39.1`, `cdk-7.23.8`): a behaviour test that takes
    it runs on both; `RUNTIMES[cdk]` is its `source-declarative-manifest`."""
    return request.param


@pytest.fixture
def emulator():
    """A fresh emulator (seed 1, small) for tests that change or count what it serves."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture(scope="module")
def account_server():
    """One emulator (seed 1, small) per test module, for tests that only read from it."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture(autouse=True)
def isolated_request_cache(tmp_path, monkeypatch):
    """The CDK caches parent responses on disk; keep each test's cache to itself."""
    monkeypatch.setenv("REQUEST_CACHE_PATH", str(tmp_path / "request-cache"))


@pytest.fixture(scope="session")
def pyairbyte_sync(tmp_path_factory):
    """`make pyairbyte`, run offline once per session: its completed process and DuckDB file."""
    from tests.pyairbyte_cache import make_pyairbyte  # builds an account: only when needed

    return make_pyairbyte(tmp_path_factory.mktemp("pyairbyte"))
