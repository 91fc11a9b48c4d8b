"""Audio VAE / vocoder config switches the shared fixtures leave at one value, against ltx-core 1.0.0.

tests/data/audio_variant_*.safetensors and audio_variants.npz were made by
tools/make_audio_variants.py: GroupNorm without causality and with attention blocks (two
residual blocks per level), causality along the mel axis with four levels and mid-block
attention, the "width-compatibility" axis; all with a vocoder whose upsampling has an odd
(kernel - rate), even residual kernels, no final bias and a clamp instead of tanh. Batch 2.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.errors import InputShapeError
from ltx_core.loader.audio_vae import load_audio_decoder, load_audio_encoder, load_vocoder
from tests.parity import check_parity

DATA_DIR = Path(__file__).parent / "data"
DATA = np.load(DATA_DIR / "audio_variants.npz")
VARIANTS = sorted({key.split("/", 1)[0] for key in DATA.files})
RUNS = {
    "mel": (load_audio_decoder, "latent"),
    "latent": (load_audio_encoder, "mel"),
    "waveform": (load_vocoder, "mel"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_audio_variant(variant: str):
    path = DATA_DIR / f"audio_variant_{variant}.safetensors"
    out_keys = [key for key in DATA.files if key.startswith(f"{variant}/out/")]
    assert out_keys
    for key in out_keys:
        name = key.rsplit("/", 1)[1]
        assert name in RUNS, f"{key}: an output this test does not compute"
        loader, input_name = RUNS[name]
        ours = loader(path)(mx.array(DATA[f"{variant}/in/{input_name}"]))
        check_parity(f"variant {key}", ours, DATA[key])


def test_variant_configs_are_built_as_recorded():
    decoder = load_audio_decoder(DATA_DIR / "audio_variant_group_attn_noncausal.safetensors")
    assert decoder.config.norm_type == "group" and decoder.config.causality_axis is None
    assert len(decoder.up[1].attn) == 3 and not decoder.up[0].attn and "attn_1" in decoder.mid
    encoder = load_audio_encoder(DATA_DIR / "audio_variant_width_causal_mid_attn.safetensors")
    assert encoder.config.latent_mel_bins == 8 and len(encoder.down) == 4
    # Time is padded after (not causally before) here, so 3 stride-2 levels need 8 mel frames.
    with pytest.raises(InputShapeError, match=r"\(batch, 2, frames, 64\) with at least 8 frames, got \(1, 2, 1, 64\)"):
        encoder(mx.zeros((1, 2, 1, 64)))


@pytest.mark.parametrize("kernel, dilation, length", [(3, 1, 10), (3, 3, 17), (7, 5, 40), (2, 3, 9), (11, 5, 51)])
def test_dilated_conv_equals_mlx_conv1d(kernel: int, dilation: int, length: int):
    from ltx_core.model.audio_vae.vocoder import dilated_conv1d

    rng = np.random.default_rng(kernel * 100 + dilation)
    x = mx.array(rng.standard_normal((2, length + dilation * (kernel - 1), 5)).astype(np.float32))
    w = mx.array(rng.standard_normal((4, kernel, 5)).astype(np.float32))
    expected = mx.conv1d(x, w, dilation=dilation)
    check_parity(f"dilated_conv k{kernel} d{dilation}", dilated_conv1d(x, w, dilation), expected, 1e-5)


@pytest.mark.parametrize("kernel, stride, length", [(16, 6, 5), (15, 5, 7), (4, 2, 9), (7, 4, 3), (7, 3, 1), (5, 5, 4)])
def test_polyphase_upsample_equals_mlx_conv_transpose1d(kernel: int, stride: int, length: int):
    from ltx_core.model.audio_vae.vocoder import Upsample1d

    padding = (kernel - stride) // 2
    up = Upsample1d(6, 3, kernel, stride, padding)
    x = mx.array(np.random.default_rng(kernel + stride).standard_normal((2, length, 6)).astype(np.float32))
    expected = mx.conv_transpose1d(x, up.weight, stride=stride, padding=padding) + up.bias
    check_parity(f"upsample k{kernel} s{stride}", up(x), expected, 1e-5)
