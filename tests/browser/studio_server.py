"""Start the studio (app.py's builder) on a free localhost port, on the demo models, with its
outputs in a temporary folder: shared by the API tests and the browser tests."""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client would otherwise look the URL up on the Hub

import ltx_core  # noqa: E402,F401  (OpenBLAS before mlx)


# The Generate tab's own API fields (besides the shared settings), at their defaults: the one place
# API tests take them from, so a new field of the tab needs no edit in each test.
GENERATE_FIELDS = {"pipeline": "distilled", "spatial_upscale": "2", "auto_length": False, "enhance": False, "image": None,
                   "image_strength": 1.0, "loras": [], "generated_keyframes": 0, "temporal_rounds": 0}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    url: str
    studio: object  # ltx_ui.context.Studio
    outputs: Path


@contextmanager
def running_studio(root: Path, max_file_size: str = "4mb", weights_dir: Path | None = None) -> Iterator[Running]:
    from ltx_ui.context import Studio
    from ltx_ui.studio import LaunchOptions, build_studio, launch

    os.environ["LTX_DEMO_DIR"] = os.environ.get("LTX_TEST_DEMO_DIR", str(root / "demo"))
    os.environ["LTX_SPEED_FILE"] = str(root / "speed.json")  # the speed model learns here, not in the user's cache
    outputs = root / "outputs"
    studio = Studio.create(outputs, weights_dir, None, None)
    blocks = build_studio(studio)
    launch(blocks, studio, LaunchOptions(port=free_port(), max_file_size=max_file_size), block=False)
    try:
        yield Running(blocks.local_url, studio, outputs)
    finally:
        blocks.close()
        gc.unfreeze()  # launch() froze the heap; give the objects of this test process back to the collector
