"""IC-LoRA control: a control video (depth, pose or edges) encoded and appended as reference
tokens, the IC-LoRA applied in the distilled half-size stage; the refinement runs without it."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import image_conditionings
from ltx_core.pipelines.descriptor import CONTROL_FIELDS, COMMON_FIELDS, REFINE_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.latents import ConditioningError, ReferenceVideoConditioning
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.staged import StagedPipeline


class ICLoraPipeline(StagedPipeline):
    def check_models(self, request: GenerationRequest) -> None:
        super().check_models(request)
        if request.control_video is None:
            raise RequestError("IC-LoRA control needs a control video (depth, pose or edges); make one with Canny edges.")
        if not request.loras:
            raise RequestError("IC-LoRA control needs an IC-LoRA file (e.g. ltx-2-19b-ic-lora-canny-control.safetensors).")
        factor = self.downscale_factor(request)
        for size in (request.height // 2, request.width // 2):
            if size % (32 * factor):
                raise RequestError(
                    f"the IC-LoRA works on references downscaled {factor}x: width and height must be multiples of "
                    f"{64 * factor} for this pipeline."
                )

    @staticmethod
    def downscale_factor(request: GenerationRequest) -> int:
        from ltx_core.loader.lora import reference_downscale_factor

        return reference_downscale_factor([str(lora.path) for lora in request.loras])

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
    second=StagePlan("distilled_stage2", request_loras=False),
    needs=(Role.SPATIAL_UPSAMPLER,),
    fields=COMMON_FIELDS | REFINE_FIELDS | CONTROL_FIELDS,
    factory=ICLoraPipeline,
)
