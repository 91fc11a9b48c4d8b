"""What every stage estimate shares: byte sizes, latent geometry, the stage record, and the
bytes of a lazily built module's parameters (shapes and dtypes only, nothing allocated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3
MEMORY_UNIT = "GiB"  # every memory figure users see (estimates, refusals, Models tab, README tables)


def gib(n_bytes: float) -> str:
    """``n_bytes`` as users see memory: "18.8 GiB" (one decimal; 2**30 bytes)."""
    return f"{n_bytes / GIB:.1f} {MEMORY_UNIT}"


def memory_size(n_bytes: float) -> str:
    """A small or large amount of memory in the same binary units: "1.25 GiB", "0.05 MiB", "512 B"."""
    if n_bytes >= 10 * 2**20:
        return f"{n_bytes / GIB:.2f} GiB"
    return f"{n_bytes / 2**20:.2f} MiB" if n_bytes >= 10 * 2**10 else f"{int(n_bytes)} B"
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
