"""Safetensors + config -> MLX modules."""

from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.loader.components import load_transformer, resolve_dtype, transformer_config
from ltx_core.loader.safetensors_file import SafetensorsFile

__all__ = ["LTXCheckpoint", "SafetensorsFile", "load_transformer", "resolve_dtype", "transformer_config"]
