"""Strict, tensor-by-tensor loading of checkpoint tensors into an MLX module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_core.errors import WeightsMismatchError
from ltx_core.loader.safetensors_file import SafetensorsFile

_SHOWN = 12


@dataclass(frozen=True)
class TensorSource:
    """Where one module parameter comes from: a file key and an optional layout change."""

    key: str
    transform: Callable[[mx.array], mx.array] | None = None


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
    initial (lazy, never evaluated) parameters are replaced without being materialised.
    """
    expected = dict(tree_flatten(module.parameters()))
    missing = sorted(set(expected) - set(mapping))
    unexpected = sorted(mapping[name].key for name in set(mapping) - set(expected))
    wrong_shape = [
        f"{mapping[name].key}: file {source.info(mapping[name].key).shape}, model {tuple(expected[name].shape)}"
        for name in sorted(set(mapping) & set(expected))
        if mapping[name].transform is None and source.info(mapping[name].key).shape != tuple(expected[name].shape)
    ]
    if missing or unexpected or wrong_shape:
        raise WeightsMismatchError(_mismatch_message(source.name, component, missing, unexpected, wrong_shape))

    loaded: list[tuple[str, mx.array]] = []
    for name, tensor in mapping.items():
        array = source.load(tensor.key, dtype)
        if tensor.transform is not None:
            array = tensor.transform(array)
            if tuple(array.shape) != tuple(expected[name].shape):
                raise WeightsMismatchError(
                    _mismatch_message(
                        source.name, component, [], [], [f"{tensor.key}: file {array.shape}, model {expected[name].shape}"]
                    )
                )
            mx.eval(array)
        loaded.append((name, array))
    module.load_weights(loaded, strict=True)
    return module


def _mismatch_message(file: str, component: str, missing: list, unexpected: list, wrong_shape: list) -> str:
    parts = [f"{file}: the {component} weights do not match the model built from the file's config."]
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
