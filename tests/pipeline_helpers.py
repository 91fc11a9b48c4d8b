"""A complete tiny model set for pipeline tests: the fixture checkpoint and upsamplers, and the
fixture Gemma with a locally built tokenizer (so typed prompts go through the real text path)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx

from ltx_core.components.noisers import GaussianNoiser

from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from tests.conftest import Reference
from tests.text_helpers import gemma_folder_with_tokenizer


def tiny_ledger(reference: Reference, tmp_path: Path, **paths) -> ModelLedger:
    gemma = tmp_path / "gemma"
    if not gemma.exists():
        gemma_folder_with_tokenizer(reference.directory / "gemma", gemma)
    return ModelLedger(
        ModelPaths(
            checkpoint=reference.checkpoint,
            gemma=gemma,
            spatial_upsampler=reference.directory / "ltx2-tiny-spatial-upsampler.safetensors",
            temporal_upsampler=reference.directory / "ltx2-tiny-temporal-upsampler.safetensors",
            **paths,
        )
    )


class InjectedNoise(GaussianNoiser):
    """Hands out given noise tensors in draw order (to reproduce a run whose noise is known)."""

    def __init__(self, tensors: list[mx.array]):
        super().__init__(0)
        self._tensors = list(tensors)

    def draw(self, shape: tuple[int, ...], dtype: mx.Dtype = mx.float32) -> mx.array:
        if not self._tensors:
            raise ValueError("no injected noise left for this draw")
        noise = self._tensors.pop(0)
        if tuple(noise.shape) != tuple(shape):
            raise ValueError(f"injected noise has shape {tuple(noise.shape)}, this draw needs {tuple(shape)}")
        return noise.astype(dtype)
