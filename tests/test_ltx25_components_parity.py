"""LTX-2.5 components against the 2.5 set: the rectified-flow Euler-ancestral step
(``euler_ancestral_step``) and the duration head with the pipelines' frame rule (``duration_head``)."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep, EulerDiffusionStep
from ltx_core.errors import CheckpointError, ConfigError, WeightsMismatchError
from ltx_core.loader.duration import load_duration_head, load_duration_predictor
from ltx_core.model.duration import DurationHeadConfig, seconds_to_num_frames, snap_frames_to_grid
from tests.conftest import Reference
from tests.ltx25_helpers import component_file, ltx25_reference, rewrite_safetensors
from tests.parity import TOLERANCE, check_parity

VERSIONS = ("2.5",)
CASES = ("euler_ancestral_step", "duration_head")


def covers(case: str) -> bool:
    return case in CASES


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return ltx25_reference()


# -- Euler ancestral ---------------------------------------------------------------------------
# out/ key -> (eta, step_index)
ANCESTRAL_STEPS = {"step0": (1.0, 0), "step3": (1.0, 3), "step7": (1.0, 7), "step2_eta0p5": (0.5, 2)}


def test_euler_ancestral_step(ltx25: Reference):
    case = "euler_ancestral_step"
    get = lambda name: mx.array(ltx25[f"{case}/in/{name}"])  # noqa: E731
    compared = set()
    for key in ltx25.keys_of(case, "out"):
        name = key.rsplit("/", 1)[1]
        assert name in ANCESTRAL_STEPS, f"{key}: an output this test does not know; add it"
        eta, index = ANCESTRAL_STEPS[name]
        ours = EulerAncestralDiffusionStep(eta=eta, s_noise=1.0).step(
            get("sample"), get("denoised"), get("sigmas"), index, noise=get("noise")
        )
        check_parity(key, ours, ltx25[key], TOLERANCE)
        compared.add(name)
    assert compared == set(ANCESTRAL_STEPS)


def test_euler_ancestral_edges():
    rng = np.random.default_rng(0)
    sample, denoised = (mx.array(rng.standard_normal((1, 6, 4)).astype(np.float32)) for _ in range(2))
    sigmas = mx.array([1.0, 0.7, 0.3, 0.0])
    plain = EulerDiffusionStep().step(sample, denoised, sigmas, 1)
    deterministic = EulerAncestralDiffusionStep(eta=0.0).step(sample, denoised, sigmas, 1)
    np.testing.assert_allclose(np.asarray(deterministic), np.asarray(plain), atol=1e-6)
    last = EulerAncestralDiffusionStep().step(sample, denoised, sigmas, 2)  # to sigma 0: the x0 prediction
    assert np.array_equal(np.asarray(last), np.asarray(denoised))
    with pytest.raises(ValueError, match="noise"):
        EulerAncestralDiffusionStep().step(sample, denoised, sigmas, 0)
    half = EulerAncestralDiffusionStep().step(sample.astype(mx.bfloat16), denoised, sigmas, 0, noise=denoised)
    assert half.dtype == mx.bfloat16


# -- duration head -----------------------------------------------------------------------------
def head_path(ltx25: Reference) -> Path:
    return component_file(ltx25, "model_patches")


def e2e_fps(ltx25: Reference) -> float:
    return float(json.loads((ltx25.directory / "manifest.json").read_text())["e2e"]["fps"])


def test_duration_head(ltx25: Reference):
    case = "duration_head"
    predictor = load_duration_predictor(head_path(ltx25))
    assert predictor is not None
    video, audio = mx.array(ltx25["text/out/video_context"]), mx.array(ltx25["text/out/audio_context"])
    compared = set()
    for key in ltx25.keys_of(case, "out"):
        name = key.rsplit("/", 1)[1]
        if name == "seconds":
            check_parity(key, predictor.head(video, audio), ltx25[key], TOLERANCE)
        elif name == "num_frames_clamped":
            frames = predictor(video, audio, frame_rate=e2e_fps(ltx25))
            assert frames == int(ltx25[key]), f"{key}: {frames} frames, reference {int(ltx25[key])}"
            print(f"PARITY {key} 0.000e+00 (exact)")
        else:
            pytest.fail(f"{key}: output not computed by this test; add it")
        compared.add(name)
    assert compared == {"seconds", "num_frames_clamped"}


def test_duration_head_single_stream(ltx25: Reference):
    head = load_duration_head(head_path(ltx25))
    video = mx.array(ltx25["text/out/video_context"])
    seconds = head(video, None)
    assert seconds.shape == (1,) and float(seconds.item()) > 0
    with pytest.raises(ValueError, match="video context, the audio context or both"):
        head(None, None)


def test_frame_rule():
    assert snap_frames_to_grid(26) == 25 and snap_frames_to_grid(25) == 25 and snap_frames_to_grid(1) == 1
    assert seconds_to_num_frames(1.0883, 24.0) == 25
    assert seconds_to_num_frames(0.1, 24.0) == 25  # clamped to 24 frames, snapped up to the 8k+1 grid
    assert seconds_to_num_frames(100.0, 24.0) == 473  # clamped to 480 frames, snapped down
    assert seconds_to_num_frames(5.0, 25.0) == 121
    assert seconds_to_num_frames(0.05, 24.0, min_seconds=0.0) == 1
    with pytest.raises(ValueError, match="frames must be >= 1"):  # as ltx-pipelines: no 0-frame video
        seconds_to_num_frames(0.01, 24.0, min_seconds=0.0)


def test_duration_head_refusals(ltx25: Reference, tmp_path: Path):
    with pytest.raises(ConfigError, match="pooler_hidden_dim \\(16\\) must be a multiple of num_pooler_heads \\(3\\)"):
        DurationHeadConfig.from_metadata({"duration_head": {"pooler_hidden_dim": 16, "num_pooler_heads": 3}}, "x")
    missing = rewrite_safetensors(head_path(ltx25), tmp_path / "head.safetensors", drop=["duration_head.mlp_out.bias"])
    with pytest.raises(WeightsMismatchError, match=r"head\.safetensors.*missing from the file: mlp_out\.bias"):
        load_duration_head(missing)
    no_config = rewrite_safetensors(head_path(ltx25), tmp_path / "defaults.safetensors", metadata=lambda meta: {})
    with pytest.raises(WeightsMismatchError, match=r"defaults\.safetensors.*wrong shape"):
        load_duration_head(no_config)  # ltx-core's default sizes do not fit the tiny tensors
    transformer = component_file(ltx25, "diffusion_models")
    assert load_duration_predictor(transformer) is None and load_duration_predictor(None) is None
    with pytest.raises(CheckpointError, match="no duration-head weights"):
        load_duration_head(transformer)
