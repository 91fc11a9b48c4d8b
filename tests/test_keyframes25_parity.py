"""The keyframes pipeline on LTX-2.5 against the official ltx-pipelines 1.2.0
``KeyframeInterpolationPipeline`` (tests/data/keyframes25_reference.npz,
tools/make_keyframes25_reference.py): three images guiding at frames 0, 9 and 16 as 1.2.0 appends
them (zero placeholder in the noisy latent, one-frame time span), the conditioned states of both
stages, each stage's latents and the output. Contexts, image pixels and every noise draw are
injected; no distilled LoRA on either side (the tiny set ships none)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.model_paths import ModelPaths
from ltx_core.model_spec import LTX_2_0, LTX_2_3, LTX_2_5
from ltx_core.pipelines import blocks, staged
from ltx_core.pipelines.blocks import Prompts
from ltx_core.pipelines.keyframes import KeyframePipeline
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest, ImageCondition
from tests.conftest import Reference
from tests.ltx25_helpers import recorded_ltx25_reference
from tests.parity import DOWNSTREAM_OF_ROPE, TOLERANCE, check_parity, load_npz
from tests.pipeline_helpers import InjectedNoise

DATA = Path(__file__).parent / "data" / "keyframes25_reference.npz"


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return recorded_ltx25_reference()  # the set tests/data's reference was recorded on


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz(DATA)


def test_the_version_spec_says_which_release_each_version_follows():
    assert LTX_2_5.reference_release == "1.2.0" and LTX_2_5.keyframe_placeholder and LTX_2_5.per_token_cross_modulation
    for older in (LTX_2_0, LTX_2_3):
        assert older.reference_release == "1.0.0"
        assert not older.keyframe_placeholder and not older.per_token_cross_modulation


@pytest.mark.parametrize("version", ["2.0", "2.3", "2.5"])
def test_the_loaded_transformer_follows_its_versions_release(version: str):
    from ltx_core.loader.components import open_checkpoint, transformer_config
    from ltx_core.model_spec import VERSIONS
    from tests.conftest import REFERENCE_ROOT

    folder = REFERENCE_ROOT / f"ltx-{version}"
    if not folder.is_dir():
        pytest.skip(f"no in-repo {version} set")
    config = transformer_config(open_checkpoint(ModelPaths.from_folder(folder).checkpoint))
    assert config.per_token_cross_modulation is VERSIONS[version].per_token_cross_modulation


def test_the_transformer_modulates_the_av_cross_attention_per_token(ltx25: Reference, ref):
    """Stage 1's first conditional pass alone: video tokens at sigma, keyframe tokens at 0 and 0.3 sigma."""
    from ltx_core.model.transformer.model import Modality

    def modality(name: str) -> Modality:
        fields = ("latent", "sigma", "timesteps", "positions", "context", "keyframes_mask")
        return Modality(**{f: mx.array(ref[f"x0/{name}/{f}"]) for f in fields if f"x0/{name}/{f}" in ref})

    assert len(np.unique(ref["x0/video/timesteps"])) == 3
    model = ModelLedger(ModelPaths.from_folder(ltx25.directory)).transformer(())
    video, audio = model(modality("video"), modality("audio"))
    check_parity("x0/out/video", video, ref["x0/out/video"], DOWNSTREAM_OF_ROPE)
    check_parity("x0/out/audio", audio, ref["x0/out/audio"], DOWNSTREAM_OF_ROPE)


def contexts(ltx25: Reference, scale: float) -> TextContexts:
    video, audio = (mx.array(ltx25[f"text/out/{s}_context"]) * scale for s in ("video", "audio"))
    return TextContexts(video=video, audio=audio, mask=mx.array(ltx25["text/out/context_mask"]))


def test_keyframes_run_matches_the_official_1_2_0_pipeline(ltx25: Reference, ref, monkeypatch):
    seed, height, width, frames, fps, steps, audio_cfg = ref["in/settings"].tolist()
    cfg, stg, rescale, modality = ref["in/video_guidance"].tolist()
    video_guidance = MultiModalGuiderParams(cfg_scale=cfg, stg_scale=stg, stg_blocks=(int(ref["in/stg_block"]),),
                                            rescale_scale=rescale, modality_scale=modality)  # fmt: skip
    prompts = Prompts(PromptEmbeddings(contexts(ltx25, 1.0), contexts(ltx25, -0.5)), "fixture")
    noise = InjectedNoise([mx.array(ref[k]) for k in sorted(k for k in ref if k.startswith("in/noise/"))])
    monkeypatch.setattr(
        blocks, "load_pixels", lambda image, h, w: mx.array(ref[f"in/pixels/{Path(image.image).stem}/{h}"])
    )
    monkeypatch.setattr(KeyframePipeline, "stage_loras", lambda self, plan, request: ())
    states, outputs = [], []
    denoise_stage = staged.denoise_stage

    def recording(ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, *args, **kwargs):
        state = video_space.initial_state(ledger.dtype, kwargs.get("initial_video"))
        for item in conditionings:
            state = item.apply(state, video_space)
        states.append(state)
        result = denoise_stage(
            ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, *args, **kwargs
        )
        outputs.append(result)
        return result

    monkeypatch.setattr(staged, "denoise_stage", recording)
    ledger = ModelLedger(ModelPaths.from_folder(ltx25.directory))
    assert ledger.version is LTX_2_5
    images = tuple(ImageCondition(f"{i}.png", int(f), float(s), crf=0) for i, (f, s) in enumerate(ref["in/images"]))
    request = GenerationRequest(
        prompt="fixture", negative_prompt="negative", seed=int(seed), height=int(height), width=int(width),
        frames=int(frames), fps=float(fps), steps=int(steps), images=images, video_guidance=video_guidance,
        audio_guidance=MultiModalGuiderParams(**{**video_guidance.__dict__, "cfg_scale": audio_cfg}),
    )  # fmt: skip
    # ``produce`` without ``prepare``: the tiny set has no distilled LoRA for the file check to find
    latents = KeyframePipeline(ledger).produce(request, None, noise, prompts, None)
    assert not noise._tensors, "fewer noise draws than the reference"

    for index, (video, audio) in enumerate(outputs):
        check_parity(f"stage/{index}/video_latent", video, ref[f"stage/{index}/video_latent"], DOWNSTREAM_OF_ROPE)
        check_parity(f"stage/{index}/audio_latent", audio, ref[f"stage/{index}/audio_latent"], DOWNSTREAM_OF_ROPE)
    assert len(states) == 2
    for index, state in enumerate(states):
        for field in ("positions", "denoise_mask", "keyframes_mask", "latent", "clean_latent"):
            key = f"state/{index}/{field}"
            check_parity(key, getattr(state, field), ref[key], TOLERANCE)
    check_parity("out/video_latent", latents.video, ref["out/video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity("out/audio_latent", latents.audio, ref["out/audio_latent"], DOWNSTREAM_OF_ROPE)
