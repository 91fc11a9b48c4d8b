"""What each LTX-2 model version is: its defaults, its companion files, and how a file tells
which version and role it has. The one place for these facts; the pipelines, the CLI and the
studio ask it.

Everything is read from the files themselves (safetensors metadata and tensor names, never the
file name), with one exception no metadata records: whether a checkpoint is the distilled or the
dev model. The official tools know it from the file name (``...-distilled...``), and so do we,
in ``variant_from_name`` alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import CheckpointError, ConfigError, LTXError
from ltx_core.loader.safetensors_file import SafetensorsFile


class Role(str, Enum):
    """What a model file is for."""

    CHECKPOINT = "checkpoint"  # single file: transformer, VAEs, vocoder, text projection (2.0, 2.3)
    TRANSFORMER = "transformer"  # per-component layout (2.5)
    TEXT_ENCODER = "text_encoder"  # one-file text encoder (2.5: Gemma 4 + projection + tokenizer)
    GEMMA = "gemma"  # a Hugging Face Gemma 3 folder (2.0, 2.3)
    VIDEO_VAE = "video_vae"
    AUDIO_VAE = "audio_vae"
    DURATION_HEAD = "duration_head"
    SPATIAL_UPSAMPLER = "spatial_upsampler"
    TEMPORAL_UPSAMPLER = "temporal_upsampler"
    DISTILLED_LORA = "distilled_lora"
    LORA = "lora"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").replace("vae", "VAE")


@dataclass(frozen=True)
class CompanionFile:
    role: Role
    file: str  # the official file (or folder) name
    purpose: str
    repo: str = ""  # Hugging Face repository; empty: the version's own


@dataclass(frozen=True)
class AncestralSampling:
    """Stage 1 of the distilled recipe sampled with the ancestral Euler step (ltx-pipelines 1.2.0:
    model_version >= 2.5), re-noising from its own stream seeded ``seed + noise_seed_offset``."""

    eta: float = 1.0
    s_noise: float = 1.0
    noise_seed_offset: int = 10_000  # ANCESTRAL_NOISE_SEED_OFFSET


@dataclass(frozen=True)
class HQParams:
    """The official two-stage HQ recipe (ltx-pipelines ``LTX_2_3_HQ_PARAMS`` and the
    ``hq_2_stage_arg_parser`` defaults): res_2s steps of stage 1, its guidance, the distilled
    LoRA's strength in each stage and the default output size (stage 1 runs at half of it)."""

    steps: int
    video_guidance: MultiModalGuiderParams
    audio_guidance: MultiModalGuiderParams
    distilled_lora_strengths: tuple[float, float]  # (stage 1, stage 2)
    height: int
    width: int


@dataclass(frozen=True)
class VersionSpec:
    """One model version's facts (the official ``detect_params`` defaults and file list)."""

    version: str
    title: str
    parameters: str
    repo: str
    steps: int  # dev-model denoising steps
    video_guidance: MultiModalGuiderParams
    audio_guidance: MultiModalGuiderParams
    files: tuple[CompanionFile, ...]
    fps: float = 24.0
    supported: bool = True  # this port runs it end to end
    text_encoder: str = ""  # what the text encoder is, in words
    distilled_stage1: AncestralSampling | None = None  # None: deterministic Euler
    # H.264 CRF a conditioning image is re-compressed at (ltx-pipelines ``default_image_crf``:
    # 33 up to 2.3, ``LTX_2_4_IMAGE_CRF`` 18 from 2.4 on).
    image_crf: int = 33
    # Float pixels in [0, 1] -> uint8: "truncate" (x255 then cast, as ltx-core 1.0.0 and the 2.0/2.3
    # reference sets) or "round" (x255 rounded to nearest: the 2.5 reference set's frames; unbiased,
    # so a decoded mid-grey stays mid-grey). ``video_vae.tiled.to_uint8_frames`` applies it.
    uint8_rounding: str = "truncate"
    hq: "HQParams | None" = None  # the two-stage HQ recipe (res_2s), where the version has one
    # The ltx-core release whose semantics this version follows: the one its reference sets were
    # recorded with (2.0 / 2.3: 1.0.0; 2.5: 1.2.0, its first). 1.2.0 changed two things for every
    # checkpoint it runs, both visible only with conditioning tokens (a denoise mask below 1):
    # ``keyframe_placeholder`` and ``per_token_cross_modulation`` below.
    reference_release: str = "1.0.0"

    @property
    def keyframe_placeholder(self) -> bool:
        """An image given at a frame is appended (``KeyframeConditioning``) as 1.2.0's
        ``VideoConditionByKeyframeIndex`` does: a zero placeholder in the noisy latent and a
        one-frame time span; False: as 1.0.0 (the content in the noisy latent, the VAE's span)."""
        return self.reference_release >= "1.2.0"

    @property
    def per_token_cross_modulation(self) -> bool:
        """The audio-video cross-attention's scale/shift AdaLN takes each token's own timestep
        (1.2.0 ``_prepare_cross_attention_timestep``); False: the other stream's sigma (1.0.0)."""
        return self.reference_release >= "1.2.0"

    @property
    def hq_steps(self) -> int | None:
        return self.hq.steps if self.hq else None

    @property
    def hq_video_guidance(self) -> MultiModalGuiderParams | None:
        return self.hq.video_guidance if self.hq else None

    @property
    def hq_audio_guidance(self) -> MultiModalGuiderParams | None:
        return self.hq.audio_guidance if self.hq else None

    def file_for(self, role: Role, variant: str = "") -> CompanionFile | None:
        matches = [f for f in self.files if f.role == role]
        preferred = [f for f in matches if variant and variant in f.file]
        return (preferred or matches or [None])[0]


