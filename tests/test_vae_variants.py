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
