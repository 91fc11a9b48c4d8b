"""Backend set-up for MLX: BLAS selection on Linux and the default compute dtype.

This module must not import ``mlx`` at module level: ``preload_fast_blas`` has to run
before the first ``import mlx.core`` for the faster BLAS to take effect.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings

# Debian/Ubuntu's pthread OpenBLAS (package libopenblas0-pthread). The mlx[cpu] wheel
# otherwise falls back to a bundled reference BLAS that is 30-80x slower.
OPENBLAS_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
)

_loaded_blas: str | None = None


def preload_fast_blas() -> str | None:
    """Load OpenBLAS globally before MLX on Linux; return its path (None if not loaded).

    Set ``LTX_OPENBLAS`` to a library path to choose another build, or to ``0`` to skip.
    """
    global _loaded_blas
    if _loaded_blas is not None or not sys.platform.startswith("linux"):
        return _loaded_blas
    choice = os.environ.get("LTX_OPENBLAS", "")
    if choice == "0":
        return None
    if "mlx.core" in sys.modules:
        warnings.warn("mlx was imported before ltx_core: OpenBLAS could not be preloaded", stacklevel=2)
        return None
    for path in (choice,) if choice else OPENBLAS_CANDIDATES:
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            _loaded_blas = path
            return path
    warnings.warn(
        "OpenBLAS not found (install Debian's libopenblas0-pthread): MLX falls back to a reference "
        "BLAS that is 30-80x slower on this machine.",
        stacklevel=2,
    )
    return None


def loaded_blas() -> str | None:
    return _loaded_blas


def default_compute_dtype():
    """bfloat16 on GPU backends (Metal, CUDA); float32 on the CPU backend, where MLX has no
    fast half-precision kernels."""
    import mlx.core as mx

    return mx.bfloat16 if mx.default_device().type == mx.DeviceType.gpu else mx.float32


def backend_name() -> str:
    import mlx.core as mx

    if mx.default_device().type != mx.DeviceType.gpu:
        return "cpu"
    if mx.metal.is_available():
        return "metal"
    return "cuda"
