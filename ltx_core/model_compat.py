"""Companion files of another model version: whether a LoRA or an upsampler belongs to the
version of the model in use, told from its metadata or, without that, from the layers it touches
and their widths. Checked before anything loads, with a message naming both files' versions."""

from __future__ import annotations

import os
from pathlib import Path

from ltx_core.errors import ConfigError
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model_spec import (
    VERSIONS,
    Role,
    VersionSpec,
    WrongFileError,
    metadata_config,
    recognise,
    version_spec,
)

# What tells a LoRA's model version apart when its metadata does not say: modules that exist in
# one transformer anatomy only. LTX-2.3 added gated attention and the cross-attention AdaLN;
# LTX-2 (2.0) projects captions inside the transformer (2.3 does it before the connector).
# The block widths of the real 19B and 22B transformers are the same, so a LoRA that touches only
# layers both have cannot be told apart by its shapes.
ANATOMY_MARKERS = {
    "2.3": ("to_gate_logits", "prompt_adaln_single", "prompt_scale_shift_table"),
    "2.0": ("caption_projection.",),
}
ANATOMY_SHARED_WITH = {"2.3": ("2.3", "2.5")}  # marker version -> the versions with that anatomy
_TRANSFORMER_PREFIX = "model.diffusion_model."


class VersionMismatchError(WrongFileError):
    """A companion file belongs to another model version than the checkpoint."""


def _header_version(file: SafetensorsFile) -> VersionSpec | None:
    raw = file.metadata.get("model_version")
    if not raw:
        return None
    try:
        return version_spec(raw)
    except ConfigError:
        return None


def lora_version(modules: list[str], file: SafetensorsFile | None = None) -> VersionSpec | None:
    """A LoRA's model version: its ``model_version`` metadata, else the anatomy its modules name
    (None: it touches only layers every version has)."""
    if file is not None and (found := _header_version(file)) is not None:
        return found
    for version, markers in ANATOMY_MARKERS.items():
        if any(marker in module for module in modules for marker in markers):
            return VERSIONS[version]
    return None


def _anatomy_version(modules: list[str], model: VersionSpec) -> VersionSpec | None:
    """The version a LoRA without ``model_version`` metadata is for, judged against ``model``: the
    2.3 anatomy markers are the 2.5 transformer's too (2.5 adds only biases-off feed-forwards and a
    keyframe embedding no LoRA touches), so they say "2.3 or 2.5"."""
    found = lora_version(modules)
    if found is not None and found.version in ANATOMY_SHARED_WITH and model.version in ANATOMY_SHARED_WITH[found.version]:
        return model
    return found


def _lora_modules(file: SafetensorsFile) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """module -> (A shape, B shape), official module names (prefixes stripped)."""
    from ltx_core.loader.lora import DOWN_SUFFIX, UP_SUFFIX, _strip_prefix

    halves: dict[str, dict[str, tuple[int, ...]]] = {}
    for key in file.keys():
        short = _strip_prefix(key)
        for suffix, half in ((DOWN_SUFFIX, "A"), (UP_SUFFIX, "B")):
            if short.endswith(suffix):
                halves.setdefault(short[: -len(suffix)], {})[half] = tuple(file.info(key).shape)
    return {m: (h["A"], h["B"]) for m, h in halves.items() if len(h) == 2}


def _checkpoint_label(path: Path, version: VersionSpec, role: Role = Role.CHECKPOINT) -> str:
    kind = "transformer" if role == Role.TRANSFORMER else "checkpoint"
    return f"{path.name} is an {version.title} ({version.parameters}, {version.version}) {kind}"


