"""How `make test` hands the tests to its pytest-xdist workers (tests/conftest.py)."""

from collections import defaultdict
from types import SimpleNamespace

from tests.conftest import (
    LONGEST_FIRST,
    SPLIT_BY_RUNTIME,
    pytest_collection_modifyitems,
    pytest_xdist_make_scheduler,
    xdist_unit,
)


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


class FakeWorker:
    """What the scheduler uses of a pytest-xdist worker: the tests it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent += indexes

    def shutdown(self) -> None:
        self.shutting_down = True


def test_units_are_handed_out_longest_first():
    """Three workers start on the three longest units, though the later units have more tests
    (pytest-xdist's own order would start with those) and were collected first."""

    def unit_tests(unit: str, count: int) -> list[str]:
        path, _, runtime_id = unit.partition("::")
        suffix = f"[{runtime_id}]" if runtime_id else ""
        return [f"{path}::test_{n}{suffix}" for n in range(count)]

    collected = [
        SimpleNamespace(nodeid=nodeid)
        for count, unit in reversed(list(enumerate(LONGEST_FIRST, start=1)))
        for nodeid in unit_tests(unit, count)
    ]
    pytest_collection_modifyitems(collected)
    collection = [item.nodeid for item in collected]

    option = SimpleNamespace(dist="loadfile", loadscopereorder=True, numprocesses=3)
    values = {"dist": "loadfile", "tx": ["3*popen"]}
    config = SimpleNamespace(option=option, getvalue=values.__getitem__)
    scheduler = pytest_xdist_make_scheduler(config, None)
    workers = [FakeWorker(f"gw{n}") for n in range(3)]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    assert [xdist_unit(collection[worker.sent[0]]) for worker in workers] == LONGEST_FIRST[:3]
