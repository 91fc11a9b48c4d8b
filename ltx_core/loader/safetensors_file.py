"""Lazy, tensor-by-tensor reader of one safetensors file.

The header is parsed without touching the data; each tensor is read from a memory map
only when asked for, converted to the target dtype and handed over as an ``mx.array``.
Nothing keeps a second copy: loading a component peaks near that component's own size.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError

MAX_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype -> (numpy storage dtype, MLX dtype reinterpreting that storage)
_STORAGE = {
    "F64": (np.float64, mx.float64),
    "F32": (np.float32, mx.float32),
    "F16": (np.float16, mx.float16),
    "BF16": (np.uint16, mx.bfloat16),
    "I64": (np.int64, mx.int64),
    "U32": (np.uint32, mx.uint32),
    "U16": (np.uint16, mx.uint16),
    "I32": (np.int32, mx.int32),
    "I16": (np.int16, mx.int16),
    "I8": (np.int8, mx.int8),
    "U8": (np.uint8, mx.uint8),
    "BOOL": (np.bool_, mx.bool_),
    "F8_E4M3": (np.uint8, mx.uint8),
    "F8_E5M2": (np.uint8, mx.uint8),
}
FP8_DTYPES = ("F8_E4M3", "F8_E5M2")


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


class SafetensorsFile:
    """One safetensors file: header, metadata and lazily read tensors."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise CheckpointError(f"{self.path}: no such file. Check the path to the weights.")
        if self.path.is_dir():
            raise CheckpointError(f"{self.path} is a folder; expected a single .safetensors file.")
        self.file_size = self.path.stat().st_size
        self.metadata, self.tensors, self._data_offset = _read_header(self.path, self.file_size)
        self._mmap: mmap.mmap | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def keys(self) -> list[str]:
        return list(self.tensors)

    def __contains__(self, key: str) -> bool:
        return key in self.tensors

    def info(self, key: str) -> TensorInfo:
        try:
            return self.tensors[key]
        except KeyError:
            raise CheckpointError(f"{self.name} has no tensor '{key}'.") from None

    def read_numpy(self, key: str) -> np.ndarray:
        """The stored bytes of one tensor as a read-only numpy view (bf16/fp8 as raw integers)."""
        info = self.info(key)
        if info.dtype not in _STORAGE:
            raise CheckpointError(f"{self.name}: tensor '{key}' has dtype {info.dtype}, which this port cannot read.")
        storage = _STORAGE[info.dtype][0]
        count = math.prod(info.shape)
        return np.frombuffer(self._map(), dtype=storage, count=count, offset=self._data_offset + info.start).reshape(
            info.shape
        )

    def load(self, key: str, dtype: mx.Dtype | None = None) -> mx.array:
        """Read one tensor into MLX memory; floating tensors are converted to ``dtype`` (integer ones,
        such as packed quantized weights, keep theirs). Evaluated: no lazy reference to the file.

        fp8 tensors (e4m3, e5m2) are upcast without their scale; callers apply the scale."""
        info = self.info(key)
        array = mx.array(self.read_numpy(key))
        if info.dtype == "F8_E4M3":
            array = mx.from_fp8(array, dtype=mx.float32 if dtype is None else dtype)
        elif info.dtype == "F8_E5M2":
            # e5m2 is the high byte of an IEEE float16
            array = (array.astype(mx.uint16) << 8).view(mx.float16)
        elif array.dtype != _STORAGE[info.dtype][1]:
            array = array.view(_STORAGE[info.dtype][1])
        if dtype is not None and array.dtype != dtype and mx.issubdtype(array.dtype, mx.floating):
            array = array.astype(dtype)
        mx.eval(array)
        self._release_pages(info)
        return array

    def prefetch(self, keys: list[str]) -> None:
        """Ask the kernel to start reading these tensors' pages in the background (MADV_WILLNEED),
        so a later ``load`` finds them in memory. Best effort: a no-op where unsupported."""
        if not hasattr(mmap, "MADV_WILLNEED") or not keys:
            return
        mapped = self._map()
        for key in keys:
            info = self.info(key)
            start = self._data_offset + info.start
            aligned = start - start % mmap.PAGESIZE
            try:
                mapped.madvise(mmap.MADV_WILLNEED, aligned, self._data_offset + info.end - aligned)
            except (OSError, ValueError):
                return

    def close(self) -> None:
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None

    def __enter__(self) -> "SafetensorsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self) -> mmap.mmap:
        if self._mmap is None:
            with open(self.path, "rb") as handle:
                self._mmap = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mmap

    def _release_pages(self, info: TensorInfo) -> None:
        """Tell the kernel the file pages just copied are no longer needed (keeps RSS near one copy)."""
        if self._mmap is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = self._data_offset + info.start
        aligned = start - start % mmap.PAGESIZE
        length = self._data_offset + info.end - aligned
        if length > 0:
            try:
                self._mmap.madvise(mmap.MADV_DONTNEED, aligned, length)
            except (OSError, ValueError):
                pass


def _read_header(path: Path, file_size: int) -> tuple[dict[str, str], dict[str, TensorInfo], int]:
    not_safetensors = (
        f"{path.name} is not a safetensors file (its header is unreadable). "
        "Expected an official LTX-2 .safetensors checkpoint."
    )
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{path.name} is not a safetensors file: it has only {file_size} bytes.")
        header_size = int.from_bytes(prefix, "little")
        if header_size <= 0 or header_size > MAX_HEADER_BYTES:
            raise CheckpointError(not_safetensors)
        if 8 + header_size > file_size:
            raise CheckpointError(
                f"{path.name} is truncated: its header needs {8 + header_size} bytes but the file has "
                f"{file_size}. The download is probably incomplete; download it again."
            )
        raw = handle.read(header_size)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(not_safetensors) from None
    if not isinstance(header, dict):
        raise CheckpointError(not_safetensors)
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    try:
        for key, entry in header.items():
            start, end = (int(v) for v in entry["data_offsets"])
            info = TensorInfo(dtype=str(entry["dtype"]), shape=tuple(int(s) for s in entry["shape"]), start=start, end=end)
            tensors[key] = info
            data_end = max(data_end, end)
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(not_safetensors) from None
    data_offset = 8 + header_size
    if data_offset + data_end > file_size:
        raise CheckpointError(
            f"{path.name} is truncated: its tensors need {data_offset + data_end} bytes but the file has "
            f"{file_size}. The download is probably incomplete; download it again."
        )
    return metadata, tensors, data_offset
