#!/usr/bin/env python3
"""Peak memory of a Gemma 3 prompt encode per mode (float32, bfloat16, 8-bit, 4-bit).

Prints the estimate for google/gemma-3-12b-it (3840 wide, 48 layers, 1024 tokens) from the
config arithmetic, then loads a small Gemma folder (default: the tiny fixture model) in each
mode and prints the measured MLX peak memory of load + encode beside the same estimate.

    .venv/bin/python bench/text_encoder_memory.py [--gemma FOLDER] [--tokens 128] [--group-size 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (OpenBLAS before mlx)
import mlx.core as mx  # noqa: E402

from ltx_core.loader.text_encoder import gemma_config, load_gemma  # noqa: E402
from ltx_core.model.text_encoder.memory import MODES, estimate_encode_memory, gemma_12b_config  # noqa: E402

GIB = 1024**3
MIB = 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemma", default=str(ROOT / "tests" / "reference" / "ltx-2.0" / "gemma"))
    parser.add_argument("--tokens", type=int, default=128, help="prompt length for the measured run")
    parser.add_argument("--group-size", type=int, default=64)
    args = parser.parse_args()

    big = gemma_12b_config()
    print("Gemma 3 12B, 1024 tokens (estimate; weights bf16 / quantized with bf16 scales):")
    print(f"{'mode':>9} {'weights':>9} {'states':>9} {'layer tmp':>9} {'features':>9} {'peak':>9}  (GiB)")
    for mode in MODES:
        m = estimate_encode_memory(big, 1024, mode, args.group_size)
        print(
            f"{mode:>9} {m.weights / GIB:9.2f} {m.hidden_states / GIB:9.2f} {m.layer_temporaries / GIB:9.2f} "
            f"{m.features / GIB:9.2f} {m.peak / GIB:9.2f}"
        )

    config = gemma_config(args.gemma)
    tokens = args.tokens
    print(f"\nMeasured on {args.gemma} ({config.hidden_size} wide, {config.num_hidden_layers} layers), "
          f"{tokens} tokens, float32 compute:")
    print(f"{'mode':>9} {'measured peak':>14} {'estimate':>10}  (MiB)")
    ids = mx.ones((1, tokens), dtype=mx.int32)
    mask = mx.ones((1, tokens), dtype=mx.int32)
    for mode, bits in (("float32", None), ("8bit", 8), ("4bit", 4)):
        mx.clear_cache()
        mx.reset_peak_memory()
        model = load_gemma(args.gemma, "float32", bits, args.group_size if bits else 64)
        states = model.hidden_states(ids, mask)
        stacked = mx.stack(states, axis=-1)
        mx.eval(stacked)
        peak = mx.get_peak_memory()
        del model, states, stacked
        estimate = estimate_encode_memory(config, tokens, mode, args.group_size, compute_dtype="float32")
        print(f"{mode:>9} {peak / MIB:14.2f} {estimate.peak / MIB:10.2f}")


if __name__ == "__main__":
    main()
