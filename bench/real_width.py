"""A real-width slice of the 19B transformer (random weights) and inputs at real resolutions."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_map

from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.loader.quantization import QuantizationSpec, quantize_layout
from ltx_core.model.transformer import LTXModel, Modality, TransformerConfig
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape

# The released 19B transformer's settings (widths are ltx-core's defaults: 32 x 128 video,
# 32 x 64 audio, 4096 / 2048 cross-attention, Gemma 3 12B features of width 3840).
RELEASED = dict(
    caption_channels=3840,
    use_audio_video_cross_attention=True,
    av_ca_timestep_scale_multiplier=1000,
    rope_type="split",
    frequencies_precision="float64",
)
CONTEXT_TOKENS = 1024
LATENT_CHANNELS = 128
AUDIO_CHANNELS = 8


def real_width_model(blocks: int, dtype: mx.Dtype, quantization: QuantizationSpec | None = None, seed: int = 0) -> LTXModel:
    config = TransformerConfig.from_dict({**RELEASED, "num_layers": blocks})
    model = LTXModel(config)
    mx.random.seed(seed)
    model.update(tree_map(lambda p: (mx.random.normal(p.shape) * 0.02).astype(dtype), model.parameters()))
    if quantization is not None:
        mx.eval(model.parameters())
        quantized = set(quantize_layout(model, quantization))
        assert quantized
    mx.eval(model.parameters())
    return model


def parameter_bytes(model: nn.Module) -> int:
    return sum(v.nbytes for _, v in tree_flatten(model.parameters()))


def real_inputs(height: int, width: int, frames: int, fps: float = 25.0, dtype: mx.Dtype = mx.float32, batch: int = 1):
    pixel = VideoPixelShape(batch, frames, height, width, fps)
    video_shape = VideoLatentShape.from_pixel_shape(pixel, LATENT_CHANNELS)
    audio_shape = AudioLatentShape.from_video_pixel_shape(pixel, AUDIO_CHANNELS)
    key = mx.random.key(1)
    keys = mx.random.split(key, 4)
    video_tokens = video_shape.token_count()
    sigma = mx.array(0.7)
    video = Modality(
        latent=mx.random.normal((batch, video_tokens, LATENT_CHANNELS), key=keys[0]).astype(dtype),
        sigma=sigma,
        timesteps=mx.full((batch, video_tokens, 1), 0.7),
        positions=VideoLatentPatchifier(1).positions(video_shape, fps),
        context=mx.random.normal((batch, CONTEXT_TOKENS, RELEASED["caption_channels"]), key=keys[1]).astype(dtype),
    )
    audio = Modality(
        latent=mx.random.normal((batch, audio_shape.frames, AUDIO_CHANNELS * 16), key=keys[2]).astype(dtype),
        sigma=sigma,
        timesteps=mx.full((batch, audio_shape.frames, 1), 0.7),
        positions=AudioPatchifier().positions(audio_shape),
        context=mx.random.normal((batch, CONTEXT_TOKENS, RELEASED["caption_channels"]), key=keys[3]).astype(dtype),
    )
    return video, audio


def full_model_parameter_bytes(dtype: mx.Dtype, quantization: QuantizationSpec | None = None) -> int:
    """Weight bytes of the full 48-block transformer in a mode. The model is built lazily, so
    this reads shapes and dtypes without allocating anything."""
    model = LTXModel(TransformerConfig.from_dict(RELEASED))
    model.update(tree_map(lambda p: p.astype(dtype), model.parameters()))
    if quantization is not None:
        quantize_layout(model, quantization)
    return parameter_bytes(model)
