"""Blocks of the diffusion video VAE decoder: SwiGLU, the deterministic NA block, the diffusion
NA block with shared AdaLN modulation, and the linear pixel-shuffle upsampler (channels-last)."""

from __future__ import annotations

import math

import mlx.core as mx
from mlx import nn

from ltx_core.model.video_vae.diffusion.attention import RMS_EPS, NeighborhoodAttention3D, w_chunked_residual
from ltx_core.model.video_vae.ops import depth_to_space

ADALN_CHUNKS = 7  # scale_msa, shift_msa, gate_msa, scale_mlp, shift_mlp, gate_mlp, gate_ctx
# ltx-core's chunked (eager) pathway splits the diffusion attention into 4 W slabs.
DIFFUSION_W_CHUNKS = 4


def mlp_hidden(dim: int, ratio: float = 4.0) -> int:
    return (int(dim * ratio) + 15) // 16 * 16


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w_gate = nn.Linear(dim, hidden, bias=False)
        self.w_up = nn.Linear(dim, hidden, bias=False)
        self.w_down = nn.Linear(hidden, dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.w_down(nn.silu(self.w_gate(x)) * self.w_up(x))


class NABlock(nn.Module):
    """Pre-norm block of the deterministic stages: ``x + NA(norm1(x))``, then ``x + SwiGLU(norm2(x))``.
    Static gates of the file are folded into ``attn.proj`` and ``mlp.w_down`` at load."""

    def __init__(self, dim: int, kernel: tuple[int, int, int], head_dim: int):
        super().__init__()
        self.norm1 = nn.RMSNorm(dim, eps=RMS_EPS)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim)
        self.norm2 = nn.RMSNorm(dim, eps=RMS_EPS)
        self.mlp = SwiGLU(dim, mlp_hidden(dim))

    def __call__(self, x: mx.array) -> mx.array:
        t, h, w = x.shape[1:4]
        if t < self.attn.kernel[0] or h < self.attn.kernel[1] or w < self.attn.kernel[2]:
            raise ValueError(
                f"3-D neighbourhood attention needs (T, H, W) >= kernel {self.attn.kernel}, got ({t}, {h}, {w})"
            )
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class LinearPixelShuffleUpsample(nn.Module):
    """Linear channel expansion, then depth-to-space; a doubled time axis drops its leading
    (duplicate) frame on the chunk that holds the video's first frame."""

    def __init__(self, channels: int, stride: tuple[int, int, int], reduction: int):
        super().__init__()
        self.stride = tuple(stride)
        self.proj = nn.Linear(channels, math.prod(stride) * channels // reduction)

    def __call__(self, x: mx.array, drop_leading_frame: bool = True) -> mx.array:
        x = depth_to_space(self.proj(x), self.stride)
        if self.stride[0] == 2 and drop_leading_frame:
            x = x[:, 1:]
        return x


class AdaLNZero(nn.Module):
    """Timestep embedding -> 7 modulation vectors (B, dim) shared by every diffusion block."""

    def __init__(self, dim: int, t_emb_dim: int):
        super().__init__()
        self.proj = nn.Linear(t_emb_dim, ADALN_CHUNKS * dim)

    def __call__(self, t_emb: mx.array) -> list[mx.array]:
        return mx.split(self.proj(nn.silu(t_emb)), ADALN_CHUNKS, axis=-1)


class DiffusionNABlock(nn.Module):
    """Stage-5 block: add the projected context, then AdaLN-modulated NA and SwiGLU residuals
    (ungated: the file's gates are folded into ``attn.proj``, ``mlp.w_down`` and ``context_proj``)."""

    def __init__(self, dim: int, kernel: tuple[int, int, int], context_channels: int, head_dim: int):
        super().__init__()
        self.context_proj = nn.Linear(context_channels, dim)
        self.scale_shift_table = mx.zeros((ADALN_CHUNKS, dim))
        self.norm1 = nn.RMSNorm(dim, eps=RMS_EPS)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim)
        self.norm2 = nn.RMSNorm(dim, eps=RMS_EPS)
        self.mlp = SwiGLU(dim, mlp_hidden(dim))

    def __call__(self, x: mx.array, context: mx.array, modulation: list[mx.array]) -> mx.array:
        """``x`` (B, T, H, W, C) tokens; ``context`` the upsampled stage-4 features at the same grid."""
        table = self.scale_shift_table
        scale_msa, shift_msa, scale_mlp, shift_mlp = (
            (modulation[i] + table[i])[:, None, None, None, :] for i in (0, 1, 3, 4)
        )
        x = x + self.context_proj(context)
        x = w_chunked_residual(
            x, self.attn, lambda y: self.norm1(y) * (1.0 + scale_msa) + shift_msa, DIFFUSION_W_CHUNKS
        )
        return x + self.mlp(self.norm2(x) * (1.0 + scale_mlp) + shift_mlp)
