"""The main job: a full sync of every stream with the stock runtime.

By default against the bundled ConfigCat API emulator; with `--config` against a real account.
Records are written to `<output>/<stream>.jsonl`, one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts import source
from tooling import runtime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    source.add_arguments(parser)
    parser.add_argument("--output", type=Path, default=Path("output"), help="default: output/")
    args = parser.parse_args()

    with source.connector_config(args) as (config, origin):
        print(f"Syncing every stream from {origin} ...", flush=True)
        result = runtime.run("read", config, configured_catalog=runtime.catalog())

    args.output.mkdir(parents=True, exist_ok=True)
    width = max(len(name) for name in runtime.stream_names())
    for name in runtime.stream_names():
        records = result.records.get(name, [])
        path = args.output / f"{name}.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
        print(f"  {name:<{width}}  {len(records):>6} records  -> {path}")
    total = sum(len(records) for records in result.records.values())
    for error in result.errors:
        print(f"ERROR ({error.get('failure_type')}): {error.get('message')}", file=sys.stderr)
    if result.returncode != 0 or result.errors:
        print(f"Sync failed (exit code {result.returncode}).", file=sys.stderr)
        return 1
    print(f"Done: {total} records in {args.output.resolve()}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
