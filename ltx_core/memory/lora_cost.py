"""What a LoRA costs in memory under a memory mode, as the estimator counts it: fused into
full-precision weights (only a transient while fusing), a side path beside quantized layers
(A/B of every block in the compute dtype), or a streamed side path (one block's A/B at a time).
A LoRA fused once with ``convert --lora`` costs none of these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltx_core.memory.common import DTYPE_BYTES
from ltx_core.memory.estimate import LoraFootprint

FUSED, SIDE_PATH, STREAMED = "fused", "side path", "streamed side path"


@dataclass(frozen=True)
class LoraCost:
    mode: str  # FUSED, SIDE_PATH or STREAMED
    resident: int  # bytes held while a stage that applies it runs
    transient: int  # bytes while it is being fused (full-precision layers only)


def lora_cost(footprint: LoraFootprint, dtype: str, quantized: bool, streaming: bool) -> LoraCost:
    """The cost of LoRAs with ``footprint`` on a transformer in ``dtype``, quantized or not, streamed or not."""
    if not quantized:
        return LoraCost(FUSED, 0, footprint.fuse_bytes())
    return LoraCost(STREAMED if streaming else SIDE_PATH, footprint.side_path_bytes(DTYPE_BYTES[dtype], streaming), 0)


def lora_cost_for_preset(footprint: LoraFootprint, preset: Any, backend: str | None = None) -> LoraCost:
    """``lora_cost`` under a memory preset as it runs on ``backend`` ("auto" dtype: float32 on the
    CPU backend, bfloat16 on GPUs)."""
    from ltx_core.backend import backend_name

    backend = backend or ("cpu" if backend_name() == "cpu" else "metal")
    dtype = preset.compute_dtype if preset.compute_dtype != "auto" else ("float32" if backend == "cpu" else "bfloat16")
    return lora_cost(footprint, dtype, preset.transformer_quantization is not None, bool(preset.block_streaming))
