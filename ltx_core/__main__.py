"""Command line: ``python -m ltx_core info CHECKPOINT``."""

from __future__ import annotations

import argparse
import json
import sys

import ltx_core  # noqa: F401  (backend set-up before mlx)
from ltx_core.errors import LTXError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_core", description="LTX-2 in MLX")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe a checkpoint without loading its weights")
    info.add_argument("checkpoint", help="path to an LTX-2 .safetensors checkpoint")
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from ltx_core.info import describe_checkpoint

            print(json.dumps(describe_checkpoint(args.checkpoint), indent=2))
    except LTXError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
