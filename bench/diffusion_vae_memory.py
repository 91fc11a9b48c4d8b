"""Peak MLX memory of the LTX-2.5 diffusion video VAE decoder: tiled vs untiled at a few sizes.

Loads the decoder from a diffusion VAE file (default: the tiny 2.5 fixture file), decodes seeded
random latents of growing spatial size and length through ``decode_diffusion_video`` (uint8
chunks, dropped as they arrive), and prints ``mx.get_peak_memory()`` per run, each run after
``mx.clear_cache()`` / ``mx.reset_peak_memory()``. With a fixed tile the tiled peak should grow
only with the resident stage-4 input (stages 1-3 run on the whole latent, as in ltx-core) while
the untiled one grows with the whole volume.

    .venv/bin/python bench/diffusion_vae_memory.py [--vae PATH] [--sizes 4x4x4,4x8x8,6x8x8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx.core as mx

import ltx_core  # noqa: F401  (loads OpenBLAS before mlx)
from ltx_core.loader.diffusion_vae import load_diffusion_video_decoder
from ltx_core.model.video_vae.diffusion import AxisTiling, DiffusionTilingConfig
from ltx_core.model.video_vae.diffusion.decode import decode_diffusion_video

DEFAULT_VAE = ROOT.parent / "shared" / "fixtures-2.5" / "vae" / "ltx-2.5-tiny-video-vae-bf16.safetensors"


def run(decoder, latent, tiling) -> tuple[float, float, int]:
    mx.clear_cache()
    mx.reset_peak_memory()
    start = time.perf_counter()
    frames = sum(chunk.shape[0] for chunk in decode_diffusion_video(latent, decoder, tiling, key=mx.random.key(0)))
    return mx.get_peak_memory() / 2**20, time.perf_counter() - start, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", type=Path, default=DEFAULT_VAE)
    parser.add_argument("--sizes", default="4x4x4,4x8x8,6x8x8", help="latent FxHxW list")
    parser.add_argument("--tile", default="16,8,128,64", help="frames tile, frames overlap, pixel tile, pixel overlap")
    args = parser.parse_args()
    decoder = load_diffusion_video_decoder(args.vae)
    ft, fo, st, so = (int(v) for v in args.tile.split(","))
    tiling = DiffusionTilingConfig(AxisTiling(ft, fo), AxisTiling(st, so), AxisTiling(st, so))
    weights = mx.get_active_memory() / 2**20
    print(f"weights resident: {weights:.1f} MiB; tiling {tiling}")
    print(f"{'latent':>9} {'video':>14} {'untiled MiB':>12} {'s':>6} {'tiled MiB':>10} {'s':>6}")
    for size in args.sizes.split(","):
        f, h, w = (int(v) for v in size.split("x"))
        latent = mx.random.normal((1, decoder.latent_channels, f, h, w), key=mx.random.key(1))
        mx.eval(latent)
        untiled_mib, untiled_s, n = run(decoder, latent, None)
        tiled_mib, tiled_s, _ = run(decoder, latent, tiling)
        video = f"{n}x{h * 32}x{w * 32}"
        print(f"{size:>9} {video:>14} {untiled_mib:12.1f} {untiled_s:6.1f} {tiled_mib:10.1f} {tiled_s:6.1f}")


if __name__ == "__main__":
    main()
