"""Tiled VAE decoding / encoding: against ltx-core's tiled paths, and tiled against untiled.

``tests/data/vae_tiling_reference.npz`` is written by ``tools/make_vae_tiling_reference.py``
with the official code on the fixture checkpoint (decoder noise scale 0: ltx-core draws fresh
noise per tile). Decoded videos are stored subsampled every 8th pixel plus per-frame means.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.errors import ConfigError
from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder
from ltx_core.model.video_vae.tiled import decode_video, tiled_decode, tiled_encode, to_uint8_frames
from ltx_core.model.video_vae.tiling import (
    SpatialTilingConfig,
    TemporalTilingConfig,
    TilingConfig,
    decoder_tiles,
    trapezoidal_mask,
)
from tests.conftest import Reference
from tests.parity import check_parity, relative_max_error

DATA = Path(__file__).parent / "data" / "vae_tiling_reference.npz"
SUB = 8
# Tiled and untiled decodes differ where a tile's edge cuts the decoder's receptive field, and
# the random-weight fixture VAE has a long one. With 2-3-latent tiles that is most pixels:
# ltx-core itself differs from its untiled decode by ~0.8 (relative max) on the recorded case,
# and ours must show the same difference (it matches ltx-core's tiled output to 1e-4).
SAME_GAP = 1e-3
# Larger tiles on a 512x512 clip, measured: 384 px tiles overlapping 256 px give a relative max
# difference of 0.186 and a mean absolute difference of 6.7% of the mean |pixel|.
LARGE_TILES = (384, 256)
LARGE_TILES_MAX, LARGE_TILES_MEAN = 0.2, 0.08


@pytest.fixture(scope="module")
def data() -> np.lib.npyio.NpzFile:
    return np.load(DATA)


@lru_cache(maxsize=1)
def decoder_for(path: str):
    decoder = load_video_decoder(path)
    decoder.decode_noise_scale = 0.0
    return decoder


def tiling(spec) -> TilingConfig:
    size, overlap, frames, frame_overlap = (int(v) for v in spec)
    return TilingConfig(
        SpatialTilingConfig(size, overlap) if size else None,
        TemporalTilingConfig(frames, frame_overlap) if frames else None,
    )


def smooth_video(frames: int, height: int, width: int) -> np.ndarray:
    """Same smooth video as tools/make_vae_tiling_reference.py."""
    f = np.arange(frames, dtype=np.float32)[:, None, None]
    y = np.arange(height, dtype=np.float32)[None, :, None]
    x = np.arange(width, dtype=np.float32)[None, None, :]
    channels = [np.sin(0.05 * x + 0.09 * y + 0.3 * f + c) * np.cos(0.07 * y - 0.04 * x + 0.5 * c) for c in range(3)]
    return np.stack(channels)[None].astype(np.float32)


def _summary(video: mx.array) -> tuple[np.ndarray, np.ndarray]:
    return np.array(video[:, :, :, ::SUB, ::SUB]), np.array(video.mean(axis=(3, 4)))


def test_tiled_decode_matches_ltx_core_and_untiled(reference: Reference, data):
    decoder = decoder_for(str(reference.checkpoint))
    latent = mx.array(data["decode/in/latent"])
    untiled = decoder(latent)
    mx.eval(untiled)
    sub, means = _summary(untiled)
    check_parity("vae_tiling/decode/untiled/sub", sub, data["decode/untiled/sub"])
    check_parity("vae_tiling/decode/untiled/frame_mean", means, data["decode/untiled/frame_mean"])
    names = sorted({k.split("/")[1] for k in data.files if k.startswith("decode/") and k.endswith("/spec")})
    assert names
    for name in names:
        chunks = list(tiled_decode(decoder, latent, tiling(data[f"decode/{name}/spec"])))
        assert [c.shape[2] for c in chunks] == list(data[f"decode/{name}/chunk_frames"])
        tiled = mx.concatenate(chunks, axis=2)
        assert tiled.shape == untiled.shape
        sub, means = _summary(tiled)
        check_parity(f"vae_tiling/decode/{name}/sub", sub, data[f"decode/{name}/sub"])
        check_parity(f"vae_tiling/decode/{name}/frame_mean", means, data[f"decode/{name}/frame_mean"])
        ours_sub = relative_max_error(sub, _summary(untiled)[0])
        official = relative_max_error(data[f"decode/{name}/sub"], data["decode/untiled/sub"])
        print(
            f"TILED_VS_UNTILED decode/{name}: ours {relative_max_error(tiled, untiled):.3e} (full video), "
            f"{ours_sub:.3e} (subsampled); ltx-core {official:.3e} (subsampled)"
        )
        assert abs(ours_sub - official) <= SAME_GAP


def test_tiled_decode_with_large_tiles_is_close_to_untiled(reference: Reference):
    decoder = decoder_for(str(reference.checkpoint))
    latent = mx.array(np.random.default_rng(0).standard_normal((1, decoder.latent_channels, 2, 16, 16), np.float32))
    untiled = np.array(decoder(latent))
    config = TilingConfig(SpatialTilingConfig(*LARGE_TILES))
    assert len(decoder_tiles(tuple(latent.shape[2:]), config, decoder.scale)) == 4
    tiled = np.array(mx.concatenate(list(tiled_decode(decoder, latent, config)), axis=2))
    diff = np.abs(tiled - untiled)
    worst, mean = diff.max() / np.abs(untiled).max(), diff.mean() / np.abs(untiled).mean()
    print(f"TILED_VS_UNTILED 512px clip, {LARGE_TILES[0]}/{LARGE_TILES[1]} px tiles: max {worst:.3e}, mean {mean:.3e}")
    assert worst <= LARGE_TILES_MAX and mean <= LARGE_TILES_MEAN


def test_tiles_covering_the_latent_decode_exactly(reference: Reference):
    """One tile per axis: the tiled path is the untiled decode, bit for bit (with decoder noise)."""
    decoder = load_video_decoder(reference.checkpoint)
    latent = mx.array(np.random.default_rng(3).standard_normal((1, decoder.latent_channels, 3, 2, 3), np.float32))
    key = mx.random.key(11)
    untiled = decoder(latent, key=key)
    config = TilingConfig(SpatialTilingConfig(512, 64), TemporalTilingConfig(64, 24))
    tiled = mx.concatenate(list(tiled_decode(decoder, latent, config, key=key)), axis=2)
    error = relative_max_error(tiled, untiled)
    print(f"TILED_VS_UNTILED single-tile {error:.3e}")
    assert error == 0.0


def test_tiled_encode_matches_ltx_core(reference: Reference, data):
    encoder = load_video_encoder(reference.checkpoint)
    shape = tuple(int(v) for v in data["encode/in/shape"])
    video = smooth_video(*shape[2:])
    np.testing.assert_allclose(video[:, :, :, ::SUB, ::SUB], data["encode/in/sub"], atol=1e-6)
    pixels = mx.array(video)
    check_parity("vae_tiling/encode/untiled", encoder(pixels), data["encode/untiled"])
    for name in sorted({k.split("/")[1] for k in data.files if k.startswith("encode/") and k.endswith("/spec")}):
        tiled = tiled_encode(encoder, pixels, tiling(data[f"encode/{name}/spec"]))
        check_parity(f"vae_tiling/encode/{name}/latent", tiled, data[f"encode/{name}/latent"])


def test_decode_video_tiled_yields_uint8_chunks(reference: Reference):
    decoder = decoder_for(str(reference.checkpoint))
    latent = mx.array(np.random.default_rng(5).standard_normal((1, decoder.latent_channels, 5, 2, 2), np.float32))
    config = TilingConfig(temporal_config=TemporalTilingConfig(24, 8))
    chunks = list(decode_video(latent, decoder, config))
    assert len(chunks) == 2 and all(c.dtype == np.uint8 and c.ndim == 4 and c.shape[-1] == 3 for c in chunks)
    frames = np.concatenate(chunks)
    expected = to_uint8_frames(mx.concatenate(list(tiled_decode(decoder, latent, config)), axis=2))
    assert frames.shape == (33, 64, 64, 3) and np.array_equal(frames, expected)


def test_uint8_conversion_clamps_and_truncates():
    pixels = mx.array([-2.0, -1.0, 0.0, 0.999, 1.0, 3.0]).reshape(1, 1, 1, 1, 6)
    pixels = mx.broadcast_to(pixels, (1, 3, 1, 1, 6))
    assert to_uint8_frames(pixels)[0, 0, :, 0].tolist() == [0, 0, 127, 254, 255, 255]


def test_tile_plan_follows_ltx_core():
    # 24/8 frames -> 3 latent frames overlapping 1; later tiles start one latent earlier.
    tiles = decoder_tiles((5, 4, 4), TilingConfig(temporal_config=TemporalTilingConfig(24, 8)), (8, 32, 32))
    assert [(t.inputs[0].start, t.inputs[0].stop) for t in tiles] == [(0, 3), (1, 5)]
    assert [(t.outputs[0].start, t.outputs[0].stop) for t in tiles] == [(0, 17), (8, 33)]
    np.testing.assert_allclose(tiles[1].masks[0][:10], np.r_[np.linspace(0, 1, 10)[:-1], 1.0], atol=1e-6)
    np.testing.assert_allclose(trapezoidal_mask(6, 2, 2), [1 / 3, 2 / 3, 1, 1, 2 / 3, 1 / 3], atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SpatialTilingConfig(48, 0),
        lambda: SpatialTilingConfig(100, 0),
        lambda: SpatialTilingConfig(128, 128),
        lambda: TemporalTilingConfig(12, 0),
        lambda: TemporalTilingConfig(32, 12),
    ],
)
def test_bad_tiling_configs_are_rejected(make):
    with pytest.raises(ConfigError):
        make()
