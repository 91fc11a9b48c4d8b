"""Training batches of synthetic clips and a fixed held-out caption split.

A batch is a pure function of ``(seed, step)``: resuming at step ``s`` needs no stored data RNG,
only ``s``. Captions whose grammar combination is in the held-out split never appear in training
clips, so the quality script scores prompts the model has not seen.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import mlx.core as mx
import numpy as np

from ltx_core.demo.synthetic import MOTIONS, SHAPES, Clip, ClipSpec, contrasting_pairs, render_audio, render_video

HELD_OUT_EVERY = 8  # one caption combination in 8 is held out


@dataclass(frozen=True)
class ClipGeometry:
    """The demo resolution and clip length (pixel frames are 8k+1, sides multiples of 32)."""

    frames: int = 17
    height: int = 128
    width: int = 128
    fps: float = 24.0
    sample_rate: int = 16000


# What the transformer trains on, with each geometry's share of the steps: the demo size, the first
# stage of a two-stage job at that size (half the sides), and longer clips (extension, keyframes).
TRANSFORMER_GEOMETRIES: tuple[tuple[ClipGeometry, float], ...] = (
    (ClipGeometry(), 0.5),
    (ClipGeometry(height=64, width=64), 0.3),
    (ClipGeometry(frames=25), 0.2),
)
# The IC-LoRA's: the first stage of its two-stage pipeline at the demo size and at twice it.
ICLORA_GEOMETRIES: tuple[tuple[ClipGeometry, float], ...] = (
    (ClipGeometry(height=64, width=64), 0.6),
    (ClipGeometry(), 0.4),
)
# The upsamplers' input sizes, taken in turn: stage 1 of a two-stage job at the demo size and at
# twice it.
UPSAMPLER_GEOMETRIES = (ClipGeometry(height=64, width=64), ClipGeometry())


def is_held_out(spec: ClipSpec) -> bool:
    combination = f"{spec.colour}|{spec.shape}|{spec.motion}|{spec.background}"
    return zlib.crc32(combination.encode()) % HELD_OUT_EVERY == 0


@cache
def held_out_captions() -> tuple[str, ...]:
    captions = []
    for colour, background in contrasting_pairs():
        for shape in SHAPES:
            for motion in MOTIONS:
                spec = ClipSpec(colour, shape, motion, background)
                if is_held_out(spec):
                    captions.append(spec.caption)
    return tuple(captions)


def training_spec(seed: int, step: int, index: int) -> ClipSpec:
    """Spec ``index`` of the batch of ``step``: the first sampled spec not in the held-out split."""
    rng = np.random.default_rng([seed, step, index])
    spec = ClipSpec.sample(rng)
    while is_held_out(spec):
        spec = ClipSpec.sample(rng)
    return spec


def training_clip(seed: int, step: int, index: int, geometry: ClipGeometry) -> Clip:
    spec, g = training_spec(seed, step, index), geometry
    return Clip(
        spec.caption,
        render_video(spec, g.frames, g.height, g.width),
        render_audio(spec, g.frames, g.fps, g.sample_rate),
        g.sample_rate,
    )


def shape_crop(spec: ClipSpec, video: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` x ``size`` window of ``video`` (frames, H, W, 3) around the shape's mid-clip
    centre, jittered by up to a quarter of the window: the VAE stage trains on these (a quarter
    of the pixels of a 128-pixel clip) and, being convolutional, decodes whole frames alike."""
    _, height, width, _ = video.shape
    if size >= min(height, width):
        return video
    scale = min(height, width)
    x, y, _ = spec.centre_and_radius(np.array([0.5]))
    jitter = rng.integers(-size // 4, size // 4 + 1, 2)
    top = int(np.clip(round(float(y[0]) * scale + (height - scale) / 2) - size // 2 + jitter[0], 0, height - size))
    left = int(np.clip(round(float(x[0]) * scale + (width - scale) / 2) - size // 2 + jitter[1], 0, width - size))
    return video[:, top : top + size, left : left + size]


def pixels(clips: list[Clip]) -> mx.array:
    """(B, 3, F, H, W) in [-1, 1], as the VAE encoder takes them."""
    return video_pixels([clip.video for clip in clips])


def video_pixels(videos: list[np.ndarray]) -> mx.array:
    """uint8 (F, H, W, 3) frames -> (B, 3, F, H, W) in [-1, 1]."""
    video = np.stack(videos).astype(np.float32) / 127.5 - 1.0
    return mx.array(video.transpose(0, 4, 1, 2, 3))
