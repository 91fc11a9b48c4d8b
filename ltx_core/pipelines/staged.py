"""The shape every LTX-2 recipe shares: one denoising stage at full size, or a half-size stage,
×2 latent upsampling and a short full-size refinement. A pipeline is a pair of ``StagePlan``s."""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlx.core as mx

from ltx_core.components.guiders import MultiModalGuider
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas, ltx2_sigmas, refinement_sigmas
from ltx_core.pipelines.blocks import (
    Prompts,
    denoise_stage,
    encode_prompts,
    image_conditionings,
    latent_spaces,
    upsample_spatially,
)
from ltx_core.pipelines.denoising import GuidedDenoiser, SimpleDenoiser
from ltx_core.pipelines.latents import VideoLatentSpace
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, LoraChoice, RequestError


@dataclass(frozen=True)
class StagePlan:
    sigmas: str  # "distilled", "distilled_stage2" or "scheduler" (LTX2Scheduler with request.steps)
    guided: bool = False  # multi-modal guidance with the negative prompt (dev model)
    request_loras: bool = True  # apply the user's LoRAs in this stage
    distilled_lora: bool = False  # apply the distilled LoRA in this stage (dev model, stage 2)


@dataclass(frozen=True)
class Latents:
    video: mx.array  # (B, C, F, H, W)
    audio: mx.array | None  # (B, C, T, M)
    prompt: str
    notices: tuple[str, ...] = ()


