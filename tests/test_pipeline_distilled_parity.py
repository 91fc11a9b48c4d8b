"""The distilled pipeline's own code path reproduces the fixtures' end-to-end distilled run
(contexts and every noise tensor injected), and records its stages."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.model.video_vae.tiled import to_uint8_frames
from ltx_core.pipelines.blocks import Prompts, decode_audio, decode_pixels
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from ltx_core.pipelines.request import GenerationRequest, RequestError
from tests.conftest import Reference
from tests.pipeline_helpers import InjectedNoise
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity

E2E = "e2e_distilled"


def covers(case: str) -> bool:
    return case == E2E


def fixture_ledger(reference: Reference) -> ModelLedger:
    return ModelLedger(
        ModelPaths(reference.checkpoint, spatial_upsampler=reference.directory / "ltx2-tiny-spatial-upsampler.safetensors")
    )


def e2e_request(reference: Reference) -> GenerationRequest:
    frames, height, width = (int(v) for v in reference[f"{E2E}/in/pixel_shape"])
    return GenerationRequest(prompt="fixture", frames=frames, height=height, width=width, fps=float(reference[f"{E2E}/in/fps"]))


def test_distilled_run_matches_the_reference(reference: Reference):
    get = lambda name: mx.array(reference[f"{E2E}/in/{name}"])  # noqa: E731
    video_context, audio_context = get("video_context"), get("audio_context")
    prompts = Prompts(
        PromptEmbeddings(TextContexts(video=video_context, audio=audio_context, mask=mx.ones(video_context.shape[:2]))),
        "fixture",
    )
    noise = InjectedNoise([get(n) for n in ("stage1_video_noise", "stage1_audio_noise", "stage2_video_noise", "stage2_audio_noise")])
    ledger = fixture_ledger(reference)
    latents = DistilledPipeline(ledger).generate(e2e_request(reference), noiser=noise, prompts=prompts)

    check_parity(f"{E2E}/out/video_latent", latents.video, reference[f"{E2E}/out/video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{E2E}/out/audio_latent", latents.audio, reference[f"{E2E}/out/audio_latent"], DOWNSTREAM_OF_ROPE)
    assert "transformer" not in ledger.loaded(), "the transformer must be released before decoding"
    pixels = mx.concatenate(list(decode_pixels(ledger, latents.video, noise=get("decode_noise"))), axis=2)
    check_parity(f"{E2E}/out/pixels_float", pixels, reference[f"{E2E}/out/pixels_float"], DOWNSTREAM_OF_ROPE)
    frames = to_uint8_frames(pixels)
    difference = np.abs(frames.astype(np.int16) - reference[f"{E2E}/out/frames_uint8"].astype(np.int16)).max()
    print(f"PARITY {E2E}/out/frames_uint8 {difference} (max absolute, uint8)")
    assert difference <= 1
    audio = decode_audio(ledger, latents.audio)
    check_parity(f"{E2E}/out/waveform", audio.waveform, reference[f"{E2E}/out/waveform"], DOWNSTREAM_OF_ROPE)
    compared = {"video_latent", "audio_latent", "pixels_float", "frames_uint8", "waveform"}
    assert {k.rsplit("/", 1)[1] for k in reference.keys_of(E2E, "out")} <= compared

    stages = [s.stage for s in ledger.stages]
    assert stages == ["text encoder", "stage 1", "upsample", "stage 2"]
    assert "load transformer" in ledger.events and "release transformer" in ledger.events
    assert all(s.peak_bytes > 0 for s in ledger.stages[1:])


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(frames=10), "frames must be 8k\\+1"),
        (dict(height=96), "height must be a positive multiple of 64"),
        (dict(prompt="  "), "prompt is empty"),
    ],
)
def test_bad_requests_are_rejected_before_any_model_loads(reference: Reference, change: dict, message: str):
    ledger = fixture_ledger(reference)
    request = GenerationRequest(**{**e2e_request(reference).__dict__, **change})
    with pytest.raises(RequestError, match=message):
        DistilledPipeline(ledger).generate(request)
    assert ledger.events == []
