"""LTX-2.5 duration head: connector outputs -> predicted seconds -> an 8k+1 frame count."""

from ltx_core.model.duration.head import AttentionPooler, DurationHead, DurationHeadConfig
from ltx_core.model.duration.predictor import (
    DurationPredictor,
    seconds_to_num_frames,
    snap_frames_to_grid,
)

__all__ = [
    "AttentionPooler",
    "DurationHead",
    "DurationHeadConfig",
    "DurationPredictor",
    "seconds_to_num_frames",
    "snap_frames_to_grid",
]