class StagedPipeline:
    name = ""
    first = StagePlan("distilled")
    second: StagePlan | None = StagePlan("distilled_stage2")
    round_sizes = False  # round width/height to the size multiple with a notice instead of rejecting

    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger

    @property
    def size_multiple(self) -> int:
        return 64 if self.second is not None else 32  # two stages: stage 1 runs at half size

    def prepare(self, request: GenerationRequest) -> tuple[GenerationRequest, tuple[str, ...]]:
        notices: list[str] = []
        if self.round_sizes:
            m = self.size_multiple
            height, width = (max(m, round(v / m) * m) for v in (request.height, request.width))
            if (height, width) != (request.height, request.width):
                notices.append(
                    f"{request.width}x{request.height} was rounded to {width}x{height}: this pipeline needs "
                    f"multiples of {m}."
                )
                request = replace(request, height=height, width=width)
        request.validate(self.size_multiple)
        self.check_models(request)
        self.check_memory(request)
        return request, tuple(notices)

    @property
    def memory_kind(self) -> str:
        if self.second is None:
            return "one_stage"
        return "two_stage" if self.first.guided else "distilled"

    def check_memory(self, request: GenerationRequest) -> None:
        """Refuse, before anything loads, a job predicted not to fit in this machine's memory."""
        preset = self.ledger.preset
        if preset is None:
            return
        from ltx_core.memory import Guidance, available_memory, check_fits, estimate_for_preset
        from ltx_core.presets import load_presets

        guided = self.first.guided or (self.second is not None and self.second.guided)
        guidance = None
        if guided:
            v, a = MultiModalGuider(request.video_guidance), MultiModalGuider(request.audio_guidance)
            checks = (
                MultiModalGuider.do_unconditional_generation,
                MultiModalGuider.do_perturbed_generation,
                MultiModalGuider.do_isolated_modality_generation,
            )
            passes = 1 + sum(int(check(v) or check(a)) for check in checks)
            guidance = Guidance(passes=passes, batched=self.ledger.batch_guidance_passes, contexts=2)
        estimate = estimate_for_preset(
            self.ledger.checkpoint.config, preset, height=request.height, width=request.width,
            frames=request.frames, fps=request.fps, audio=request.generate_audio, pipeline=self.memory_kind,
            guidance=guidance, gemma_config=self.ledger.gemma_config(), upsampler_config=self.ledger.upsampler_config(),
        )  # fmt: skip
        check_fits(estimate, available_memory(margin_bytes=self.ledger.memory_margin), load_presets(), preset.name)

    def check_models(self, request: GenerationRequest) -> None:
        """Raise before anything loads when a model file this recipe needs is missing."""
        if self.second is not None:
            self.ledger.require("spatial_upsampler")
        needs_lora = any(plan is not None and plan.distilled_lora for plan in (self.first, self.second))
        if needs_lora:
            self.ledger.require("distilled_lora")
        if self.ledger.block_streaming and self.ledger.transformer_quantization is not None:
            from ltx_core.loader.quantization import QuantizationSpec

            if QuantizationSpec.from_metadata(self.ledger.checkpoint.file) is None:
                bits = self.ledger.transformer_quantization.bits
                raise RequestError(
                    f"block streaming reads each block from disk at every step; quantizing {self.ledger.checkpoint.name} "
                    f"to {bits}-bit there would take minutes per step. Convert it once: python -m ltx_core convert "
                    f"{self.ledger.checkpoint.name} ltx-2-{bits}bit.safetensors --bits {bits}, and use the converted file."
                )
        if self.ledger.block_streaming and (needs_lora or request.loras):
            raise RequestError(
                "LoRAs need the transformer in memory, but block streaming (the 'compact' preset) reads each "
                "block from disk: choose the 'balanced' preset or a pipeline without LoRAs (distilled, one-stage)."
            )

    def generate(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
    ) -> Latents:
        request, notices = self.prepare(request)
        ledger = self.ledger
        noiser = noiser or GaussianNoiser(request.seed)
        guided = self.first.guided or (self.second is not None and self.second.guided)
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, request, with_negative=guided)

        two_stage = self.second is not None
        height, width = (request.height // 2, request.width // 2) if two_stage else (request.height, request.width)
        with ledger.stage("stage 1"):
            video, audio = self._stage(self.first, request, prompts, noiser, reporter, "stage 1", height, width)
        if two_stage:
            with ledger.stage("upsample"):
                upscaled = upsample_spatially(ledger, video)
            with ledger.stage("stage 2"):
                video, audio = self._stage(
                    self.second, request, prompts, noiser, reporter, "stage 2", request.height, request.width,
                    initial=(upscaled, audio),
                )  # fmt: skip
        ledger.release("transformer", "video_encoder", "video_statistics")
        return Latents(video, audio, prompts.prompt, notices)

    def conditionings(self, plan: StagePlan, request: GenerationRequest, space: VideoLatentSpace, height: int, width: int) -> list:
        return image_conditionings(self.ledger, request.images, space, height, width)

    def _stage(self, plan, request, prompts, noiser, reporter, name, height, width, initial=None):
        ledger = self.ledger
        video_space, audio_space = latent_spaces(ledger, height, width, request.frames, request.fps)
        if not request.generate_audio:
            audio_space = None
        conditionings = self.conditionings(plan, request, video_space, height, width)
        loras = (request.loras if plan.request_loras else ()) + (
            (LoraChoice(ledger.paths.distilled_lora, 1.0),) if plan.distilled_lora else ()
        )
        model = ledger.transformer(loras)
        denoiser = self._denoiser(plan, request, prompts, model, audio_space is not None, ledger.batch_guidance_passes)
        if plan.sigmas == "scheduler":
            sigmas = ltx2_sigmas(request.steps)
        elif plan.sigmas == "distilled":
            sigmas = distilled_sigmas(1)
        else:
            sigmas = refinement_sigmas(request.refine_steps)
        noise_scale = float(sigmas[0].item()) if initial is not None else 1.0
        video_init, audio_init = initial if initial is not None else (None, None)
        result = denoise_stage(
            ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, name, reporter,
            noise_scale=noise_scale, initial_video=video_init, initial_audio=audio_init,
        )  # fmt: skip
        model.velocity_model.clear_run_cache()
        return result

    @staticmethod
    def _denoiser(plan: StagePlan, request: GenerationRequest, prompts: Prompts, model, with_audio: bool, batched: bool):
        positive = prompts.embeddings.positive
        audio_context = positive.audio if with_audio else None
        if not plan.guided:
            return SimpleDenoiser(model, positive.video, audio_context)
        negative = prompts.embeddings.negative
        return GuidedDenoiser(
            model, positive.video, audio_context,
            MultiModalGuider(request.video_guidance), MultiModalGuider(request.audio_guidance),
            negative.video, negative.audio if with_audio else None, batch_passes=batched,
        )  # fmt: skip
