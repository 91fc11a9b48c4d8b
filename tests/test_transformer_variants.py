"""Config switches the shared fixtures leave at one value, against the official transformer.

tests/data/variant_*.safetensors and transformer_variants.npz were made by
tools/make_transformer_variants.py with ltx-core 1.0.0: interleaved RoPE with a float32
frequency grid, gated attention and cross-attention AdaLN in one model; the caption
projection outside the transformer in another. Inputs use batch 2, a padded text-context
mask, a self-attention mask, a clean first frame, and a perturbation that applies to the
first sample only.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader import load_transformer
from ltx_core.model.transformer import BatchedPerturbations, Modality, Perturbation, PerturbationType
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity

DATA_DIR = Path(__file__).parent / "data"
DATA = np.load(DATA_DIR / "transformer_variants.npz")
VARIANTS = sorted({key.split("/", 1)[0] for key in DATA.files})


def inputs(name: str) -> tuple[Modality, Modality]:
    get = lambda key: mx.array(DATA[f"{name}/in/{key}"])  # noqa: E731
    v_sigma, a_sigma = get("video_sigma"), get("audio_sigma")
    video = Modality(
        latent=get("video_latent"),
        sigma=v_sigma,
        timesteps=get("video_denoise_mask") * v_sigma[:, None, None],
        positions=get("video_positions"),
        context=get("video_context"),
        context_mask=get("context_mask"),
        attention_mask=get("video_attention_mask"),
    )
    audio_latent = get("audio_latent")
    audio = Modality(
        latent=audio_latent,
        sigma=a_sigma,
        timesteps=mx.ones((*audio_latent.shape[:2], 1)) * a_sigma[:, None, None],
        positions=get("audio_positions"),
        context=get("audio_context"),
        context_mask=get("context_mask"),
    )
    return video, audio


@pytest.mark.parametrize("name", VARIANTS)
def test_variant(name: str):
    model = load_transformer(DATA_DIR / f"variant_{name}.safetensors")
    video, audio = inputs(name)
    v, a = model(video, audio)
    check_parity(f"{name}/out/video_velocity", v, DATA[f"{name}/out/video_velocity"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{name}/out/audio_velocity", a, DATA[f"{name}/out/audio_velocity"], DOWNSTREAM_OF_ROPE)
    first_sample_only = BatchedPerturbations(
        (
            (
                Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, (0,)),
                Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN),
            ),
            (),
        )
    )
    v, a = model(video, audio, first_sample_only)
    check_parity(f"{name}/out/video_velocity_perturbed", v, DATA[f"{name}/out/video_velocity_perturbed"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{name}/out/audio_velocity_perturbed", a, DATA[f"{name}/out/audio_velocity_perturbed"], DOWNSTREAM_OF_ROPE)
