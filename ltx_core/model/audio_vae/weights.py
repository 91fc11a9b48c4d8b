"""Official checkpoint key names and tensor layouts -> this port's parameters.

Parameter names equal the official module paths, except for the per-channel statistics
(``mean-of-means`` -> ``mean_of_means``). Convolution weights change layout once, at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import mlx.core as mx

STATISTICS = "per_channel_statistics."
_TRANSPOSED_CONV = re.compile(r"(^|\.)ups\.\d+\.weight$")


def statistics_param_name(key: str) -> str:
    """``mean-of-means`` (key under the statistics prefix) -> ``per_channel_statistics.mean_of_means``."""
    return STATISTICS + key.replace("-", "_")


def conv2d_weight(w: mx.array) -> mx.array:
    """PyTorch Conv2d (O, I, kH, kW) -> MLX (O, kH, kW, I)."""
    return w.transpose(0, 2, 3, 1)


def conv1d_weight(w: mx.array) -> mx.array:
    """PyTorch Conv1d (O, I, K) -> MLX (O, K, I)."""
    return w.transpose(0, 2, 1)


def conv_transpose1d_weight(w: mx.array) -> mx.array:
    """PyTorch ConvTranspose1d (I, O, K) -> MLX conv_transpose1d (O, K, I); no kernel flip is needed."""
    return w.transpose(1, 2, 0)


def vae_transform(name: str, ndim: int) -> Callable[[mx.array], mx.array] | None:
    return conv2d_weight if name.endswith(".weight") and ndim == 4 else None


def vocoder_transform(name: str, ndim: int) -> Callable[[mx.array], mx.array] | None:
    """Conv weights to MLX layouts; buffers (anti-aliasing ``filter``, STFT bases) stay as stored."""
    if not name.endswith(".weight") or ndim != 3:
        return None
    return conv_transpose1d_weight if _TRANSPOSED_CONV.search(name) else conv1d_weight
