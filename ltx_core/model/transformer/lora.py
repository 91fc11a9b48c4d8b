"""The module side of LoRA: fusing low-rank deltas into Linear weights, and a side path for
QuantizedLinear layers that leaves the quantized weight untouched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import mlx.core as mx
import mlx.nn as nn


@dataclass(frozen=True)
class LowRank:
    """One LoRA on one layer: ``delta W = strength * up @ down`` with down (rank, in), up (out, rank)."""

    down: mx.array
    up: mx.array
    strength: float


def layer_features(layer: nn.Module) -> tuple[int, int]:
    """(in, out) features of a Linear or QuantizedLinear layer."""
    if isinstance(layer, nn.QuantizedLinear):
        return layer.scales.shape[-1] * layer.group_size, layer.weight.shape[0]
    return layer.weight.shape[1], layer.weight.shape[0]


def low_rank_delta(parts: Sequence[LowRank]) -> mx.array:
    """``sum(strength * up @ down)`` in float32 (the official fuse multiplies ``up`` by the
    strength before the product and sums the products of all LoRAs)."""
    total = None
    for part in parts:
        product = (part.up.astype(mx.float32) * part.strength) @ part.down.astype(mx.float32)
        total = product if total is None else total + product
    assert total is not None
    return total


def fuse_into_linear(layer: nn.Linear, parts: Sequence[LowRank], sign: float = 1.0) -> None:
    """``W += sign * delta``, computed in float32 and cast back to the weight's dtype."""
    weight = layer.weight
    delta = low_rank_delta(parts)
    fused = weight.astype(mx.float32) + delta if sign > 0 else weight.astype(mx.float32) - delta
    layer.weight = fused.astype(weight.dtype)
    mx.eval(layer.weight)


@dataclass
class SidePaths:
    """LoRAs riding along a quantized layer, one stacked pair per owner (an ``AppliedLoras``):
    the owner's LoRAs concatenated along the rank axis, strengths folded into ``up``, transposed
    and cast to the compute dtype. Several owners are concatenated again, so any number of LoRAs
    costs two thin matmuls."""

    owners: dict[int, tuple[mx.array, mx.array]] = field(default_factory=dict)
    down_t: mx.array | None = None
    up_t: mx.array | None = None

    def add(self, owner: int, parts: Sequence[LowRank], dtype: mx.Dtype) -> None:
        down = mx.concatenate([p.down.astype(mx.float32) for p in parts], axis=0)
        up = mx.concatenate([p.up.astype(mx.float32) * p.strength for p in parts], axis=1)
        self.owners[owner] = (down.T.astype(dtype), up.T.astype(dtype))
        self._restack()

    def discard(self, owner: int) -> None:
        self.owners.pop(owner, None)
        self._restack()

    def _restack(self) -> None:
        pairs = list(self.owners.values())
        if not pairs:
            self.down_t = self.up_t = None
        elif len(pairs) == 1:
            self.down_t, self.up_t = pairs[0]
        else:
            self.down_t = mx.concatenate([d for d, _ in pairs], axis=1)
            self.up_t = mx.concatenate([u for _, u in pairs], axis=0)
        mx.eval(self.down_t, self.up_t)


class LoraQuantizedLinear(nn.QuantizedLinear):
    """A QuantizedLinear whose output gains ``(x @ down^T) @ (strength * up)^T``.

    Existing layers are switched to this class in place (``__class__``), so the parameter tree,
    the quantized weight and every reference to the layer stay as they were; the LoRA matrices
    live in a plain attribute and are not model parameters.
    """

    side_paths: SidePaths

    def __call__(self, x: mx.array) -> mx.array:
        y = super().__call__(x)
        paths = self.side_paths
        if paths.down_t is None:
            return y
        return y + (x @ paths.down_t) @ paths.up_t


def add_side_path(layer: nn.QuantizedLinear, owner: int, parts: Sequence[LowRank]) -> None:
    if not isinstance(layer, LoraQuantizedLinear):
        layer.__class__ = LoraQuantizedLinear
        layer.side_paths = SidePaths()
    layer.side_paths.add(owner, parts, layer.scales.dtype)


def remove_side_path(layer: nn.QuantizedLinear, owner: int) -> None:
    if not isinstance(layer, LoraQuantizedLinear):
        return
    layer.side_paths.discard(owner)
    if not layer.side_paths.owners:
        del layer.__dict__["side_paths"]
        layer.__class__ = nn.QuantizedLinear
