"""VAE and upsampler configurations the shared fixtures do not exercise, against ltx-core.

``tests/data/vae_variants.npz`` and the ``vae_*`` / ``up_*`` weight files are written by
``tools/make_vae_variants.py`` with the official code (seeded random weights in the real file
layouts): group norm, res_x_y, plain strided compress blocks, causal decoder, per-channel and
constant log-variance, replicate and circular padding, a decoder without timestep
conditioning, and rational-resampler (x1.5 with blur, x2), 2-D and spatiotemporal upsamplers.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader.upsampler import load_upsampler
from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder
from tests.parity import check_parity

DATA = Path(__file__).parent / "data"
REFERENCE = np.load(DATA / "vae_variants.npz")
VARIANTS = sorted({key.split("/", 1)[0] for key in REFERENCE.files})


def _in(variant: str, name: str) -> mx.array | None:
    key = f"{variant}/in/{name}"
    return mx.array(REFERENCE[key]) if key in REFERENCE.files else None


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_matches_ltx_core(variant: str):
    path = DATA / f"{variant}.safetensors"
    outputs = [key for key in REFERENCE.files if key.startswith(f"{variant}/out/")]
    assert outputs
    for key in outputs:
        output = key.rsplit("/", 1)[1]
        if output == "latent":
            ours = load_video_encoder(path)(_in(variant, "pixels"))
        elif output == "pixels":
            ours = load_video_decoder(path)(
                _in(variant, "latent"), timestep=_in(variant, "timestep"), noise=_in(variant, "decode_noise")
            )
        elif output == "raw":
            upsampler = load_upsampler(path)
            latent = _in(variant, "latent")
            ours = upsampler(latent)
            assert ours.shape == upsampler.output_shape(latent.shape)
        else:
            raise AssertionError(f"{key}: this test does not compute it; add it")
        check_parity(f"vae_variants/{key}", ours, REFERENCE[key])


def test_decoder_noise_injection_is_seeded_and_scaled():
    """``inject_noise`` blocks add seeded (H, W) noise scaled per channel; there is no torch
    reference (its generator cannot be reproduced), so this checks the behaviour."""
    from mlx.utils import tree_flatten, tree_unflatten

    from ltx_core.model.video_vae import VideoDecoder, VideoVAEConfig

    config = VideoVAEConfig.from_dict(
        {
            "latent_channels": 8,
            "decoder_base_channels": 2,
            "decoder_blocks": [["res_x", {"num_layers": 1, "inject_noise": True}], ["compress_all", {"multiplier": 2}]],
        }
    )
    decoder = VideoDecoder(config)
    rng = np.random.default_rng(0)
    params = [
        (k, mx.array(rng.normal(0, 0.3, v.shape).astype(np.float32))) for k, v in tree_flatten(decoder.parameters())
    ]
    decoder.update(tree_unflatten(params))
    latent = mx.array(rng.standard_normal((1, 8, 2, 2, 2)).astype(np.float32))
    a, b, c = (decoder(latent, key=mx.random.key(k)) for k in (1, 1, 2))
    assert np.array_equal(np.array(a), np.array(b)) and not np.allclose(np.array(a), np.array(c))
    noise = decoder.draw_noise(latent.shape, mx.random.key(1))
    for block in decoder.up_blocks:
        for res in getattr(block, "res_blocks", []):
            res.per_channel_scale1 = mx.zeros_like(res.per_channel_scale1)
            res.per_channel_scale2 = mx.zeros_like(res.per_channel_scale2)
    # With zero scales the result depends on the key only through the latent noise.
    d, e = decoder(latent, key=mx.random.key(1)), decoder(latent, key=mx.random.key(2), noise=noise)
    np.testing.assert_array_equal(np.array(d), np.array(e))


def test_bfloat16_decoder_tracks_float32():
    path = DATA / "vae_groupnorm_causal.safetensors"
    latent, noise = _in("vae_groupnorm_causal", "latent"), _in("vae_groupnorm_causal", "decode_noise")
    full = load_video_decoder(path)(latent, noise=noise)
    low = load_video_decoder(path, dtype="bfloat16")(latent.astype(mx.bfloat16), noise=noise)
    assert low.dtype == mx.bfloat16
    error = float(mx.abs(low.astype(mx.float32) - full).max() / mx.abs(full).max())
    print(f"BF16 vae_groupnorm_causal decode relative max error {error:.3e}")
    assert error < 5e-2
