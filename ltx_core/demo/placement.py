"""Quality checks of the demo models beyond the caption words (issue 18), for
``python -m ltx_core.demo.evaluate``: does the shape appear where keyframe images and IC-LoRA edges
put it, and does the spatial upsampler add detail over resizing.

Every job goes through the normal path (``build_ledger`` + ``run_job``) at the demo geometry, on
held-out captions, and is compared with a text-only job of the same caption and seed: placement is
the mean distance (fraction of the frame's side) between the shape's centre read from the written
mp4 (``track_shape``) and where the images or edges put it (the clip's true centres).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# A job places the shape when its mean centre distance is below this (a tenth of the frame).
PLACEMENT_TOLERANCE = 0.1


@dataclass(frozen=True)
class PlacementResult:
    what: str
    jobs: int
    hit_rate: float  # share of jobs placing the shape within PLACEMENT_TOLERANCE
    mean_distance: float
    text_only_distance: float  # the same caption and seed without the images or edges


def demo_request(ledger, pipeline: str, caption: str, seed: int, steps: int, cfg: float, **extra):
    """A request at the demo geometry with CFG ``cfg`` and an empty negative prompt."""
    from ltx_core.components.guiders import MultiModalGuiderParams
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.pipelines.request import GenerationRequest

    g = ClipGeometry()
    return GenerationRequest.for_version(
        ledger.version, pipeline, prompt=caption, negative_prompt="", seed=seed, height=g.height, width=g.width,
        frames=g.frames, fps=g.fps, steps=steps, video_guidance=MultiModalGuiderParams(cfg_scale=cfg),
        audio_guidance=MultiModalGuiderParams(cfg_scale=cfg), **extra,
    )  # fmt: skip


def run_demo_job(ledger, pipeline: str, request, path: Path):
    """Run a demo-geometry job through ``run_job``; its record and the uint8 frames read back from the mp4."""
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.media.video_read import read_video_frames
    from ltx_core.pipelines.runner import run_job

    g = ClipGeometry()
    record = run_job(ledger, pipeline, request, path)
    frames, _ = read_video_frames(record.video, g.height, g.width, g.frames)
    return record, frames.astype(np.uint8)


def _centres(ledger, pipeline: str, request, path: Path) -> np.ndarray:
    """(F, 2) shape centres (x, y) of the job's video."""
    from ltx_core.demo.synthetic import track_shape

    track = track_shape(run_demo_job(ledger, pipeline, request, path)[1])
    return np.stack([track.centre_x, track.centre_y], axis=1)


def _truth(spec, frames: int) -> np.ndarray:
    x, y, _ = spec.centre_and_radius(np.linspace(0.0, 1.0, frames))
    return np.stack([x, y], axis=1)


def _distance(seen: np.ndarray, truth: np.ndarray, frames: list[int]) -> float:
    return float(np.mean(np.linalg.norm(seen[frames] - truth[frames], axis=1)))


def _placed_spec(caption: str, rng: np.random.Generator):
    """The caption's clip at a random start position (as training clips are), so that the text
    alone cannot say where the shape is."""
    from ltx_core.demo.synthetic import ClipSpec

    wanted = ClipSpec.from_caption(caption)
    while True:
        sample = ClipSpec.sample(rng)
        if sample.motion == wanted.motion:
            return replace(sample, colour=wanted.colour, shape=wanted.shape, background=wanted.background)


def keyframe_placement(ledger, captions, steps: int, cfg: float, seed: int = 0, log=print) -> PlacementResult:
    """Keyframe interpolation with the clip's first and last frames as images: is the shape at
    their places at those frames?"""
    from PIL import Image

    from ltx_core.demo.synthetic import render_video
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.pipelines.request import ImageCondition

    g, rng = ClipGeometry(), np.random.default_rng(seed)
    ends = [0, g.frames - 1]
    distances, baselines = [], []
    with tempfile.TemporaryDirectory(prefix="ltx-demo-keyframes-") as folder:
        for index, caption in enumerate(captions):
            spec = _placed_spec(caption, rng)
            video = render_video(spec, g.frames, g.height, g.width)
            images = []
            for k in ends:  # image files, as a user gives them (the pipeline sizes them per stage)
                Image.fromarray(video[k]).save(Path(folder) / f"k{index}-{k}.png")
                images.append(ImageCondition(Path(folder) / f"k{index}-{k}.png", k))
            jobs = (
                (
                    "keyframes",
                    demo_request(ledger, "keyframes", caption, seed + index, steps, cfg, images=tuple(images)),
                ),
                ("one-stage", demo_request(ledger, "one-stage", caption, seed + index, steps, cfg)),
            )
            distance, baseline = _distances(ledger, jobs, Path(folder) / str(index), _truth(spec, g.frames), ends)
            distances.append(distance)
            baselines.append(baseline)
            log(f"keyframes {caption!r}: {distances[-1]:.3f} from the images' places (text only {baselines[-1]:.3f})")
    return _result("keyframe images", distances, baselines)


