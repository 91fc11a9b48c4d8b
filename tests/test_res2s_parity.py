"""The res_2s sampler against the official ltx-pipelines 1.0.0 one (tests/data/res2s_reference.npz,
recorded by tools/make_res2s_reference.py): coefficients, the SDE re-noising step, the noise
normalisation, the whole loop with a closed-form denoiser, and the loop on the tiny 2.3
checkpoint with the HQ guidance (stage 1) and the simple denoiser on the stage-2 sigmas."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuider
from ltx_core.components.res2s import (
    Res2sNoise,
    normalise_noise,
    phi,
    res2s_coefficients,
    res2s_loop,
    sde_step,
)
from ltx_core.model_spec import LTX_2_3
from ltx_core.pipelines.denoising import GuidedDenoiser, SimpleDenoiser
from ltx_core.types import LatentState
from tests.conftest import REFERENCE_ROOT
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity

VERSIONS = ("2.3",)  # the e2e cases use the 2.3 tiny checkpoint; the rest is version-free
DATA = np.load(Path(__file__).parent / "data" / "res2s_reference.npz")


class InjectedRes2sNoise(Res2sNoise):
    """Hands out the official raw draws in their recorded order."""

    def __init__(self, prefix: str):
        self.draws = [DATA[k] for k in sorted(k for k in DATA.files if k.startswith(f"{prefix}/in/noise_"))]
        super().__init__(0)

    def restart(self) -> None:
        self.queue = list(self.draws)

    def draw(self, stream, shape):
        raw = self.queue.pop(0)
        assert tuple(raw.shape) == tuple(shape), (raw.shape, shape)
        return mx.array(raw)


def test_coefficients():
    ours = np.array([res2s_coefficients(h) for h in DATA["coeff/h"]])
    check_parity("res2s/coefficients", ours, DATA["coeff/abb"], tolerance=1e-12)
    phis = [[phi(j, -h) for j in (1, 2, 3)] for h in DATA["coeff/h"]] + [[phi(j, 0.0) for j in (1, 2, 3)]]
    check_parity("res2s/phi", np.array(phis), DATA["coeff/phi"], tolerance=1e-12)


def test_sde_step():
    sample, denoised, noise = (mx.array(DATA[f"sde_step/in/{n}"]) for n in ("sample", "denoised", "noise"))
    for i, (sigma, sigma_next) in enumerate(DATA["sde_step/in/pairs"]):
        ours = sde_step(sample, denoised, float(sigma), float(sigma_next), noise)
        check_parity(f"res2s/sde_step/pair{i}", ours, DATA[f"sde_step/out/pair{i}"])


def test_noise_normalisation():
    ours = normalise_noise(mx.array(DATA["noise/in/raw"].astype(np.float32)))
    check_parity("res2s/noise_normalised", ours, DATA["noise/out/normalised"])


def _states(prefix: str) -> tuple[LatentState, LatentState]:
    get = lambda name: mx.array(DATA[f"{prefix}/in/{name}"])  # noqa: E731
    video = LatentState(get("video_latent"), get("video_mask"), get("video_positions"), get("video_clean"))
    audio_latent = get("audio_latent")
    audio = LatentState(audio_latent, get("audio_mask"), get("audio_positions"), audio_latent)
    return video, audio


def _toy_denoiser():
    weight_v, weight_a = mx.array(DATA["loop/in/weight_video"]), mx.array(DATA["loop/in/weight_audio"])

    def denoise(video, audio, sigmas, step):
        sigma = sigmas[step]
        return (
            mx.tanh(video.latent @ weight_v) * (1 - sigma) + 0.1 * sigma,
            mx.tanh(audio.latent @ weight_a) * (1 - sigma) + 0.1 * sigma,
        )

    return denoise


@pytest.mark.parametrize("case", ["loop_to_zero", "loop_stage2", "loop_partial"])
def test_loop_with_a_closed_form_denoiser(case: str):
    video, audio = _states(case)
    noise = InjectedRes2sNoise(case)
    out_video, out_audio = res2s_loop(mx.array(DATA[f"{case}/in/sigmas"]), video, audio, _toy_denoiser(), noise)
    assert not noise.queue, "every recorded draw is used"
    check_parity(f"res2s/{case}/video", out_video.latent, DATA[f"{case}/out/video"])
    check_parity(f"res2s/{case}/audio", out_audio.latent, DATA[f"{case}/out/audio"])
    clean = np.array(video.clean_latent)[:, :8]
    np.testing.assert_allclose(np.array(out_video.latent)[:, :8], clean, atol=1e-6)  # conditioning tokens stay clean


@pytest.fixture(scope="module")
def tiny_23_model():
    from ltx_core.loader import load_transformer
    from ltx_core.model.transformer import X0Model

    return X0Model(load_transformer(REFERENCE_ROOT / "ltx-2.3" / "ltx2-tiny.safetensors", dtype="float32"))


def test_stage1_loop_with_hq_guidance_on_the_tiny_23_model(tiny_23_model):
    get = lambda name: mx.array(DATA[f"e2e/in/{name}"])  # noqa: E731
    # The HQ guidance comes from the version spec; the recorded official values must agree with it.
    video_params, audio_params = LTX_2_3.hq_video_guidance, LTX_2_3.hq_audio_guidance
    for params, recorded in ((video_params, "video_guidance"), (audio_params, "audio_guidance")):
        ours = [params.cfg_scale, params.stg_scale, params.rescale_scale, params.modality_scale]
        np.testing.assert_allclose(ours, DATA[f"e2e_stage1/in/{recorded}"])
    denoiser = GuidedDenoiser(
        tiny_23_model, get("video_context"), get("audio_context"), MultiModalGuider(video_params),
        MultiModalGuider(audio_params), get("video_negative_context"), get("audio_negative_context"),
    )  # fmt: skip
    video, audio = _states("e2e_stage1")
    noise = InjectedRes2sNoise("e2e_stage1")
    out_video, out_audio = res2s_loop(mx.array(DATA["e2e_stage1/in/sigmas"]), video, audio, denoiser, noise)
    assert not noise.queue
    check_parity("res2s/e2e_stage1/video", out_video.latent, DATA["e2e_stage1/out/video"], DOWNSTREAM_OF_ROPE)
    check_parity("res2s/e2e_stage1/audio", out_audio.latent, DATA["e2e_stage1/out/audio"], DOWNSTREAM_OF_ROPE)


def test_stage2_loop_with_the_simple_denoiser_on_the_tiny_23_model(tiny_23_model):
    get = lambda name: mx.array(DATA[f"e2e/in/{name}"])  # noqa: E731
    denoiser = SimpleDenoiser(tiny_23_model, get("video_context"), get("audio_context"))
    video, audio = _states("e2e_stage2")
    noise = InjectedRes2sNoise("e2e_stage2")
    out_video, out_audio = res2s_loop(mx.array(DATA["e2e_stage2/in/sigmas"]), video, audio, denoiser, noise)
    check_parity("res2s/e2e_stage2/video", out_video.latent, DATA["e2e_stage2/out/video"], DOWNSTREAM_OF_ROPE)
    check_parity("res2s/e2e_stage2/audio", out_audio.latent, DATA["e2e_stage2/out/audio"], DOWNSTREAM_OF_ROPE)


def test_seeded_noise_is_reproducible_and_restarts_per_loop():
    first, second = Res2sNoise(5), Res2sNoise(5)
    a = [first.draw("step", (1, 4, 2)), first.draw("substep", (1, 4, 2))]
    b = [second.draw("step", (1, 4, 2)), second.draw("substep", (1, 4, 2))]
    assert all(np.array_equal(np.array(x), np.array(y)) for x, y in zip(a, b))
    assert not np.array_equal(np.array(a[0]), np.array(a[1]))
    first.restart()
    assert np.array_equal(np.array(first.draw("step", (1, 4, 2))), np.array(a[0]))


def test_video_only_loop_and_progress_callbacks():
    video, _ = _states("loop_to_zero")
    weight_v = mx.array(DATA["loop/in/weight_video"])
    calls = []

    def denoise(video_state, audio_state, sigmas, step):
        assert audio_state is None
        calls.append(float(sigmas[step].item()))
        return mx.tanh(video_state.latent @ weight_v), None

    sigmas = mx.array(DATA["loop_to_zero/in/sigmas"])
    steps = []
    out, audio = res2s_loop(sigmas, video, None, denoise, Res2sNoise(7), on_step=lambda s, t, x0: steps.append((s, t)))
    assert audio is None and out.latent.shape == video.latent.shape and np.isfinite(np.array(out.latent)).all()
    total = sigmas.shape[0] - 1
    assert steps == [(i, total) for i in range(total)]
    assert len(calls) == 2 * total + 1 and calls[-1] == pytest.approx(0.0011)  # two per step, one final at 0.0011
