"""Text-to-audio, audio only (the official ``t2a_one_stage`` of ltx-pipelines 1.2.0): the transformer runs
its audio stream alone (no video tokens, so no audio-video cross-attention), one guided stage with the
dev model on the audio modality only (CFG with the negative prompt, STG on the audio self-attention; the
cross-modal guidance is off), then the audio VAE decoder and vocoder. The clip's length is ``frames`` /
``fps`` seconds (as the official ``num_frames`` / ``frame_rate``); the output is a WAV file."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mlx.core as mx

from ltx_core.components.guiders import MultiModalGuider
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import ltx2_sigmas
from ltx_core.model.transformer import BatchedPerturbations, Perturbation, PerturbationType, X0Model
from ltx_core.pipelines.blocks import Prompts, check_memory, encode_prompts, latent_spaces
from ltx_core.pipelines.denoising import euler_loop, modality
from ltx_core.pipelines.descriptor import GUIDED_FIELDS, Latents, PipelineDescriptor, StagePlan
from ltx_core.pipelines.ledger import Component
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.staged import StagedPipeline

# Audio only: no sizes, images or video; ``frames`` and ``fps`` give the duration.
AUDIO_ONLY_FIELDS = frozenset({"prompt", "seed", "frames", "fps", "loras", "enhance_prompt", "embeddings"}) | GUIDED_FIELDS
PLACEHOLDER_SIZE = 32  # the request's pixel size is unused; the memory check sees the smallest video


@dataclass
class AudioOnlyDenoiser:
    """The official guided denoiser with the video modality absent: conditional, unconditional (negative
    prompt) and perturbed (audio self-attention skipped) passes, one after another."""

    model: X0Model
    context: mx.array
    negative_context: mx.array
    guider: MultiModalGuider
    _last: mx.array | None = field(default=None, init=False, repr=False)

    def __call__(self, video, audio, sigmas, step):
        if self.guider.should_skip_step(step) and self._last is not None:
            return None, self._last
        sigma = sigmas[step]

        def run(context: mx.array, perturbations: BatchedPerturbations | None = None) -> mx.array:
            return self.model(None, modality(audio, context, sigma), perturbations)[1]

        cond = run(self.context)
        uncond = run(self.negative_context) if self.guider.do_unconditional_generation() else 0.0
        perturbed = 0.0
        if self.guider.do_perturbed_generation():
            blocks = self.guider.params.stg_blocks
            skip = Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, None if blocks is None else tuple(blocks))
            perturbed = run(self.context, BatchedPerturbations.same(1, skip))
        self._last = self.guider.calculate(cond, uncond, perturbed, 0.0)
        return None, self._last


class TextToAudioPipeline(StagedPipeline):
    def prepare(self, request: GenerationRequest, text_encoder: bool = True) -> tuple[GenerationRequest, tuple[str, ...]]:
        if request.auto_frames:
            raise RequestError("text-to-audio needs a duration: give frames (8k+1) at an fps, e.g. 121 at 24 fps = 5 s.")
        if request.images or request.audio is not None or request.control_video is not None:
            raise RequestError("text-to-audio takes a prompt only: remove the images, audio or control video.")
        # Cross-modal guidance needs the video stream, which is absent (the official recipe sets it to 1).
        request = replace(
            request, height=PLACEHOLDER_SIZE, width=PLACEHOLDER_SIZE, generate_audio=True,
            audio_guidance=replace(request.audio_guidance, modality_scale=1.0),
        )  # fmt: skip
        request.validate(self.descriptor.size_multiple)
        self.check_models(request)
        if text_encoder and request.embeddings is None:
            self.ledger.check_text_encoder()
        check_memory(self.ledger, self.descriptor, request, text_encoder, self.all_stage_loras(request))
        return request, ()

    def produce(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
        ancestral_noiser: GaussianNoiser | None = None,
    ) -> Latents:
        ledger = self.ledger
        noiser = noiser or GaussianNoiser(request.seed)
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, request, with_negative=True)
        with ledger.stage("stage 1"):
            _, space = latent_spaces(ledger, PLACEHOLDER_SIZE, PLACEHOLDER_SIZE, request.frames, request.fps)
            audio = noiser(space.initial_state(ledger.dtype), 1.0)
            model = ledger.transformer(self.stage_loras(self.first, request))
            positive, negative = prompts.embeddings.positive, prompts.embeddings.negative
            denoiser = AudioOnlyDenoiser(model, positive.audio, negative.audio, MultiModalGuider(request.audio_guidance))
            _, audio = euler_loop(ltx2_sigmas(request.steps), None, audio, denoiser, "stage 1", reporter)
            model.velocity_model.clear_run_cache()
        ledger.release(Component.TRANSFORMER)
        return Latents(None, space.finish(audio), prompts.prompt)


TextToAudioPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="text-to-audio",
    title="Text to audio (audio only)",
    summary="Audio alone from a prompt: the transformer's audio stream with the dev model and audio guidance; a WAV.",
    first=StagePlan("scheduler", guided=True),
    fields=AUDIO_ONLY_FIELDS,
    variant="dev",
    factory=TextToAudioPipeline,
)
