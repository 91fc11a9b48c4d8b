"""An existing clip that a pipeline edits in time (retake, extend): probing and checking it
before any model loads, its geometry, the model version its sidecar records, and putting its own
frames back where the edit keeps them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.model_spec import VersionSpec
from ltx_core.pipelines.request import RequestError

# Seconds of slack when a window's end is compared with the clip's end (the user types the
# duration the gallery shows, rounded).
WINDOW_SLACK = 1e-3


@dataclass(frozen=True)
class SourceClip:
    path: Path
    height: int  # the size used: the source's, cropped to multiples of 32
    width: int
    frames: int  # the first 8k+1 frames are used
    fps: float
    has_audio: bool
    notices: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def sidecar_settings(path: Path) -> dict:
    """The ``settings`` of the sidecar written next to a generated video ({} when there is none)."""
    try:
        settings = json.loads(path.with_suffix(".json").read_text()).get("settings", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}
    return settings if isinstance(settings, dict) else {}


def recorded_version(path: Path) -> str | None:
    """The model version a generated clip's sidecar records (None: an upload without one)."""
    models = sidecar_settings(path).get("models")
    version = models.get("model_version") if isinstance(models, dict) else None
    return str(version) if version else None


def open_source_clip(source: str | Path, version: VersionSpec, what: str) -> SourceClip:
    """Probe ``source`` and refuse, in one sentence, what cannot be edited with ``version``'s
    models: a missing or non-video file, a clip made by another model version, a clip too small.
    ``what`` names the edit in messages ("retake", "extend")."""
    from ltx_core.media.errors import MediaReadError
    from ltx_core.media.ffmpeg import probe_video
    from ltx_core.media.video_read import usable_frame_count

    path = Path(source)
    if not path.is_file():
        raise RequestError(f"{path} does not exist: choose the video to {what} (a gallery item or an upload).")
    try:
        info = probe_video(path)
    except MediaReadError:
        raise RequestError(f"{path.name} is not a video file: choose an mp4 to {what}.") from None
    made_with = recorded_version(path)
    if made_with is not None and made_with != version.version:
        raise RequestError(
            f"{path.name} was made with LTX-{made_with}: load LTX-{made_with} weights to {what} it "
            f"(the loaded model is LTX-{version.version})."
        )
    frames = usable_frame_count(info.frames)
    height, width = info.height // 32 * 32, info.width // 32 * 32
    if frames < 9 or height < 32 or width < 32:
        raise RequestError(
            f"{path.name} is too small to {what} ({info.width}x{info.height}, {info.frames} frames): at least "
            "32x32 pixels and 9 frames are needed."
        )
    notices = []
    if (height, width) != (info.height, info.width):
        notices.append(f"{info.width}x{info.height} was cropped to {width}x{height} (multiples of 32).")
    if frames != info.frames:
        notices.append(f"the first {frames} of {info.frames} frames are used (8k+1 frames).")
    return SourceClip(path, height, width, frames, info.fps, info.has_audio, tuple(notices))


def source_pixels(clip: SourceClip, first: int = 0, count: int | None = None) -> np.ndarray:
    """uint8 (F, H, W, 3) frames [first, first + count) of the clip at its working size (the same
    resize and crop the encoder sees)."""
    from ltx_core.media.image import resize_and_center_crop
    from ltx_core.media.video_read import iter_video_frames

    stop = clip.frames if count is None else first + count
    # Rounded to uint8 frame by frame, so a long clip is held once in uint8 (not three times in float32).
    frames = [
        np.clip(np.rint(resize_and_center_crop(frame, clip.height, clip.width)), 0, 255).astype(np.uint8)
        for index, frame in enumerate(iter_video_frames(clip.path, max_frames=stop))
        if index >= first
    ]
    return np.stack(frames)


def encode_pixels(ledger, frames: np.ndarray) -> mx.array:
    """uint8 (F, H, W, 3) frames (8k+1) -> their normalised video latent (1, C, F', H', W')."""
    from ltx_core.pipelines.ledger import Component

    pixels = mx.array(frames.astype(np.float32).transpose(3, 0, 1, 2)[None] / np.float32(127.5) - np.float32(1.0))
    latent = ledger.video_encoder()(pixels.astype(ledger.dtype))
    mx.eval(latent)
    ledger.release(Component.VIDEO_ENCODER)
    return latent


def paste_frames(
    chunks: Iterator[np.ndarray], replacement: Callable[[int], np.ndarray | None]
) -> Iterator[np.ndarray]:
    """The decoded uint8 chunks with frame ``i`` replaced by ``replacement(i)`` where that is not None."""
    index = 0
    for chunk in chunks:
        chunk = np.array(chunk)
        for offset in range(chunk.shape[0]):
            frame = replacement(index + offset)
            if frame is not None:
                chunk[offset] = frame
        index += chunk.shape[0]
        yield chunk


def edit_memory_estimate(ledger, request, guided: bool, stage: str, encode_frames: int, encode_tiled: bool):
    """The predicted memory of an edit of ``request``'s geometry (a ``GenerationRequest``): the
    encode of ``encode_frames`` source frames (tiled as the memory mode tiles the VAE when
    ``encode_tiled``, else at once), one denoising stage at full size (guided or not), decode."""
    from ltx_core.memory import Guidance, estimate_for_runtime
    from ltx_core.memory.estimate import DenoisePass
    from ltx_core.pipelines.blocks import guidance_passes

    runtime = ledger.runtime
    guidance = Guidance(passes=guidance_passes(request), batched=runtime.batch_guidance_passes, contexts=2) if guided else None
    return estimate_for_runtime(
        ledger.model_config, runtime, height=request.height, width=request.width, frames=request.frames,
        fps=request.fps, audio=request.generate_audio, guidance=guidance, stages=(DenoisePass(stage, 1, guided),),
        gemma_config=ledger.gemma_config(), text_encoder=request.embeddings is None, encode_frames=encode_frames,
        encode_tiled=encode_tiled,
    )  # fmt: skip


def check_edit_memory(ledger, request, guided: bool, stage: str, encode_frames: int, encode_tiled: bool) -> None:
    """Refuse, before anything loads, an edit predicted not to fit (``edit_memory_estimate``)."""
    from ltx_core.memory import available_memory, check_fits

    estimate = edit_memory_estimate(ledger, request, guided, stage, encode_frames, encode_tiled)
    check_fits(estimate, available_memory(margin_bytes=ledger.runtime.memory_margin), None, ledger.runtime.name)
