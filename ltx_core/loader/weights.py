"""Strict, tensor-by-tensor loading of checkpoint tensors into an MLX module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_core.errors import WeightsMismatchError
from ltx_core.loader.quantization import QuantizationSpec, dequantize_fp8, quantize_weight
from ltx_core.loader.safetensors_file import SafetensorsFile

_SHOWN = 12
_QUANTIZED_PARTS = ("weight", "scales", "biases")


@dataclass(frozen=True)
class TensorSource:
    """Where one module parameter comes from.

    key: the file tensor; transform: a layout change (e.g. conv weights to channels-last);
    fp8_scale_key: the scale that dequantizes an fp8 tensor; quantize: quantize the loaded
    weight into this parameter's layer (``<layer>.weight``, ``.scales`` and ``.biases``).
    """

    key: str
    transform: Callable[[mx.array], mx.array] | None = None
    fp8_scale_key: str | None = None
    quantize: QuantizationSpec | None = None


def load_module_weights(
    module: nn.Module,
    source: SafetensorsFile,
    mapping: Mapping[str, TensorSource],
    dtype: mx.Dtype,
    component: str,
) -> nn.Module:
    """Load ``mapping`` (module parameter name -> tensor source) into ``module``.

    Missing or unexpected keys, and shape mismatches, raise one error listing them and
    naming the file. Tensors are read, converted and evaluated one at a time; the module's
    initial (lazy, never evaluated) parameters are replaced without being materialised, so
    the peak stays near the component's own size.
    """
    expected = check_mapping(module, source, mapping, component)
    loaded: list[tuple[str, mx.array]] = []
    for name, tensor in mapping.items():
        loaded.extend(read_tensor(source, name, tensor, dtype, expected))
    module.load_weights(loaded, strict=True)
    return module


def check_mapping(
    module: nn.Module, source: SafetensorsFile, mapping: Mapping[str, TensorSource], component: str
) -> dict[str, mx.array]:
    """Raise one error listing missing/unexpected keys and shape mismatches; reads no tensor data.
    Returns the module's (lazy) parameters by name, for the shape checks of ``read_tensor``."""
    expected = dict(tree_flatten(module.parameters()))
    provided: dict[str, str] = {}
    for name, tensor in mapping.items():
        if tensor.quantize is not None:
            layer = name.rsplit(".", 1)[0]
            provided.update({f"{layer}.{part}": tensor.key for part in _QUANTIZED_PARTS})
        else:
            provided[name] = tensor.key
    missing = sorted(set(expected) - set(provided))
    unexpected = sorted({provided[name] for name in set(provided) - set(expected)})
    wrong_shape = [
        f"{tensor.key}: file {source.info(tensor.key).shape}, model {tuple(expected[name].shape)}"
        for name, tensor in sorted(mapping.items())
        if name in expected
        and tensor.transform is None
        and tensor.quantize is None
        and source.info(tensor.key).shape != tuple(expected[name].shape)
    ]
    if missing or unexpected or wrong_shape:
        raise WeightsMismatchError(_mismatch_message(source.name, component, missing, unexpected, wrong_shape))
    return expected


def read_tensor(
    source: SafetensorsFile, name: str, tensor: TensorSource, dtype: mx.Dtype, expected: Mapping[str, mx.array]
) -> list[tuple[str, mx.array]]:
    """One parameter read, converted (and quantized if asked) and evaluated: ``[(name, array)]``,
    or the layer's three quantized parts."""
    if tensor.fp8_scale_key is not None:
        array = dequantize_fp8(source.load(tensor.key, mx.float32), source.load(tensor.fp8_scale_key)).astype(dtype)
    else:
        array = source.load(tensor.key, dtype)
    if tensor.transform is not None:
        array = tensor.transform(array)
    if tensor.quantize is not None:
        layer = name.rsplit(".", 1)[0]
        parts = quantize_weight(array, tensor.quantize)
        mx.eval(parts)
        return [(f"{layer}.{part}", value) for part, value in zip(_QUANTIZED_PARTS, parts)]
    if tuple(array.shape) != tuple(expected[name].shape):
        raise WeightsMismatchError(
            _mismatch_message(source.name, "", [], [], [f"{tensor.key}: file {array.shape}, model {expected[name].shape}"])
        )
    mx.eval(array)
    return [(name, array)]


def _mismatch_message(file: str, component: str, missing: list, unexpected: list, wrong_shape: list) -> str:
    what = f"the {component} weights" if component else "the weights"
    parts = [f"{file}: {what} do not match the model built from the file's config."]
    for title, items in (
        ("missing from the file", missing),
        ("unexpected in the file", unexpected),
        ("wrong shape", wrong_shape),
    ):
        if items:
            shown = ", ".join(items[:_SHOWN]) + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")
            parts.append(f"{len(items)} {title}: {shown}.")
    parts.append("The file is probably not an LTX-2 checkpoint of this kind, or its config does not match its weights.")
    return " ".join(parts)
