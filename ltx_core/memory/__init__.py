"""Peak-memory estimate of one generation, stage by stage, and a check that refuses what won't fit.

Everything is predicted from configs: weights from the lazily built modules (shapes and dtypes
only, nothing is allocated), activations from the token / voxel counts of each stage times
coefficients calibrated on measurements (``bench/memory_estimate.py`` prints predicted vs
measured on real-width slices; ``tests/test_memory.py`` checks the fixture stages).

Stages, in the order a pipeline runs them: text encoder, stage 1 (and stage 2 of the two-stage
recipes), upsample, video decode, audio decode. Each stage's peak is its resident weights plus
its largest transient working set; the ledger releases the previous stage's models first.
"""

from ltx_core.memory.common import GIB, MEMORY_UNIT, StageEstimate, gib, memory_size
from ltx_core.memory.estimate import (
    DenoisePass,
    Guidance,
    LoraFootprint,
    MemoryEstimate,
    estimate_for_preset,
    estimate_for_runtime,
    estimate_memory,
)
from ltx_core.memory.fit import InsufficientMemoryError, available_memory, check_fits, default_margin

__all__ = [
    "GIB",
    "MEMORY_UNIT",
    "gib",
    "memory_size",
    "DenoisePass",
    "Guidance",
    "LoraFootprint",
    "InsufficientMemoryError",
    "MemoryEstimate",
    "StageEstimate",
    "available_memory",
    "check_fits",
    "default_margin",
    "estimate_for_preset",
    "estimate_for_runtime",
    "estimate_memory",
]
