"""``convert``: write a checkpoint whose transformer linear layers are stored pre-quantized.

The output is a complete single-file checkpoint (every other component is copied as stored)
with the original ``config`` and a ``ltx_mlx_quantization`` metadata entry. It is written one
tensor at a time to a temporary name and renamed when complete, so the full-precision
weights are never all in memory and no half-written file is left behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError
from ltx_core.loader.checkpoint import TRANSFORMER_PREFIX, LTXCheckpoint
from ltx_core.loader.components import transformer_config
from ltx_core.loader.quantization import (
    QUANTIZATION_METADATA_KEY,
    QuantizationSpec,
    dequantize_fp8,
    fp8_scale_key,
    is_fp8_scale_key,
    quantize_layout,
    quantize_weight,
)
from ltx_core.model.transformer.model import LTXModel
from ltx_core.model.transformer.weights import param_name

_DTYPE_NAMES = {mx.float32: "F32", mx.float16: "F16", mx.bfloat16: "BF16", mx.uint32: "U32"}

# (key, shape, dtype name, producer of the tensor to write: an MLX array, or stored bytes as numpy)
Entry = tuple[str, tuple[int, ...], str, Callable[[], "mx.array | np.ndarray"]]


def convert_checkpoint(
    source: str | os.PathLike,
    output: str | os.PathLike,
    spec: QuantizationSpec,
    dtype: mx.Dtype = mx.bfloat16,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Quantize ``source``'s transformer linear layers to ``spec`` (from weights in ``dtype``)."""
    checkpoint = LTXCheckpoint(source)
    if QuantizationSpec.from_metadata(checkpoint.file) is not None:
        raise CheckpointError(f"{checkpoint.name} is already quantized; convert the bf16 checkpoint instead.")
    output = Path(output)
    if output.resolve() == checkpoint.path.resolve():
        raise CheckpointError("the output must be a new file, not the source checkpoint")
    model = LTXModel(transformer_config(checkpoint, with_audio=True))
    quantized_layers = set(quantize_layout(model, spec))
    entries = list(_entries(checkpoint, quantized_layers, spec, dtype))
    metadata = {"config": json.dumps(checkpoint.config), QUANTIZATION_METADATA_KEY: spec.to_metadata()}
    temporary = output.with_name(output.name + ".partial")
    try:
        _write(temporary, entries, metadata, progress)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return {"tensors": len(entries), "quantized_layers": len(quantized_layers), "bytes": output.stat().st_size}


def _entries(checkpoint: LTXCheckpoint, quantized_layers: set[str], spec: QuantizationSpec, dtype: mx.Dtype):
    file = checkpoint.file
    for key in file.keys():
        if is_fp8_scale_key(key):
            continue
        info = file.info(key)
        scale_key = fp8_scale_key(file, key)
        layer = None
        if key.startswith(TRANSFORMER_PREFIX) and key.endswith(".weight"):
            name = param_name(key[len(TRANSFORMER_PREFIX) :])
            layer = name.rsplit(".", 1)[0] if name else None
        if layer in quantized_layers:
            stem = key[: -len(".weight")]
            shapes = [a.shape for a in quantize_weight(mx.zeros(info.shape, dtype), spec)]  # lazy: shapes only
            parts = _QuantizedParts(file, key, scale_key, spec, dtype)
            yield key, tuple(shapes[0]), "U32", parts.weight
            yield f"{stem}.scales", tuple(shapes[1]), _DTYPE_NAMES[dtype], parts.scales
            yield f"{stem}.biases", tuple(shapes[2]), _DTYPE_NAMES[dtype], parts.biases
        elif scale_key is not None:
            yield key, info.shape, _DTYPE_NAMES[dtype], lambda k=key, s=scale_key: dequantize_fp8(
                file.load(k, mx.float32), file.load(s)
            ).astype(dtype)
        else:
            yield key, info.shape, info.dtype, lambda k=key: file.read_numpy(k)  # copied byte for byte


class _QuantizedParts:
    """Quantizes one weight once and hands out its three parts in write order."""

    def __init__(self, file, key: str, scale_key: str | None, spec: QuantizationSpec, dtype: mx.Dtype):
        self.file, self.key, self.scale_key, self.spec, self.dtype = file, key, scale_key, spec, dtype
        self._parts: tuple[mx.array, ...] | None = None

    def _get(self, index: int) -> mx.array:
        if self._parts is None:
            weight = self.file.load(self.key, mx.float32 if self.scale_key else self.dtype)
            if self.scale_key:
                weight = dequantize_fp8(weight, self.file.load(self.scale_key)).astype(self.dtype)
            self._parts = quantize_weight(weight, self.spec)
        part = self._parts[index]
        if index == 2:
            self._parts = None
        return part

    def weight(self) -> mx.array:
        return self._get(0)

    def scales(self) -> mx.array:
        return self._get(1)

    def biases(self) -> mx.array:
        return self._get(2)


def _write(path: Path, entries: list[Entry], metadata: dict[str, str], progress) -> None:
    header: dict = {"__metadata__": metadata}
    offset = 0
    for key, shape, dtype_name, _ in entries:
        size = int(np.prod(shape, dtype=np.int64)) * _itemsize(dtype_name)
        header[key] = {"dtype": dtype_name, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(len(raw).to_bytes(8, "little"))
        handle.write(raw)
        for index, (key, shape, dtype_name, produce) in enumerate(entries):
            value = produce()
            if isinstance(value, mx.array):
                mx.eval(value)
                value = np.array(value.view(mx.uint16) if value.dtype == mx.bfloat16 else value)
            data = np.ascontiguousarray(value).tobytes()
            expected = header[key]["data_offsets"][1] - header[key]["data_offsets"][0]
            if len(data) != expected:
                raise CheckpointError(f"internal error converting {key}: {len(data)} bytes, expected {expected}")
            handle.write(data)
            if progress is not None:
                progress(index + 1, len(entries))


def _itemsize(dtype_name: str) -> int:
    return {"F64": 8, "F32": 4, "U32": 4, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "I16": 2}.get(dtype_name, 1)
