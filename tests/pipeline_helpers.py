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


LORA_BLOCK_LAYERS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "ff.net.0.proj", "ff.net.2")
# Layers only one anatomy has (LTX-2: caption projection in the transformer; LTX-2.3: gated attention).
LORA_ANATOMY_LAYERS = ("caption_projection.linear_1", "transformer_blocks.0.attn1.to_gate_logits")


def tiny_lora(checkpoint: Path, path: Path, rank: int = 2, seed: int = 0) -> Path:
    """A small-valued LoRA shaped from ``checkpoint``'s own layers: every block's attention and
    feed-forward layers, the patchify projection and the layers only that checkpoint's anatomy
    has (so it carries the checkpoint's widths and version)."""
    import numpy as np

    from ltx_core.loader.safetensors_file import SafetensorsFile

    if path.exists():
        return path
    file = SafetensorsFile(checkpoint)
    prefix = "model.diffusion_model."
    blocks = sorted({k.split(".")[3] for k in file.keys() if k.startswith(prefix + "transformer_blocks.")}, key=int)
    modules = [f"transformer_blocks.{b}.{layer}" for b in blocks for layer in LORA_BLOCK_LAYERS]
    modules += ["patchify_proj", *LORA_ANATOMY_LAYERS]
    rng = np.random.default_rng(seed)
    tensors = {}
    for module in modules:
        key = f"{prefix}{module}.weight"
        if key not in file:
            continue
        out_features, in_features = file.info(key).shape
        tensors[f"diffusion_model.{module}.lora_A.weight"] = mx.array(rng.normal(0, 0.05, (rank, in_features)).astype("float32"))
        tensors[f"diffusion_model.{module}.lora_B.weight"] = mx.array(rng.normal(0, 0.05, (out_features, rank)).astype("float32"))
    file.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(path), tensors)
    return path
