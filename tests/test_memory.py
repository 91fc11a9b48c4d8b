"""The memory estimator against the fixture pipelines' measured stage peaks, and ``check_fits``."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import pytest

from ltx_core.errors import LTXError
from ltx_core.loader import LTXCheckpoint
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.upsampler import upsampler_config
from ltx_core.memory import (
    GIB,
    Guidance,
    InsufficientMemoryError,
    available_memory,
    check_fits,
    estimate_for_preset,
    estimate_memory,
)
from ltx_core.memory.estimate import text_encoder_stage
from ltx_core.model.text_encoder.gemma_config import GemmaConfig
from ltx_core.pipelines.blocks import decode_audio, decode_frames
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.one_stage import OneStagePipeline
from ltx_core.presets import load_presets, preset_by_name
from tests.conftest import ROOT, Reference
from tests.pipeline_helpers import tiny_ledger
from tests.test_pipelines import small_request

TOLERANCE = 0.25
# The released 19B configs, enough for the estimator (transformer defaults are the 19B widths).
REAL_CONFIG = {
    "transformer": {"caption_channels": 3840, "use_audio_video_cross_attention": True, "num_layers": 48},
    "vae": {
        "latent_channels": 128, "decoder_base_channels": 128, "patch_size": 4, "timestep_conditioning": True,
        "decoder_blocks": [["res_x", {"num_layers": 5, "inject_noise": False}], ["compress_all", {"residual": True, "multiplier": 2}]] * 3
        + [["res_x", {"num_layers": 5, "inject_noise": False}]],
        "encoder_blocks": [["res_x", {"num_layers": 1}]],
    },
    "audio_vae": {
        "model": {"params": {"ddconfig": {"mel_bins": 64, "attn_resolutions": []}, "sampling_rate": 16000}},
        "preprocessing": {"stft": {"hop_length": 160}, "mel": {"n_mel_channels": 64}},
    },
    "vocoder": {"resblock": "1", "stereo": True},
}  # fmt: skip


def measured_stages(reference: Reference, tmp_path: Path, pipeline, request) -> dict[str, int]:
    """Each stage's peak above the process baseline, measured in a fresh process: in the shared test
    process, memory other tests leave for the garbage collector can be freed during a stage and
    hide part of its peak."""
    script = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from tests.test_memory import measure_here; print(json.dumps(measure_here(*sys.argv[2:])))"
    )
    env = {**os.environ, "LTX_REFERENCE_FIXTURES": str(reference.directory)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(tmp_path), pipeline.descriptor.name, str(request.height)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_here(tmp_path: str, pipeline_name: str, size: str) -> dict[str, int]:
    from ltx_core.pipelines.registry import PIPELINES
    from tests.conftest import fixtures_dir

    reference = Reference(fixtures_dir())
    request = small_request(height=int(size), width=int(size))
    gc.collect()
    mx.clear_cache()
    base = mx.get_active_memory()
    ledger = tiny_ledger(reference, Path(tmp_path))
    latents = PIPELINES[pipeline_name].create(ledger).generate(request)
    with ledger.stage("video decode"):
        for _ in decode_frames(ledger, latents.video):
            pass
    with ledger.stage("audio decode"):
        decode_audio(ledger, latents.audio)
    return {stage.stage: stage.peak_bytes - base for stage in ledger.stages}


@pytest.mark.parametrize(
    "pipeline, name, size, guidance",
    [(DistilledPipeline, "distilled", 128, Guidance()), (OneStagePipeline, "one-stage", 64, Guidance(4, True, 2))],
)
def test_fixture_stages_are_predicted_within_25_percent(reference: Reference, tmp_path: Path, pipeline, name, size, guidance):
    request = small_request(height=size, width=size)
    measured = measured_stages(reference, tmp_path, pipeline, request)
    estimate = estimate_memory(
        LTXCheckpoint(reference.checkpoint).config, size, size, request.frames, request.fps, True,
        pipeline.descriptor.memory_stages(), guidance, "float32", gemma_config=GemmaConfig.from_file(reference.directory / "gemma" / "config.json"),
        upsampler_config=upsampler_config(SafetensorsFile(reference.directory / "ltx2-tiny-spatial-upsampler.safetensors")),
        backend="cpu",
    )  # fmt: skip
    expected = ["text encoder", "stage 1"] + (["upsample", "stage 2"] if name != "one-stage" else [])
    assert list(measured) == expected + ["video decode", "audio decode"]
    for stage, peak in measured.items():
        ratio = estimate.stage(stage).peak / peak
        print(f"MEMORY {name} {stage}: predicted {estimate.stage(stage).peak} measured {peak} ratio {ratio:.2f}")
        assert abs(ratio - 1) <= TOLERANCE, (stage, estimate.stage(stage), peak)


def measure_full_prompt_here(tmp_path: str) -> dict[str, int]:
    """The text encoder stage for a prompt of the full 1,024 Gemma tokens (the estimate's worst
    case: Gemma runs on the prompt's real tokens only)."""
    from ltx_core.pipelines.ledger import Component
    from tests.conftest import fixtures_dir

    ledger = tiny_ledger(Reference(fixtures_dir()), Path(tmp_path))
    gc.collect()
    mx.clear_cache()
    base = mx.get_active_memory()
    with ledger.stage("text encoder"):
        encoder = ledger.get(Component.PROMPT_ENCODER)
        tokens = encoder.tokenizer(" ".join(["a red ball rolls on the beach"] * 200))
        assert int(tokens.attention_mask.sum()) == 1024
        encoder.encode_tokens(tokens)
    return {"tokens": 1024, "peak": ledger.stages[-1].peak_bytes - base}


def test_a_full_length_prompt_is_predicted_within_25_percent(reference: Reference, tmp_path: Path):
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.test_memory import measure_full_prompt_here; print(json.dumps(measure_full_prompt_here(sys.argv[2])))"
    )
    env = {**os.environ, "LTX_REFERENCE_FIXTURES": str(reference.directory)}
    result = subprocess.run([sys.executable, "-c", script, str(ROOT), str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    peak = json.loads(result.stdout.strip().splitlines()[-1])["peak"]
    estimate = text_encoder_stage(
        LTXCheckpoint(reference.checkpoint).config, GemmaConfig.from_file(reference.directory / "gemma" / "config.json"),
        "float32", None, backend="cpu",
    )  # fmt: skip
    ratio = estimate.peak / peak
    print(f"MEMORY 1024-token prompt text encoder: predicted {estimate.peak} measured {peak} ratio {ratio:.2f}")
    assert abs(ratio - 1) <= TOLERANCE, (estimate, peak)


def measure_retake_here(tmp_path: str) -> dict:
    """A retake of a 128x128, 25-frame clip with sound on the tiny set: each stage's peak above the
    process baseline, and the pre-check's estimate of each stage."""
    import numpy as np

    from ltx_core.media.video_write import write_mp4
    from ltx_core.pipelines.retake import RetakePipeline, RetakeRequest
    from ltx_core.pipelines.runner import run_job
    from ltx_core.pipelines.source_clip import edit_memory_estimate
    from tests.conftest import fixtures_dir
    from tests.test_retake import smooth_clip

    folder = Path(tmp_path)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(25000) / 24000)).astype(np.float32)
    write_mp4(folder / "clip.mp4", smooth_clip(), 24.0, np.stack([tone, tone])[None], 24000, sidecar=False)
    gc.collect()
    mx.clear_cache()
    base = mx.get_active_memory()
    ledger = tiny_ledger(Reference(fixtures_dir()), folder)
    request = RetakeRequest(folder / "clip.mp4", 0.4, 0.7, prompt="a red boat", seed=3)
    job, _ = RetakePipeline(ledger).prepare(request)
    estimate = edit_memory_estimate(ledger, job.generation, job.guided, "retake", job.clip.frames, True)
    run_job(ledger, "retake", request, folder / "retake.mp4")
    measured = {stage.stage: stage.peak_bytes - base for stage in ledger.stages}
    # the same clip encoded tile by tile, as a memory mode with VAE tiles encodes a retake's clip
    from ltx_core.memory.decode import video_encode_stage
    from ltx_core.pipelines.blocks import encode_video
    from ltx_core.presets import VaeTiling

    tiling = VaeTiling(96, 32, 24, 8)
    gc.collect()
    mx.clear_cache()
    with ledger.stage("tiled encode"):
        encode_video(ledger, folder / "clip.mp4", 128, 128, 25, tiling.config())
    measured["tiled encode"] = ledger.stages[-1].peak_bytes - base
    tiled = video_encode_stage(ledger.model_config["vae"], 25, 128, 128, "float32", tiling, "cpu")
    return {"measured": measured, "estimate": {**{stage.stage: stage.peak for stage in estimate.stages},
                                                "tiled encode": tiled.peak}}  # fmt: skip


