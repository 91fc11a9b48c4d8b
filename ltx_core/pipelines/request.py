"""What a user asks for: one dataclass shared by every pipeline, the CLI and the studio."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

import mlx.core as mx

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import LTXError
from ltx_core.model_spec import DEFAULT_VERSION, VersionSpec

DEFAULT_IMAGE_CRF = 33  # up to LTX-2.3; the version's ``VersionSpec.image_crf`` is what a run uses
AUTO_FRAMES = "auto"  # ``frames``: the duration head predicts the length from the prompt (LTX-2.5)
MAX_STEPS = 100  # the studio's slider and the CLI share it
MAX_SEED = 2**63 - 1
GUIDANCE_LIMIT = 100.0


class RequestError(LTXError):
    """A generation setting is invalid; the message says what to change."""


@dataclass(frozen=True)
class ImageCondition:
    """An image (file path, or pixels (1, 3, 1, H, W) in [-1, 1]) placed at ``frame_index``.
    ``crf`` None: the model version's image CRF (``VersionSpec.image_crf``: 33, 18 from 2.4 on),
    filled in by ``with_image_crf`` when the pipeline prepares the request."""

    image: str | Path | mx.array
    frame_index: int = 0
    strength: float = 1.0
    crf: int | None = None


@dataclass(frozen=True)
class LoraChoice:
    """A LoRA and its strength in stage 1 (and in the only stage of one-stage recipes) and in the
    refinement stage of two-stage recipes (None: the same as stage 1; 0: off in stage 2)."""

    path: str | Path
    strength: float = 1.0
    stage2_strength: float | None = None

    def strength_in(self, stage: int) -> float:
        return self.strength if stage == 1 or self.stage2_strength is None else self.stage2_strength


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    height: int = 512
    width: int = 768
    frames: int | str = 121  # 8k+1, or AUTO_FRAMES
    fps: float = 24.0
    steps: int = DEFAULT_VERSION.steps
    refine_steps: int | None = None  # stage-2 steps (1-3; default all 3 distilled refinement sigmas)
    video_guidance: MultiModalGuiderParams = DEFAULT_VERSION.video_guidance
    audio_guidance: MultiModalGuiderParams = DEFAULT_VERSION.audio_guidance
    images: tuple[ImageCondition, ...] = ()
    loras: tuple[LoraChoice, ...] = ()
    generate_audio: bool = True
    enhance_prompt: bool = False
    embeddings: str | Path | None = None  # pre-computed prompt embeddings instead of Gemma
    control_video: str | Path | None = None  # IC-LoRA control (depth, pose or edges)
    # IC-LoRAs (stage 1 only: stage 2 has no reference tokens); ``loras`` are then style LoRAs of both
    # stages. Without them the IC-LoRA pipeline takes ``loras`` as its IC-LoRAs (stage 1 only).
    control_loras: tuple[LoraChoice, ...] = ()
    control_strength: float = 1.0
    control_attention: float = 1.0
    audio: str | Path | None = None  # audio-to-video: the audio file (or a video with sound) the clip follows
    audio_start: float = 0.0  # seconds into ``audio``
    audio_max_seconds: float | None = None  # None: to the end of the audio
    spatial_upscale: float = 2.0  # two-stage recipes: the x2 or the x1.5 spatial upsampler between the stages
    # LTX-2.5: keyframe slots the first stage generates at evenly spaced interior frames (0: none)
    generated_keyframes: int = 0
    temporal_rounds: int = 0  # DFR: temporal x2 rounds after the spatial stage (0-2)

    @staticmethod
    def for_version(version: VersionSpec, pipeline=None, **values) -> "GenerationRequest":
        """A request with ``version``'s defaults (steps, guidance, fps) where ``values`` give none;
        with a ``pipeline`` (descriptor or name), that recipe's defaults on ``version`` (the HQ
        recipe's steps, guidance and size)."""
        if pipeline is not None:
            from ltx_core.pipelines.registry import pipeline_descriptor

            descriptor = pipeline_descriptor(pipeline) if isinstance(pipeline, str) else pipeline
            defaults = descriptor.request_defaults(version)
        else:
            defaults = dict(
                steps=version.steps, video_guidance=version.video_guidance, audio_guidance=version.audio_guidance,
                fps=version.fps,
            )  # fmt: skip
        return GenerationRequest(**{**defaults, **{k: v for k, v in values.items() if v is not None}})

    @property
    def auto_frames(self) -> bool:
        """The length is left to the duration head (resolved to a frame count before stage 1)."""
        return isinstance(self.frames, str)

    def with_image_crf(self, version: VersionSpec) -> "GenerationRequest":
        """The request with every image's unset CRF set to ``version``'s (the official
        ``ImageConditioner.resolve_crf``); an explicit CRF is kept."""
        if all(image.crf is not None for image in self.images):
            return self
        images = tuple(replace(i, crf=version.image_crf) if i.crf is None else i for i in self.images)
        return replace(self, images=images)

    def validate(self, size_multiple: int) -> None:
        """Reject impossible settings before any model loads."""
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise RequestError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {self.seed}.")
        for name, params in (("video", self.video_guidance), ("audio", self.audio_guidance)):
            for field in fields(params):
                value = getattr(params, field.name)
                if isinstance(value, float | int) and not isinstance(value, bool):
                    if not math.isfinite(value) or not 0 <= value <= GUIDANCE_LIMIT:
                        raise RequestError(
                            f"{name} guidance {field.name} must be a number from 0 to {GUIDANCE_LIMIT:g}, got {value}."
                        )
        if self.auto_frames:
            if self.frames != AUTO_FRAMES:
                raise RequestError(f"frames must be 8k+1 or {AUTO_FRAMES!r}, got {self.frames!r}.")
        elif isinstance(self.frames, bool) or not isinstance(self.frames, int):
            raise RequestError(f"frames must be a whole number 8k+1 or {AUTO_FRAMES!r}, got {self.frames!r}.")
        elif (self.frames - 1) % 8 != 0 or self.frames < 1:
            lower = max(1, (self.frames - 1) // 8 * 8 + 1)
            raise RequestError(f"frames must be 8k+1 (e.g. {lower} or {lower + 8}), got {self.frames}.")
        for name, value in (("height", self.height), ("width", self.width)):
            if value <= 0 or value % size_multiple != 0:
                near = max(size_multiple, round(value / size_multiple) * size_multiple)
                upscaled = size_multiple > 32 and self.spatial_upscale != 2.0
                through = f" through the x{self.spatial_upscale:g} upsampler" if upscaled else ""
                raise RequestError(
                    f"{name} must be a positive multiple of {size_multiple} for this pipeline{through} (e.g. {near}), "
                    f"got {value}."
                )
        from ltx_core.pipelines.descriptor import upscale_ratio

        try:
            upscale_ratio(self.spatial_upscale)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        if not math.isfinite(self.fps) or not 0 < self.fps <= 120:
            raise RequestError(f"fps must be between 0 and 120, got {self.fps}.")
        if not 1 <= self.steps <= MAX_STEPS:
            raise RequestError(f"steps must be from 1 to {MAX_STEPS}, got {self.steps}.")
        if self.refine_steps is not None and not 1 <= self.refine_steps <= 3:
            raise RequestError(f"the refinement stage has 1 to 3 steps, got {self.refine_steps}.")
        if isinstance(self.generated_keyframes, bool) or not isinstance(self.generated_keyframes, int) or self.generated_keyframes < 0:
            raise RequestError(f"the number of generated keyframes must be a whole number from 0, got {self.generated_keyframes!r}.")
        if self.temporal_rounds not in (0, 1, 2) or isinstance(self.temporal_rounds, bool):
            raise RequestError(f"temporal rounds must be 0, 1 or 2, got {self.temporal_rounds!r}.")
        if not self.prompt.strip() and self.embeddings is None:
            raise RequestError("the prompt is empty: describe the video to generate.")
        for lora in (*self.loras, *self.control_loras):
            for strength in (lora.strength, lora.stage2_strength):
                if strength is not None and (not isinstance(strength, float | int) or not math.isfinite(strength)):
                    raise RequestError(f"{Path(lora.path).name}: LoRA strength {strength!r} is not a finite number.")
        for name in ("control_strength", "control_attention"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # NaN fails too
                raise RequestError(f"{name} must be between 0 and 1, got {getattr(self, name)}.")
        seen: set[int] = set()
        for image in self.images:
            if image.frame_index < 0 or (not self.auto_frames and image.frame_index >= self.frames):
                last = "the predicted length" if self.auto_frames else str(self.frames - 1)
                raise RequestError(
                    f"an image is placed at frame {image.frame_index}, outside the video's frames 0..{last}."
                )
            if image.frame_index in seen:
                raise RequestError(f"two images are placed at frame {image.frame_index}; use one image per frame.")
            seen.add(image.frame_index)
            if not 0.0 <= image.strength <= 1.0:  # NaN fails too
                raise RequestError(f"image strength must be between 0 and 1, got {image.strength}.")
