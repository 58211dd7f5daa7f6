"""How `make test` hands the tests to its pytest-xdist workers (tests/conftest.py)."""

from collections import defaultdict

from tests.conftest import SPLIT_BY_RUNTIME, xdist_unit


def test_a_unit_is_a_module_or_for_the_builder_a_module_and_a_runtime(request):
    units_of = defaultdict(set)
    for item in request.session.items:
        units_of[item.nodeid.split("::", 1)[0]].add(xdist_unit(item.nodeid))
    for path, units in units_of.items():
        if path in SPLIT_BY_RUNTIME:
            # The tests that take no manifest server stay one unit of the module's own.
            by_runtime = {f"{path}::cdk-7.39.1", f"{path}::cdk-7.23.8"}
            assert by_runtime <= units <= by_runtime | {path}, path
        else:
            assert units == {path}, path


def test_the_runtime_in_a_test_id_picks_the_unit_of_a_split_module_only():
    assert xdist_unit("tests/test_builder.py::test_resolve[cdk-7.23.8]") == (
        "tests/test_builder.py::cdk-7.23.8"
    )
    assert xdist_unit("tests/test_builder.py::test_keys") == "tests/test_builder.py"
    assert xdist_unit("tests/test_faults.py::test_x[cdk-7.23.8]") == "tests/test_faults.py"
