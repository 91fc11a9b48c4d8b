"""The denoising loop and the denoisers that turn the transformer into X0 predictions.

``SimpleDenoiser`` runs one conditional pass (distilled model). ``GuidedDenoiser`` runs the
official multi-modal guidance: conditional, unconditional (negative prompt), perturbed (STG:
self-attention skipped in some blocks) and isolated-modality (AV cross-attention skipped)
passes, combined by ``MultiModalGuider``; the passes are batched into one forward when
``batch_passes`` is set, or run one after another to save memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import mlx.core as mx
import numpy as np

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep, EulerDiffusionStep, blend_with_clean
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.guiders import MultiModalGuider
from ltx_core.model.transformer import BatchedPerturbations, Modality, Perturbation, PerturbationType, X0Model
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.types import LatentState


class Denoiser(Protocol):
    def __call__(
        self, video: LatentState, audio: LatentState | None, sigmas: mx.array, step: int
    ) -> tuple[mx.array, mx.array | None]: ...


def modality(state: LatentState, context: mx.array | None, sigma: mx.array, enabled: bool = True) -> Modality:
    return Modality(
        latent=state.latent,
        sigma=sigma,
        timesteps=state.denoise_mask * sigma,
        positions=state.positions,
        context=context,
        enabled=enabled,
        attention_mask=state.attention_mask,
        keyframes_mask=state.keyframes_mask,
    )


@dataclass
class SimpleDenoiser:
    model: X0Model
    video_context: mx.array
    audio_context: mx.array | None

    def __call__(self, video, audio, sigmas, step):
        sigma = sigmas[step]
        a = modality(audio, self.audio_context, sigma) if audio is not None else None
        return self.model(modality(video, self.video_context, sigma), a)


@dataclass
class GuidedDenoiser:
    model: X0Model
    video_context: mx.array
    audio_context: mx.array | None
    video_guider: MultiModalGuider
    audio_guider: MultiModalGuider
    negative_video_context: mx.array | None = None
    negative_audio_context: mx.array | None = None
    batch_passes: bool = True
    _last: tuple[mx.array, mx.array | None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        wants_negative = self.video_guider.do_unconditional_generation() or self.audio_guider.do_unconditional_generation()
        if wants_negative and self.negative_video_context is None:
            raise ValueError("CFG needs the negative prompt's contexts")

    def _passes(self) -> list[tuple[str, bool, BatchedPerturbations | None]]:
        """(name, uses negative context, perturbations) for each forward pass needed."""
        vg, ag = self.video_guider, self.audio_guider
        passes = [("cond", False, None)]
        if vg.do_unconditional_generation() or ag.do_unconditional_generation():
            passes.append(("uncond", True, None))
        if vg.do_perturbed_generation() or ag.do_perturbed_generation():
            skips = []
            if vg.do_perturbed_generation():
                skips.append(Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, _blocks(vg.params.stg_blocks)))
            if ag.do_perturbed_generation():
                skips.append(Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, _blocks(ag.params.stg_blocks)))
            passes.append(("perturbed", False, BatchedPerturbations.same(1, *skips)))
        if vg.do_isolated_modality_generation() or ag.do_isolated_modality_generation():
            passes.append(
                (
                    "modality",
                    False,
                    BatchedPerturbations.same(
                        1,
                        Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN),
                        Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN),
                    ),
                )
            )
        return passes

    def __call__(self, video, audio, sigmas, step):
        """A guider whose ``skip_step`` skips this step reuses its last prediction, and its
        modality is disabled in the positive passes (official semantics)."""
        skip_video = self.video_guider.should_skip_step(step)
        skip_audio = audio is not None and self.audio_guider.should_skip_step(step)
        if skip_video and (audio is None or skip_audio) and self._last is not None:
            return self._last
        sigma = sigmas[step]
        passes = self._passes()
        enabled = (not skip_video, not skip_audio)
        if self.batch_passes and all(enabled):
            results = self._run_batched(video, audio, sigma, passes)
        else:
            results = {
                name: self._run(video, audio, sigma, negative, perturbations, (True, True) if negative else enabled)
                for name, negative, perturbations in passes
            }
        zero = (0.0, 0.0)
        cond = results["cond"]
        uncond, perturbed, isolated = (results.get(n, zero) for n in ("uncond", "perturbed", "modality"))
        if skip_video:
            video_x0 = self._last[0]
        else:
            video_x0 = self.video_guider.calculate(cond[0], uncond[0], perturbed[0], isolated[0])
        audio_x0 = None
        if audio is not None:
            if skip_audio:
                audio_x0 = self._last[1]
            else:
                audio_x0 = self.audio_guider.calculate(cond[1], uncond[1], perturbed[1], isolated[1])
        self._last = (video_x0, audio_x0)
        return video_x0, audio_x0

    def _contexts(self, negative: bool) -> tuple[mx.array, mx.array | None]:
        if negative:
            return self.negative_video_context, self.negative_audio_context
        return self.video_context, self.audio_context

    def _run(self, video, audio, sigma, negative, perturbations, enabled=(True, True)):
        v_ctx, a_ctx = self._contexts(negative)
        a = modality(audio, a_ctx, sigma, enabled[1]) if audio is not None else None
        return self.model(modality(video, v_ctx, sigma, enabled[0]), a, perturbations)

    def _run_batched(self, video, audio, sigma, passes):
        """All passes as one batch: the same latent repeated, one context and perturbation set per sample."""
        count = len(passes)
        v_ctx, a_ctx = self._batched_contexts(tuple(neg for _, neg, _ in passes), audio is not None)
        v_state = _repeat_state(video, count)
        a = modality(_repeat_state(audio, count), a_ctx, sigma) if audio is not None else None
        per_sample = tuple(p.per_sample[0] if p is not None else () for _, _, p in passes)
        v_out, a_out = self.model(modality(v_state, v_ctx, sigma), a, BatchedPerturbations(per_sample))
        return {
            name: (v_out[i : i + 1], a_out[i : i + 1] if a_out is not None else None)
            for i, (name, _, _) in enumerate(passes)
        }


    def _batched_contexts(self, negatives: tuple[bool, ...], with_audio: bool) -> tuple[mx.array, mx.array | None]:
        """Built once per pass layout, so the transformer sees the same arrays every step (and
        reuses what it cached for them)."""
        cache = self.__dict__.setdefault("_context_batches", {})
        if negatives not in cache:
            video = mx.concatenate([self._contexts(n)[0] for n in negatives], axis=0)
            audio = mx.concatenate([self._contexts(n)[1] for n in negatives], axis=0) if with_audio else None
            cache[negatives] = (video, audio)
        return cache[negatives]


def _blocks(blocks) -> tuple[int, ...] | None:
    return None if blocks is None else tuple(blocks)


def _repeat_state(state: LatentState, count: int) -> LatentState:
    def rep(x):
        return None if x is None else mx.concatenate([x] * count, axis=0)

    return LatentState(
        latent=rep(state.latent),
        denoise_mask=rep(state.denoise_mask),
        positions=rep(state.positions),
        clean_latent=rep(state.clean_latent),
        attention_mask=rep(state.attention_mask),
        keyframes_mask=rep(state.keyframes_mask),
    )


@dataclass(frozen=True)
class AncestralSampler:
    """Ancestral (SDE) Euler sampling: the stepper and the noise stream it re-noises from (its own
    seed, ``seed + noise_seed_offset`` of the version spec; one stream, video drawn before audio)."""

    stepper: EulerAncestralDiffusionStep
    noise: GaussianNoiser

    def step(self, state: LatentState, x0: mx.array, sigmas: mx.array, step: int) -> mx.array:
        """The next latent; a step to sigma 0 is the x0 prediction and draws no noise. Conditioning
        tokens are put back to their clean values after the re-noising."""
        if sigmas[step + 1].item() == 0:
            return x0.astype(state.latent.dtype)
        noise = self.noise.draw(tuple(state.latent.shape), mx.float32)
        latent = self.stepper.step(state.latent, x0, sigmas, step, noise=noise)
        return blend_with_clean(latent, state.denoise_mask, state.clean_latent)


def euler_loop(
    sigmas: mx.array,
    video: LatentState | None,
    audio: LatentState | None,
    denoiser: Denoiser,
    stage: str = "denoise",
    reporter: ProgressReporter | None = None,
    preview: Callable[[mx.array], np.ndarray] | None = None,
    ancestral: AncestralSampler | None = None,
) -> tuple[LatentState, LatentState | None]:
    """Denoise from ``sigmas[0]`` to ``sigmas[-1]``; conditioning tokens stay clean. The state is
    evaluated after every step, and cancellation is checked between steps. ``ancestral``: sample
    with the ancestral Euler step instead of the deterministic one."""
    stepper = EulerDiffusionStep()

    def advance(state: LatentState, x0: mx.array, step: int) -> LatentState:
        x0 = blend_with_clean(x0, state.denoise_mask, state.clean_latent)
        if ancestral is not None:
            return replace(state, latent=ancestral.step(state, x0, sigmas, step))
        return replace(state, latent=stepper.step(state.latent, x0, sigmas, step))

    total = sigmas.shape[0] - 1
    for step in range(total):
        video_x0, audio_x0 = denoiser(video, audio, sigmas, step)
        if video is not None:  # None: audio only (text-to-audio)
            video = advance(video, video_x0, step)
        if audio is not None:
            audio = advance(audio, audio_x0, step)
        mx.eval([state.latent for state in (video, audio) if state is not None])
        if reporter is not None:
            wants = preview is not None and video is not None and reporter.callback is not None
            reporter.report(stage, step + 1, total, preview(video_x0) if wants else None)
    return video, audio


def res2s_denoise(
    sigmas: mx.array,
    video: LatentState,
    audio: LatentState | None,
    denoiser: Denoiser,
    seed: int,
    stage: str = "denoise",
    reporter: ProgressReporter | None = None,
    preview: Callable[[mx.array], np.ndarray] | None = None,
    noise=None,
) -> tuple[LatentState, LatentState | None]:
    """The res_2s loop (``ltx_core.components.res2s``) with progress, previews and cancellation
    between steps; its SDE noise streams are seeded from ``seed`` (or ``noise`` is given)."""
    from ltx_core.components.res2s import Res2sNoise, res2s_loop

    def on_step(step: int, total: int, video_x0: mx.array) -> None:
        if reporter is not None:
            image = preview(video_x0) if preview is not None and reporter.callback is not None else None
            reporter.report(stage, step + 1, total, image)

    return res2s_loop(sigmas, video, audio, denoiser, noise or Res2sNoise(seed), on_step=on_step)
