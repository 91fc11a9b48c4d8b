"""Every pipeline end to end on the tiny fixture models: prompt text in, frames and audio out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.loader.audio_vae import vocoder_config
from ltx_core.pipelines.blocks import decode_audio, decode_frames
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ledger import MissingModelError
from ltx_core.pipelines.one_stage import OneStagePipeline
from ltx_core.pipelines.request import GenerationRequest, ImageCondition
from tests.conftest import Reference
from tests.pipeline_helpers import tiny_ledger

GUIDANCE = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)


def small_request(**changes) -> GenerationRequest:
    base = GenerationRequest(
        prompt="a red ball on the beach", negative_prompt="rain", seed=3, height=64, width=64, frames=9, fps=24.0,
        steps=2, video_guidance=GUIDANCE, audio_guidance=GUIDANCE,
    )  # fmt: skip
    return replace(base, **changes)


def test_one_stage_guided_text_to_video(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    latents = OneStagePipeline(ledger).generate(small_request())
    assert latents.video.shape[2:] == (2, 2, 2) and latents.audio is not None
    frames = np.concatenate(list(decode_frames(ledger, latents.video)))
    assert frames.shape == (9, 64, 64, 3) and frames.dtype == np.uint8
    audio = decode_audio(ledger, latents.audio)
    assert audio.waveform.shape[0] == 2
    assert audio.sampling_rate == vocoder_config(ledger.checkpoint).output_sampling_rate
    assert [s.stage for s in ledger.stages] == ["text encoder", "stage 1"]
    loads = [e for e in ledger.events if e.startswith(("load", "release"))]
    assert loads.index("release prompt_encoder") < loads.index("load transformer")
    assert ledger.loaded() == []


def test_same_seed_gives_bit_identical_latents(reference: Reference, tmp_path: Path):
    first = DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(small_request(height=128, width=128))
    second = DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(small_request(height=128, width=128))
    other = DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(small_request(height=128, width=128, seed=4))
    np.testing.assert_array_equal(np.array(first.video), np.array(second.video))
    np.testing.assert_array_equal(np.array(first.audio), np.array(second.audio))
    assert not np.array_equal(np.array(first.video), np.array(other.video))


def test_image_to_video_keeps_the_first_frame(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    pixels = mx.array(np.linspace(-1, 1, 3 * 64 * 64, dtype=np.float32).reshape(1, 3, 1, 64, 64))
    request = small_request(images=(ImageCondition(pixels, 0, 1.0),), generate_audio=False)
    latents = OneStagePipeline(ledger).generate(request)
    encoded = ledger.video_encoder()(pixels)
    np.testing.assert_allclose(np.array(latents.video[:, :, :1]), np.array(encoded), atol=1e-5)
    assert latents.audio is None


def test_missing_upsampler_is_reported_before_loading(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    ledger.paths = replace(ledger.paths, spatial_upsampler=None)
    with pytest.raises(MissingModelError, match="ltx-2-spatial-upscaler-x2-1.0.safetensors.*--spatial-upscaler-weights"):
        DistilledPipeline(ledger).generate(small_request(height=128, width=128))
    assert ledger.events == []


def demo_lora(tmp_path: Path) -> Path:
    from ltx_core.demo import demo_paths

    return demo_paths(tmp_path / "demo").distilled_lora


def test_two_stage_rounds_sizes_and_applies_the_distilled_lora(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path, distilled_lora=demo_lora(tmp_path))
    from ltx_core.pipelines.two_stage import TwoStagePipeline

    latents = TwoStagePipeline(ledger).generate(small_request(height=120, width=136, generate_audio=False))
    assert latents.notices and "136x120 was rounded to 128x128" in latents.notices[0]
    assert latents.video.shape[3:] == (4, 4)
    assert [s.stage for s in ledger.stages] == ["text encoder", "stage 1", "upsample", "stage 2"]
    lora_events = [e for e in ledger.events if e.startswith("loras")]
    assert lora_events == ["loras ['ltx2-demo-distilled-lora.safetensors']"]  # stage 1 runs without it


def test_keyframes_append_tokens_and_are_removed_after(reference: Reference, tmp_path: Path):
    from ltx_core.pipelines.keyframes import KeyframePipeline

    ledger = tiny_ledger(reference, tmp_path, distilled_lora=demo_lora(tmp_path))
    first = mx.array(np.full((1, 3, 1, 64, 64), -0.5, np.float32))
    last = mx.array(np.full((1, 3, 1, 64, 64), 0.5, np.float32))
    request = small_request(
        height=128, width=128, frames=17, generate_audio=False,
        images=(ImageCondition(first, 0, 1.0), ImageCondition(last, 16, 0.8)),
    )  # fmt: skip
    with pytest.raises(Exception, match="shape"):
        KeyframePipeline(ledger).generate(request)  # pixels must match each stage's size
    images = tuple(ImageCondition(str(_png(tmp_path, value, i)), frame, 1.0) for i, (frame, value) in enumerate(((0, 40), (16, 220))))
    latents = KeyframePipeline(tiny_ledger(reference, tmp_path, distilled_lora=demo_lora(tmp_path))).generate(
        replace(request, images=images)
    )
    assert latents.video.shape[2] == 3  # the frame-16 keyframe tokens were appended and removed again


def _png(folder: Path, value: int, index: int) -> Path:
    from PIL import Image

    path = folder / f"key{index}.png"
    Image.fromarray(np.full((48, 80, 3), value, np.uint8)).save(path)
    return path


def test_refinement_steps_choose_the_last_stage_two_sigmas():
    from ltx_core.components.schedulers import STAGE_2_DISTILLED_SIGMAS, refinement_sigmas

    assert np.array(refinement_sigmas()).tolist() == pytest.approx(list(STAGE_2_DISTILLED_SIGMAS))
    assert np.array(refinement_sigmas(1)).tolist() == pytest.approx([0.421875, 0.0])
    with pytest.raises(ValueError, match="1 to 3"):
        refinement_sigmas(4)
