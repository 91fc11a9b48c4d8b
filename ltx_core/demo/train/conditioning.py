"""Which parts of a training clip the transformer is given, as the pipelines give them.

A given part is clean, at timestep 0 and out of the loss, exactly as a pipeline's conditioning
tokens are: the first latent frame (image-to-video), leading or trailing latent frames and the
audio under them (extension forwards and backwards), everything but a window (retake), or images
of the first, middle and last pixel frames appended as keyframe tokens (keyframe interpolation,
through the pipelines' own ``KeyframeConditioning``). Without these the model would see appended
or clean tokens only at inference. One mode per batch; the rest of the batches are text-to-video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (mode, share of the batches)
CONDITIONING_SHARES: tuple[tuple[str, float], ...] = (
    ("first-frame", 0.1),
    ("extend", 0.08),
    ("extend-backward", 0.04),
    ("retake", 0.06),
    ("keyframes", 0.1),
)
# Which of a clip's keyframe images (first, middle, last pixel frame) are appended, and how often.
KEYFRAME_SUBSETS: tuple[tuple[tuple[int, ...], float], ...] = (
    ((0, 2), 0.4),
    ((0, 1, 2), 0.3),
    ((1,), 0.15),
    ((2,), 0.15),
)


def keyframe_frames(frames: int) -> tuple[int, int, int]:
    """The pixel frames whose images a pooled clip keeps encoded: first, middle and last."""
    return 0, (frames - 1) // 2, frames - 1


@dataclass(frozen=True)
class Conditioning:
    mode: str  # "none" or a name of ``CONDITIONING_SHARES``
    given_frames: np.ndarray  # bool per latent frame: clean, timestep 0, out of the loss
    keyframes: tuple[int, ...] = ()  # indices into ``keyframe_frames`` appended as images


def draw_conditioning(
    rng: np.random.Generator, latent_frames: int, shares: tuple[tuple[str, float], ...] = CONDITIONING_SHARES
) -> Conditioning:
    names = ["none"] + [name for name, _ in shares]
    odds = [1.0 - sum(share for _, share in shares)] + [share for _, share in shares]
    mode = names[int(rng.choice(len(names), p=np.array(odds) / sum(odds)))]
    given = np.zeros(latent_frames, dtype=bool)
    if latent_frames < 2 and mode in ("extend", "extend-backward", "retake"):
        mode = "first-frame"  # a one-frame latent has nothing to extend or keep around a window
    if mode == "first-frame":
        given[0] = True
    elif mode == "extend":
        given[: rng.integers(1, latent_frames)] = True
    elif mode == "extend-backward":
        given[rng.integers(1, latent_frames) :] = True
    elif mode == "retake":
        length = int(rng.integers(1, latent_frames))
        start = int(rng.integers(0, latent_frames - length + 1))
        given[:] = True
        given[start : start + length] = False
    keyframes: tuple[int, ...] = ()
    if mode == "keyframes":
        subsets = [subset for subset, _ in KEYFRAME_SUBSETS]
        weights = np.array([weight for _, weight in KEYFRAME_SUBSETS])
        keyframes = subsets[int(rng.choice(len(subsets), p=weights / weights.sum()))]
    return Conditioning(mode, given, keyframes)


def given_audio(video_times: np.ndarray, given_tokens: np.ndarray, audio_times: np.ndarray) -> np.ndarray:
    """Audio tokens whose time centre lies under a given video token. ``video_times`` (T, 2) and
    ``audio_times`` (Ta, 2) are the tokens' [start, end) times in seconds (the positions' time
    axis); ``given_tokens`` (T,) bool. Returns (Ta,) bool."""
    spans = video_times[given_tokens]
    centres = audio_times.mean(axis=-1)
    if not len(spans):
        return np.zeros(len(centres), dtype=bool)
    return np.any((spans[None, :, 0] <= centres[:, None]) & (centres[:, None] < spans[None, :, 1]), axis=1)
