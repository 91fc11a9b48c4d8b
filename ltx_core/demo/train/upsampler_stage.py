"""Stages ``spatial-upsampler`` and ``temporal-upsampler``: the latent upsamplers learn to map the
latent of a clip to the latent of the same clip at twice the size (spatial: 2x height and width;
temporal: the same 0.7 s rendered with twice the frame rate), both from the frozen video encoder,
the steps taking the geometries of ``UPSAMPLER_GEOMETRIES`` in turn. Loss: MSE in the normalised
latent space, through ``upsample_video`` as the pipelines run it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.synthetic import render_video
from ltx_core.demo.train.data import ClipGeometry, training_spec
from ltx_core.demo.train.weights import ParameterIndex, save_components


@dataclass
class UpsamplerStage:
    model_folder: Path
    geometries: tuple[ClipGeometry, ...]  # spatial: the small side of each pair; temporal: the fast one
    kind: str = "spatial"  # or "temporal"
    batch_size: int = 2
    seed: int = 0
    name: str = field(init=False)
    modules: nn.Module = field(init=False)

    def __post_init__(self) -> None:
        from ltx_core.demo import CHECKPOINT, SPATIAL_UPSAMPLER, TEMPORAL_UPSAMPLER
        from ltx_core.loader.upsampler import load_upsampler
        from ltx_core.loader.video_vae import load_video_encoder

        if self.kind not in ("spatial", "temporal"):
            raise ValueError(f"unknown upsampler kind {self.kind!r}: use spatial or temporal")
        self.name = f"{self.kind}-upsampler"
        self.file = Path(self.model_folder) / (SPATIAL_UPSAMPLER if self.kind == "spatial" else TEMPORAL_UPSAMPLER)
        self.encoder = load_video_encoder(Path(self.model_folder) / CHECKPOINT)
        self._index = ParameterIndex.probe(self.file, load_upsampler)
        self.modules = load_upsampler(self.file)
        self.modules.train()

    def pair_geometry(self, step: int) -> tuple[ClipGeometry, ClipGeometry]:
        g = self.geometries[step % len(self.geometries)]
        if self.kind == "spatial":
            return g, replace(g, height=2 * g.height, width=2 * g.width)
        low = replace(g, frames=(g.frames - 1) // 2 + 1, fps=g.fps / 2)
        return low, g

    def batch(self, step: int) -> tuple[mx.array, mx.array]:
        specs = [training_spec(self.seed, step, i) for i in range(self.batch_size)]
        latents = []
        for g in self.pair_geometry(step):
            video = mx.array(np.stack([render_video(spec, g.frames, g.height, g.width) for spec in specs]))
            pixels = video.astype(mx.float32).transpose(0, 4, 1, 2, 3) / 127.5 - 1.0
            latents.append(self.encoder(pixels))
        mx.eval(latents)
        return latents[0], latents[1]

    def loss(self, batch: tuple[mx.array, mx.array], key: mx.array) -> tuple[mx.array, dict[str, mx.array]]:
        from ltx_core.model.upsampler.model import upsample_video

        low, high = batch
        predicted = upsample_video(low, self.encoder.per_channel_statistics, self.modules)
        loss = mx.mean((predicted - high) ** 2)
        return loss, {"target_variance": mx.var(high)}

    def export(self) -> None:
        save_components(self.file, [(self.modules, self._index)])
