"""Build each model component from a checkpoint's own config and load its weights."""

from __future__ import annotations

import os
from dataclasses import replace

import mlx.core as mx

from ltx_core.errors import CheckpointError
from ltx_core.loader.checkpoint import TRANSFORMER_PREFIX, LTXCheckpoint
from ltx_core.loader.quantization import QuantizationSpec, fp8_scale_key, is_fp8_scale_key, quantize_layout
from ltx_core.loader.streaming import attach_streamer, split_block_mapping
from ltx_core.loader.weights import TensorSource, check_mapping, load_module_weights, read_tensor
from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.model import LTXModel
from ltx_core.model.transformer.weights import param_name

SUPPORTED_DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}


def resolve_dtype(dtype: mx.Dtype | str) -> mx.Dtype:
    if isinstance(dtype, str):
        try:
            return SUPPORTED_DTYPES[dtype]
        except KeyError:
            raise ValueError(f"dtype {dtype!r} is not supported; choose one of {', '.join(SUPPORTED_DTYPES)}") from None
    if dtype not in SUPPORTED_DTYPES.values():
        raise ValueError(f"dtype {dtype} is not supported; choose float32, bfloat16 or float16")
    return dtype


def open_checkpoint(checkpoint: LTXCheckpoint | str | os.PathLike) -> LTXCheckpoint:
    return checkpoint if isinstance(checkpoint, LTXCheckpoint) else LTXCheckpoint(checkpoint)


def transformer_config(checkpoint: LTXCheckpoint, with_audio: bool = True) -> TransformerConfig:
    where = f"{checkpoint.name} config"
    from ltx_core.model_spec import version_spec  # (model_spec reads files through ltx_core.loader)

    config = TransformerConfig.from_dict(checkpoint.section("transformer"), source=where)
    spec = version_spec(checkpoint.file.metadata.get("model_version"))
    config = replace(config, per_token_cross_modulation=spec.per_token_cross_modulation)
    if with_audio:
        config.require_audio_video(f"{where}, section 'transformer'")
    return config


def load_transformer(
    checkpoint: LTXCheckpoint | str | os.PathLike,
    dtype: mx.Dtype | str = mx.float32,
    with_audio: bool = True,
    quantization: QuantizationSpec | None = None,
    streaming: bool = False,
) -> LTXModel:
    """The audio-video transformer (or the video-only one), weights loaded strictly.

    ``quantization`` quantizes the blocks' linear layers while loading, one tensor at a time, so
    the full-precision weights are never all in memory. Checkpoints written by ``convert`` are
    already quantized and load as stored; fp8 checkpoints are dequantized with their scales.

    ``streaming`` loads only the non-block layers now; each block is read from the file when it
    runs and released after it (``ltx_core.loader.streaming``), so the resident weights are about
    one block. The model's ``block_hook`` is the streamer (with read statistics).
    """
    checkpoint = open_checkpoint(checkpoint)
    dtype = resolve_dtype(dtype)
    config = transformer_config(checkpoint, with_audio)
    keys = checkpoint.keys_under(TRANSFORMER_PREFIX)
    if not keys:
        raise CheckpointError(
            f"{checkpoint.name} has no transformer weights (no keys under '{TRANSFORMER_PREFIX}'). "
            "Use a full LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
        )
    model = LTXModel(config, with_audio=with_audio)
    stored = QuantizationSpec.from_metadata(checkpoint.file)
    if stored is not None and quantization is not None and stored != quantization:
        raise CheckpointError(
            f"{checkpoint.name} is already quantized ({stored.bits}-bit, group {stored.group_size}); "
            f"it cannot be re-quantized to {quantization.bits}-bit. Use the bf16 checkpoint for that."
        )
    quantized_layers = set(quantize_layout(model, stored or quantization)) if (stored or quantization) else set()

    mapping = {}
    for short, full in keys.items():
        if is_fp8_scale_key(short):
            continue
        name = param_name(short, with_audio)
        if name is None:
            continue
        layer = name.rsplit(".", 1)[0]
        if stored is not None and layer in quantized_layers and name.endswith((".scales", ".biases")):
            mapping[name] = TensorSource(full)
            continue
        to_quantize = quantization if (stored is None and layer in quantized_layers and name.endswith(".weight")) else None
        mapping[name] = TensorSource(full, fp8_scale_key=fp8_scale_key(checkpoint.file, full), quantize=to_quantize)
    component = "audio-video transformer" if with_audio else "video-only transformer"
    if streaming:
        rest, blocks = split_block_mapping(mapping)
        expected = check_mapping(model, checkpoint.file, mapping, component)
        loaded = [pair for name, t in rest.items() for pair in read_tensor(checkpoint.file, name, t, dtype, expected)]
        model.load_weights(loaded, strict=False)
        attach_streamer(model, checkpoint.file, blocks, dtype)
    else:
        load_module_weights(model, checkpoint.file, mapping, dtype, component)
    model.eval()
    return model
