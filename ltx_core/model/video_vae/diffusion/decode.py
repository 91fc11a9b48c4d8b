"""Pipeline-facing decode of a latent with the diffusion decoder: float pixel chunks or uint8 frames."""

from __future__ import annotations

from collections.abc import Iterator

import mlx.core as mx
import numpy as np

from ltx_core.model.video_vae.diffusion.decoder import DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import DiffusionTilingConfig
from ltx_core.model.video_vae.tiled import to_uint8_frames
from ltx_core.model.video_vae.tiling import TilingConfig


def _tiling(tiling: DiffusionTilingConfig | TilingConfig | None) -> DiffusionTilingConfig | None:
    if tiling is None or isinstance(tiling, DiffusionTilingConfig):
        return tiling
    return DiffusionTilingConfig.from_vae_tiling(tiling)


def decode_diffusion_pixels(
    latent: mx.array,
    decoder: DiffusionVideoDecoder,
    tiling: DiffusionTilingConfig | TilingConfig | None = None,
    noise: mx.array | None = None,
    key: mx.array | None = None,
) -> Iterator[mx.array]:
    """Evaluated (B, 3, T, H, W) chunks in about [-1, 1]; one chunk untiled. ``noise`` is ``x_T``
    (``decoder.noise_shape(latent.shape)``), else drawn with ``key`` (an ``mx.random.key``)."""
    yield from decoder.decode(latent, _tiling(tiling), noise=noise, key=key, evaluate=True)


def decode_diffusion_video(
    latent: mx.array,
    decoder: DiffusionVideoDecoder,
    tiling: DiffusionTilingConfig | TilingConfig | None = None,
    noise: mx.array | None = None,
    key: mx.array | None = None,
    rounding: str = "truncate",
) -> Iterator[np.ndarray]:
    """(T, H, W, 3) uint8 chunks, in order (first batch item); ``rounding`` as ``to_uint8_frames``."""
    for pixels in decode_diffusion_pixels(latent, decoder, tiling, noise, key):
        yield to_uint8_frames(pixels, rounding)
