"""Which file holds each model component.

LTX-2.0 and 2.3 ship one checkpoint file (transformer, VAEs, vocoder, text projection) beside a
Gemma 3 folder. LTX-2.5 ships one file per component, in the official ``--weights-dir`` layout
(``diffusion_models/``, ``text_encoders/``, ``vae/``, ``latent_upscale_models/``, ``loras/``,
``model_patches/``). ``ModelPaths`` holds either; ``ModelPaths.from_folder`` resolves a 2.5
folder by reading every file's header (``model_spec.recognise``), never its name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ltx_core.errors import LTXError
from ltx_core.model_spec import LTX_2_5, Recognised, Role, recognise

# The official weights-dir subfolders (searched first; any other file of the folder too).
WEIGHTS_SUBFOLDERS = ("diffusion_models", "text_encoders", "vae", "latent_upscale_models", "loras", "model_patches")
# Video VAE files by decoder, in the order this port prefers them: the diffusion decoder
# (``CausalDiffusionVAE``, what the official app decodes with) first, the conv decoder (faster)
# second. Both files carry the same encoder and latent statistics.
VIDEO_VAE_CONV = "CausalVideoAutoencoder"
VIDEO_VAE_DIFFUSION = "CausalDiffusionVAE"
SUPPORTED_VIDEO_DECODERS = (VIDEO_VAE_DIFFUSION, VIDEO_VAE_CONV)
# ``--video-decoder`` choices -> the file class each one needs.
VIDEO_DECODER_CHOICES = {"diffusion": VIDEO_VAE_DIFFUSION, "conv": VIDEO_VAE_CONV}


class MissingModelError(LTXError):
    """A pipeline needs a model file that is not configured."""


@dataclass(frozen=True)
class ModelPaths:
    """``checkpoint`` is the single-file checkpoint (2.0, 2.3) or the transformer file (2.5);
    the per-component fields are set for the split layout only."""

    checkpoint: Path
    gemma: Path | None = None
    spatial_upsampler: Path | None = None  # the x2 one
    temporal_upsampler: Path | None = None
    distilled_lora: Path | None = None
    embeddings_cache: Path | None = None
    text_encoder: Path | None = None
    spatial_upsampler_x1_5: Path | None = None  # LTX-2.3's rational x1.5 resampler (a two-stage choice)
    enhancer: Path | None = None  # a Gemma 3 folder that rewrites prompts (LTX-2.5's Gemma 4 cannot generate)
    video_vae: Path | None = None
    audio_vae: Path | None = None
    duration_head: Path | None = None

    @staticmethod
    def from_split(
        transformer_path: str | os.PathLike,
        text_encoder_path: str | os.PathLike | None,
        video_vae_path: str | os.PathLike,
        audio_vae_path: str | os.PathLike,
        duration_head_path: str | os.PathLike | None = None,
        spatial_upsampler: str | os.PathLike | None = None,
        temporal_upsampler: str | os.PathLike | None = None,
        distilled_lora: str | os.PathLike | None = None,
        embeddings_cache: str | os.PathLike | None = None,
    ) -> "ModelPaths":
        """The per-component layout (the official ``ModelPaths.from_split``)."""

        def opt(value) -> Path | None:
            return None if value is None else Path(value)

        return ModelPaths(
            checkpoint=Path(transformer_path),
            text_encoder=opt(text_encoder_path),
            video_vae=Path(video_vae_path),
            audio_vae=Path(audio_vae_path),
            duration_head=opt(duration_head_path),
            spatial_upsampler=opt(spatial_upsampler),
            temporal_upsampler=opt(temporal_upsampler),
            distilled_lora=opt(distilled_lora),
            embeddings_cache=opt(embeddings_cache),
        )

    @staticmethod
    def from_folder(
        folder: str | os.PathLike, variant: str = "distilled", video_decoder: str | None = None, **overrides
    ) -> "ModelPaths":
        """A weights folder -> its files by role (from their headers). The transformer, video VAE
        and audio VAE are required; the text encoder, duration head, upsamplers and distilled LoRA
        are taken when present (a pipeline that needs a missing one says so before loading).
        ``video_decoder``: "diffusion" or "conv" (that video VAE file, refused when absent); None:
        the diffusion one when the folder has it, else the conv one (``choose_video_vae``)."""
        return resolve_folder(Path(folder), variant, video_decoder=video_decoder, **overrides)

    @property
    def split(self) -> bool:
        """Per-component files (LTX-2.5) rather than one checkpoint."""
        return self.video_vae is not None or self.audio_vae is not None or self.text_encoder is not None

    @property
    def transformer(self) -> Path:
        return self.checkpoint

    @property
    def video_vae_file(self) -> Path:
        return self.video_vae or self.checkpoint

    @property
    def audio_vae_file(self) -> Path:
        return self.audio_vae or self.checkpoint

    def path_for(self, role: Role) -> Path | None:
        return {
            Role.CHECKPOINT: self.checkpoint,
            Role.TRANSFORMER: self.checkpoint,
            Role.GEMMA: self.gemma,
            Role.TEXT_ENCODER: self.text_encoder,
            Role.VIDEO_VAE: self.video_vae,
            Role.AUDIO_VAE: self.audio_vae,
            Role.DURATION_HEAD: self.duration_head,
            Role.SPATIAL_UPSAMPLER: self.spatial_upsampler,
            Role.TEMPORAL_UPSAMPLER: self.temporal_upsampler,
            Role.DISTILLED_LORA: self.distilled_lora,
        }[role]

    def spatial_upsampler_for(self, spatial_upscale: float = 2.0) -> Path | None:
        """The spatial upsampler file of the x2 or the x1.5 choice."""
        return self.spatial_upsampler_x1_5 if float(spatial_upscale) == 1.5 else self.spatial_upsampler

    @property
    def spatial_upscales(self) -> tuple[float, ...]:
        """The spatial upscales a two-stage job can choose here (files present), x2 first."""
        return tuple(s for s in (2.0, 1.5) if self.spatial_upsampler_for(s) is not None)


def spatial_upsampler_scale(path: str | os.PathLike) -> float:
    """A spatial upsampler file's scale, from its header config (2.0 when it names none)."""
    from ltx_core.loader.safetensors_file import SafetensorsFile

    try:
        config = json.loads(SafetensorsFile(Path(path)).metadata.get("config", "{}"))
    except (OSError, ValueError):
        return 2.0
    return float(config.get("spatial_scale", 2.0)) if isinstance(config, dict) else 2.0


