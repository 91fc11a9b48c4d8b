"""Seconds -> a frame count the pipelines can generate (ltx-pipelines ``DurationPredictor``)."""

from __future__ import annotations

import logging

import mlx.core as mx

from ltx_core.model.duration.head import DurationHead

logger = logging.getLogger(__name__)

MIN_SECONDS = 1.0
MAX_SECONDS = 20.0
TIME_COMPRESSION = 8  # the video VAE's temporal factor: frame counts are 8k + 1


def snap_frames_to_grid(frames: int, time_scale: int = TIME_COMPRESSION) -> int:
    """Round down to the nearest ``k * time_scale + 1``."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return ((frames - 1) // time_scale) * time_scale + 1


def seconds_to_num_frames(
    seconds: float,
    frame_rate: float,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
    time_scale: int = TIME_COMPRESSION,
) -> int:
    """Clamp ``round(seconds * fps)`` to ``[round(min_s * fps), round(max_s * fps)]``, snap down to
    the 8k+1 grid, and snap up instead when that undershoots the minimum."""
    min_frames = round(min_seconds * frame_rate)
    max_frames = round(max_seconds * frame_rate)
    raw = max(min_frames, min(round(seconds * frame_rate), max_frames))
    frames = snap_frames_to_grid(raw, time_scale)
    if frames < min_frames:
        frames = min(-(-(min_frames - 1) // time_scale) * time_scale + 1, max_frames)
    return frames


class DurationPredictor:
    """The loaded head plus the pipelines' rule: one prompt -> a frame count at ``frame_rate``."""

    def __init__(self, head: DurationHead):
        self.head = head

    def seconds(self, video: mx.array | None, audio: mx.array | None) -> float:
        prediction = self.head(video, audio)
        if prediction.shape != (1,):
            raise ValueError(f"the duration predictor takes one prompt at a time, got a batch of {prediction.shape[0]}")
        return float(prediction.astype(mx.float32).item())

    def __call__(
        self,
        video: mx.array | None,
        audio: mx.array | None,
        *,
        frame_rate: float,
        min_seconds: float = MIN_SECONDS,
        max_seconds: float = MAX_SECONDS,
    ) -> int:
        seconds = self.seconds(video, audio)
        frames = seconds_to_num_frames(seconds, frame_rate, min_seconds, max_seconds)
        if not min_seconds <= seconds <= max_seconds:
            logger.warning(
                "predicted duration %.2f s is outside [%.2f s, %.2f s]: using %d frames at %.2f fps",
                seconds, min_seconds, max_seconds, frames, frame_rate,
            )
        return frames
