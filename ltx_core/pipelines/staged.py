"""The shape every LTX-2 recipe shares: one denoising stage at full size, or a half-size stage,
×2 latent upsampling and a short full-size refinement. A pipeline is its descriptor's pair of
``StagePlan``s; ``prepare`` checks everything before any model loads, ``produce`` runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep
from ltx_core.components.guiders import MultiModalGuider
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas, ltx2_sigmas, refinement_sigmas
from ltx_core.model.duration.predictor import MAX_SECONDS, MIN_SECONDS, seconds_to_num_frames
from ltx_core.model_compat import check_lora_version
from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import (
    Prompts,
    check_memory,
    denoise_stage,
    encode_prompts,
    estimate_job,
    image_conditionings,
    latent_spaces,
    upsample_spatially,
)
from ltx_core.pipelines.denoising import AncestralSampler, GuidedDenoiser, SimpleDenoiser
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor, StagePlan
from ltx_core.pipelines.keyframe_slots import evenly_spaced_keyframes, slot_conditionings
from ltx_core.pipelines.latents import VideoLatentSpace
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, LoraChoice, RequestError


class StagedPipeline:
    descriptor: PipelineDescriptor

    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger
        self._ancestral_noiser: GaussianNoiser | None = None  # set per run by ``produce``

    @property
    def first(self) -> StagePlan:
        return self.descriptor.first

    @property
    def second(self) -> StagePlan | None:
        return self.descriptor.second

    def prepare(self, request: GenerationRequest, text_encoder: bool = True) -> tuple[GenerationRequest, tuple[str, ...]]:
        """Round or refuse sizes, validate the request, check model files and memory: all
        before any model loads. ``text_encoder`` False: the prompt contexts will be given."""
        notices: list[str] = []
        descriptor = self.descriptor
        try:
            multiple = descriptor.size_multiple_for(request.spatial_upscale)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        if descriptor.round_sizes:
            height, width = descriptor.snap_size(request.height, request.width, request.spatial_upscale)
            if (height, width) != (request.height, request.width):
                notices.append(
                    f"{request.width}x{request.height} was rounded to {width}x{height}: this pipeline needs "
                    f"multiples of {multiple}."
                )
                request = replace(request, height=height, width=width)
        request.validate(multiple)
        self.check_models(request)
        self.check_generated_keyframes(request)
        request = request.with_image_crf(self.ledger.version)
        if request.auto_frames:  # refused now without a duration head
            self.ledger.check_duration_head()
        if text_encoder and request.embeddings is None:
            self.ledger.check_text_encoder()
            if request.enhance_prompt:
                self.ledger.check_enhancer()
        if request.auto_frames:
            # The shortest length now; the check runs again on the predicted one
            # (``resolve_duration``), before the transformer loads.
            shortest = replace(request, frames=seconds_to_num_frames(MIN_SECONDS, request.fps))
            check_memory(self.ledger, descriptor, shortest, text_encoder, self.all_stage_loras(request))
        else:
            check_memory(self.ledger, descriptor, request, text_encoder, self.all_stage_loras(request))
        return request, tuple(notices)

    def resolve_duration(self, request: GenerationRequest, prompts: Prompts) -> tuple[GenerationRequest, str, dict]:
        """``frames`` "auto": the duration head predicts seconds from the prompt contexts, snapped to
        the 8k+1 grid at the request's fps and clamped to [1 s, 20 s] (the official
        ``DurationPredictor``); the request then is checked again (images inside the video, memory)."""
        ledger = self.ledger
        predictor = ledger.get(Component.DURATION_PREDICTOR)
        positive = prompts.embeddings.positive
        seconds = predictor.seconds(positive.video, positive.audio)
        ledger.release(Component.DURATION_PREDICTOR)
        frames = seconds_to_num_frames(seconds, request.fps)
        request = replace(request, frames=frames)
        request.validate(self.descriptor.size_multiple_for(request.spatial_upscale))
        check_memory(ledger, self.descriptor, request, False, self.all_stage_loras(request))
        clamped = "" if MIN_SECONDS <= seconds <= MAX_SECONDS else f", clamped to {MIN_SECONDS:g}-{MAX_SECONDS:g} s"
        notice = (
            f"auto length: the duration head predicted {seconds:.2f} s{clamped} → {frames} frames "
            f"({frames / request.fps:.2f} s at {request.fps:g} fps)."
        )
        return request, notice, {"predicted_seconds": round(seconds, 4), "frames": frames}

    def memory_estimate(self, request: GenerationRequest, text_encoder: bool = True):
        """The job's per-stage memory estimate with every LoRA each stage applies (nothing loads)."""
        return estimate_job(self.ledger, self.descriptor, request, text_encoder, self.all_stage_loras(request))

    def check_generated_keyframes(self, request: GenerationRequest) -> None:
        """Refuse generated keyframe slots a recipe or a model cannot make, before anything loads."""
        count = request.generated_keyframes
        if not count:
            return
        if not self.descriptor.uses("generated_keyframes"):
            raise RequestError(f"the {self.descriptor.title} pipeline does not take a number of generated keyframes: set it to 0.")
        self.check_keyframe_embedding()
        if not request.auto_frames:
            evenly_spaced_keyframes(count, request.frames)

    def check_keyframe_embedding(self) -> None:
        """Only a transformer trained with the keyframe embedding can generate keyframe slots."""
        transformer = self.ledger.checkpoint.config.get("transformer", {})
        if not transformer.get("use_keyframes_abs_pos_embedding", False):
            raise RequestError(
                f"{Path(self.ledger.paths.checkpoint).name} has no keyframe embedding (use_keyframes_abs_pos_embedding), "
                "so it cannot generate keyframe slots: use an LTX-2.5 checkpoint or set generated keyframes to 0."
            )

    def all_stage_loras(self, request: GenerationRequest) -> dict:
        """Each denoising stage's LoRAs (for the memory check)."""
        loras = {"stage 1": self.stage_loras(self.first, request)}
        if self.second is not None:
            loras["stage 2"] = self.stage_loras(self.second, request)
        return loras

    def check_models(self, request: GenerationRequest) -> None:
        """Raise before anything loads when a model file this recipe needs is missing or wrong."""
        ledger, descriptor = self.ledger, self.descriptor
        self.check_version()
        ledger.check_files(*descriptor.needs)
        if Role.SPATIAL_UPSAMPLER in descriptor.needs and request.spatial_upscale != 2.0:
            ledger.require(Role.SPATIAL_UPSAMPLER, request.spatial_upscale)
        for lora in (*request.loras, *request.control_loras):
            if not Path(lora.path).is_file():
                raise RequestError(f"the LoRA file {lora.path} was not found: check the path or remove the LoRA.")
            check_lora_version(lora.path, ledger.paths.checkpoint)
        if len(request.images) < descriptor.min_images:
            raise RequestError(f"{descriptor.title} needs at least {descriptor.min_images} images at different frames.")
        runtime = ledger.runtime
        if runtime.block_streaming and runtime.transformer_quantization is not None:
            from ltx_core.loader.quantization import QuantizationSpec

            if QuantizationSpec.from_metadata(ledger.checkpoint.file) is None:
                bits = runtime.transformer_quantization.bits
                raise RequestError(
                    f"block streaming reads each block from disk at every step; quantizing {ledger.checkpoint.name} "
                    f"to {bits}-bit there would take minutes per step. Convert it once: python -m ltx_core convert "
                    f"{ledger.checkpoint.name} ltx-2-{bits}bit.safetensors --bits {bits}, and use the converted file."
                )

    def check_version(self) -> None:
        """Refuse, from the checkpoint's header alone, a model version this recipe is not offered for."""
        descriptor, version = self.descriptor, self.ledger.version
        if not descriptor.offered_by(version):
            from ltx_core.model_spec import VERSIONS

            offered = " or ".join(VERSIONS[v].title for v in descriptor.versions if v in VERSIONS)
            raise RequestError(
                f"the {descriptor.title} pipeline needs an {offered} checkpoint, but "
                f"{Path(self.ledger.paths.checkpoint).name} is an {version.title} ({version.version}) checkpoint: "
                "choose another pipeline or load an " + offered + " checkpoint."
            )

    def user_loras(self, request: GenerationRequest) -> tuple[LoraChoice, ...]:
        """The user's LoRAs that follow the stages' ``request_loras`` and per-stage strengths."""
        return request.loras

    def stage_loras(self, plan: StagePlan, request: GenerationRequest) -> tuple[LoraChoice, ...]:
        """Every LoRA the recipe manages, at its strength in this stage (0: not in this stage, which
        takes it out again where ``convert --lora`` fused it into the checkpoint)."""
        stage = 1 if plan is self.first else 2
        loras = [LoraChoice(lora.path, lora.strength_in(stage) if plan.request_loras else 0.0)
                 for lora in self.user_loras(request)]  # fmt: skip
        distilled = self.ledger.paths.distilled_lora
        if plan.distilled_lora:
            loras.append(LoraChoice(distilled, self.distilled_lora_strength(plan)))
        elif distilled is not None and Role.DISTILLED_LORA in self.descriptor.needs:
            loras.append(LoraChoice(distilled, 0.0))
        return tuple(loras)

    def distilled_lora_strength(self, plan: StagePlan) -> float:
        """The distilled LoRA's strength in a stage that applies it (1.0; the HQ recipe's differ)."""
        return 1.0

    def generate(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
        ancestral_noiser: GaussianNoiser | None = None,
        **inputs: Any,
    ) -> Latents:
        """``prepare`` then ``produce`` (noise, prompt contexts and a pipeline's own ``inputs``, e.g.
        audio-to-video's log-mel, may be injected)."""
        request, notices = self.prepare(request, text_encoder=prompts is None)
        latents = self.produce(request, reporter, noiser, prompts, ancestral_noiser, **inputs)
        return replace(latents, notices=notices + latents.notices)

    def produce(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
        ancestral_noiser: GaussianNoiser | None = None,
    ) -> Latents:
        """``ancestral_noiser``: the re-noising stream of an ancestral stage (default: seeded from
        the request's seed and the version spec's offset)."""
        ledger = self.ledger
        noiser = noiser or GaussianNoiser(request.seed)
        self._ancestral_noiser = ancestral_noiser
        notices: tuple[str, ...] = ()
        duration = None
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, request, with_negative=self.descriptor.guided)
            if request.auto_frames:
                request, notice, duration = self.resolve_duration(request, prompts)
                notices += (notice,)

        two_stage = self.second is not None
        height, width = self.descriptor.stage1_size(request.height, request.width, request.spatial_upscale)
        with ledger.stage("stage 1"):
            video, audio = self._stage(self.first, request, prompts, noiser, reporter, "stage 1", height, width)
        if two_stage:
            with ledger.stage("upsample"):
                upscaled = upsample_spatially(ledger, video, spatial_upscale=request.spatial_upscale)
            with ledger.stage("stage 2"):
                video, audio = self._stage(
                    self.second, request, prompts, noiser, reporter, "stage 2", request.height, request.width,
                    initial=(upscaled, audio),
                )  # fmt: skip
        ledger.release(Component.TRANSFORMER, Component.VIDEO_ENCODER, Component.VIDEO_STATISTICS)
        settings = None
        if duration is not None:  # the sidecar records the frame count that ran, and that it was predicted
            from ltx_core.pipelines.runner import request_settings

            settings = {**request_settings(self.descriptor, request), "auto_duration": duration}
        return Latents(video, audio, prompts.prompt, notices=notices, settings=settings)

    def conditionings(self, plan: StagePlan, request: GenerationRequest, space: VideoLatentSpace, height: int, width: int) -> list:
        """The request's images, and in the first stage its generated keyframe slots (appended last)."""
        items = image_conditionings(self.ledger, request.images, space, height, width)
        if plan is self.first and request.generated_keyframes:
            items += slot_conditionings(evenly_spaced_keyframes(request.generated_keyframes, request.frames))
        return items

    def audio_conditionings(self, plan: StagePlan, request: GenerationRequest) -> tuple:
        """Audio latent frames kept fixed in a stage (``AudioLatentConditioning``s; none by default)."""
        return ()

    def _stage(self, plan, request, prompts, noiser, reporter, name, height, width, initial=None):
        ledger = self.ledger
        video_space, audio_space = latent_spaces(ledger, height, width, request.frames, request.fps)
        if not request.generate_audio:
            audio_space = None
        conditionings = self.conditionings(plan, request, video_space, height, width)
        model = ledger.transformer(self.stage_loras(plan, request))
        denoiser = self._denoiser(plan, request, prompts, model, audio_space is not None, ledger.runtime.batch_guidance_passes)
        if plan.sigmas == "scheduler":
            sigmas = ltx2_sigmas(request.steps)
        elif plan.sigmas == "scheduler_tokens":
            shape = video_space.shape
            sigmas = ltx2_sigmas(request.steps, tokens=shape.frames * shape.height * shape.width)
        elif plan.sigmas == "distilled":
            sigmas = distilled_sigmas(1)
        else:
            sigmas = refinement_sigmas(request.refine_steps)
        noise_scale = float(sigmas[0].item()) if initial is not None else 1.0
        video_init, audio_init = initial if initial is not None else (None, None)
        result = denoise_stage(
            ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, name, reporter,
            noise_scale=noise_scale, initial_video=video_init, initial_audio=audio_init,
            ancestral=self._sampler(plan, request), sampler=plan.sampler, seed=request.seed,
            audio_conditionings=self.audio_conditionings(plan, request) if audio_space is not None else (),
        )  # fmt: skip
        model.velocity_model.clear_run_cache()
        return result

    def _sampler(self, plan: StagePlan, request: GenerationRequest) -> AncestralSampler | None:
        """The model version's sampler for a stage that follows it (None: deterministic Euler)."""
        spec = self.ledger.version.distilled_stage1 if plan.version_sampler else None
        if spec is None:
            return None
        noise = self._ancestral_noiser or GaussianNoiser(request.seed + spec.noise_seed_offset)
        return AncestralSampler(EulerAncestralDiffusionStep(spec.eta, spec.s_noise), noise)

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
