"""Benchmark the 19B video VAE decoder at real width (random weights, float32 on CPU).

    python -m bench.vae_decode [--sizes 768x512x9] [--repeats 1] [--tile 0]
    python -m bench.vae_decode --serve     # worker for bench.compare (one size per stdin line)

Sizes are pixel ``WIDTHxHEIGHTxFRAMES`` (frames 8k+1); the latent is decoded in one pass
(``--tile 0``) or with the app's tiled decoder. Prints seconds per output frame, achieved
GFLOP/s of the convolutions (direct-convolution FLOPs, counted from the layer shapes) and peak
memory (MLX's counter plus the CPU fast paths' NumPy working set).
The official decoder is ``tools/bench_official_vae_decoder.py``; ``python -m bench.compare vae``
runs both interleaved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import ltx_core  # noqa: F401  (OpenBLAS before mlx)

# isort: split
import mlx.core as mx
from mlx.utils import tree_map

from bench.flops import parse_sizes
from ltx_core.backend import backend_name, loaded_blas
from ltx_core.components import cpu_numpy
from ltx_core.model.video_vae import ops
from ltx_core.model.video_vae.config import VideoVAEConfig
from ltx_core.model.video_vae.decoder import VideoDecoder

DEFAULT_SIZES = "768x512x9"
VAE_RES = ["res_x", {"num_layers": 5, "inject_noise": False}]
VAE_UP = ["compress_all", {"residual": True, "multiplier": 2}]
# The released LTX-2 (19B) video VAE decoder; tools/bench_official_vae_decoder.py uses the same dict.
REAL_VAE = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "decoder_base_channels": 128,
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
    "timestep_conditioning": True, "spatial_padding_mode": "reflect",
    "decoder_blocks": [VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES],
    "encoder_blocks": [["res_x", {"num_layers": 1}]],
}  # fmt: skip


def real_decoder(seed: int = 0) -> VideoDecoder:
    decoder = VideoDecoder(VideoVAEConfig.from_dict(REAL_VAE))
    mx.random.seed(seed)
    decoder.update(tree_map(lambda p: mx.random.normal(p.shape) * 0.02, decoder.parameters()))
    mx.eval(decoder.parameters())
    return decoder


def latent_for(width: int, height: int, frames: int) -> mx.array:
    return mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 32, width // 32), key=mx.random.key(1))


def conv_flops(decoder: VideoDecoder, latent: mx.array) -> int:
    """Multiply-add FLOPs of every convolution of one decode, from the shapes (graph not evaluated)."""
    total = 0
    original = ops.Conv3d.__call__

    def counting(self, x):
        nonlocal total
        out = original(self, x)
        o, kt, kh, kw, i = self.weight.shape
        total += 2 * out.size * kt * kh * kw * i
        return out

    ops.Conv3d.__call__ = counting
    fast_path = ops.cpu_winograd.supported
    ops.cpu_winograd.supported = lambda *args, **kwargs: False  # the NumPy path would run the decode to count
    try:
        decoder(latent, key=mx.random.key(0))
    finally:
        ops.Conv3d.__call__ = original
        ops.cpu_winograd.supported = fast_path
    return total


def decode(decoder: VideoDecoder, latent: mx.array, tile: int) -> None:
    if tile:
        from ltx_core.model.video_vae.tiled import tiled_decode
        from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

        tiling = TilingConfig(SpatialTilingConfig(tile, 64), TemporalTilingConfig(32, 8))
        mx.eval(tiled_decode(latent, decoder, tiling, key=mx.random.key(0)))
    else:
        mx.eval(decoder(latent, key=mx.random.key(0)))


def measure(decoder: VideoDecoder, size: tuple[int, int, int], repeats: int, tile: int = 0) -> dict:
    width, height, frames = size
    latent = latent_for(width, height, frames)
    flops = conv_flops(decoder, latent)
    decode(decoder, latent, tile)  # warm-up
    mx.clear_cache()
    mx.reset_peak_memory()
    cpu_numpy.reset_scratch_peak()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        decode(decoder, latent, tile)
        best = min(best, time.perf_counter() - start)
    return {
        "size": f"{width}x{height}x{frames}", "seconds": best, "per_frame": best / frames,
        "flops": flops, "gflops": flops / best / 1e9, "peak_gb": (mx.get_peak_memory() + cpu_numpy.scratch_peak()) / 2**30,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tile", type=int, default=0, help="spatial tile in pixels (0: one pass)")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    decoder = real_decoder()
    if args.serve:
        print(json.dumps({"ready": True, "impl": "ours", "backend": backend_name(), "blas": loaded_blas()}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(measure(decoder, parse_sizes(line.strip())[0], args.repeats, args.tile)), flush=True)
        return
    print(f"backend: {backend_name()}, BLAS: {loaded_blas() or 'bundled'}")
    for size in parse_sizes(args.sizes):
        r = measure(decoder, size, args.repeats, args.tile)
        print(
            f"{r['size']}: {r['per_frame']:.3f} s/frame, {r['seconds']:.2f} s, {r['gflops']:.1f} GFLOP/s, "
            f"peak {r['peak_gb']:.2f} GiB"
        )


if __name__ == "__main__":
    main()
