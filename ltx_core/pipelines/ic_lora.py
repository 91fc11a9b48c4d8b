"""IC-LoRA control: a control video (depth, pose or edges) encoded and appended as reference
tokens, the IC-LoRA applied in the distilled half-size stage; the refinement runs without it.
Style LoRAs (``loras`` beside ``control_loras``) apply in both stages at their per-stage strengths."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import image_conditionings
from ltx_core.pipelines.descriptor import CONTROL_FIELDS, COMMON_FIELDS, REFINE_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.latents import ConditioningError, ReferenceVideoConditioning
from ltx_core.pipelines.request import GenerationRequest, LoraChoice, RequestError
from ltx_core.pipelines.staged import StagedPipeline


class ICLoraPipeline(StagedPipeline):
    def check_models(self, request: GenerationRequest) -> None:
        super().check_models(request)
        if request.control_video is None:
            raise RequestError("IC-LoRA control needs a control video (depth, pose or edges); make one with Canny edges.")
        if not self.control_loras(request):
            raise RequestError("IC-LoRA control needs an IC-LoRA file (e.g. ltx-2-19b-ic-lora-canny-control.safetensors).")
        factor = self.downscale_factor(request)
        for size in self.descriptor.stage1_size(request.height, request.width, request.spatial_upscale):
            if size % (32 * factor):
                multiple = self.descriptor.size_multiple_for(request.spatial_upscale) * factor
                raise RequestError(
                    f"the IC-LoRA works on references downscaled {factor}x: width and height must be multiples of "
                    f"{multiple} for this pipeline."
                )

    @staticmethod
    def control_loras(request: GenerationRequest) -> tuple[LoraChoice, ...]:
        """The IC-LoRAs: ``control_loras``, or (when none are given) ``loras``, as the studio's tab passes them."""
        return request.control_loras or request.loras

    def user_loras(self, request: GenerationRequest) -> tuple[LoraChoice, ...]:
        return request.loras if request.control_loras else ()

    def stage_loras(self, plan, request: GenerationRequest) -> tuple[LoraChoice, ...]:
        control = tuple(
            LoraChoice(lora.path, lora.strength if plan is self.first else 0.0) for lora in self.control_loras(request)
        )
        return control + super().stage_loras(plan, request)

    @classmethod
    def downscale_factor(cls, request: GenerationRequest) -> int:
        from ltx_core.loader.lora import reference_downscale_factor

        return reference_downscale_factor([str(lora.path) for lora in cls.control_loras(request)])

    def conditionings(self, plan, request, space, height, width) -> list:
        items = image_conditionings(self.ledger, request.images, space, height, width)
        if plan is not self.first:
            return items
        from ltx_core.media.video_read import load_video_conditioning

        factor = self.downscale_factor(request)
        pixels = load_video_conditioning(request.control_video, height // factor, width // factor, request.frames)
        if pixels.shape[2] != request.frames:
            raise ConditioningError(
                f"the control video gives {pixels.shape[2]} frames; {request.frames} are needed (use a longer video "
                "or fewer frames)."
            )
        latent = self.ledger.video_encoder()(pixels.astype(self.ledger.dtype))
        items.append(ReferenceVideoConditioning(latent, factor, request.control_strength, request.control_attention))
        return items


ICLoraPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="ic-lora",
    title="IC-LoRA control",
    summary="A control video (depth, pose or edges) steers the distilled model through an IC-LoRA.",
    first=StagePlan("distilled"),
    second=StagePlan("distilled_stage2"),  # IC-LoRAs at 0 (stage_loras), style LoRAs at their stage-2 strength
    needs=(Role.SPATIAL_UPSAMPLER,),
    fields=COMMON_FIELDS | REFINE_FIELDS | CONTROL_FIELDS,
    factory=ICLoraPipeline,
)