def _guidance(cfg: float, stg_block: int, **changes) -> MultiModalGuiderParams:
    params = dict(cfg_scale=cfg, stg_scale=1.0, stg_blocks=(stg_block,), rescale_scale=0.7, modality_scale=3.0)
    return MultiModalGuiderParams(**{**params, **changes})


GEMMA_3 = "google/gemma-3-12b-it"
LTX_2_0 = VersionSpec(
    version="2.0",
    title="LTX-2",
    parameters="19B",
    repo="Lightricks/LTX-2",
    steps=40,
    video_guidance=_guidance(3.0, 29),
    audio_guidance=_guidance(7.0, 29),
    text_encoder="Gemma 3 12B (a Hugging Face folder, about 24 GB)",
    files=(
        CompanionFile(Role.CHECKPOINT, "ltx-2-19b-distilled.safetensors", "the distilled model (fast: 8+3 steps)"),
        CompanionFile(Role.CHECKPOINT, "ltx-2-19b-dev.safetensors", "the dev model (one-stage, two-stage, keyframes)"),
        CompanionFile(Role.SPATIAL_UPSAMPLER, "ltx-2-spatial-upscaler-x2-1.0.safetensors",
                      "two-stage pipelines and spatial upscaling"),  # fmt: skip
        CompanionFile(Role.TEMPORAL_UPSAMPLER, "ltx-2-temporal-upscaler-x2-1.0.safetensors", "temporal upscaling"),
        CompanionFile(Role.DISTILLED_LORA, "ltx-2-19b-distilled-lora-384.safetensors", "refinement stage of the dev model"),
        CompanionFile(Role.GEMMA, "(whole repository)", "the text encoder (Gemma 3 12B, about 24 GB)", GEMMA_3),
    ),
)
LTX_2_3 = VersionSpec(
    version="2.3",
    title="LTX-2.3",
    parameters="22B",
    repo="Lightricks/LTX-2.3",
    steps=30,
    video_guidance=_guidance(3.0, 28),
    audio_guidance=_guidance(7.0, 28),
    text_encoder="Gemma 3 12B QAT (a Hugging Face folder; the LTX-2 Gemma folder works too)",
    files=(
        CompanionFile(Role.CHECKPOINT, "ltx-2.3-22b-distilled.safetensors", "the distilled model (fast: 8+3 steps)"),
        CompanionFile(Role.CHECKPOINT, "ltx-2.3-22b-dev.safetensors", "the dev model (one-stage, two-stage, keyframes)"),
        CompanionFile(Role.SPATIAL_UPSAMPLER, "ltx-2.3-spatial-upscaler-x2-1.1.safetensors",
                      "two-stage pipelines and spatial upscaling"),  # fmt: skip
        CompanionFile(Role.TEMPORAL_UPSAMPLER, "ltx-2.3-temporal-upscaler-x2-1.0.safetensors", "temporal upscaling"),
        CompanionFile(Role.DISTILLED_LORA, "ltx-2.3-22b-distilled-lora-384-1.1.safetensors",
                      "refinement stage of the dev model"),  # fmt: skip
        CompanionFile(Role.GEMMA, "(whole repository)", "the text encoder (Gemma 3 12B QAT, about 24 GB)",
                      "google/gemma-3-12b-it-qat-q4_0-unquantized"),  # fmt: skip
    ),
    hq=HQParams(
        steps=15,
        video_guidance=MultiModalGuiderParams(cfg_scale=3.0, stg_scale=0.0, stg_blocks=(), rescale_scale=0.45,
                                              modality_scale=3.0),  # fmt: skip
        audio_guidance=MultiModalGuiderParams(cfg_scale=7.0, stg_scale=0.0, stg_blocks=(), rescale_scale=1.0,
                                              modality_scale=3.0),  # fmt: skip
        distilled_lora_strengths=(0.25, 0.5),
        height=1088,  # stage 1 at 544 x 960
        width=1920,
    ),
)
LTX_2_5 = VersionSpec(
    version="2.5",
    title="LTX-2.5",
    parameters="22B",
    repo="Lightricks/LTX-2.5",
    steps=30,  # ltx-pipelines 1.2.0 detect_params: LTX_2_4_PARAMS (the 2.3 recipe, image CRF 18) from 2.4 on
    video_guidance=_guidance(3.0, 28),
    audio_guidance=_guidance(7.0, 28),
    distilled_stage1=AncestralSampling(),
    image_crf=18,
    uint8_rounding="round",
    reference_release="1.2.0",
    text_encoder="the LTX fine-tuned Gemma 4 12B (one file in text_encoders/)",
    files=(
        CompanionFile(Role.TRANSFORMER, "diffusion_models/ltx-2.5-22b-distilled-transformer-bf16.safetensors",
                      "the distilled transformer"),  # fmt: skip
        CompanionFile(Role.TEXT_ENCODER, "text_encoders/gemma4-12b-with-proj-ltx-2.5-bf16.safetensors",
                      "the text encoder (Gemma 4 12B with the LTX projection)"),  # fmt: skip
        CompanionFile(Role.VIDEO_VAE, "vae/ltx-2.5-video-vae-bf16.safetensors", "the video VAE"),
        CompanionFile(Role.AUDIO_VAE, "vae/ltx-2.5-audio-vae-bf16.safetensors", "the audio VAE and vocoder"),
        CompanionFile(Role.SPATIAL_UPSAMPLER, "latent_upscale_models/ltx-2.5-latent-spatial-upscaler-x2-bf16-1.0.safetensors",
                      "two-stage pipelines and spatial upscaling"),  # fmt: skip
        CompanionFile(Role.DURATION_HEAD, "model_patches/ltx-2.5-duration-head-bf16.safetensors",
                      "automatic duration"),  # fmt: skip
    ),
)
VERSIONS: dict[str, VersionSpec] = {spec.version: spec for spec in (LTX_2_0, LTX_2_3, LTX_2_5)}
DEFAULT_VERSION = LTX_2_0


