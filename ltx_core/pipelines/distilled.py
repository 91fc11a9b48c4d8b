"""Distilled two-stage pipeline: half-size stage with the 8 distilled sigmas, ×2 latent
upsampling, full-size refinement with the 3 stage-2 sigmas; no guidance."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas
from ltx_core.pipelines.blocks import (
    Prompts,
    denoise_stage,
    encode_prompts,
    image_conditionings,
    latent_spaces,
    upsample_spatially,
)
from ltx_core.pipelines.denoising import SimpleDenoiser
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest


@dataclass(frozen=True)
class Latents:
    video: mx.array  # (B, C, F, H, W)
    audio: mx.array | None  # (B, C, T, M)
    prompt: str


class DistilledPipeline:
    name = "distilled"
    size_multiple = 64  # stage 1 runs at half size on a 32-pixel latent grid

    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger

    def generate(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
    ) -> Latents:
        request.validate(self.size_multiple)
        ledger = self.ledger
        noiser = noiser or GaussianNoiser(request.seed)
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, request, with_negative=False)
        contexts = prompts.embeddings.positive
        audio_context = contexts.audio if request.generate_audio else None
        half_h, half_w = request.height // 2, request.width // 2

        with ledger.stage("stage 1"):
            video_space, audio_space = latent_spaces(ledger, half_h, half_w, request.frames, request.fps)
            conditionings = image_conditionings(ledger, request.images, video_space, half_h, half_w)
            denoiser = SimpleDenoiser(ledger.get("transformer"), contexts.video, audio_context)
            video, audio = denoise_stage(
                ledger, video_space, audio_space if request.generate_audio else None, distilled_sigmas(1),
                denoiser, noiser, conditionings, "stage 1", reporter,
            )  # fmt: skip

        with ledger.stage("upsample"):
            upscaled = upsample_spatially(ledger, video)

        with ledger.stage("stage 2"):
            sigmas = distilled_sigmas(2)
            video_space, audio_space = latent_spaces(ledger, request.height, request.width, request.frames, request.fps)
            conditionings = image_conditionings(ledger, request.images, video_space, request.height, request.width)
            video, audio = denoise_stage(
                ledger, video_space, audio_space if request.generate_audio else None, sigmas, denoiser, noiser,
                conditionings, "stage 2", reporter, noise_scale=float(sigmas[0].item()),
                initial_video=upscaled, initial_audio=audio,
            )  # fmt: skip
            denoiser.model.velocity_model.clear_run_cache()
            ledger.release("transformer", "video_encoder", "video_statistics")
        return Latents(video, audio, prompts.prompt)
