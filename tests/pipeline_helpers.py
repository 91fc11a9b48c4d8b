"""A complete tiny model set for pipeline tests: the fixture checkpoint and upsamplers, and the
fixture Gemma with a locally built tokenizer (so typed prompts go through the real text path)."""

from __future__ import annotations

from pathlib import Path

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
