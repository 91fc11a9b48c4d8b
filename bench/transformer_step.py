"""Benchmark one denoising step of a real-width slice of the 19B transformer.

    python -m bench.transformer_step [--sizes 384x256x121,704x480x25,768x512x121] [--blocks 2] [--repeats 2]
    python -m bench.transformer_step --serve     # worker for bench.compare (one size per stdin line)

Builds ``--blocks`` audio-video blocks at the released widths (random weights), times one
forward (velocity) at each ``WIDTHxHEIGHTxFRAMES`` size in the compute dtype this backend is
fast in (float32 on CPU; also bfloat16, 8-bit and 4-bit on Metal/CUDA), and prints seconds per
layer, achieved GFLOP/s (``bench.flops``) and peak memory. Per-mode weight memory of the full
48-block model is computed from the lazily built model. ``python -m bench.compare`` runs this
and the official implementation (``tools/bench_official_transformer.py``) interleaved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import ltx_core  # noqa: F401  (OpenBLAS before mlx)
import mlx.core as mx

from bench.flops import parse_sizes, transformer_step_flops
from bench.real_width import full_model_parameter_bytes, parameter_bytes, real_inputs, real_width_model
from ltx_core.backend import backend_name, loaded_blas
from ltx_core.loader.quantization import QuantizationSpec

DEFAULT_SIZES = "384x256x121,704x480x25,768x512x121"
MODES = {
    "float32": (mx.float32, None),
    "bfloat16": (mx.bfloat16, None),
    "int8": (mx.bfloat16, QuantizationSpec(8, 64)),
    "int4": (mx.bfloat16, QuantizationSpec(4, 64)),
}


def time_step(model, video, audio, repeats: int, warmup: bool = True) -> tuple[float, int]:
    if warmup:
        mx.eval(model(video, audio))  # JIT, allocator, per-run caches (RoPE, text K/V)
    mx.clear_cache()
    mx.reset_peak_memory()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(model(video, audio))
        best = min(best, time.perf_counter() - start)
    return best, mx.get_peak_memory()


def measure(model, size: tuple[int, int, int], dtype, repeats: int, blocks: int) -> dict:
    width, height, frames = size
    video, audio = real_inputs(height, width, frames, dtype=dtype)
    seconds, peak = time_step(model, video, audio, repeats)
    model.clear_run_cache()
    flops = transformer_step_flops(width, height, frames, blocks)
    return {
        "size": f"{width}x{height}x{frames}", "tokens": int(video.latent.shape[1]), "seconds": seconds,
        "per_layer": seconds / blocks, "gflops": flops / seconds / 1e9, "peak_gb": peak / 2**30,
    }  # fmt: skip


def serve(blocks: int, repeats: int) -> None:
    """Build the float32 slice once, then time each size read from stdin; one JSON line each."""
    model = real_width_model(blocks, mx.float32)
    print(json.dumps({"ready": True, "impl": "ours", "backend": backend_name(), "blas": loaded_blas()}), flush=True)
    for line in sys.stdin:
        if line.strip():
            size = parse_sizes(line.strip())[0]
            print(json.dumps(measure(model, size, mx.float32, repeats, blocks)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated WIDTHxHEIGHTxFRAMES")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default=None, help="comma-separated modes to time (default: by backend)")
    parser.add_argument("--serve", action="store_true", help="worker mode for bench.compare")
    args = parser.parse_args()
    if args.serve:
        serve(args.blocks, args.repeats)
        return
    backend = backend_name()
    timed = args.modes.split(",") if args.modes else (["float32"] if backend == "cpu" else list(MODES))
    print(f"backend: {backend}, BLAS: {loaded_blas() or 'bundled'}, blocks: {args.blocks}")
    print("\nfull 48-block transformer weights per mode:")
    for name, (dtype, quant) in MODES.items():
        print(f"  {name:9s} {full_model_parameter_bytes(dtype, quant) / 2**30:6.2f} GiB")
    print(
        f"\n{'mode':9s} {'size':>12s} {'tokens':>7s} {'s/layer':>8s} {'GFLOP/s':>8s} "
        f"{'s/step (48 blocks)':>19s} {'peak GiB':>8s}"
    )
    for name in timed:
        dtype, quant = MODES[name]
        model = real_width_model(args.blocks, dtype, quant)
        weights = parameter_bytes(model)
        for size in parse_sizes(args.sizes):
            r = measure(model, size, dtype, args.repeats, args.blocks)
            print(
                f"{name:9s} {r['size']:>12s} {r['tokens']:7d} {r['per_layer']:8.3f} {r['gflops']:8.1f} "
                f"{r['per_layer'] * 48:19.1f} {r['peak_gb']:8.2f}"
            )
        print(f"{'':9s} slice weights: {weights / 2**30:.2f} GiB")
        del model
        mx.clear_cache()


if __name__ == "__main__":
    main()