def version_spec(model_version: str | None) -> VersionSpec:
    """The spec of a ``model_version`` metadata value ("2.3.0" -> 2.3; none -> 2.0, as ltx-core)."""
    if not model_version:
        return LTX_2_0
    major_minor = ".".join(str(model_version).split(".")[:2])
    if major_minor not in VERSIONS:
        known = ", ".join(VERSIONS)
        raise ConfigError(f"model_version {model_version!r} is not supported (this version of the studio knows {known}).")
    return VERSIONS[major_minor]


def variant_from_name(path: str | os.PathLike) -> str:
    """"distilled" or "dev": the one fact the metadata does not carry (see the module docstring)."""
    return "distilled" if "distilled" in Path(path).name.lower() else "dev"


@dataclass(frozen=True)
class Recognised:
    """What a file is, read from its header alone."""

    path: Path
    role: Role
    version: VersionSpec | None = None  # None: the file does not say (upsamplers, LoRAs, Gemma 3)
    variant: str = ""  # "distilled" / "dev" for checkpoints and transformers
    parameters: int = 0  # transformer parameters counted from the header
    detail: str = ""  # one line for the Models tab
    problem: str = ""  # non-empty: the file cannot be used, and why
    metadata: dict = field(default_factory=dict, repr=False)

    @property
    def usable(self) -> bool:
        return not self.problem and self.role != Role.UNKNOWN


def metadata_config(metadata: dict) -> dict | None:
    raw = metadata.get("config")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def recognise(path: str | os.PathLike) -> Recognised:
    """Role, version and size of a model file or Gemma folder, from its header; problems (not
    safetensors, truncated, unreadable) are reported in ``problem`` rather than raised."""
    path = Path(path)
    if path.is_dir():
        return _recognise_folder(path)
    try:
        file = SafetensorsFile(path)
    except (CheckpointError, OSError) as exc:
        return Recognised(path, Role.UNKNOWN, problem=str(exc))
    try:
        return _recognise_file(path, file)
    finally:
        file.close()


