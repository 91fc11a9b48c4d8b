"""LTX Studio for MLX: ``python app.py [--weights-dir DIR] [--host H] [--port P] [--share --auth user:pw]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import ltx_core  # noqa: E402,F401  (backend set-up before mlx)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from ltx_core.presets import PRESETS_DIR

    presets = ", ".join(sorted(path.stem for path in PRESETS_DIR.glob("*.json")))
    parser = argparse.ArgumentParser(description="LTX Studio for MLX (no weights found: the built-in demo models)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--share", action="store_true", help="create a temporary public Gradio link (needs --auth)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login")
    parser.add_argument("--share-without-auth", action="store_true", help="allow --share without --auth")
    parser.add_argument("--weights-dir", default=os.environ.get("LTX_WEIGHTS_DIR"),
                        help="folder scanned for checkpoints, upsamplers, LoRAs and Gemma")  # fmt: skip
    parser.add_argument("--weights", default=os.environ.get("LTX_WEIGHTS"), help="use this checkpoint file")
    parser.add_argument("--gemma-path", default=os.environ.get("LTX_GEMMA_DIR"), help="Gemma 3 12B folder")
    parser.add_argument("--enhancer-gemma", help="a Gemma 3 folder that rewrites prompts (needed for prompt enhancement "
                        "on LTX-2.5; default: a Gemma 3 folder found in the weights folder)")  # fmt: skip
    parser.add_argument("--preset", help=f"memory mode: {presets} (default: picked from this machine's RAM)")
    parser.add_argument("--outputs-dir", default=os.environ.get("LTX_OUTPUTS_DIR", "outputs"),
                        help="where videos and their settings are written (default: ./outputs)")  # fmt: skip
    parser.add_argument("--max-file-size", default="4gb", help="largest upload accepted (e.g. 500mb, 4gb)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from ltx_core.errors import LTXError
    from ltx_ui.context import Studio
    from ltx_ui.studio import LaunchOptions, build_studio, check_share, launch, parse_auth

    args = parse_args(argv)
    try:
        options = LaunchOptions(args.host, args.port, args.share, parse_auth(args.auth), args.share_without_auth,
                                args.max_file_size)  # fmt: skip
        check_share(options)
        check_port(args.host, args.port)
        parse_size(args.max_file_size)
        if args.weights and not Path(args.weights).expanduser().is_file():
            raise ValueError(f"--weights {args.weights}: no such file")
        if args.weights_dir and not Path(args.weights_dir).expanduser().is_dir():
            raise ValueError(f"--weights-dir {args.weights_dir}: no such folder")
        studio = Studio.create(
            Path(args.outputs_dir).expanduser().resolve(),
            Path(args.weights_dir).expanduser() if args.weights_dir else None,
            Path(args.gemma_path).expanduser() if args.gemma_path else None,
            args.preset,
            Path(args.weights).expanduser() if args.weights else None,
            Path(args.enhancer_gemma).expanduser() if args.enhancer_gemma else None,
        )  # fmt: skip
    except (ValueError, LTXError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if studio.models.demo:
        print("No LTX-2 checkpoint found: running the built-in demo models (outputs are not meaningful). "
              "Use --weights-dir to point at real weights.", file=sys.stderr)  # fmt: skip
    try:
        launch(build_studio(studio), studio, options)
    except KeyboardInterrupt:
        print("\nStudio stopped.", file=sys.stderr)
    return 0


def check_port(host: str, port: int) -> None:
    """One sentence instead of Gradio's traceback when the port is taken."""
    import socket

    if not 0 < port < 65536:
        raise ValueError(f"--port {port} is not a port number (1-65535).")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server will: connections of a studio just stopped (TIME_WAIT) do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise ValueError(f"port {port} is in use (another studio or program): pass --port {port + 1} or another "
                             "free port.") from None  # fmt: skip


def parse_size(text: str) -> int:
    """``500mb`` / ``4gb`` / bytes -> bytes; a clear error otherwise."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*", str(text).lower())
    if not match:
        raise ValueError(f"--max-file-size {text!r} is not a size: write e.g. 500mb or 4gb.")
    units = {None: 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
    return int(float(match.group(1)) * units[match.group(2)])


if __name__ == "__main__":
    sys.exit(main())
