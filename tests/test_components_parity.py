"""Scheduler sigmas, patchifier positions, patchify layout and one Euler step against the fixtures."""

from __future__ import annotations

import re

import mlx.core as mx
import pytest

from ltx_core.components.diffusion_steps import EulerDiffusionStep, blend_with_clean
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.components.schedulers import distilled_sigmas, ltx2_sigmas
from ltx_core.model.transformer import Modality, X0Model
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape
from tests.conftest import Reference
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity
from tests.test_transformer_parity import model_for


def covers(case: str) -> bool:
    return case in ("scheduler", "euler_step")


def scheduler_sigmas(key: str) -> mx.array:
    name = key.split("/", 1)[1]
    if name == "distilled_sigmas":
        return distilled_sigmas(1)
    if name == "stage2_distilled_sigmas":
        return distilled_sigmas(2)
    match = re.fullmatch(r"ltx2_steps(\d+)_tokens(\d+)(_nostretch)?", name)
    assert match, f"{key}: a scheduler case this test does not know; add it"
    steps, tokens, no_stretch = int(match.group(1)), int(match.group(2)), bool(match.group(3))
    return ltx2_sigmas(steps, tokens=tokens, stretch=not no_stretch)


def test_scheduler_sigmas(reference: Reference):
    keys = reference.keys_of("scheduler")
    if not keys:
        pytest.skip(f"{reference} has no scheduler case")
    for key in keys:
        if key.split("/", 1)[1].startswith("pipeline_"):
            continue  # the recipe's own numbers (steps, STG block), checked against the version spec
        check_parity(key, scheduler_sigmas(key), reference[key])


def test_video_positions_and_patchify(reference: Reference):
    if "transformer_av/in/video_latent_5d" not in reference:
        pytest.skip(f"{reference} records no unpatchified transformer inputs")
    latent_5d = reference["transformer_av/in/video_latent_5d"]
    shape = VideoLatentShape(*latent_5d.shape)
    patchifier = VideoLatentPatchifier(1)
    fps = float(reference["transformer_av/in/fps"])
    check_parity("transformer_av/in/video/positions", patchifier.positions(shape, fps), reference["transformer_av/in/video/positions"])
    tokens = patchifier.patchify(mx.array(latent_5d))
    check_parity("transformer_av/in/video/latent", tokens, reference["transformer_av/in/video/latent"])
    check_parity("transformer_av/in/video_latent_5d", patchifier.unpatchify(tokens, shape), latent_5d)


def test_audio_positions_and_patchify(reference: Reference):
    if "transformer_av/in/audio_latent_4d" not in reference:
        pytest.skip(f"{reference} records no unpatchified transformer inputs")
    latent_4d = reference["transformer_av/in/audio_latent_4d"]
    shape = AudioLatentShape(*latent_4d.shape)
    patchifier = AudioPatchifier()
    check_parity("transformer_av/in/audio/positions", patchifier.positions(shape), reference["transformer_av/in/audio/positions"])
    tokens = patchifier.patchify(mx.array(latent_4d))
    check_parity("transformer_av/in/audio/latent", tokens, reference["transformer_av/in/audio/latent"])
    check_parity("transformer_av/in/audio_latent_4d", patchifier.unpatchify(tokens, shape), latent_4d)


def test_pipeline_position_grids(reference: Reference):
    """Stage-1 (half size) and stage-2 positions of the distilled run, from pixel shape and fps."""
    if "e2e_distilled/in/pixel_shape" not in reference:
        pytest.skip("fixture set has no e2e_distilled case")
    frames, height, width = (int(v) for v in reference["e2e_distilled/in/pixel_shape"])
    fps = float(reference["e2e_distilled/in/fps"])
    channels = reference["e2e_distilled/stage2/video_latent_upscaled"].shape[1]
    for stage, size in (("stage1", (height // 2, width // 2)), ("stage2", (height, width))):
        pixel = VideoPixelShape(1, frames, size[0], size[1], fps)
        shape = VideoLatentShape.from_pixel_shape(pixel, channels)
        key = f"e2e_distilled/{stage}/video_positions"
        check_parity(key, VideoLatentPatchifier(1).positions(shape, fps), reference[key])
    audio_channels = reference["e2e_distilled/stage1/audio_latent"].shape[1]
    audio_shape = AudioLatentShape.from_video_pixel_shape(VideoPixelShape(1, frames, height, width, fps), audio_channels)
    key = "e2e_distilled/stage1/audio_positions"
    check_parity(key, AudioPatchifier().positions(audio_shape), reference[key])


def test_euler_step(reference: Reference):
    """One step of the official Euler loop: X0 prediction, clean-token blending, Euler update.

    The case stores no positions: its tokens are those of ``transformer_av``, whose positions
    it uses.
    """
    case = "euler_step"
    get = lambda name: mx.array(reference[f"{case}/in/{name}"])  # noqa: E731
    if f"{case}/in/sample" in reference:  # the 2.5 set: the step alone, on given x_t / x0
        compared = set()
        for key in reference.keys_of(case, "out"):
            index = int(key.rsplit("/step", 1)[1])
            ours = EulerDiffusionStep().step(get("sample"), get("denoised"), get("sigmas"), index)
            check_parity(key, ours, reference[key])
            compared.add(key)
        assert compared == set(reference.keys_of(case, "out")) and compared
        return
    sigmas = get("sigmas")
    sigma = sigmas[0]
    video_mask = get("video_denoise_mask")
    audio_latent = get("audio_latent")
    audio_mask = mx.ones((*audio_latent.shape[:2], 1))
    video = Modality(
        latent=get("video_latent"),
        sigma=sigma,
        timesteps=video_mask * sigma,
        positions=mx.array(reference["transformer_av/in/video/positions"]),
        context=get("video_context"),
    )
    audio = Modality(
        latent=audio_latent,
        sigma=sigma,
        timesteps=audio_mask * sigma,
        positions=mx.array(reference["transformer_av/in/audio/positions"]),
        context=get("audio_context"),
    )
    model = X0Model(model_for(str(reference.checkpoint), True))
    v_x0, a_x0 = model(video, audio)
    check_parity(f"{case}/out/video_denoised", v_x0, reference[f"{case}/out/video_denoised"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{case}/out/audio_denoised", a_x0, reference[f"{case}/out/audio_denoised"], DOWNSTREAM_OF_ROPE)
    stepper = EulerDiffusionStep()
    v_next = stepper.step(video.latent, blend_with_clean(v_x0, video_mask, get("video_clean_latent")), sigmas, 0)
    a_next = stepper.step(audio.latent, blend_with_clean(a_x0, audio_mask, audio.latent), sigmas, 0)
    check_parity(f"{case}/out/video_latent_next", v_next, reference[f"{case}/out/video_latent_next"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{case}/out/audio_latent_next", a_next, reference[f"{case}/out/audio_latent_next"], DOWNSTREAM_OF_ROPE)
    covered = {f"{case}/out/{n}" for n in ("video_denoised", "audio_denoised", "video_latent_next", "audio_latent_next")}
    assert set(reference.keys_of(case, "out")) <= covered, "euler_step has outputs this test does not compare"