def sort_spatial_upsampler(path: str | os.PathLike | None) -> dict[str, Path]:
    """A user-given spatial upsampler file -> the ``ModelPaths`` field its header scale fills."""
    if path is None:
        return {}
    field = "spatial_upsampler_x1_5" if spatial_upsampler_scale(path) == 1.5 else "spatial_upsampler"
    return {field: Path(path)}


def video_vae_class(found: Recognised) -> str:
    """The video VAE file's ``_class_name`` (conv autoencoder when unnamed, as ltx-core)."""
    try:
        section = json.loads(found.metadata.get("config", "{}")).get("vae", {})
    except (ValueError, AttributeError):
        return ""
    return str(section.get("_class_name", VIDEO_VAE_CONV)) if isinstance(section, dict) else ""


def _files(folder: Path) -> list[Path]:
    seen: list[Path] = []
    for sub in (*WEIGHTS_SUBFOLDERS, "."):
        directory = folder / sub
        if directory.is_dir():
            for path in sorted(directory.glob("*.safetensors")):
                if path.resolve() not in {p.resolve() for p in seen}:
                    seen.append(path)
    return seen


def _missing(folder: Path, role: Role, detail: str = "") -> MissingModelError:
    companion = LTX_2_5.file_for(role)
    name = companion.file if companion else role.label
    return MissingModelError(
        f"{folder} has no {role.label} file{detail} (expected e.g. {name}, from the Hugging Face repository "
        f"{LTX_2_5.repo}); the roles were read from the files' headers."
    )


def _one(folder: Path, found: list[Recognised], role: Role, prefer=None) -> Path | None:
    matches = [f for f in found if f.role == role]
    if prefer is not None:
        matches = sorted(matches, key=prefer)
    return matches[0].path if matches else None


def choose_video_vae(folder: Path, found: list[Recognised], video_decoder: str | None = None) -> Path:
    """The one place that decides which video VAE file (so which decoder) a 2.5 folder runs with:
    ``video_decoder`` ("diffusion" / "conv") when given, else the first of ``SUPPORTED_VIDEO_DECODERS``
    the folder has."""
    if video_decoder is not None and video_decoder not in VIDEO_DECODER_CHOICES:
        raise LTXError(f"the video decoder must be one of {', '.join(VIDEO_DECODER_CHOICES)}, got {video_decoder!r}.")
    videos = [f for f in found if f.role == Role.VIDEO_VAE]
    wanted = (VIDEO_DECODER_CHOICES[video_decoder],) if video_decoder else SUPPORTED_VIDEO_DECODERS
    runnable = sorted((f for f in videos if video_vae_class(f) in wanted), key=lambda f: (wanted.index(video_vae_class(f)), f.path.name))
    if runnable:
        return runnable[0].path
    kinds = ", ".join(f"{f.path.name} ({video_vae_class(f) or 'unknown'})" for f in videos)
    if video_decoder and videos:
        raise MissingModelError(
            f"{folder} has no {video_decoder} video VAE file ({wanted[0]}; found: {kinds}): choose the other "
            f"video decoder or add the file (from the Hugging Face repository {LTX_2_5.repo})."
        )
    detail = f" with a decoder this version runs ({', '.join(wanted)}; found: {kinds})" if videos else ""
    raise _missing(folder, Role.VIDEO_VAE, detail)


