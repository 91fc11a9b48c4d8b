"""MLX affine quantization of linear layers, and fp8 checkpoint tensors with their scales."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader.safetensors_file import FP8_DTYPES, SafetensorsFile

SUPPORTED_BITS = (2, 3, 4, 5, 6, 8)
SUPPORTED_GROUP_SIZES = (32, 64, 128)
# Metadata key of checkpoints written by ``convert``: their linear layers are stored quantized.
QUANTIZATION_METADATA_KEY = "ltx_mlx_quantization"
FP8_WEIGHT_SCALE_SUFFIXES = (".weight_scale", ".scale_weight")  # official/diffusers, ComfyUI
FP8_INPUT_SCALE_SUFFIXES = (".input_scale", ".scale_input")  # activation hints: unused once dequantized


@dataclass(frozen=True)
class QuantizationSpec:
    bits: int
    group_size: int = 64

    def __post_init__(self) -> None:
        if self.bits not in SUPPORTED_BITS:
            raise ConfigError(f"quantization bits = {self.bits} is not supported (supported: {SUPPORTED_BITS}).")
        if self.group_size not in SUPPORTED_GROUP_SIZES:
            raise ConfigError(
                f"quantization group_size = {self.group_size} is not supported (supported: {SUPPORTED_GROUP_SIZES})."
            )

    def to_metadata(self) -> str:
        return json.dumps({"bits": self.bits, "group_size": self.group_size, "mode": "affine"})

    @staticmethod
    def from_metadata(file: SafetensorsFile) -> "QuantizationSpec | None":
        raw = file.metadata.get(QUANTIZATION_METADATA_KEY)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return QuantizationSpec(bits=int(data["bits"]), group_size=int(data["group_size"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{file.name}: metadata '{QUANTIZATION_METADATA_KEY}' is malformed ({exc}).") from None


def quantizes(path: str, module: nn.Module, spec: QuantizationSpec) -> bool:
    """Which layers are quantized: the linear layers of the transformer blocks (over 98% of the
    weights) whose input width divides by the group size. Embeddings, AdaLN and output layers
    stay in the compute dtype."""
    return (
        isinstance(module, nn.Linear)
        and path.startswith("transformer_blocks.")
        and module.weight.shape[-1] % spec.group_size == 0
    )


def quantize_layout(model: nn.Module, spec: QuantizationSpec) -> list[str]:
    """Swap the selected Linear layers for QuantizedLinear (lazily: nothing is computed until
    weights are loaded into them). Returns the quantized layer paths."""
    chosen: list[str] = []

    def predicate(path: str, module: nn.Module) -> bool:
        if quantizes(path, module, spec):
            chosen.append(path)
            return True
        return False

    nn.quantize(model, group_size=spec.group_size, bits=spec.bits, class_predicate=predicate)
    if not chosen:
        raise ConfigError(
            f"no linear layer of this model has an input width divisible by group_size = {spec.group_size}; "
            "choose a smaller group size."
        )
    return chosen


def quantize_weight(weight: mx.array, spec: QuantizationSpec) -> tuple[mx.array, mx.array, mx.array]:
    """(packed weight, scales, biases) as QuantizedLinear stores them."""
    return mx.quantize(weight, group_size=spec.group_size, bits=spec.bits)


def is_fp8_scale_key(key: str) -> bool:
    return key.endswith(FP8_WEIGHT_SCALE_SUFFIXES + FP8_INPUT_SCALE_SUFFIXES)


def fp8_scale_key(file: SafetensorsFile, key: str) -> str | None:
    """The scale that dequantizes fp8 tensor ``key``; None for non-fp8 tensors.

    Official fp8 checkpoints store each quantized linear weight as float8 e4m3 in (out, in)
    layout with a float32 ``weight_scale`` (per tensor, or per output channel): w = fp8 * scale.
    """
    if file.info(key).dtype not in FP8_DTYPES:
        return None
    stem = key[: -len(".weight")] if key.endswith(".weight") else key
    for suffix in FP8_WEIGHT_SCALE_SUFFIXES:
        if stem + suffix in file:
            return stem + suffix
    raise CheckpointError(
        f"{file.name}: tensor '{key}' is stored in {file.info(key).dtype} but the file has no '{stem}.weight_scale' "
        "to dequantize it. The fp8 checkpoint is incomplete or of an unknown kind; use the bf16 checkpoint."
    )


def dequantize_fp8(weight: mx.array, scale: mx.array) -> mx.array:
    """fp8 values (already upcast to float32) times a per-tensor or per-output-channel scale."""
    scale = scale.astype(mx.float32)
    if scale.ndim == 1 and weight.ndim == 2:
        scale = scale[:, None]
    return weight * scale
