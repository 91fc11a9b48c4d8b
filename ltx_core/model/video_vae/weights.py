"""Checkpoint key -> module parameter mapping of the video VAE (``vae.*`` in the single file)."""

from __future__ import annotations

import mlx.core as mx

# Statistics the file may carry that ltx-core does not read (public conversions drop them).
UNUSED_STATISTICS = ("mean-of-stds", "channel")
STATISTICS = {"mean-of-means": "mean_of_means", "std-of-means": "std_of_means"}


def conv_to_channels_last(weight: mx.array) -> mx.array:
    """PyTorch conv weight (O, I, *kernel) -> MLX (O, *kernel, I); other tensors unchanged."""
    if weight.ndim < 4:
        return weight
    return mx.moveaxis(weight, 1, -1)


def statistics_param(short_key: str) -> str | None:
    """``mean-of-means`` -> ``mean_of_means`` (a PerChannelStatistics attribute); None for the
    statistics ltx-core ignores; KeyError for anything else."""
    if short_key in UNUSED_STATISTICS:
        return None
    return STATISTICS[short_key]
