"""Write ltx_core/demo/layout.json: the tensor names, shapes and configs of the tiny model set.

The layout is read from a fixture folder in the official format (tests/reference/ltx-2.0); the demo
model set is then generated from it with random weights on the user's machine:

    python tools/make_demo_layout.py tests/reference/ltx-2.0 ltx_core/demo/layout.json
"""

import json
import struct
import sys
from pathlib import Path


def header(path: Path) -> dict:
    with open(path, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        raw = json.loads(handle.read(size))
    metadata = raw.pop("__metadata__", {}) or {}
    return {"metadata": metadata, "tensors": {k: [v["dtype"], v["shape"]] for k, v in raw.items()}}


def main(fixtures: str, output: str) -> None:
    root = Path(fixtures)
    layout = {
        "checkpoint": header(root / "ltx2-tiny.safetensors"),
        "spatial_upsampler": header(root / "ltx2-tiny-spatial-upsampler.safetensors"),
        "temporal_upsampler": header(root / "ltx2-tiny-temporal-upsampler.safetensors"),
        "gemma": {
            "config": json.loads((root / "gemma" / "config.json").read_text()),
            "shards": {p.name: header(p) for p in sorted((root / "gemma").glob("*.safetensors"))},
        },
    }
    Path(output).write_text(json.dumps(layout, separators=(",", ":"), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