def test_the_edit_pre_check_counts_the_untiled_source_encode(reference: Reference, tmp_path: Path):
    """A retake's peak is its clip's untiled encode (on the tiny set twice its decode with the
    CPU's Winograd convolutions, about 7 times with unfolded ones): the pre-check's estimate
    covers it, stage for stage and in total."""
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.test_memory import measure_retake_here; print(json.dumps(measure_retake_here(sys.argv[2])))"
    )
    env = {**os.environ, "LTX_REFERENCE_FIXTURES": str(reference.directory)}
    result = subprocess.run([sys.executable, "-c", script, str(ROOT), str(tmp_path)], check=False, capture_output=True,
                            text=True, env=env, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    measured, estimate = numbers["measured"], numbers["estimate"]
    for stage in ("encode", "tiled encode", "retake", "video decode"):
        print(f"MEMORY retake {stage}: predicted {estimate[stage]} measured {measured[stage]} "
              f"ratio {estimate[stage] / measured[stage]:.2f}")  # fmt: skip
    assert 1.0 <= estimate["encode"] / measured["encode"] <= 1 + TOLERANCE
    assert 1.0 <= estimate["tiled encode"] / measured["tiled encode"] <= 1 + TOLERANCE
    assert measured["tiled encode"] < measured["encode"]  # tiles of 96 px (64 px overlap) over 128 px
    assert measured["encode"] > 1.5 * measured["video decode"]  # what the pre-check missed before
    # the run's peak (since the encode shrank with the CPU's Winograd path, the sound's decode) is
    # covered within the estimator's tolerance
    assert max(estimate.values()) >= (1 - TOLERANCE) * max(measured.values())


def test_streaming_and_quantization_shrink_the_denoising_weights():
    common = dict(height=512, width=768, frames=121, backend="metal", compute_dtype="bfloat16")
    bf16 = estimate_memory(REAL_CONFIG, **common).stage("stage 2")
    q8 = estimate_memory(REAL_CONFIG, quantization=QuantizationSpec(8, 64), **common).stage("stage 2")
    q4 = estimate_memory(REAL_CONFIG, quantization=QuantizationSpec(4, 64), **common).stage("stage 2")
    streamed = estimate_memory(REAL_CONFIG, quantization=QuantizationSpec(4, 64), streaming=True, **common).stage("stage 2")
    # the measured 48-block figures (bench/real_width.py): 37.8 GB bf16, 20.4 GB 8-bit, 11.1 GB 4-bit
    assert bf16.weights / 1e9 == pytest.approx(37.8, abs=0.1)
    assert q8.weights / 1e9 == pytest.approx(20.4, abs=0.1)
    assert q4.weights / 1e9 == pytest.approx(11.1, abs=0.1)
    assert streamed.weights < q4.weights / 10
    cpu = estimate_memory(REAL_CONFIG, **{**common, "backend": "cpu"}).stage("stage 2")
    assert cpu.activations > bf16.activations  # materialised attention scores


def test_check_fits_names_the_stage_and_suggests_a_preset_and_size():
    presets = load_presets()
    quality = preset_by_name("quality", presets)
    estimate = estimate_for_preset(REAL_CONFIG, quality, backend="metal", height=1024, width=1536, frames=121)
    available = available_memory(32 * GIB, margin_bytes=6 * GIB)
    assert available == 26 * GIB
    with pytest.raises(InsufficientMemoryError) as error:
        check_fits(estimate, available, presets, "quality")
    message = str(error.value)
    assert isinstance(error.value, LTXError)
    stage = next(s for s in estimate.stages if s.peak > available)
    assert f"not enough memory for {stage.stage}: it needs about {stage.peak / GIB:.1f} GiB" in message
    assert "26.0 GiB is available" in message
    assert "Try the '" in message and "' preset" in message
    check_fits(estimate, estimate.peak)  # exactly enough: no error


def test_default_margin_leaves_headroom():
    assert available_memory(16 * GIB) == 12 * GIB
    assert available_memory(128 * GIB) == 128 * GIB - int(0.2 * 128 * GIB)
    assert available_memory(64 * GIB, margin_bytes=0) == 64 * GIB


def test_the_estimate_line_and_the_refusal_name_the_same_memory():
    from ltx_ui.estimates import memory_line

    presets = load_presets()
    estimate = estimate_for_preset(REAL_CONFIG, preset_by_name("quality", presets), backend="metal", height=1024,
                                   width=1536, frames=121)  # fmt: skip
    available = available_memory(int(25.3 * 10**9), margin_bytes=4 * GIB)  # decimal and binary GB differ here
    with pytest.raises(InsufficientMemoryError) as error:
        check_fits(estimate, available, presets, "quality")
    refused, line = str(error.value), memory_line(estimate.peak, available, str(error.value))
    named = f"{available / GIB:.1f} GiB"
    assert named == "19.6 GiB" and f"{named} is available" in refused and f"in the {named} available" in line
    assert f"**{estimate.peak / GIB:.1f} GiB**" in line and refused in line.replace("⚠️ N", "n")
    fits = memory_line(estimate.peak, estimate.peak + GIB)
    assert f"fits in the {(estimate.peak + GIB) / GIB:.1f} GiB available" in fits and " GB" not in fits
