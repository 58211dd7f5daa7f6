"""The main job: a full sync of every stream with the stock runtime.

By default against the bundled ConfigCat API emulator; with `--config` against a real account.
Records are written to `<output>/<stream>.jsonl`, one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, EmulatorServer
from tooling import runtime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, help="connector config (default: the emulator)")
    parser.add_argument("--output", type=Path, default=Path("output"), help="default: output/")
    parser.add_argument("--seed", type=int, default=1, help="emulator data seed")
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    args = parser.parse_args()

    with ExitStack() as stack:
        if args.config:
            config = json.loads(args.config.read_text())
            source = config.get("base_url") or "https://api.configcat.com"
        else:
            server = stack.enter_context(EmulatorServer(seed=args.seed, scale=args.scale))
            config = {
                "username": DEFAULT_USERNAME,
                "password": DEFAULT_PASSWORD,
                "base_url": server.url,
            }
            source = f"the bundled emulator at {server.url} (seed {args.seed}, {args.scale})"
        print(f"Syncing every stream from {source} ...", flush=True)
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
