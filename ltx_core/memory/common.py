"""What every stage estimate shares: byte sizes, latent geometry, the stage record, and the
bytes of a lazily built module's parameters (shapes and dtypes only, nothing allocated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
VIDEO_SCALE = (8, 32, 32)  # latent -> pixels (time, height, width)
AUDIO_LATENTS_PER_SECOND = 25
AUDIO_MEL_PER_LATENT = 4


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    weights: int
    activations: int
    notes: str = ""
    lora_side_path: int = 0  # of ``weights``: LoRA side paths on quantized layers (fusing with convert saves them)

    @property
    def peak(self) -> int:
        return self.weights + self.activations


def parameter_bytes(module: Any, dtype_bytes: int) -> int:
    """Bytes of ``module``'s parameters with floating ones in the compute dtype (integer ones,
    such as packed quantized weights, as they are)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    return sum(
        value.size * dtype_bytes if mx.issubdtype(value.dtype, mx.floating) else value.nbytes
        for _, value in tree_flatten(module.parameters())
    )


def latent_fhw(frames: int, height: int, width: int) -> tuple[int, int, int]:
    st, sh, sw = VIDEO_SCALE
    return (frames - 1) // st + 1, height // sh, width // sw


def audio_latent_frames(frames: int, fps: float) -> int:
    return round(frames / fps * AUDIO_LATENTS_PER_SECOND)
