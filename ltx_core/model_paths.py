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
    spatial_upsampler: Path | None = None
    temporal_upsampler: Path | None = None
    distilled_lora: Path | None = None
    embeddings_cache: Path | None = None
    text_encoder: Path | None = None
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


def _spatial_x2_first(f: Recognised) -> tuple:
    """The x2 spatial upsampler (two-stage pipelines) before the x1.5 one."""
    return ("x2 " not in f.detail + " ", f.path.name)


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
    found = [f for f in found if f.version is None or model.version is None or f.version == model.version]
    if model.role == Role.CHECKPOINT:  # a 2.0 / 2.3 folder: one checkpoint and its side files
        if video_decoder == "diffusion":
            raise MissingModelError(
                f"{model.path.name} is an {model.version.title} checkpoint, whose video VAE has the conv decoder only: "
                "the diffusion video decoder comes with LTX-2.5 (leave the video decoder on its default)."
            )
        return ModelPaths(
            checkpoint=model.path,
            spatial_upsampler=_one(folder, found, Role.SPATIAL_UPSAMPLER, _spatial_x2_first),
            temporal_upsampler=_one(folder, found, Role.TEMPORAL_UPSAMPLER),
            distilled_lora=_one(folder, found, Role.DISTILLED_LORA),
            **overrides,
        )
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
        spatial_upsampler=_one(folder, found, Role.SPATIAL_UPSAMPLER, _spatial_x2_first),
        temporal_upsampler=_one(folder, found, Role.TEMPORAL_UPSAMPLER),
        distilled_lora=_one(folder, found, Role.DISTILLED_LORA),
    )
    values.update(overrides)
    return ModelPaths(**values)
