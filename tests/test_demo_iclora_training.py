"""The demo IC-LoRA stage (issue 18): the reference is the clip's Canny edges appended as the
pipeline appends them, only the LoRA matrices learn, and the exported file, fused by the normal
LoRA loader, computes what the trained side path computed."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn
from mlx.utils import tree_flatten

from ltx_core.demo import IC_LORA, write_demo_set
from ltx_core.demo.synthetic import CAPTION_RADIUS, ClipSpec
from ltx_core.demo.train.data import ClipGeometry
from ltx_core.demo.train.iclora_stage import ICLoraStage, edge_video
from ltx_core.demo.train.loop import TrainOptions, run
from ltx_core.loader.components import load_transformer
from ltx_core.loader.lora import LoraFile, apply_loras
from ltx_core.model.transformer.model import Modality

SMALL = ClipGeometry(frames=9, height=64, width=64)


def test_edge_video_is_canny_at_the_output_size_resized_to_stage_one():
    spec = ClipSpec.from_caption("a white square still on a black background")
    edges = edge_video(SMALL, spec)
    assert edges.shape == (9, 64, 64, 3) and edges.dtype == np.uint8
    lit = edges[0, :, :, 0] > 0
    ys, xs = np.nonzero(lit)
    # The square's outline (half side CAPTION_RADIUS * sqrt(pi) / 2 of the frame) around the centre, nothing inside.
    half = CAPTION_RADIUS * np.sqrt(np.pi) / 2 * 64
    assert abs(ys.min() - (32 - half)) <= 1.5 and abs(xs.max() - (32 + half)) <= 1.5
    assert not lit[28:36, 28:36].any()


def test_iclora_stage_trains_only_the_lora_and_exports_what_the_loader_fuses(tmp_path: Path):
    model = write_demo_set(tmp_path / "model")
    stage = ICLoraStage(model, ((SMALL, 1.0),), batch_size=2, pool_clips=2)
    batch = stage.batch(0)
    target = 2 * 2 * 2
    assert batch["video"].shape[1] == 2 * target  # the reference doubles the video tokens
    assert np.all(np.array(batch["conditioned"])[:, target:] == 1)
    trainable = {name for name, _ in tree_flatten(stage.modules.trainable_parameters())}
    assert trainable and all(name.endswith(("lora_a", "lora_b")) for name in trainable)
    original = set(LoraFile(model / IC_LORA).modules)
    assert set(stage.wrappers) == original and len(trainable) == 2 * len(original)
    (_, _), grads = nn.value_and_grad(stage.modules, stage.loss)(batch, mx.random.key(0))
    assert all(float(mx.abs(g).max()) > 0 for name, g in tree_flatten(grads) if name.endswith("lora_b"))

    run(stage, tmp_path, TrainOptions(steps=2, log_every=1, learning_rate=1e-2), log=lambda _: None)
    exported = LoraFile(model / IC_LORA)
    assert set(exported.modules) == original
    assert any(float(mx.abs(exported.pair(m)[1]).max()) > 0 for m in original)  # B moved off zero

    def velocity(transformer) -> np.ndarray:
        video = Modality(
            latent=batch["video"], sigma=mx.array([0.5, 0.5]), timesteps=0.5 * (1 - batch["conditioned"]),
            positions=batch["video_positions"], context=batch["video_context"],
        )  # fmt: skip
        audio = Modality(
            latent=batch["audio"], sigma=mx.array([0.5, 0.5]), timesteps=mx.full(batch["audio"].shape[:2] + (1,), 0.5),
            positions=batch["audio_positions"], context=batch["audio_context"],
        )  # fmt: skip
        return np.array(transformer(video, audio)[0])

    trained = velocity(stage.modules)
    fused = load_transformer(model / "ltx2-demo.safetensors")
    base = velocity(fused)
    with apply_loras(fused, [(model / IC_LORA, 1.0)]):
        through_loader = velocity(fused)
    assert np.abs(trained - base).max() > 1e-4  # the LoRA changes the output
    np.testing.assert_allclose(through_loader, trained, rtol=0, atol=2e-5 * np.abs(trained).max())
