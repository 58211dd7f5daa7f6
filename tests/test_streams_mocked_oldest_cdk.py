"""tests/test_streams_mocked.py again, on airbyte-cdk 7.23.8 (the Connector Builder's runtime).

Those tests build the source in-process, so they run on whichever airbyte-cdk imports: here the
module runs under `.venv-builder-cdk`'s interpreter, in a subprocess, and each of its tests is
one test here (`[cdk-7.23.8]`), passed when every case of it passed there.
`.venv-builder-cdk` installs pytest and requests-mock for it (requirements-builder-cdk.txt).
"""

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.sync_helpers import RUNTIMES
from tooling.runtime import REPO_ROOT

MODULE = Path(__file__).with_name("test_streams_mocked.py")
OLDEST_PYTHON = RUNTIMES["cdk-7.23.8"].parent / "python"


def mocked_test_names() -> list[str]:
    tree = ast.parse(MODULE.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


@pytest.fixture(scope="module")
def oldest_results(tmp_path_factory) -> dict[str, str]:
    """Each case of the module run on 7.23.8: its name (with parameters) -> passed/failed/..."""
    work = tmp_path_factory.mktemp("mocked-oldest-cdk")
    report = work / "report.xml"
    env = {**os.environ, "REQUEST_CACHE_PATH": str(work / "cache")}
    env.pop("PYTEST_XDIST_WORKER", None)
    args = [str(OLDEST_PYTHON), "-m", "pytest", str(MODULE), "-q", "-p", "no:cacheprovider"]
    args += ["-p", "no:xdist", f"--junitxml={report}", "-o", "addopts="]
    completed = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert report.exists(), completed.stdout[-3000:] + completed.stderr[-3000:]
    results = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = f"{child.tag}: {child.get('message', '')}"[:2000]
        results[case.get("name")] = outcome
    show = "from importlib.metadata import version; print(version('airbyte-cdk'))"
    version = subprocess.run(
        [str(OLDEST_PYTHON), "-c", show], capture_output=True, text=True
    ).stdout.strip()
    assert version == "7.23.8", version
    assert sys.executable != str(OLDEST_PYTHON)
    return results


@pytest.mark.parametrize("cdk", ["cdk-7.23.8"])
@pytest.mark.parametrize("name", mocked_test_names())
def test_the_mocked_case_passes_on_the_oldest_cdk(oldest_results, name, cdk):
    cases = {
        case: outcome
        for case, outcome in oldest_results.items()
        if case == name or case.startswith(f"{name}[")
    }
    assert cases, f"{name} did not run on {cdk}"
    assert {case: outcome for case, outcome in cases.items() if outcome != "passed"} == {}
