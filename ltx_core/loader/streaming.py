"""Block streaming: the transformer's blocks are read from the checkpoint just before each one
runs and released right after, so the resident weights are one block plus the small non-block
layers (embeddings, AdaLN, caption projection, output heads).

The checkpoint is memory-mapped (``SafetensorsFile``): each tensor is copied into MLX memory and
its file pages are dropped again, so nothing but the running block stays resident. A converted
(pre-quantized) checkpoint streams as stored, which is the realistic use; a bf16/float32 one is
converted, and quantized if asked, block by block at every step (correct but slow: quantizing
costs far more than reading). Outputs equal those of the resident model exactly: the same tensors
are read through the same conversion and run through the same ops. LoRAs applied to a streamed
model (``loader/lora.py``) enter each block after its weights are read and leave with it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from ltx_core.errors import LTXError
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.weights import TensorSource, read_tensor

_BLOCK = re.compile(r"transformer_blocks\.(\d+)\.")


def split_block_mapping(
    mapping: Mapping[str, TensorSource],
) -> tuple[dict[str, TensorSource], dict[int, dict[str, TensorSource]]]:
    """(non-block parameters, {block index: {name inside the block: source}})."""
    rest: dict[str, TensorSource] = {}
    blocks: dict[int, dict[str, TensorSource]] = {}
    for name, tensor in mapping.items():
        match = _BLOCK.match(name)
        if match is None:
            rest[name] = tensor
        else:
            blocks.setdefault(int(match.group(1)), {})[name[match.end() :]] = tensor
    return rest, blocks


class StreamingError(LTXError):
    """A streamed transformer was used in a way streaming cannot honour."""


@dataclass
class StreamStats:
    """What streaming cost so far: blocks read, bytes read into memory, seconds spent reading (LoRAs
    included) and, of those, seconds spent putting LoRAs into the blocks."""

    blocks: int = 0
    bytes: int = 0
    seconds: float = 0.0
    lora_seconds: float = 0.0


@dataclass
class BlockStreamer:
    """``LTXModel.block_hook`` that loads a block's weights in ``before`` and drops them in ``after``.

    Between blocks a released block holds placeholders: lazy, never-evaluated arrays of the
    right shapes and dtypes, which own no memory.
    """

    source: SafetensorsFile
    blocks: dict[int, dict[str, TensorSource]]
    dtype: mx.Dtype
    expected: dict[int, dict[str, mx.array]]  # per block: parameter name -> lazy placeholder
    stats: StreamStats = field(default_factory=StreamStats)
    loras: list = field(default_factory=list)  # AppliedLoras sets put into each block as it loads

    def before(self, block: nn.Module) -> None:
        started = time.perf_counter()
        expected = self.expected[block.index]
        current = dict(tree_flatten(block.parameters()))
        if current.keys() != expected.keys() or any(current[k] is not v for k, v in expected.items()):
            # Something changed a released block's weights behind the streamer's back: reloading
            # from the file would silently drop that change.
            raise StreamingError(
                f"transformer block {block.index} was modified while streamed; block streaming reloads weights "
                "from the checkpoint, so apply LoRAs with apply_loras (which streams them) and make other weight "
                "edits on a resident model."
            )
        loaded: list[tuple[str, mx.array]] = []
        for name, tensor in self.blocks[block.index].items():
            loaded.extend(read_tensor(self.source, name, tensor, self.dtype, expected))
        block.load_weights(loaded, strict=True)
        if self.loras:
            lora_started = time.perf_counter()
            for applied in self.loras:
                applied.apply_to_block(block)
            self.stats.lora_seconds += time.perf_counter() - lora_started
        # Start reading the next block's pages from disk while this one computes.
        following = self.blocks.get(block.index + 1, self.blocks.get(0, {}))
        self.source.prefetch(
            [k for t in following.values() for k in (t.key, t.fp8_scale_key) if k is not None]
        )
        self.stats.blocks += 1
        self.stats.bytes += sum(array.nbytes for _, array in loaded)
        self.stats.seconds += time.perf_counter() - started

    def after(self, block: nn.Module) -> None:
        for applied in self.loras:
            applied.remove_from_block(block)
        block.update(tree_unflatten(list(self.expected[block.index].items())))

    def release(self) -> None:
        """Nothing stays loaded between blocks; kept for the ledger's ``release`` protocol."""


def attach_streamer(
    model: nn.Module,
    source: SafetensorsFile,
    blocks: dict[int, dict[str, TensorSource]],
    dtype: mx.Dtype,
) -> BlockStreamer:
    """Install a ``BlockStreamer`` on ``model`` (an ``LTXModel`` whose blocks are still lazy)."""
    expected = {block.index: dict(tree_flatten(block.parameters())) for block in model.transformer_blocks}
    missing = sorted(set(expected) - set(blocks))
    if missing:
        raise ValueError(f"no weights for transformer blocks {missing}")
    streamer = BlockStreamer(source, blocks, dtype, expected)
    model.block_hook = streamer
    return streamer
