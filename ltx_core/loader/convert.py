"""``convert``: write a checkpoint whose transformer linear layers are stored pre-quantized.

The output is a complete single-file checkpoint (every other component is copied as stored)
with the original metadata (``config``, ``model_version``...) and a ``ltx_mlx_quantization``
entry. LoRAs given to ``convert`` are fused into the full-precision weights before they are
quantized (no side path at run time) and recorded in ``ltx_mlx_fused_loras`` (file name,
content identity, strength), so the ledger does not apply them a second time. It is written one
tensor at a time to a temporary name and renamed when complete, so the full-precision
weights are never all in memory and no half-written file is left behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError
from ltx_core.loader.checkpoint import TRANSFORMER_PREFIX, LTXCheckpoint
from ltx_core.loader.components import transformer_config
from ltx_core.loader.lora import FusedLora, LoraFile, LoraPlan, LoraSpec, lora_spec, plan_lora, write_fused_metadata
from ltx_core.loader.quantization import (
    QUANTIZATION_METADATA_KEY,
    QuantizationSpec,
    dequantize_fp8,
    fp8_scale_key,
    is_fp8_scale_key,
    quantize_layout,
    quantize_weight,
)
from ltx_core.model.transformer.lora import LowRank, low_rank_delta
from ltx_core.model.transformer.model import LTXModel
from ltx_core.model.transformer.weights import param_name

_DTYPE_NAMES = {mx.float32: "F32", mx.float16: "F16", mx.bfloat16: "BF16", mx.uint32: "U32"}
_FLOAT_DTYPES = {"F32": mx.float32, "F16": mx.float16, "BF16": mx.bfloat16}

# (key, shape, dtype name, producer of the tensor to write: an MLX array, or stored bytes as numpy)
Entry = tuple[str, tuple[int, ...], str, Callable[[], "mx.array | np.ndarray"]]


def convert_checkpoint(
    source: str | os.PathLike,
    output: str | os.PathLike,
    spec: QuantizationSpec,
    dtype: mx.Dtype = mx.bfloat16,
    progress: Callable[[int, int], None] | None = None,
    loras: Sequence[LoraSpec] = (),
) -> dict:
    """Quantize ``source``'s transformer linear layers to ``spec`` (from weights in ``dtype``),
    with ``loras`` fused into the weights first (checked against the checkpoint's version and
    layers before anything is written)."""
    from ltx_core.model_compat import check_lora_version

    checkpoint = LTXCheckpoint(source)
    if QuantizationSpec.from_metadata(checkpoint.file) is not None:
        raise CheckpointError(f"{checkpoint.name} is already quantized; convert the bf16 checkpoint instead.")
    output = Path(output)
    if output.resolve() == checkpoint.path.resolve():
        raise CheckpointError("the output must be a new file, not the source checkpoint")
    loras = [lora_spec(lora) for lora in loras]
    for lora in loras:
        check_lora_version(lora.path, checkpoint.path)
    model = LTXModel(transformer_config(checkpoint, with_audio=True))
    quantized_layers = set(quantize_layout(model, spec))
    plans = [plan_lora(LoraFile(lora.path), lora.strength, model) for lora in loras if lora.strength != 0]
    entries = list(_entries(checkpoint, quantized_layers, spec, dtype, _lora_targets(plans)))
    metadata = {**checkpoint.file.metadata, "config": json.dumps(checkpoint.config),
                QUANTIZATION_METADATA_KEY: spec.to_metadata()}  # fmt: skip
    if plans:
        fused = [FusedLora(plan.file.name, plan.file.identity, plan.strength) for plan in plans]
        metadata = write_fused_metadata(metadata, fused)
    temporary = output.with_name(output.name + ".partial")
    try:
        _write(temporary, entries, metadata, progress)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    summary = {"tensors": len(entries), "quantized_layers": len(quantized_layers), "bytes": output.stat().st_size}
    if plans:
        summary["fused_loras"] = [{"file": plan.file.name, "strength": plan.strength, "layers": len(plan.targets)}
                                  for plan in plans]  # fmt: skip
    return summary


def _lora_targets(plans: list[LoraPlan]) -> dict[str, list[tuple[LoraPlan, str]]]:
    """Layer path (this port's names) -> the LoRA modules fused into it."""
    targets: dict[str, list[tuple[LoraPlan, str]]] = {}
    for plan in plans:
        for module, path in plan.targets.items():
            targets.setdefault(path, []).append((plan, module))
    return targets


def _fused(weight: mx.array, targets: list[tuple[LoraPlan, str]], dtype: mx.Dtype) -> mx.array:
    """``weight`` (float32) plus its LoRA deltas, in ``dtype``: the arithmetic of ``fuse_into_linear``."""
    parts = [LowRank(*plan.file.pair(module), plan.strength) for plan, module in targets]
    return (weight.astype(mx.float32) + low_rank_delta(parts)).astype(dtype)


def _entries(
    checkpoint: LTXCheckpoint,
    quantized_layers: set[str],
    spec: QuantizationSpec,
    dtype: mx.Dtype,
    lora_targets: dict[str, list[tuple[LoraPlan, str]]],
):
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
        targets = lora_targets.get(layer) if layer else None
        if layer in quantized_layers:
            stem = key[: -len(".weight")]
            shapes = [a.shape for a in quantize_weight(mx.zeros(info.shape, dtype), spec)]  # lazy: shapes only
            parts = _QuantizedParts(file, key, scale_key, spec, dtype, targets)
            yield key, tuple(shapes[0]), "U32", parts.weight
            yield f"{stem}.scales", tuple(shapes[1]), _DTYPE_NAMES[dtype], parts.scales
            yield f"{stem}.biases", tuple(shapes[2]), _DTYPE_NAMES[dtype], parts.biases
        elif targets:  # a full-precision layer with LoRAs: fused, kept in its stored float dtype
            stored = _FLOAT_DTYPES.get(info.dtype, dtype)
            yield key, info.shape, _DTYPE_NAMES[stored], lambda k=key, s=scale_key, t=targets, d=stored: _fused(
                _load_float32(file, k, s), t, d
            )
        elif scale_key is not None:
            yield key, info.shape, _DTYPE_NAMES[dtype], lambda k=key, s=scale_key: _load_float32(file, k, s).astype(dtype)
        else:
            yield key, info.shape, info.dtype, lambda k=key: file.read_numpy(k)  # copied byte for byte


def _load_float32(file, key: str, scale_key: str | None) -> mx.array:
    weight = file.load(key, mx.float32)
    return dequantize_fp8(weight, file.load(scale_key)) if scale_key else weight


class _QuantizedParts:
    """Quantizes one weight (with its LoRAs fused first) once and hands out its three parts in write order."""

    def __init__(self, file, key: str, scale_key: str | None, spec: QuantizationSpec, dtype: mx.Dtype, targets=None):
        self.file, self.key, self.scale_key, self.spec, self.dtype = file, key, scale_key, spec, dtype
        self.targets = targets
        self._parts: tuple[mx.array, ...] | None = None

    def _get(self, index: int) -> mx.array:
        if self._parts is None:
            if self.targets:
                # The weight as the resident model holds it (in ``dtype``), then the fuse's float32 arithmetic.
                weight = _fused(_load_float32(self.file, self.key, self.scale_key).astype(self.dtype), self.targets,
                                self.dtype)  # fmt: skip
            else:
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
