import fcntl
import json
import re
import subprocess
from pathlib import Path

import pytest

from emulator import EmulatorServer
from tests.sync_helpers import RUNTIMES
from tooling import runtime

# Runtime commands start as children of one fork server per runtime (tooling/forkserver.py),
# which has imported airbyte-cdk once: about two seconds of CPU saved per command.
# tests/test_platform_runtime.py starts the console script itself.
runtime.start_by_fork()


# Under pytest-xdist, `make test` runs `-n 3 --dist loadfile`: a module's tests run in one worker,
# in order, so that its shared syncs and background scenarios stay in one worker. Two refinements:
# - test_builder.py, the longest module, is one unit per manifest server (its `builder` fixture's
#   ids, cdk-7.39.1 and cdk-7.23.8), so that both run at once. (`--dist loadgroup` with
#   xdist_group marks would say the same, but pytest-xdist 3.8 writes the group into
#   `item._nodeid`, which pytest 9 no longer reads: every test became a unit of its own.)
# - Units are handed out longest first, so that no long one starts while the other workers are
#   running out of work. pytest-xdist's loadscope/loadfile would hand out the units with the most
#   tests first (test_full_sync.py's 164 short ones before the Builder's), so the scheduler below
#   turns that reordering off and keeps the collection order, which
#   `pytest_collection_modifyitems` sorts by LONGEST_FIRST: each unit's seconds in `make test`
#   (measured: the sum of its tests' durations, three workers, 2 cores), units not listed last.
SPLIT_BY_RUNTIME = {"tests/test_builder.py"}
LONGEST_FIRST = [
    "tests/test_builder.py::cdk-7.23.8",  # 260 s
    "tests/test_builder.py::cdk-7.39.1",  # 179 s
    "tests/test_faults.py",  # 159 s
    "tests/test_audit_logs.py",  # 119 s
    "tests/test_main_job.py",  # 102 s
    "tests/test_platform_runtime.py",  # 101 s
    "tests/test_full_sync.py",  # 93 s
    "tests/test_streams_mocked.py",  # 82 s
    "tests/test_streams_mocked_oldest_cdk.py",  # 79 s
    "tests/test_response_filters.py",  # 77 s
    "tests/test_pacing.py",  # 68 s
    "tests/test_pyairbyte.py",  # 47 s
    "tests/test_bad_config.py",  # 46 s
    "tests/test_primary_keys.py",  # 40 s
    "tests/test_emulator.py",  # 31 s
    "tests/test_forkserver.py",  # 30 s
    "integration_tests/test_acceptance.py",  # 28 s
    "tests/test_secrets.py",  # 28 s
]
RUNTIME_ID = re.compile(r"\bcdk-\d+\.\d+\.\d+\b")


def xdist_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or its module and runtime."""
    path = nodeid.split("::", 1)[0]
    if path in SPLIT_BY_RUNTIME and (runtime_id := RUNTIME_ID.search(nodeid)):
        return f"{path}::{runtime_id.group()}"
    return path


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        unit = xdist_unit(item.nodeid)
        return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: a unit's tests keep their order


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown where it is not installed
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

    config.option.loadscopereorder = False  # --no-loadscope-reorder: keep the collection order
    return ModuleScheduling(config, log)


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
def pyairbyte_sync(tmp_path_factory, worker_id):
    """`make pyairbyte`, run offline once per test run: its completed process and DuckDB file.

    Under pytest-xdist every worker has a session of its own: the first worker to get here runs
    it in the run's shared temporary folder, under a file lock, and the others read its result
    (two at once would also install .venv-pyairbyte twice into the same folder).
    """
    from tests.pyairbyte_cache import make_pyairbyte  # builds an account: only when needed

    if worker_id == "master":
        return make_pyairbyte(tmp_path_factory.mktemp("pyairbyte"))
    shared = tmp_path_factory.getbasetemp().parent / "pyairbyte"
    shared.mkdir(exist_ok=True)
    outcome = shared / "outcome.json"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not outcome.exists():
            sync, database = make_pyairbyte(shared / "output")
            fields = {"args": sync.args, "returncode": sync.returncode}
            fields |= {"stdout": sync.stdout, "stderr": sync.stderr, "database": str(database)}
            outcome.write_text(json.dumps(fields))
    fields = json.loads(outcome.read_text())
    database = Path(fields.pop("database"))
    return subprocess.CompletedProcess(**fields), database