def _recognise_folder(path: Path) -> Recognised:
    config = path / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return Recognised(path, Role.UNKNOWN, problem=f"{path.name} has no readable config.json")
    model_type = str(data.get("model_type", "")) if isinstance(data, dict) else ""
    if model_type.startswith("gemma"):
        return Recognised(path, Role.GEMMA, detail=f"Gemma folder ({model_type})")
    return Recognised(path, Role.UNKNOWN, problem=f"{path.name} is a {model_type or 'non-Gemma'} folder, not Gemma 3")


def _recognise_file(path: Path, file: SafetensorsFile) -> Recognised:
    metadata = dict(file.metadata)
    keys = file.keys()
    config = metadata_config(metadata)
    try:
        version = version_spec(metadata.get("model_version")) if "model_version" in metadata else None
    except ConfigError as exc:
        return Recognised(path, Role.UNKNOWN, problem=str(exc), metadata=metadata)
    if any(marker in key for key in keys for marker in ("lora_A", "lora_B", "lora_down", "lora_up")):
        role = Role.DISTILLED_LORA if "distilled-lora" in path.name.lower().replace("_", "-") else Role.LORA
        return Recognised(path, role, version, detail="LoRA", metadata=metadata)
    if "gemma_config" in metadata:
        return Recognised(path, Role.TEXT_ENCODER, LTX_2_5, detail="one-file text encoder", metadata=metadata)
    if config is None:
        return Recognised(path, Role.UNKNOWN, problem=f"{path.name} has no model config in its metadata", metadata=metadata)
    if "spatial_upsample" in config or "temporal_upsample" in config:
        temporal = bool(config.get("temporal_upsample")) and not config.get("spatial_upsample")
        scale = config.get("spatial_scale", 2.0)
        detail = "temporal x2 upsampler" if temporal else f"spatial x{float(scale):g} upsampler"
        role = Role.TEMPORAL_UPSAMPLER if temporal else Role.SPATIAL_UPSAMPLER
        return Recognised(path, role, version, detail=detail, metadata=metadata)
    if "duration_head" in config:
        return Recognised(path, Role.DURATION_HEAD, version or LTX_2_5, detail="duration head", metadata=metadata)
    parameters = sum(_numel(file, k) for k in keys if k.startswith("model.diffusion_model."))
    if "transformer" in config and ("vae" in config or "audio_vae" in config):
        version = version or LTX_2_0
        variant = variant_from_name(path)
        detail = f"{version.title} {variant} checkpoint, {parameter_count(parameters)} transformer parameters"
        return Recognised(path, Role.CHECKPOINT, version, variant, parameters, detail, metadata=metadata)
    if "transformer" in config:
        version = version or LTX_2_5
        variant = variant_from_name(path)
        detail = f"{version.title} {variant} transformer, {parameter_count(parameters)} parameters"
        return Recognised(path, Role.TRANSFORMER, version, variant, parameters, detail, metadata=metadata)
    if "vae" in config:
        return Recognised(path, Role.VIDEO_VAE, version, detail="video VAE", metadata=metadata)
    if "audio_vae" in config:
        return Recognised(path, Role.AUDIO_VAE, version, detail="audio VAE and vocoder", metadata=metadata)
    sections = ", ".join(sorted(config)) or "none"
    return Recognised(path, Role.UNKNOWN, problem=f"{path.name}: an unknown model file (config keys: {sections})")


def parameter_count(count: int) -> str:
    return f"{count / 1e9:.1f}B" if count >= 1e8 else f"{count / 1e6:.2f}M"


def _numel(file: SafetensorsFile, key: str) -> int:
    count = 1
    for size in file.info(key).shape:
        count *= size
    return count


class WrongFileError(LTXError):
    """A file given for one role is another kind of file."""


def require_role(path: str | os.PathLike, *roles: Role, what: str) -> Recognised:
    """The file's recognition, or one sentence saying what it is instead and what to give."""
    found = recognise(path)
    if found.problem:
        raise WrongFileError(f"the {what} {Path(path).name} cannot be used: {found.problem}.")
    if found.role not in roles:
        wanted = " or ".join(r.label for r in roles)
        raise WrongFileError(
            f"{Path(path).name} is a {found.role.label} file, not a {wanted}: give it where a {found.role.label} "
            f"belongs, and a {wanted} file as the {what}."
        )
    return found
