"""Safetensors + config -> MLX modules."""

from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.loader.components import load_transformer, resolve_dtype, transformer_config
from ltx_core.loader.lora import AppliedLoras, LoraFile, LoraSpec, apply_loras, reference_downscale_factor
from ltx_core.loader.safetensors_file import SafetensorsFile

__all__ = [
    "AppliedLoras",
    "LTXCheckpoint",
    "LoraFile",
    "LoraSpec",
    "SafetensorsFile",
    "apply_loras",
    "load_transformer",
    "reference_downscale_factor",
    "resolve_dtype",
    "transformer_config",
]
