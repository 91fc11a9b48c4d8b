"""Tiled decoding and encoding, and the decoded video -> uint8 frames conversion.

Each tile is decoded (or encoded) and evaluated on its own, so no graph spans the video and
peak memory follows the tile size. Blending follows ltx-core's ``tiled_decode`` /
``tiled_encode``: each tile is weighted by its blend mask and the sums are divided by the
summed weights; finished frames are handed out group of temporal tiles by group.

One deliberate difference: with timestep conditioning ltx-core draws fresh decoder noise for
every tile; here the noise is drawn once for the whole latent and every tile takes its slice,
so a tiled decode sees the same noise as an untiled one.
"""

from __future__ import annotations

from collections.abc import Iterator

import mlx.core as mx
import numpy as np

from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.tiling import TilingConfig, decoder_tiles, encoder_tiles, temporal_groups

_MIN_WEIGHT = 1e-8


def tiled_decode(
    decoder: VideoDecoder,
    latent: mx.array,
    tiling: TilingConfig,
    timestep: float | mx.array | None = None,
    noise: mx.array | None = None,
    key: mx.array | None = None,
    noise_scale: float | None = None,
) -> Iterator[mx.array]:
    """Decode ``latent`` (B, C, F', H', W') tile by tile; yield evaluated (B, 3, T, H, W) chunks
    whose frames, concatenated, are the whole video."""
    decoder.check_latent(latent)
    if decoder.timestep_conditioning and noise is None:
        noise = decoder.draw_noise(latent.shape, key, latent.dtype)
    b, c_out, _, height, width = decoder.output_shape(latent.shape)
    tiles = decoder_tiles(tuple(latent.shape[2:]), tiling, decoder.scale)

    previous = None  # (chunk, weights, frame slice)
    for group in temporal_groups(tiles):
        frames = group[0].outputs[0]
        length = frames.stop - frames.start
        chunk = mx.zeros((b, c_out, length, height, width), dtype=latent.dtype)
        weights = mx.zeros((1, 1, length, height, width), dtype=latent.dtype)
        for tile in group:
            t, h, w = tile.inputs
            decoded = decoder(
                latent[:, :, t, h, w],
                timestep=timestep,
                noise=None if noise is None else noise[:, :, t, h, w],
                key=key,
                noise_scale=noise_scale,
            )
            offset = tile.outputs[0].start - frames.start
            n = min(tile.outputs[0].stop - tile.outputs[0].start, decoded.shape[2], length - offset)
            mask = mx.array(tile.blend_mask()).astype(latent.dtype)
            mask = mask[:n] if mask.shape[0] > 1 else mask
            region = (slice(None), slice(None), slice(offset, offset + n), tile.outputs[1], tile.outputs[2])
            chunk[region] = chunk[region] + decoded[:, :, :n] * mask
            weights[region] = weights[region] + mask
            mx.eval(chunk, weights)

        if previous is not None:
            prev_chunk, prev_weights, prev_frames = previous
            if prev_frames.stop > frames.start:
                n = prev_frames.stop - frames.start
                tail = slice(frames.start - prev_frames.start, None)
                prev_chunk[:, :, tail] = prev_chunk[:, :, tail] + chunk[:, :, :n]
                prev_weights[:, :, tail] = prev_weights[:, :, tail] + weights[:, :, :n]
                chunk[:, :, :n] = prev_chunk[:, :, tail]
                weights[:, :, :n] = prev_weights[:, :, tail]
            done = frames.start - prev_frames.start
            out = prev_chunk[:, :, :done] / mx.maximum(prev_weights[:, :, :done], _MIN_WEIGHT)
            mx.eval(out, chunk, weights)
            del prev_chunk, prev_weights
            if done > 0:  # zero only for overlaps of half a tile or more
                yield out
        previous = (chunk, weights, frames)

    if previous is not None:
        out = previous[0] / mx.maximum(previous[1], _MIN_WEIGHT)
        mx.eval(out)
        yield out


def tiled_encode(encoder: VideoEncoder, pixels: mx.array, tiling: TilingConfig) -> mx.array:
    """Encode ``pixels`` (B, 3, F, H, W) tile by tile into the normalised latent (B, C, F', H', W')."""
    encoder.check_input(pixels)
    b, _, f, h, w = pixels.shape
    st, sh, sw = encoder.scale
    shape = (b, encoder.latent_channels, (f - 1) // st + 1, h // sh, w // sw)
    latent = mx.zeros(shape, dtype=pixels.dtype)
    weights = mx.zeros((1, 1, *shape[2:]), dtype=pixels.dtype)
    for tile in encoder_tiles((f, h, w), tiling, encoder.scale):
        t, th, tw = tile.inputs
        encoded = encoder(pixels[:, :, t, th, tw])
        mask = mx.array(tile.blend_mask()).astype(pixels.dtype)
        region = (slice(None), slice(None), *tile.outputs)
        latent[region] = latent[region] + encoded * mask
        weights[region] = weights[region] + mask
        mx.eval(latent, weights)
    latent = latent / mx.maximum(weights, _MIN_WEIGHT)
    mx.eval(latent)
    return latent


UINT8_ROUNDINGS = ("truncate", "round")


def to_uint8_frames(pixels: mx.array, rounding: str = "truncate") -> np.ndarray:
    """First batch item of (B, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8: ``((x + 1) / 2)``
    clamped to [0, 1], times 255, then truncated (ltx-core 1.0.0) or rounded to nearest; the model
    version's ``VersionSpec.uint8_rounding`` says which."""
    if rounding not in UINT8_ROUNDINGS:
        raise ValueError(f"rounding must be one of {UINT8_ROUNDINGS}, got {rounding!r}")
    scaled = mx.clip((pixels[0] + 1.0) / 2.0, 0.0, 1.0) * 255.0
    frames = (mx.round(scaled) if rounding == "round" else scaled).astype(mx.uint8)
    return np.array(frames.transpose(1, 2, 3, 0))


def decode_pixels(
    latent: mx.array,
    decoder: VideoDecoder,
    tiling: TilingConfig | None = None,
    timestep: float | mx.array | None = None,
    noise: mx.array | None = None,
    key: mx.array | None = None,
) -> Iterator[mx.array]:
    """Decode to float pixels (B, 3, T, H, W) chunk by chunk (one chunk when ``tiling`` is None)."""
    if tiling is None:
        pixels = decoder(latent, timestep=timestep, noise=noise, key=key)
        mx.eval(pixels)
        yield pixels
        return
    yield from tiled_decode(decoder, latent, tiling, timestep=timestep, noise=noise, key=key)


def decode_video(
    latent: mx.array,
    decoder: VideoDecoder,
    tiling: TilingConfig | None = None,
    timestep: float | mx.array | None = None,
    noise: mx.array | None = None,
    key: mx.array | None = None,
    rounding: str = "truncate",
) -> Iterator[np.ndarray]:
    """Decode to uint8 frames chunk by chunk: yields (T, H, W, 3) arrays, in order."""
    for pixels in decode_pixels(latent, decoder, tiling, timestep, noise, key):
        yield to_uint8_frames(pixels, rounding)
