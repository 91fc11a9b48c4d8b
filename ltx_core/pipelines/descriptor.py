"""The one description of each pipeline: what it is called, its size rule, its stages, the
models it needs and the request fields it reads. The pipeline code, the CLI, the studio and the
memory estimator all ask these descriptors (``ltx_core.pipelines.registry.PIPELINES``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlx.core as mx
import numpy as np

from ltx_core.memory.estimate import DenoisePass
from ltx_core.model_spec import Role

if TYPE_CHECKING:
    from ltx_core.model_spec import VersionSpec
    from ltx_core.pipelines.ledger import ModelLedger

# Request fields, grouped by what reads them (the sidecar records a pipeline's fields only).
COMMON_FIELDS = frozenset(
    {"prompt", "seed", "height", "width", "frames", "fps", "images", "loras", "generate_audio", "enhance_prompt",
     "embeddings"}
)  # fmt: skip
GUIDED_FIELDS = frozenset({"negative_prompt", "steps", "video_guidance", "audio_guidance"})
REFINE_FIELDS = frozenset({"refine_steps"})
CONTROL_FIELDS = frozenset({"control_video", "control_strength", "control_attention", "control_loras"})
AUDIO_FIELDS = frozenset({"audio", "audio_start", "audio_max_seconds"})
SLOT_FIELDS = frozenset({"generated_keyframes"})  # LTX-2.5 generated keyframe slots in the first stage


SAMPLERS = ("euler", "res2s")
# The spatial latent upsamplers a two-stage recipe refines through, as output / stage-1 size
# (num, den): x2 runs stage 1 at half size, x1.5 at two thirds (LTX-2.3's rational resampler).
SPATIAL_UPSCALES = {2.0: (2, 1), 1.5: (3, 2)}


def upscale_ratio(spatial_upscale: float) -> tuple[int, int]:
    try:
        return SPATIAL_UPSCALES[float(spatial_upscale)]
    except (KeyError, TypeError, ValueError):
        choices = " or ".join(f"{s:g}" for s in SPATIAL_UPSCALES)
        raise ValueError(f"the spatial upscale must be {choices}, got {spatial_upscale!r}.") from None


@dataclass(frozen=True)
class StagePlan:
    # "distilled", "distilled_stage2", "scheduler" (LTX2Scheduler with request.steps, for 4096 tokens) or
    # "scheduler_tokens" (the same, shifted for the stage's own latent token count, as the HQ recipe does)
    sigmas: str
    guided: bool = False  # multi-modal guidance with the negative prompt (dev model)
    request_loras: bool = True  # apply the user's LoRAs in this stage
    distilled_lora: bool = False  # apply the distilled LoRA in this stage (dev model)
    version_sampler: bool = False  # sample as the model version's spec says (LTX-2.5 distilled stage 1: ancestral)
    sampler: str = "euler"  # "euler" (first order) or "res2s" (second order with SDE noise, the HQ recipe)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}: one of {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class PipelineDescriptor:
    name: str  # CLI / API name
    title: str  # what the studio shows
    summary: str
    first: StagePlan | None = None  # None: not a text-to-video recipe (upscaling)
    second: StagePlan | None = None  # a refinement at full size after x2 latent upsampling
    round_sizes: bool = False  # round width/height to the size multiple with a notice instead of refusing
    needs: tuple[Role, ...] = ()  # companion files, checked before anything loads
    fields: frozenset[str] = COMMON_FIELDS
    min_images: int = 0
    variant: str = "distilled"  # the checkpoint it is meant for ("dev": the guided recipes)
    factory: Any = None  # (ledger) -> the pipeline object
    versions: tuple[str, ...] = ()  # the model versions that offer it ("2.3", ...); empty: every version
    defaults: Any = None  # (VersionSpec) -> request defaults of this recipe (steps, guidance, size)

    def offered_by(self, version: "VersionSpec") -> bool:
        return not self.versions or version.version in self.versions

    def request_defaults(self, version: "VersionSpec") -> dict[str, Any]:
        """The request values this recipe starts from on ``version``: the version's dev-model
        defaults, overridden by the recipe's own (e.g. the HQ steps and guidance)."""
        values: dict[str, Any] = dict(
            steps=version.steps, video_guidance=version.video_guidance, audio_guidance=version.audio_guidance,
            fps=version.fps,
        )  # fmt: skip
        if self.defaults is not None and self.offered_by(version):
            values.update(self.defaults(version))
        return values

    @property
    def size_multiple(self) -> int:
        """Two stages run stage 1 at half size, so sizes are multiples of 64; one stage: 32."""
        return self.size_multiple_for(2.0)

    def size_multiple_for(self, spatial_upscale: float = 2.0) -> int:
        """One stage: 32 (the VAE's). Two stages: the output is ``num / den`` times stage 1 in whole
        latents (32 px), so 32 x num: 64 through the x2 upsampler, 96 through the x1.5 one."""
        return 32 * upscale_ratio(spatial_upscale)[0] if self.second is not None else 32

    def stage1_size(self, height: int, width: int, spatial_upscale: float = 2.0) -> tuple[int, int]:
        """Stage 1's pixel size: the output's, or for two stages the output over the upscale."""
        if self.second is None:
            return height, width
        num, den = upscale_ratio(spatial_upscale)
        return height * den // num, width * den // num

    @property
    def guided(self) -> bool:
        return any(plan is not None and plan.guided for plan in (self.first, self.second))

    def uses(self, field: str) -> bool:
        return field in self.fields or (field == "spatial_upscale" and self.second is not None)

    def snap_size(self, height: int, width: int, spatial_upscale: float = 2.0) -> tuple[int, int]:
        m = self.size_multiple_for(spatial_upscale)
        return tuple(max(m, round(v / m) * m) for v in (height, width))  # type: ignore[return-value]

    def memory_stages(self, spatial_upscale: float = 2.0) -> tuple[DenoisePass, ...]:
        """The denoising stages as the memory estimator sees them."""
        if self.first is None:
            return ()
        if self.second is None:
            return (DenoisePass("stage 1", 1, self.first.guided),)
        num, den = upscale_ratio(spatial_upscale)
        return DenoisePass("stage 1", num / den, self.first.guided), DenoisePass("stage 2", 1, self.second.guided)

    def create(self, ledger: "ModelLedger") -> Any:
        return self.factory(ledger)


@dataclass(frozen=True)
class Latents:
    """What a pipeline produces; the run protocol decodes and writes it."""

    video: mx.array  # (B, C, F, H, W)
    audio: mx.array | None  # (B, C, T, M), decoded by the audio VAE and vocoder
    prompt: str
    notices: tuple[str, ...] = ()
    fps: float | None = None  # None: the request's
    audio_track: tuple[Any, int] | None = None  # (waveform, sample rate) carried over instead of ``audio``
    audio_codec: str = "aac"  # "flac": the carried-over track is the user's own audio, kept lossless
    settings: dict | None = None  # the pipeline's own sidecar entries (None: the request's used fields)
    audio_seconds: float | None = None  # cut the decoded audio to this length (None: keep it whole)
    # uint8 chunks -> uint8 chunks applied to the decoded frames (an edit puts its source's frames back)
    frame_filter: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None
