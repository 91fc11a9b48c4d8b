"""Stage ``iclora``: the IC-LoRA for edge control. The trained transformer is frozen; a low-rank
update on the linears the demo IC-LoRA file names (rank, modules and ``lora_A`` start from that
file; ``lora_B`` starts at zero, so training starts at the base model) learns the flow objective
of the transformer stage with the clip's Canny edges appended as clean reference tokens, exactly as
``ReferenceVideoConditioning`` appends them in the IC-LoRA pipeline. The edges are made as a user
makes them: Canny (the studio's default thresholds) on the clip at the output size, then resized to
the stage-1 size the pipeline generates at. Export: the A/B matrices into the IC-LoRA file,
official key layout (``diffusion_model.<module>.lora_A/B.weight``)."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.train.data import ClipGeometry, training_spec, video_pixels
from ltx_core.demo.train.transformer_stage import TransformerStage

# The pipeline's first stage runs the distilled schedule with the IC-LoRA: half the samples take
# those sigmas, the rest the official sampler's.
ICLORA_DISTILLED_SHARE = 0.5
ICLORA_POOL_CLIPS = 2048


class LowRankLinear(nn.Module):
    """``base(x) + (x Aᵀ) Bᵀ``: the LoRA as the fused weight ``W + B A`` computes it (strength 1)."""

    def __init__(self, base: nn.Module, lora_a: mx.array, lora_b: mx.array):
        super().__init__()
        self.base = base
        self.lora_a = lora_a
        self.lora_b = lora_b

    def __call__(self, x: mx.array) -> mx.array:
        return self.base(x) + (x @ self.lora_a.T) @ self.lora_b.T


def edge_video(geometry: ClipGeometry, spec) -> np.ndarray:
    """uint8 (F, H, W, 3) Canny edges of ``spec``'s clip drawn at twice ``geometry``'s sides (the
    output size of a two-stage job), averaged down 2x2 to the stage-1 size."""
    from ltx_core.demo.synthetic import render_video
    from ltx_core.media.canny import canny_video

    g = geometry
    edges = next(canny_video([render_video(spec, g.frames, 2 * g.height, 2 * g.width)])).astype(np.float32)
    small = edges.reshape(g.frames, g.height, 2, g.width, 2, 3).mean(axis=(2, 4))
    return np.round(small).astype(np.uint8)


@dataclass
class ICLoraStage(TransformerStage):
    pool_clips: int = ICLORA_POOL_CLIPS
    distilled_share: float = ICLORA_DISTILLED_SHARE
    conditioning_shares: tuple[tuple[str, float], ...] = (("first-frame", 0.1),)  # its pipeline takes images
    name: str = "iclora"

    def __post_init__(self) -> None:
        from ltx_core.demo import IC_LORA
        from ltx_core.loader.lora import LoraFile, plan_lora

        super().__post_init__()
        self.file = self.checkpoint.parent / IC_LORA
        lora = LoraFile(self.file)
        plan = plan_lora(lora, 1.0, self.modules)
        self.modules.freeze()
        self.wrappers: dict[str, LowRankLinear] = {}
        for module, path in sorted(plan.targets.items()):
            lora_a, lora_b = lora.pair(module)
            wrapper = LowRankLinear(_layer(self.modules, path), lora_a, mx.zeros_like(lora_b))
            _replace_layer(self.modules, path, wrapper)
            self.wrappers[module] = wrapper
        self.metadata = lora.metadata
        self._references: dict[tuple[int, int], mx.array] = {}

    def reference(self, geometry: int, number: int) -> mx.array:
        """The encoded edge video (1, C, F', H', W') of clip ``number`` of the pool of ``geometry``."""
        if (geometry, number) not in self._references:
            spec = training_spec(self.seed, number, geometry)
            latent = self.video_encoder(video_pixels([edge_video(self.geometries[geometry][0], spec)]))
            mx.eval(latent)
            self._references[geometry, number] = latent
        return self._references[geometry, number]

    def batch(self, step: int) -> dict:
        rng, which, numbers = self.draw(step)
        entries = [self.pooled_clip(which, n) for n in numbers]
        references = mx.concatenate([self.reference(which, n) for n in numbers])
        return self.assemble(rng, which, entries, references)

    def export(self) -> None:
        from ltx_core.demo.train.weights import write_file

        tensors = {}
        for module, wrapper in self.wrappers.items():
            tensors[f"diffusion_model.{module}.lora_A.weight"] = np.array(wrapper.lora_a.astype(mx.float32))
            tensors[f"diffusion_model.{module}.lora_B.weight"] = np.array(wrapper.lora_b.astype(mx.float32))
        write_file(self.file, tensors, self.metadata or None)


def _layer(root: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        root = root[int(part)] if isinstance(root, list) else getattr(root, part)
    return root


def _replace_layer(root: nn.Module, path: str, layer: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = _layer(root, parent_path) if parent_path else root
    if isinstance(parent, list):
        parent[int(name)] = layer
    else:
        setattr(parent, name, layer)
