"""Peak MLX memory of video VAE decoding: tiled vs untiled, for 1x, 2x and 4x the latent frames.

Builds the decoder from a checkpoint's own config and weights (default: the tiny fixture
checkpoint), decodes random latents of a fixed spatial size and growing length with
``decode_video`` (uint8 chunks, which are dropped as they arrive), and prints
``mx.get_peak_memory()`` per run. With a fixed tile size the tiled peak should stay flat while
the untiled one grows with the length.

    .venv/bin/python bench/vae_tiled_memory.py [--checkpoint PATH] [--frames 8] [--size 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from ltx_core.loader.video_vae import load_video_decoder  # noqa: E402
from ltx_core.model.video_vae.tiled import decode_video  # noqa: E402
from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig  # noqa: E402

DEFAULT_CHECKPOINT = ROOT / "tests" / "reference" / "ltx-2.0" / "ltx2-tiny.safetensors"


def measure(decoder, latent: mx.array, tiling: TilingConfig | None) -> tuple[float, float, int]:
    mx.clear_cache()
    mx.reset_peak_memory()
    start = time.perf_counter()
    frames = 0
    for chunk in decode_video(latent, decoder, tiling, key=mx.random.key(0)):
        frames += chunk.shape[0]
    return mx.get_peak_memory() / 2**20, time.perf_counter() - start, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--frames", type=int, default=8, help="latent frames of the 1x run")
    parser.add_argument("--size", type=int, default=12, help="latent height and width")
    parser.add_argument("--tile-px", type=int, default=192)
    parser.add_argument("--tile-overlap-px", type=int, default=64)
    parser.add_argument("--tile-frames", type=int, default=32)
    parser.add_argument("--tile-overlap-frames", type=int, default=8)
    parser.add_argument("--no-untiled", action="store_true", help="skip the untiled runs")
    args = parser.parse_args()

    decoder = load_video_decoder(args.checkpoint)
    mx.eval(decoder.parameters())
    tiling = TilingConfig(
        SpatialTilingConfig(args.tile_px, args.tile_overlap_px),
        TemporalTilingConfig(args.tile_frames, args.tile_overlap_frames),
    )
    channels = decoder.latent_channels
    print(f"decoder from {Path(args.checkpoint).name}: latent channels {channels}, scale {decoder.scale}")
    print(
        f"tiles: {args.tile_px} px (overlap {args.tile_overlap_px}), "
        f"{args.tile_frames} frames (overlap {args.tile_overlap_frames})"
    )
    print(f"{'mult':>4} {'latent (F,H,W)':>15} {'video (F,H,W)':>16} {'mode':>8} {'peak MiB':>9} {'seconds':>8}")
    rng = np.random.default_rng(0)
    for mult in (1, 2, 4):
        f = args.frames * mult
        latent = mx.array(rng.standard_normal((1, channels, f, args.size, args.size), np.float32))
        _, _, out_f, out_h, out_w = decoder.output_shape(latent.shape)
        modes = [("tiled", tiling)] + ([] if args.no_untiled else [("untiled", None)])
        for mode, config in modes:
            peak, seconds, frames = measure(decoder, latent, config)
            assert frames == out_f
            video = f"{out_f}x{out_h}x{out_w}"
            print(f"{mult:>3}x {f'{f}x{args.size}x{args.size}':>15} {video:>16} {mode:>8} {peak:9.1f} {seconds:8.2f}")


if __name__ == "__main__":
    main()
