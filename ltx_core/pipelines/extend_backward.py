"""Extend backward: a new clip that runs into the source's first frames, N seconds before it.

Built from the same latent-replacement conditioning as the forward extension and the retake's
region mask (tokens kept at their own positions with denoise mask 0), not from appended keyframe
tokens. The video encoder is causal in time: latent frame 0 of any clip encodes pixel frame 0 alone,
latent j its frames 8j-7..8j. So the source's first 8·overlap+1 frames are encoded and its latent
frames 1..overlap (frames 1..8·overlap, encoded with the source's own start as their history,
exactly as encoding the whole source gives them) replace the *last* ``overlap`` latent frames of a
new clip of 8n + 8·overlap + 1 frames. The new clip's pixel frame 8n then stands where the source's
frame 0 is: it is the last frame of the generated latent frame n, so the model generates it (and
the seven before it) leading into the kept tokens. Keyframe tokens appended at frame 8n would carry
the encoded head with a first latent frame that spans one pixel frame but positions that give it
eight, and would leave the new clip's own last latent frames free to disagree with them.

Audio: the audio latent is causal the same way (frame 0: one mel frame; frame j: mel frames
4j-3..4j, 40 ms each), so the source's sound is encoded from the first new-clip audio latent
boundary at or after the seam (a cut of under 40 ms into the source) and, dropping its single-mel
first frame, fixes the new clip's audio latent frames that lie over the overlap: the new sound is
generated leading into the source's. The output is the new clip's first 8n frames, then the
source (its own frames), with its own samples from the seam on (the new audio fading out over the
first 20 ms of the source's)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.media.audio_read import AudioClip
from ltx_core.pipelines.source_audio import EDGE_FADE_SECONDS, generated_at, to_pcm16


def head_frames(overlap: int) -> int:
    """Source frames a backward extension with ``overlap`` kept latent frames ends with (the first
    one at the seam)."""
    return 8 * overlap + 1


def head_latent(encoded: mx.array) -> mx.array:
    """The encoded first ``head_frames`` of the source -> its latent frames 1.. (frame 0, one pixel
    frame encoded alone, has no place in the middle of a clip)."""
    return encoded[:, :, 1:]


@dataclass(frozen=True)
class AudioHead:
    """Where the source's sound fixes the new clip's audio latent: skip ``cut`` seconds of the source,
    encode, drop the first latent frame; the rest (``frames``) go to audio latent frames ``start``.."""

    cut: float
    start: int
    frames: int

    def excerpt(self, audio: AudioClip, seconds: float) -> AudioClip:
        """The source's sound from the cut, ``seconds`` long (what is encoded)."""
        first = round(self.cut * audio.sample_rate)
        stop = first + round(seconds * audio.sample_rate)
        return AudioClip(audio.waveform[:, first:stop], audio.sample_rate, audio.start + self.cut, audio.source_seconds)


def plan_audio_head(space, seam: float, end: float, heard: float) -> AudioHead:
    """The audio latent frames of a new clip (``space``: its ``AudioLatentSpace``) that the source's
    sound fixes: the source starts at ``seam`` s, the new clip ends at ``end`` s and the source's sound
    lasts ``heard`` s. Frames whose whole span lies in [seam, min(end, seam + heard)]."""
    patchifier = space.patchifier
    step = patchifier.latent_downsample * patchifier.hop_length / patchifier.sample_rate  # seconds per latent frame
    boundary = math.ceil(seam / step - 1e-6)  # the new clip's latent grid, the first boundary at or after the seam
    ends = np.array(patchifier.positions(space.shape))[0, 0, :, 1]
    limit = min(end, seam + heard) + 1e-6
    frames = int((ends[boundary + 1 :] <= limit).sum())
    return AudioHead(cut=boundary * step - seam, start=boundary + 1, frames=frames)


def extension_then_source(chunks: Iterator[np.ndarray], source: np.ndarray, added: int) -> Iterator[np.ndarray]:
    """The new clip's first ``added`` decoded frames, then the source's own frames (the rest of the
    new clip, its generated version of the source's head, is decoded and dropped)."""
    index = 0
    for chunk in chunks:
        if index < added:
            yield np.array(chunk[: added - index])
        index += chunk.shape[0]
    yield source


def audio_then_source(
    source: AudioClip, generated, seam: float, clip_seconds: float, new_seconds: float
) -> tuple[np.ndarray, int]:
    """The new clip's audio (resampled to the source's rate and channels) up to ``seam`` s, then the
    source's own samples for ``clip_seconds``, the new audio fading out over their first 20 ms.
    int16 (samples, channels) and the rate."""
    rate, channels = source.sample_rate, source.waveform.shape[0]
    start, length = round(seam * rate), round(clip_seconds * rate)
    new = generated_at(generated, rate, channels, max(round(new_seconds * rate), start))
    old = np.zeros((channels, length), np.float32)
    old[:, : min(length, source.waveform.shape[1])] = source.waveform[:, :length]
    fade = min(length, round(EDGE_FADE_SECONDS * rate), new.shape[1] - start)
    weights = 1 - (np.arange(fade, dtype=np.float32) + 1) / (fade + 1)  # the new audio's share
    mixed = old[:, :fade] * (1 - weights) + new[:, start : start + fade] * weights
    return to_pcm16(np.concatenate([new[:, :start], mixed, old[:, fade:]], axis=1)), rate
