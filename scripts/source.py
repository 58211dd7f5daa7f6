"""Where a script syncs from: the bundled emulator by default, or a real account with `--config`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator import EmulatorServer
from emulator.scales import SCALES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="connector config (default: the emulator)")
    parser.add_argument("--seed", type=int, default=1, help="emulator data seed")
    parser.add_argument("--scale", default="small", choices=list(SCALES))


@contextmanager
def connector_config(args: argparse.Namespace) -> Iterator[tuple[dict, str]]:
    """(config, a description of the source); an emulator started here runs until the block ends."""
    if args.config:
        config = json.loads(args.config.read_text())
        yield config, config.get("base_url") or "https://api.configcat.com"
        return
    with EmulatorServer(seed=args.seed, scale=args.scale) as server:
        yield (
            server.connector_config(),
            f"the bundled emulator at {server.url} (seed {args.seed}, {args.scale})",
        )