def check_lora_version(lora: str | os.PathLike, checkpoint: str | os.PathLike, what: str = "LoRA") -> None:
    """Refuse, from the two headers, a LoRA made for another model version or size than the
    checkpoint: a version its metadata or anatomy names, or widths (from its A/B shapes) that are
    not those of the checkpoint's transformer layers."""
    from ltx_core.model.transformer.weights import CONNECTOR_PREFIXES

    lora, checkpoint = Path(lora), Path(checkpoint)
    model = recognise(checkpoint)  # a whole checkpoint (2.0, 2.3) or a per-component transformer file (2.5)
    if model.version is None or model.role not in (Role.CHECKPOINT, Role.TRANSFORMER):
        return
    lora_file, model_file = SafetensorsFile(lora), SafetensorsFile(checkpoint)
    try:
        modules = _lora_modules(lora_file)
        claimed = _header_version(lora_file) or _anatomy_version(list(modules), model.version)
        missing, wrong = [], []
        for module, (a, b) in sorted(modules.items()):
            if module.startswith(CONNECTOR_PREFIXES) or len(a) != 2 or len(b) != 2:
                continue
            key = f"{_TRANSFORMER_PREFIX}{module}.weight"
            if key not in model_file:
                missing.append(module)
                continue
            shape = tuple(model_file.info(key).shape)
            quantized = f"{_TRANSFORMER_PREFIX}{module}.scales" in model_file  # packed: only the rows compare
            if shape[0] != b[0] or (not quantized and shape[1:] != (a[1],)):
                wrong.append(f"{module} {a[1]}->{b[0]} (model {shape[1] if not quantized else '?'}->{shape[0]})")
    finally:
        lora_file.close()
        model_file.close()
    mismatch = claimed is not None and claimed.version != model.version.version
    if not (mismatch or missing or wrong):
        return
    reasons = []
    if missing:
        reasons.append(f"{len(missing)} of its layers do not exist in this transformer (e.g. {', '.join(missing[:3])})")
    if wrong:
        reasons.append(f"{len(wrong)} of its layers have other widths (e.g. {', '.join(wrong[:2])})")
    why = f" ({'; '.join(reasons)})" if reasons else ""
    companion = model.version.file_for(Role.DISTILLED_LORA) if what == "distilled LoRA" else None
    advice = f"use {companion.file}" if companion else f"use a {what} made for {model.version.title}"
    if claimed is not None and claimed.version != model.version.version:
        raise VersionMismatchError(
            f"the {what} {lora.name} is for {claimed.title} ({claimed.parameters}, {claimed.version}){why}, but "
            f"{_checkpoint_label(checkpoint, model.version, model.role)}: {advice}."
        )
    raise VersionMismatchError(
        f"the {what} {lora.name} does not fit this model{why}: it was made for another model version or size "
        f"than {model.version.title} ({model.version.version}), and {_checkpoint_label(checkpoint, model.version, model.role)}: "
        f"{advice}."
    )


def check_upsampler_version(
    upsampler: str | os.PathLike, checkpoint: str | os.PathLike, role: Role = Role.SPATIAL_UPSAMPLER
) -> None:
    """Refuse an upsampler of another model version: its ``model_version`` metadata when it has
    one, else its latent channels against the checkpoint's VAE. (The real LTX-2 and LTX-2.3
    upsamplers carry no version and have the same 128-channel latents: those cannot be told apart.)"""
    upsampler, checkpoint = Path(upsampler), Path(checkpoint)
    model = recognise(checkpoint)
    if model.version is None or model.role != Role.CHECKPOINT:
        return
    file, model_file = SafetensorsFile(upsampler), SafetensorsFile(checkpoint)
    try:
        claimed = _header_version(file)
        config = metadata_config(dict(file.metadata)) or {}
        channels = config.get("in_channels")
        stats = "vae.per_channel_statistics.mean-of-means"
        latent_channels = model_file.info(stats).shape[0] if stats in model_file else None
    finally:
        file.close()
        model_file.close()
    what = role.label
    companion = model.version.file_for(role)
    advice = f"use {companion.file}" if companion else f"use the {model.version.title} {what}"
    if claimed is not None and claimed.version != model.version.version:
        raise VersionMismatchError(
            f"the {what} {upsampler.name} is for {claimed.title} ({claimed.version}), but "
            f"{_checkpoint_label(checkpoint, model.version)}: {advice}."
        )
    if channels is not None and latent_channels is not None and int(channels) != int(latent_channels):
        raise VersionMismatchError(
            f"the {what} {upsampler.name} works on {channels}-channel latents, so it is not for {model.version.title} "
            f"({model.version.version}): {_checkpoint_label(checkpoint, model.version)} with {latent_channels}-channel "
            f"latents; {advice}."
        )
