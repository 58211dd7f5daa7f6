"""Every SQL example of README.md and docs/ runs on the DuckDB file `make pyairbyte` writes, and
answers what the emulator's account says it must.

The examples are read from the Markdown itself (```sql blocks, and inline code that holds a
SELECT), so a doc edit runs here as written. Each must be claimed by exactly one entry of
`CHECKS`, which computes its answer from the account (emulator/, the seed-1 small account that
`make pyairbyte` syncs): a new example fails until it has one. The sync is the session's one
`make pyairbyte` (the `pyairbyte_sync` fixture, shared with test_pyairbyte.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest

from emulator.datetimes import UtcDateTime
from tests.pyairbyte_cache import ACCOUNT, REPO_ROOT, query_records

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("**/*.md"))]
_FENCE = re.compile(r"^([ \t]*)```sql[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_ANY_FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_SQL = re.compile(r"\bselect\b.+\bfrom\b", re.I | re.S)
# Inline SQL inside a command (`duckdb...sql('SELECT ...')`): the quoted statement.
_QUOTED_SQL = re.compile(r"""(['"])(\s*select\b[^'"]*)\1""", re.I)


def sql_examples() -> list[tuple[str, str]]:
    """(where, SQL) of every SQL example in the docs, in order of appearance."""
    examples = []
    for path in DOCS:
        text = path.read_text()
        name = path.relative_to(REPO_ROOT)
        for match in _FENCE.finditer(text):
            indent = match.group(1)
            lines = [line.removeprefix(indent) for line in match.group(2).splitlines()]
            line_number = text.count("\n", 0, match.start()) + 1
            examples.append((f"{name}:{line_number}", "\n".join(lines)))
        prose = _ANY_FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for match in _INLINE.finditer(prose):
            code = match.group(1)
            if not _SQL.search(code):
                continue
            quoted = _QUOTED_SQL.search(code)
            line_number = prose.count("\n", 0, match.start()) + 1
            examples.append((f"{name}:{line_number}", quoted.group(2) if quoted else code))
    return examples


def _timestamp(value: str | None) -> str | None:
    """An account date-time as the cache's TIMESTAMP reads back (UTC, to the microsecond)."""
    if value is None:
        return None
    return str(UtcDateTime(value).to_datetime().replace(tzinfo=None))


def check_products(rows: list[dict]) -> None:
    """`SELECT * FROM products`: every product, every field, plus Airbyte's own columns."""
    fields = [
        {name: value for name, value in row.items() if not name.startswith("_airbyte_")}
        for row in rows
    ]
    expected = [
        {name.lower(): value for name, value in product.items()} for product in ACCOUNT.products
    ]
    key = lambda record: record["productid"]  # noqa: E731
    assert sorted(fields, key=key) == sorted(expected, key=key)
    assert all({"_airbyte_raw_id", "_airbyte_extracted_at"} <= row.keys() for row in rows)


def check_production_changes(rows: list[dict]) -> None:
    """Who requested, approved and applied each applied change request of a Production
    environment: one row per approval, one with no approver when it had none."""
    expected = []
    for requests in ACCOUNT.change_requests.values():
        for request in requests:
            environment = ACCOUNT.environments_by_id[request["environmentId"]]["name"]
            if environment != "Production" or request["changeRequestStatus"] != "applied":
                continue
            base = {
                "changerequestid": request["changeRequestId"],
                "title": request["title"],
                "environment": environment,
                "changerequeststatus": "applied",
                "requested_by": request["creatorUserEmail"],
                "applied_by": request["appliedByUserEmail"],
                "appliedat": _timestamp(request["appliedAt"]),
            }
            approvals = request["approvals"] or [{"userEmail": None, "approvedAt": None}]
            for approval in approvals:
                expected.append(
                    base
                    | {
                        "approved_by": approval["userEmail"],
                        "approved_at": _timestamp(approval["approvedAt"]),
                    }
                )
    # The account has both kinds of row, else the example shows half of what it is for.
    assert any(row["approved_by"] for row in expected)
    assert any(row["approved_by"] is None for row in expected)
    freeze = lambda record: tuple(sorted(record.items()))  # noqa: E731
    assert Counter(map(freeze, rows)) == Counter(map(freeze, expected))
    applied = [row["appliedat"] for row in rows]
    assert applied == sorted(applied, reverse=True)


# Each check claims the one example whose SQL matches its pattern.
CHECKS: dict[str, Callable[[list[dict]], None]] = {
    r"^SELECT \* FROM products$": check_products,
    r"FROM change_requests\b.*'Production'": check_production_changes,
}


def _check_of(sql: str) -> Callable[[list[dict]], None]:
    claimed = [check for pattern, check in CHECKS.items() if re.search(pattern, sql, re.S)]
    assert len(claimed) == 1, f"{len(claimed)} checks claim this example: {sql}"
    return claimed[0]


def test_every_check_claims_one_example():
    examples = sql_examples()
    for pattern in CHECKS:
        matching = [where for where, sql in examples if re.search(pattern, sql, re.S)]
        assert len(matching) == 1, (pattern, matching)


@pytest.mark.parametrize(
    ("where", "sql"), [pytest.param(*example, id=example[0]) for example in sql_examples()]
)
def test_sql_example_answers_the_accounts(pyairbyte_sync, where: str, sql: str):
    check = _check_of(sql)
    _, database = pyairbyte_sync
    rows = query_records(database, sql)
    assert rows, f"{where} answers nothing"
    check(rows)
