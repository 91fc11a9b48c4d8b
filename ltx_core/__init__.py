"""LTX-2 in MLX: model port, loaders, diffusion components and pipelines (no UI code here)."""

from ltx_core.backend import preload_fast_blas

preload_fast_blas()

__version__ = "0.1.0"
