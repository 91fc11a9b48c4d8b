"""Parity comparison used by every fixture test: prints ``PARITY <key> <relative max error>``."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

# Tolerances of the fixture README (float32): 1e-4; 2e-4 downstream of RoPE, whose float32
# position arithmetic may round differently; RoPE tables themselves are compared absolutely.
TOLERANCE = 1e-4
DOWNSTREAM_OF_ROPE = 2e-4
ROPE_TABLE_ABSOLUTE = 1e-3


def load_npz(path) -> dict[str, np.ndarray]:
    """Every array of a reference .npz, read once (the file is closed after)."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def to_numpy(value) -> np.ndarray:
    if isinstance(value, mx.array):
        value = np.array(value.astype(mx.float32) if value.dtype == mx.bfloat16 else value)
    return np.asarray(value)


def relative_max_error(ours, ref) -> float:
    ours, ref = to_numpy(ours).astype(np.float64), np.asarray(ref).astype(np.float64)
    if ours.shape != ref.shape:
        raise AssertionError(f"shape mismatch: ours {ours.shape}, reference {ref.shape}")
    scale = np.abs(ref).max()
    diff = np.abs(ours - ref).max()
    return float(diff / scale) if scale > 0 else float(diff)


def check_parity(key: str, ours, ref, tolerance: float = TOLERANCE) -> float:
    error = relative_max_error(ours, ref)
    print(f"PARITY {key} {error:.3e}")
    assert np.isfinite(error) and error <= tolerance, f"{key}: relative max error {error:.3e} > {tolerance:.1e}"
    return error


def check_absolute(key: str, ours, ref, tolerance: float) -> float:
    ours, ref = to_numpy(ours).astype(np.float64), np.asarray(ref).astype(np.float64)
    assert ours.shape == ref.shape, f"{key}: shape mismatch: ours {ours.shape}, reference {ref.shape}"
    error = float(np.abs(ours - ref).max())
    print(f"PARITY {key} {error:.3e} (absolute)")
    assert error <= tolerance, f"{key}: absolute max error {error:.3e} > {tolerance:.1e}"
    return error
