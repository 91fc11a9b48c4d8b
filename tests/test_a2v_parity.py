"""The audio-to-video pipeline's own code path against the official a2vid two-stage recipe
(tools/make_a2v_reference.py, ltx-pipelines 1.0.0) on the tiny 2.0 and 2.3 models: the same log-mel,
contexts and noise injected; the encoded audio latent, the stage-1 sigmas and video latent, the
upsampled latent and the final video latent compared. The mp4's audio track is the user's audio
(test_a2v_pipeline.py)."""

from __future__ import annotations

import wave
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.components.schedulers import ltx2_sigmas
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.pipelines import staged
from ltx_core.pipelines.audio_to_video import AudioToVideoPipeline
from ltx_core.pipelines.blocks import Prompts, encode_audio
from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from ltx_core.pipelines.request import GenerationRequest
from tests.conftest import REFERENCE_ROOT
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity
from tests.pipeline_helpers import InjectedNoise

DATA = Path(__file__).parent / "data"
VERSIONS = ("2.0", "2.3")


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)[:, None].repeat(2, 1)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


@pytest.mark.parametrize("version", VERSIONS)
def test_a2v_matches_the_official_recipe(version: str, tmp_path: Path, monkeypatch) -> None:
    ref = np.load(DATA / f"a2v_reference_{version}.npz")
    fixtures = REFERENCE_ROOT / f"ltx-{version}"
    ledger = ModelLedger(ModelPaths(
        fixtures / "ltx2-tiny.safetensors", spatial_upsampler=fixtures / "ltx2-tiny-spatial-upsampler.safetensors",
        distilled_lora=DATA / f"a2v_lora_{version}.safetensors",
    ))  # fmt: skip
    get = lambda key: mx.array(ref[key])
    video, audio, negative = get("in/video_context"), get("in/audio_context"), get("in/video_negative_context")
    mask = mx.ones(video.shape[:2])
    prompts = Prompts(PromptEmbeddings(TextContexts(video, audio, mask), TextContexts(negative, audio, mask)), "fixture")
    frames, height, width = (int(v) for v in ref["in/shape"])
    guidance = {k: ref[f"in/guidance/{k}"] for k in ("cfg_scale", "stg_scale", "rescale_scale", "modality_scale")}
    request = GenerationRequest(
        prompt="fixture", frames=frames, height=height, width=width, fps=float(ref["in/fps"]), steps=int(ref["in/steps"]),
        video_guidance=MultiModalGuiderParams(**{k: float(v) for k, v in guidance.items()},
                                              stg_blocks=tuple(int(b) for b in ref["in/guidance/stg_blocks"])),
        audio=write_tone(tmp_path / "tone.wav"),
    )  # fmt: skip
    recorded = {}

    def upsample(ledger_, latent, spatial_upscale=2.0):
        recorded["stage1"] = latent
        recorded["upscaled"] = upsample_spatially(ledger_, latent, spatial_upscale=spatial_upscale)
        return recorded["upscaled"]

    upsample_spatially = staged.upsample_spatially
    monkeypatch.setattr(staged, "upsample_spatially", upsample)
    noise = InjectedNoise([get(f"in/noise_{i}") for i in range(4)])
    mel = get("in/mel")
    latents = AudioToVideoPipeline(ledger).generate(request, noiser=noise, prompts=prompts, mel=mel)

    check_parity(f"a2v/{version}/stage1_sigmas", ltx2_sigmas(request.steps), ref["out/stage1_sigmas"], 1e-6)
    needed = ref["out/audio_latent"].shape[2]
    check_parity(f"a2v/{version}/audio_latent", encode_audio(ledger, mel)[:, :, :needed], ref["out/audio_latent"])
    check_parity(f"a2v/{version}/stage1_video_latent", recorded["stage1"], ref["out/stage1_video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity(f"a2v/{version}/upscaled_video_latent", recorded["upscaled"], ref["out/upscaled_video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity(f"a2v/{version}/video_latent", latents.video, ref["out/video_latent"], DOWNSTREAM_OF_ROPE)
    assert latents.audio is None and latents.audio_track is not None  # the user's audio, not a decoded one
    lora_events = [e for e in ledger.events if e.startswith("loras")]
    assert lora_events == [f"loras ['a2v_lora_{version}.safetensors']"]  # the refinement only
