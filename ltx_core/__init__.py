"""LTX-2 in MLX: model port, loaders, diffusion components and pipelines (no UI code here)."""

import os

from ltx_core.backend import preload_fast_blas

# transformers is only used for tokenizers here; its "PyTorch was not found" notice is noise.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

preload_fast_blas()

__version__ = "0.1.0"