def control_placement(ledger, ic_lora: Path, captions, seed: int = 0, log=print) -> PlacementResult:
    """IC-LoRA control with the Canny edges of the caption's clip at a random place: does the
    shape follow the edges, frame by frame?"""
    from ltx_core.demo.synthetic import render_video
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.media import canny_video, write_mp4
    from ltx_core.pipelines.request import LoraChoice

    g, rng = ClipGeometry(), np.random.default_rng(seed + 1)
    every = list(range(g.frames))
    distances, baselines = [], []
    with tempfile.TemporaryDirectory(prefix="ltx-demo-control-") as folder:
        for index, caption in enumerate(captions):
            spec = _placed_spec(caption, rng)
            edges = Path(folder) / f"edges{index}.mp4"
            write_mp4(edges, canny_video([render_video(spec, g.frames, g.height, g.width)]), g.fps, sidecar=False)
            control = demo_request(
                ledger, "ic-lora", caption, seed + index, 8, 1.0, control_video=edges,
                control_loras=(LoraChoice(ic_lora, 1.0),),
            )  # fmt: skip
            jobs = (
                ("ic-lora", control),
                ("distilled", demo_request(ledger, "distilled", caption, seed + index, 8, 1.0)),
            )
            distance, baseline = _distances(ledger, jobs, Path(folder) / str(index), _truth(spec, g.frames), every)
            distances.append(distance)
            baselines.append(baseline)
            log(f"IC-LoRA {caption!r}: {distances[-1]:.3f} from the edges (text only {baselines[-1]:.3f})")
    return _result("IC-LoRA edges", distances, baselines)


def _distances(ledger, jobs, stem: Path, truth: np.ndarray, frames: list[int]) -> tuple[float, float]:
    """Mean centre distances to ``truth`` at ``frames`` of the conditioned job and the text-only one."""
    seen = [
        _centres(ledger, pipeline, request, stem.with_name(f"{stem.name}-{pipeline}.mp4")) for pipeline, request in jobs
    ]
    return _distance(seen[0], truth, frames), _distance(seen[1], truth, frames)


def _result(what: str, distances: list[float], baselines: list[float]) -> PlacementResult:
    hits = float(np.mean([d < PLACEMENT_TOLERANCE for d in distances])) if distances else 0.0
    return PlacementResult(what, len(distances), hits, float(np.mean(distances)), float(np.mean(baselines)))


def upsampler_gain(model_folder: Path, captions) -> tuple[float, float]:
    """PSNR (dB) against the clip drawn at 128 pixels of: the 64-pixel latent upsampled by the
    spatial upsampler and decoded; the 64-pixel latent decoded and resized 2x (bilinear)."""
    import mlx.core as mx

    from ltx_core.demo import CHECKPOINT, SPATIAL_UPSAMPLER
    from ltx_core.demo.synthetic import ClipSpec, render_video
    from ltx_core.demo.train.data import ClipGeometry, video_pixels
    from ltx_core.loader.upsampler import load_upsampler
    from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder
    from ltx_core.model.upsampler.model import upsample_video

    checkpoint = Path(model_folder) / CHECKPOINT
    encoder, decoder = load_video_encoder(checkpoint), load_video_decoder(checkpoint)
    upsampler = load_upsampler(Path(model_folder) / SPATIAL_UPSAMPLER)
    g = ClipGeometry()
    upsampled, resized = [], []
    for caption in captions:
        spec = ClipSpec.from_caption(caption)
        small = video_pixels([render_video(spec, g.frames, g.height // 2, g.width // 2)])
        large = video_pixels([render_video(spec, g.frames, g.height, g.width)])
        latent = encoder(small)
        through = mx.clip(decoder(upsample_video(latent, encoder, upsampler)), -1.0, 1.0)
        upsampled.append(float(mx.mean((through - large) ** 2)))
        decoded = np.array(mx.clip(decoder(latent), -1.0, 1.0))
        resized.append(float(np.mean((_bilinear_2x(decoded) - np.array(large)) ** 2)))
    return _psnr(upsampled), _psnr(resized)


def _bilinear_2x(video: np.ndarray) -> np.ndarray:
    """(B, C, F, H, W) -> (B, C, F, 2H, 2W), the pipelines' bilinear image resize frame by frame."""
    from ltx_core.media.image import resize_bilinear

    b, c, f, h, w = video.shape
    frames = video.transpose(0, 2, 3, 4, 1).reshape(b * f, h, w, c)
    wide = np.stack([resize_bilinear(frame, 2 * h, 2 * w) for frame in frames])
    return wide.reshape(b, f, 2 * h, 2 * w, c).transpose(0, 4, 1, 2, 3)


def _psnr(errors: list[float]) -> float:
    return float(10 * np.log10(4.0 / max(np.mean(errors), 1e-10)))
