"""FLOP counts of one forward of the real-width LTX-2 transformer slice and the video VAE decoder.

Standard library only: ``bench.compare`` uses it for both sides (ours and the official), so
GFLOP/s are computed from the same count. Multiply-adds count as 2 FLOPs; elementwise work,
norms and the softmax are not counted (they are what the achieved rate loses to).
"""

from __future__ import annotations

VIDEO_DIM, AUDIO_DIM, CAPTION, CONTEXT = 4096, 2048, 3840, 1024


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """``"384x256x121,768x512x121"`` -> [(width, height, frames), ...]."""
    sizes = []
    for item in text.split(","):
        width, height, frames = (int(v) for v in item.lower().split("x"))
        sizes.append((width, height, frames))
    return sizes


def video_tokens(width: int, height: int, frames: int) -> int:
    return ((frames - 1) // 8 + 1) * (height // 32) * (width // 32)


def audio_tokens(frames: int, fps: float = 25.0) -> int:
    """Audio latent frames of the official AudioLatentShape (16 kHz, hop 160, 4x down: 25 per second)."""
    import math

    return round(math.ceil(frames / fps * 16000 / 160 / 4))


def _linear(tokens: int, fan_in: int, fan_out: int) -> int:
    return 2 * tokens * fan_in * fan_out


def transformer_layer_flops(tv: int, ta: int) -> dict[str, int]:
    """One audio-video block at ``tv`` video and ``ta`` audio tokens (text K/V cached per run)."""
    v, a = VIDEO_DIM, AUDIO_DIM
    linears = (
        _linear(tv, v, v) * 4 + _linear(tv, v, v) * 2  # video self-attention qkvo, text attention q/o
        + _linear(tv, v, 4 * v) * 2  # video feed-forward
        + _linear(ta, a, a) * 4 + _linear(ta, a, a) * 2 + _linear(ta, a, 4 * a) * 2  # audio, same
        + _linear(tv, v, a) * 2 + _linear(ta, a, a) * 2  # a2v: q, out (video side); k, v (audio)
        + _linear(ta, a, a) * 2 + _linear(tv, v, a) * 2  # v2a: q, out (audio side); k, v (video)
    )
    attention = (
        4 * tv * tv * v + 4 * tv * CONTEXT * v  # video self, video text
        + 4 * ta * ta * a + 4 * ta * CONTEXT * a  # audio self, audio text
        + 4 * tv * ta * a * 2  # a2v and v2a (audio width)
    )
    return {"linear": linears, "attention": attention, "total": linears + attention}


def transformer_step_flops(width: int, height: int, frames: int, blocks: int) -> int:
    """Per forward of a ``blocks``-block slice (patchify/output heads are negligible and left out)."""
    tv, ta = video_tokens(width, height, frames), audio_tokens(frames)
    return transformer_layer_flops(tv, ta)["total"] * blocks
