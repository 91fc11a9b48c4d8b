"""LTX Studio for MLX: ``python app.py [--host H] [--port P] [--weights FILE]``."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import ltx_core  # noqa: E402,F401  (backend set-up before mlx)
from ltx_ui.studio import build_studio  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="LTX Studio for MLX")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: localhost only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--weights", default=os.environ.get("LTX_WEIGHTS"), help="LTX-2 checkpoint to inspect at start")
    args = parser.parse_args(argv)
    studio = build_studio(default_weights=args.weights)
    studio.queue().launch(server_name=args.host, server_port=args.port, show_error=True)


if __name__ == "__main__":
    main()