COMPANION_ROLES = (Role.SPATIAL_UPSAMPLER, Role.TEMPORAL_UPSAMPLER, Role.DISTILLED_LORA, Role.LORA, Role.TEXT_ENCODER,
                   Role.VIDEO_VAE, Role.AUDIO_VAE, Role.DURATION_HEAD)  # fmt: skip


def companion_refusal(found: Recognised, model: Recognised) -> str:
    """Why the companion file ``found`` cannot serve the checkpoint ``model`` ("" when it can): the
    version its header names, else the checks the ledger runs before loading (an upsampler's
    latent channels, a LoRA's anatomy and layer widths). Files that are not companions: ""."""
    from ltx_core.model_compat import VersionMismatchError, check_lora_version, check_upsampler_version

    if found.role not in COMPANION_ROLES or model.version is None:
        return ""
    if found.version is not None and found.version != model.version:
        return (
            f"a {found.version.title} ({found.version.version}) {found.role.label}, but the checkpoint in use is "
            f"{model.version.title} ({model.version.version})"
        )
    try:
        if found.role in (Role.SPATIAL_UPSAMPLER, Role.TEMPORAL_UPSAMPLER):
            check_upsampler_version(found.path, model.path, found.role)
        elif found.role in (Role.LORA, Role.DISTILLED_LORA):
            check_lora_version(found.path, model.path, "distilled LoRA" if found.role == Role.DISTILLED_LORA else "LoRA")
    except VersionMismatchError as exc:
        return str(exc)
    return ""


def _spatial(found: list[Recognised], scale: float) -> Path | None:
    """The spatial upsampler of ``scale`` (2.0 or 1.5), by its header."""
    matches = sorted(f.path for f in found if f.role == Role.SPATIAL_UPSAMPLER and spatial_upsampler_scale(f.path) == scale)
    return matches[0] if matches else None


def resolve_folder(
    folder: Path,
    variant: str = "distilled",
    video_decoder: str | None = None,
    checkpoint: Path | None = None,
    **overrides,
) -> ModelPaths:
    """``checkpoint``: the model to use when the folder holds several (else the ``variant`` one,
    split layout first); companion files of another version are not picked for it."""
    if not folder.is_dir():
        raise MissingModelError(f"the weights folder {folder} does not exist or is not a folder.")
    found = [r for r in (recognise(p) for p in _files(folder)) if r.usable]
    transformers = [f for f in found if f.role in (Role.TRANSFORMER, Role.CHECKPOINT)]
    if checkpoint is not None:
        transformers = [f for f in transformers if f.path.resolve() == Path(checkpoint).resolve()] or [
            recognise(checkpoint)
        ]
    if not transformers:
        raise _missing(folder, Role.TRANSFORMER)
    transformers.sort(key=lambda f: (f.role != Role.TRANSFORMER, f.variant != variant, f.path.name))
    model = transformers[0]
    found = [f for f in found if not companion_refusal(f, model)]
    if model.role == Role.CHECKPOINT:  # a 2.0 / 2.3 folder: one checkpoint and its side files
        if video_decoder == "diffusion":
            raise MissingModelError(
                f"{model.path.name} is an {model.version.title} checkpoint, whose video VAE has the conv decoder only: "
                "the diffusion video decoder comes with LTX-2.5 (leave the video decoder on its default)."
            )
        single = {
            "checkpoint": model.path,
            "spatial_upsampler": _spatial(found, 2.0),
            "spatial_upsampler_x1_5": _spatial(found, 1.5),
            "temporal_upsampler": _one(folder, found, Role.TEMPORAL_UPSAMPLER),
            "distilled_lora": _one(folder, found, Role.DISTILLED_LORA),
        }
        return ModelPaths(**{**single, **overrides})
    video_vae = overrides.pop("video_vae", None) or choose_video_vae(folder, found, video_decoder)
    audio = _one(folder, found, Role.AUDIO_VAE)
    if audio is None:
        raise _missing(folder, Role.AUDIO_VAE)

    values = dict(
        checkpoint=model.path,
        text_encoder=_one(folder, found, Role.TEXT_ENCODER),
        video_vae=Path(video_vae),
        audio_vae=audio,
        duration_head=_one(folder, found, Role.DURATION_HEAD),
        spatial_upsampler=_spatial(found, 2.0),
        spatial_upsampler_x1_5=_spatial(found, 1.5),
        temporal_upsampler=_one(folder, found, Role.TEMPORAL_UPSAMPLER),
        distilled_lora=_one(folder, found, Role.DISTILLED_LORA),
    )
    values.update(overrides)
    return ModelPaths(**values)
