"""Benchmark one denoising step of a real-width slice of the 19B transformer.

    python -m bench.transformer_step [--blocks 2] [--repeats 2]

Builds ``--blocks`` audio-video blocks at the released widths (random weights), times one
forward (velocity) at several resolutions in the compute dtype this backend is fast in
(float32 on CPU; also bfloat16, 8-bit and 4-bit on Metal/CUDA), and prints peak memory.
Per-mode weight memory of the full 48-block model is computed from the lazily built model.
Scale the slice's time by 48 / blocks for a full step.
"""

from __future__ import annotations

import argparse
import time

import ltx_core  # noqa: F401  (OpenBLAS before mlx)
import mlx.core as mx

from bench.real_width import full_model_parameter_bytes, parameter_bytes, real_inputs, real_width_model
from ltx_core.backend import backend_name, loaded_blas
from ltx_core.loader.quantization import QuantizationSpec

RESOLUTIONS = ((256, 384, 17), (480, 704, 25))
MODES = {
    "float32": (mx.float32, None),
    "bfloat16": (mx.bfloat16, None),
    "int8": (mx.bfloat16, QuantizationSpec(8, 64)),
    "int4": (mx.bfloat16, QuantizationSpec(4, 64)),
}


def time_step(model, video, audio, repeats: int) -> tuple[float, int]:
    mx.eval(model(video, audio))  # warm-up (JIT, allocator)
    mx.clear_cache()
    mx.reset_peak_memory()
    start = time.perf_counter()
    for _ in range(repeats):
        mx.eval(model(video, audio))
    return (time.perf_counter() - start) / repeats, mx.get_peak_memory()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default=None, help="comma-separated modes to time (default: by backend)")
    args = parser.parse_args()
    backend = backend_name()
    timed = args.modes.split(",") if args.modes else (["float32"] if backend == "cpu" else list(MODES))
    print(f"backend: {backend}, BLAS: {loaded_blas() or 'bundled'}, blocks: {args.blocks}")
    print("\nfull 48-block transformer weights per mode:")
    for name, (dtype, quant) in MODES.items():
        print(f"  {name:9s} {full_model_parameter_bytes(dtype, quant) / 1e9:6.2f} GB")
    print(f"\n{'mode':9s} {'resolution':>14s} {'tokens':>7s} {'s/step (slice)':>15s} {'s/step (48 blocks)':>19s} {'peak GB':>8s}")
    for name in timed:
        dtype, quant = MODES[name]
        model = real_width_model(args.blocks, dtype, quant)
        weights = parameter_bytes(model)
        for height, width, frames in RESOLUTIONS:
            video, audio = real_inputs(height, width, frames, dtype=dtype)
            seconds, peak = time_step(model, video, audio, args.repeats)
            tokens = video.latent.shape[1]
            print(
                f"{name:9s} {f'{width}x{height}x{frames}':>14s} {tokens:7d} {seconds:15.3f} "
                f"{seconds * 48 / args.blocks:19.1f} {peak / 1e9:8.2f}"
            )
        print(f"{'':9s} slice weights: {weights / 1e9:.2f} GB")
        del model
        mx.clear_cache()


if __name__ == "__main__":
    main()
