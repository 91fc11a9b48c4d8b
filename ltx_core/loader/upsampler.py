"""Load a latent upsampler file (flat keys, flat JSON ``config`` metadata)."""

from __future__ import annotations

import json
import os

import mlx.core as mx

from ltx_core.errors import CheckpointError
from ltx_core.loader.components import resolve_dtype
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.upsampler.config import UpsamplerConfig
from ltx_core.model.upsampler.model import LatentUpsampler
from ltx_core.model.video_vae.weights import conv_to_channels_last

# Sections of a model checkpoint's config; an upsampler's config is flat.
_CHECKPOINT_SECTIONS = ("transformer", "vae", "audio_vae", "vocoder")
# The rational resampler's blur: a buffer ltx-core computes (binomial) but registers as
# persistent, so a file that stores it overrides the formula there; it does here too.
_BLUR_KERNEL = "upsampler.blur_down.kernel"


def upsampler_config(file: SafetensorsFile) -> UpsamplerConfig:
    raw = file.metadata.get("config")
    keys = file.keys()
    if raw is None:
        kind = (
            "an LTX-2 model checkpoint without config"
            if any(k.startswith(("model.diffusion_model.", "vae.")) for k in keys)
            else "not a latent upsampler"
        )
        raise CheckpointError(
            f"{file.name} has no 'config' entry in its safetensors metadata, so it is {kind}. "
            "Expected a latent upsampler file such as ltx-2-spatial-upscaler-x2-1.0.safetensors."
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file.name}: its metadata 'config' is not valid JSON ({exc}).") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{file.name}: its metadata 'config' must be a JSON object.")
    if any(section in config for section in _CHECKPOINT_SECTIONS):
        raise CheckpointError(
            f"{file.name} is an LTX-2 model checkpoint, not a latent upsampler file. Pass it as the model and give "
            "an upsampler such as ltx-2-spatial-upscaler-x2-1.0.safetensors (or the temporal one) as the upsampler."
        )
    return UpsamplerConfig.from_dict(config, source=f"{file.name} config")


def upsampler_param_name(key: str) -> str:
    """File key -> module parameter name (the pixel-shuffle conv lives at ``upsampler.layers.0``)."""
    if key.startswith("upsampler.0."):
        return "upsampler.layers.0." + key[len("upsampler.0.") :]
    return key


def load_upsampler(path: str | os.PathLike | SafetensorsFile, dtype: mx.Dtype | str = mx.float32) -> LatentUpsampler:
    """A spatial or temporal latent upsampler, built from the file's config, weights loaded strictly."""
    file = path if isinstance(path, SafetensorsFile) else SafetensorsFile(path)
    config = upsampler_config(file)
    model = LatentUpsampler(config)
    blur = config.rational_resampler and _BLUR_KERNEL in file.keys()
    mapping = {
        upsampler_param_name(key): TensorSource(key, conv_to_channels_last)
        for key in file.keys()
        if not (blur and key == _BLUR_KERNEL)
    }
    load_module_weights(model, file, mapping, resolve_dtype(dtype), f"{config.kind} latent upsampler")
    if blur:
        model.upsampler.blur_down.use_kernel(file.load(_BLUR_KERNEL, mx.float32))
    model.eval()
    return model
