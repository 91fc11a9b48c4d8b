"""The denoising loop against stage 1 of the fixtures' distilled run, and guided denoising."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas
from ltx_core.loader import LTXCheckpoint
from ltx_core.model.transformer import X0Model
from ltx_core.pipelines.denoising import GuidedDenoiser, SimpleDenoiser, euler_loop
from ltx_core.pipelines.latents import AudioLatentSpace, VideoLatentSpace, noised_state
from ltx_core.pipelines.progress import CancelToken, Cancelled, ProgressReporter
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape
from tests.conftest import Reference
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity
from tests.test_transformer_parity import model_for

E2E = "e2e_distilled"


def stage1_spaces(reference: Reference) -> tuple[VideoLatentSpace, AudioLatentSpace]:
    frames, height, width = (int(v) for v in reference[f"{E2E}/in/pixel_shape"])
    fps = float(reference[f"{E2E}/in/fps"])
    config = LTXCheckpoint(reference.checkpoint).config
    pixel = VideoPixelShape(1, frames, height // 2, width // 2, fps)
    video = VideoLatentSpace(VideoLatentShape.from_pixel_shape(pixel, config["vae"]["latent_channels"]), fps)
    z_channels = config["audio_vae"]["model"]["params"]["ddconfig"]["z_channels"]
    audio = AudioLatentSpace(AudioLatentShape.from_video_pixel_shape(pixel, z_channels))
    return video, audio


def run_stage1(reference: Reference, reporter=None):
    video_space, audio_space = stage1_spaces(reference)
    noiser = GaussianNoiser(0)
    video = noised_state(video_space.initial_state(), noiser, noise=mx.array(reference[f"{E2E}/in/stage1_video_noise"]))
    audio = noised_state(audio_space.initial_state(), noiser, noise=mx.array(reference[f"{E2E}/in/stage1_audio_noise"]))
    model = X0Model(model_for(str(reference.checkpoint), True))
    denoiser = SimpleDenoiser(model, mx.array(reference[f"{E2E}/in/video_context"]), mx.array(reference[f"{E2E}/in/audio_context"]))
    video, audio = euler_loop(distilled_sigmas(1), video, audio, denoiser, "stage 1", reporter)
    return video_space, audio_space, video, audio


def test_stage1_of_the_distilled_run(reference: Reference):
    video_space, audio_space = stage1_spaces(reference)
    init = video_space.initial_state()
    noised = noised_state(init, GaussianNoiser(0), noise=mx.array(reference[f"{E2E}/in/stage1_video_noise"]))
    check_parity(f"{E2E}/stage1/video_latent_init", noised.latent, reference[f"{E2E}/stage1/video_latent_init"])
    events = []
    video_space, audio_space, video, audio = run_stage1(reference, ProgressReporter(events.append))
    check_parity(f"{E2E}/stage1/video_latent", video_space.finish(video), reference[f"{E2E}/stage1/video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity(f"{E2E}/stage1/audio_latent", audio_space.finish(audio), reference[f"{E2E}/stage1/audio_latent"], DOWNSTREAM_OF_ROPE)
    assert [(e.stage, e.step, e.total) for e in events] == [("stage 1", i, 8) for i in range(1, 9)]
    assert all(b.elapsed >= a.elapsed for a, b in zip(events, events[1:]))


def test_cancel_stops_between_steps(reference: Reference):
    token = CancelToken()
    seen = []

    def on_event(event):
        seen.append(event.step)
        if event.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_stage1(reference, ProgressReporter(on_event, token))
    assert seen == [2] or seen == [1, 2]


def test_guided_passes_batched_equal_sequential(reference: Reference):
    """The dev pipeline's guidance (CFG + STG + modality + rescale): batching the four passes into
    one forward gives the same X0 as running them one by one."""
    video_space, audio_space = stage1_spaces(reference)
    noiser = GaussianNoiser(3)
    video = noised_state(video_space.initial_state(), noiser)
    audio = noised_state(audio_space.initial_state(), noiser)
    context = mx.array(reference[f"{E2E}/in/video_context"])
    a_context = mx.array(reference[f"{E2E}/in/audio_context"])
    layers = LTXCheckpoint(reference.checkpoint).config["transformer"]["num_layers"]
    params = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(layers - 1,), rescale_scale=0.7, modality_scale=3.0)
    kwargs = dict(
        model=X0Model(model_for(str(reference.checkpoint), True)),
        video_context=context,
        audio_context=a_context,
        video_guider=MultiModalGuider(params),
        audio_guider=MultiModalGuider(params),
        negative_video_context=context * 0.5,
        negative_audio_context=a_context * 0.5,
    )
    sigmas = distilled_sigmas(1)
    batched = GuidedDenoiser(**kwargs, batch_passes=True)(video, audio, sigmas, 2)
    sequential = GuidedDenoiser(**kwargs, batch_passes=False)(video, audio, sigmas, 2)
    for ours, ref, name in zip(batched, sequential, ("video", "audio")):
        check_parity(f"guided/{name}_batched_vs_sequential", ours, np.array(ref), 1e-5)
    plain = SimpleDenoiser(kwargs["model"], context, a_context)(video, audio, sigmas, 2)
    assert not np.allclose(np.array(plain[0]), np.array(batched[0]), atol=1e-3)


class _CountingModel:
    """Stands in for the X0 model: returns the latent scaled by its pass index, counts calls and
    records which modalities were enabled."""

    def __init__(self):
        self.calls: list[tuple[bool, bool]] = []

    def __call__(self, video, audio, perturbations=None):
        self.calls.append((video.enabled, audio.enabled if audio is not None else False))
        scale = float(len(self.calls))
        return video.latent * scale, (audio.latent * scale if audio is not None else None)


@pytest.mark.parametrize("batched", [False, True])
def test_skip_step_reuses_the_last_guided_prediction(batched: bool):
    """Official semantics: with skip_step 1 only even steps are guided; odd steps return the last
    prediction without a forward pass (both guiders skip there)."""
    from ltx_core.types import LatentState

    def state(n: int) -> LatentState:
        latent = mx.ones((1, n, 4))
        return LatentState(latent, mx.ones((1, n, 1)), mx.zeros((1, 3, n, 2)), latent)

    params = MultiModalGuiderParams(cfg_scale=3.0, skip_step=1)
    model = _CountingModel()
    context = mx.zeros((1, 2, 4))
    denoiser = GuidedDenoiser(
        model, context, context, MultiModalGuider(params), MultiModalGuider(params), context, context,
        batch_passes=batched,
    )  # fmt: skip
    sigmas = mx.array([1.0, 0.75, 0.5, 0.25, 0.0])
    outputs = [denoiser(state(3), state(2), sigmas, step) for step in range(4)]
    passes_per_guided_step = 1 if batched else 2  # cond + uncond (one batched forward or two)
    assert len(model.calls) == 2 * passes_per_guided_step  # steps 0 and 2 only
    assert outputs[1][0] is outputs[0][0] and outputs[3][1] is outputs[2][1]
    assert not mx.array_equal(outputs[2][0], outputs[0][0])


def test_skip_step_of_one_modality_disables_it_in_the_positive_passes():
    from ltx_core.types import LatentState

    def state(n: int) -> LatentState:
        latent = mx.ones((1, n, 4))
        return LatentState(latent, mx.ones((1, n, 1)), mx.zeros((1, 3, n, 2)), latent)

    model = _CountingModel()
    context = mx.zeros((1, 2, 4))
    video_guider = MultiModalGuider(MultiModalGuiderParams(cfg_scale=3.0, skip_step=1))
    audio_guider = MultiModalGuider(MultiModalGuiderParams(cfg_scale=3.0))
    denoiser = GuidedDenoiser(model, context, context, video_guider, audio_guider, context, context)
    sigmas = mx.array([1.0, 0.5, 0.0])
    first = denoiser(state(3), state(2), sigmas, 0)
    model.calls.clear()
    second = denoiser(state(3), state(2), sigmas, 1)
    assert model.calls == [(False, True), (True, True)]  # positive pass with video disabled; negative pass not
    assert second[0] is first[0] and not mx.array_equal(second[1], first[1])
