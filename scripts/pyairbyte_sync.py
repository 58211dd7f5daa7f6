"""Every stream into a local DuckDB file through PyAirbyte, then a few example queries.

By default against the bundled ConfigCat API emulator; with `--config` against a real account.
Run it with `make pyairbyte`, which installs PyAirbyte into its own venv (.venv-pyairbyte) first.

PyAirbyte runs manifest.yaml in-process with the airbyte-cdk installed beside it: no connector
image, no `source-declarative-manifest` executable and no connector download. It would still ask
Airbyte's connector registry about `source-configcat` and send telemetry; offline mode (set below,
before PyAirbyte is imported) turns both off, so the only network traffic is to the ConfigCat API.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from scripts import source as scripts_source

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "manifest.yaml"
DATABASE_NAME = "configcat.duckdb"

# Example queries on the synced tables. PyAirbyte lower-cases column names (`productId` becomes
# `productid`) and keeps nested objects as JSON.
EXAMPLE_QUERIES = {
    "Boolean flags on and off, per product and environment": """
        SELECT p.name AS product, e.name AS environment,
               count(*) FILTER (WHERE v.is_on) AS flags_on,
               count(*) FILTER (WHERE NOT v.is_on) AS flags_off
        FROM (
            -- v1 configs answer `value`, v2 configs `defaultValue.boolValue`
            SELECT productid, environmentid,
                   coalesce(json_extract(value, '$')::BOOLEAN,
                            json_extract(defaultvalue, '$.boolValue')::BOOLEAN) AS is_on
            FROM feature_flag_values
            WHERE json_extract_string(setting, '$.settingType') = 'boolean'
        ) AS v
        JOIN environments AS e ON e.environmentid = v.environmentid
        JOIN products AS p ON p.productid = v.productid
        GROUP BY ALL
        ORDER BY product, environment
    """,
    "Members per product": """
        SELECT p.name AS product, count(DISTINCT m.userid) AS members
        FROM products AS p
        LEFT JOIN product_members AS m ON m.productid = p.productid
        GROUP BY ALL
        ORDER BY members DESC, product
    """,
    "Stale (zombie) flags per product": """
        SELECT p.name AS product, count(s.settingid) AS stale_flags
        FROM products AS p
        LEFT JOIN stale_flags AS s ON s.productid = p.productid
        GROUP BY ALL
        ORDER BY stale_flags DESC, product
    """,
    "Open change requests: who asked, how many approvals": """
        SELECT p.name AS product, cr.title, cr.creatoruseremail AS requested_by,
               json_array_length(cr.approvals) AS approvals, cr.createdat
        FROM change_requests AS cr
        JOIN products AS p ON p.productid = cr.productid
        WHERE cr.changerequeststatus = 'open'
        ORDER BY cr.createdat DESC
        LIMIT 10
    """,
    "Flags with no code references, per product": """
        SELECT p.name AS product, count(*) AS flags_without_code_references
        FROM feature_flags AS f
        JOIN products AS p ON p.productid = f.productid
        WHERE f.settingid NOT IN (SELECT settingid FROM code_references)
        GROUP BY ALL
        ORDER BY flags_without_code_references DESC, product
    """,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    scripts_source.add_arguments(parser)
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("output/pyairbyte"),
        help=f"folder of the DuckDB file ({DATABASE_NAME}) and PyAirbyte's logs",
    )
    args = parser.parse_args()

    args.output.mkdir(parents=True, exist_ok=True)
    # PyAirbyte reads these when it is imported.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str((args.output / "logs").resolve()))
    # Google's client libraries (PyAirbyte's BigQuery support) nag about Python 3.11 at import.
    warnings.filterwarnings("ignore", "You are using a Python version", FutureWarning)
    import airbyte
    from airbyte.caches import DuckDBCache
    from sqlalchemy import text

    with scripts_source.connector_config(args) as (config, origin):
        source = airbyte.get_source(
            "source-configcat", config=config, source_manifest=MANIFEST_PATH
        )
        source.select_all_streams()
        database = args.output / DATABASE_NAME
        cache = DuckDBCache(db_path=database)
        print(f"Syncing every stream from {origin} into {database} ...", flush=True)
        try:
            source.read(cache=cache)
        except airbyte.exceptions.PyAirbyteError as error:
            print(f"Sync failed: {error}", file=sys.stderr)
            return 1

    streams = source.get_selected_streams()
    width = max(len(name) for name in streams)
    with cache.get_sql_engine().connect() as connection:
        for name in streams:
            count = connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            print(f"  {name:<{width}}  {count:>6} rows")
        for title, query in EXAMPLE_QUERIES.items():
            result = connection.execute(text(query))
            print(f"\n{title}:")
            print_table(list(result.keys()), [tuple(row) for row in result])
    print(f"\nDone: {database.resolve()}")
    return 0


def print_table(columns: list[str], rows: list[tuple]) -> None:
    cells = [columns, *[[str(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


if __name__ == "__main__":
    sys.exit(main())
