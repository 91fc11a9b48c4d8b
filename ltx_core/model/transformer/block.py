"""One LTX-2 transformer block: video and audio streams with bidirectional AV cross-attention."""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlx.core as mx
import mlx.nn as nn

from ltx_core.model.transformer.attention import Attention
from ltx_core.components.cpu_attention import cpu_streams, on_cpu
from ltx_core.components.cpu_numpy import numpy_gelu_approx
from ltx_core.model.transformer.embeddings import TokenTimesteps
from ltx_core.model.transformer.perturbations import BatchedPerturbations, PerturbationType
from ltx_core.model.transformer.rope import RotaryTables
from ltx_core.model.transformer.run_cache import IdentityCache

AV_SCALE_SHIFT_VALUES = 4  # scale/shift for a2v and for v2a; row 4 of the AV tables is the gate


@dataclass(frozen=True)
class StreamDims:
    dim: int
    heads: int
    head_dim: int
    context_dim: int


@dataclass(frozen=True)
class StreamState:
    """Everything one modality's stream needs inside the blocks (prepared once per forward)."""

    x: mx.array
    context: mx.array
    context_mask: mx.array | None
    modulation: TokenTimesteps  # (U, k*dim): AdaLN values per distinct timestep
    embedded_timestep: TokenTimesteps  # (U, dim): for the output scale/shift
    rope: RotaryTables
    cross_rope: RotaryTables | None = None
    cross_scale_shift: mx.array | None = None  # (B, 1 or T, 4*dim): the other stream's sigma or each token's
    cross_gate: mx.array | None = None  # (B, 1, dim)
    prompt_modulation: mx.array | None = None  # (B, 1, 2*dim), cross-attention AdaLN only
    self_attention_mask: mx.array | None = None
    enabled: bool = True


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4, bias: bool = True):
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult, bias=bias)
        self.proj_out = nn.Linear(dim * mult, dim, bias=bias)

    def __call__(self, x: mx.array) -> mx.array:
        return self.proj_out(parallel_gelu_approx(self.proj_in(x)))


def parallel_gelu_approx(h: mx.array) -> mx.array:
    """``nn.gelu_approx``; on the CPU backend (single-threaded elementwise kernels) the tokens
    are split in halves computed on two CPU streams (elementwise, so bit-identical), and float32
    goes through NumPy's SIMD tanh on both cores (``cpu_numpy``; within an ulp or so)."""
    tokens = h.shape[-2] if h.ndim >= 2 else 0
    if not on_cpu() or tokens < 256:
        return nn.gelu_approx(h)
    if h.dtype == mx.float32:
        return numpy_gelu_approx(h)
    streams = cpu_streams()
    parts = mx.split(h, len(streams), axis=-2) if tokens % len(streams) == 0 else None
    if parts is None:
        cut = tokens // 2
        parts = [h[..., :cut, :], h[..., cut:, :]]
    out = []
    for part, stream in zip(parts, streams):
        with mx.stream(stream):
            out.append(nn.gelu_approx(part))
    return mx.concatenate(out, axis=-2)


def rms(x: mx.array, eps: float) -> mx.array:
    return mx.fast.rms_norm(x, None, eps)


class TransformerBlock(nn.Module):
    def __init__(
        self,
        index: int,
        video: StreamDims | None,
        audio: StreamDims | None,
        norm_eps: float,
        gated: bool,
        cross_attention_adaln: bool,
        ff_bias: tuple[bool, bool] = (True, True),
    ):
        super().__init__()
        self.index = index
        self.norm_eps = norm_eps
        self.cross_attention_adaln = cross_attention_adaln
        coefficient = 9 if cross_attention_adaln else 6
        if video is not None:
            self.attn1 = Attention(video.dim, None, video.heads, video.head_dim, norm_eps, gated)
            self.attn2 = Attention(video.dim, video.context_dim, video.heads, video.head_dim, norm_eps, gated)
            self.ff = FeedForward(video.dim, bias=ff_bias[0])
            self.scale_shift_table = mx.zeros((coefficient, video.dim))
            if cross_attention_adaln:
                self.prompt_scale_shift_table = mx.zeros((2, video.dim))
        if audio is not None:
            self.audio_attn1 = Attention(audio.dim, None, audio.heads, audio.head_dim, norm_eps, gated)
            self.audio_attn2 = Attention(audio.dim, audio.context_dim, audio.heads, audio.head_dim, norm_eps, gated)
            self.audio_ff = FeedForward(audio.dim, bias=ff_bias[1])
            self.audio_scale_shift_table = mx.zeros((coefficient, audio.dim))
            if cross_attention_adaln:
                self.audio_prompt_scale_shift_table = mx.zeros((2, audio.dim))
        if video is not None and audio is not None:
            # Q from one stream, K/V from the other, both at the audio width.
            self.audio_to_video_attn = Attention(video.dim, audio.dim, audio.heads, audio.head_dim, norm_eps, gated)
            self.video_to_audio_attn = Attention(audio.dim, video.dim, audio.heads, audio.head_dim, norm_eps, gated)
            self.scale_shift_table_a2v_ca_audio = mx.zeros((AV_SCALE_SHIFT_VALUES + 1, audio.dim))
            self.scale_shift_table_a2v_ca_video = mx.zeros((AV_SCALE_SHIFT_VALUES + 1, video.dim))

    def __call__(
        self,
        video: StreamState | None,
        audio: StreamState | None,
        perturbations: BatchedPerturbations,
        text_kv_cache: IdentityCache | None = None,
    ) -> tuple[StreamState | None, StreamState | None]:
        """``text_kv_cache`` keeps each block's text keys/values across steps (the context is the
        same array every step)."""
        vx = video.x if video is not None else None
        ax = audio.x if audio is not None else None
        run_video = video is not None and video.enabled and vx.size > 0
        run_audio = audio is not None and audio.enabled and ax.size > 0
        run_a2v = run_video and audio is not None and ax.size > 0
        run_v2a = run_audio and video is not None and vx.size > 0

        if run_video:
            vx = self._self_and_text_attention(
                vx, video, self.attn1, self.attn2, self.scale_shift_table,
                self.get("prompt_scale_shift_table"), perturbations, PerturbationType.SKIP_VIDEO_SELF_ATTN,
                text_kv_cache,
            )  # fmt: skip
        if run_audio:
            ax = self._self_and_text_attention(
                ax, audio, self.audio_attn1, self.audio_attn2, self.audio_scale_shift_table,
                self.get("audio_prompt_scale_shift_table"), perturbations, PerturbationType.SKIP_AUDIO_SELF_ATTN,
                text_kv_cache,
            )  # fmt: skip

        if run_a2v or run_v2a:
            vx_norm = rms(vx, self.norm_eps)
            ax_norm = rms(ax, self.norm_eps)
            if run_a2v and not perturbations.all(PerturbationType.SKIP_A2V_CROSS_ATTN, self.index):
                vx = vx + self._cross_modal(
                    self.audio_to_video_attn, (vx_norm, self.scale_shift_table_a2v_ca_video, video),
                    (ax_norm, self.scale_shift_table_a2v_ca_audio, audio), 0,
                    perturbations.keep_mask(PerturbationType.SKIP_A2V_CROSS_ATTN, self.index, vx.dtype),
                )  # fmt: skip
            if run_v2a and not perturbations.all(PerturbationType.SKIP_V2A_CROSS_ATTN, self.index):
                ax = ax + self._cross_modal(
                    self.video_to_audio_attn, (ax_norm, self.scale_shift_table_a2v_ca_audio, audio),
                    (vx_norm, self.scale_shift_table_a2v_ca_video, video), 2,
                    perturbations.keep_mask(PerturbationType.SKIP_V2A_CROSS_ATTN, self.index, ax.dtype),
                )  # fmt: skip

        if run_video:
            vx = self._feed_forward(vx, video, self.ff, self.scale_shift_table)
        if run_audio:
            ax = self._feed_forward(ax, audio, self.audio_ff, self.audio_scale_shift_table)
        return (
            replace(video, x=vx) if video is not None else None,
            replace(audio, x=ax) if audio is not None else None,
        )

    def _ada(self, table: mx.array, stream: StreamState, rows: range) -> list[mx.array]:
        """shift/scale/gate rows of the block's AdaLN table plus the per-token timestep values."""
        values = stream.modulation.values
        values = values.reshape(values.shape[0], table.shape[0], -1)
        return [stream.modulation.rows(table[r].astype(values.dtype) + values[:, r]) for r in rows]

    def _self_and_text_attention(
        self,
        x: mx.array,
        stream: StreamState,
        self_attn: Attention,
        text_attn: Attention,
        table: mx.array,
        prompt_table: mx.array | None,
        perturbations: BatchedPerturbations,
        skip_kind: PerturbationType,
        text_kv_cache: IdentityCache | None,
    ) -> mx.array:
        shift, scale, gate = self._ada(table, stream, range(0, 3))
        normed = rms(x, self.norm_eps) * (1 + scale) + shift
        skip_all = perturbations.all(skip_kind, self.index)
        keep = None
        if not skip_all and perturbations.any(skip_kind, self.index):
            keep = perturbations.keep_mask(skip_kind, self.index, x.dtype)
        x = x + self_attn(
            normed, rope=stream.rope, mask=stream.self_attention_mask, keep=keep, skip_attention=skip_all
        ) * gate

        if not self.cross_attention_adaln:
            kv = None
            if text_kv_cache is not None:
                key = (stream.context, self.index, id(text_attn))
                kv = text_kv_cache.get(key, lambda: text_attn.context_kv(stream.context))
            return x + text_attn(rms(x, self.norm_eps), context=stream.context, mask=stream.context_mask, kv=kv)
        q_shift, q_scale, q_gate = self._ada(table, stream, range(6, 9))
        batch = x.shape[0]
        kv = prompt_table.astype(x.dtype)[None, None]
        if stream.prompt_modulation is not None:  # absent: use_prompt_adaln_single false, the table alone
            kv = kv + stream.prompt_modulation.reshape(batch, -1, 2, x.shape[-1])
        kv_shift, kv_scale = kv[:, :, 0], kv[:, :, 1]
        query = rms(x, self.norm_eps) * (1 + q_scale) + q_shift
        context = stream.context * (1 + kv_scale) + kv_shift
        return x + text_attn(query, context=context, mask=stream.context_mask) * q_gate

    def _feed_forward(self, x: mx.array, stream: StreamState, ff: FeedForward, table: mx.array) -> mx.array:
        shift, scale, gate = self._ada(table, stream, range(3, 6))
        return x + ff(rms(x, self.norm_eps) * (1 + scale) + shift) * gate

    def _cross_modal(
        self,
        attention: Attention,
        query: tuple[mx.array, mx.array, StreamState],
        key: tuple[mx.array, mx.array, StreamState],
        first: int,
        keep: mx.array,
    ) -> mx.array:
        """Gated AV cross-attention update for the query stream. Both inputs are the streams'
        normalised states from before either AV update, modulated by AdaLN rows ``first`` and
        ``first + 1`` of their tables (0: audio-to-video, 2: video-to-audio)."""
        q_norm, q_table, q_stream = query
        k_norm, k_table, k_stream = key
        q_scale, q_shift, q_gate = self._av_values(q_table, q_stream, first)
        k_scale, k_shift, _ = self._av_values(k_table, k_stream, first)
        attended = attention(
            q_norm * (1 + q_scale) + q_shift,
            context=k_norm * (1 + k_scale) + k_shift,
            rope=q_stream.cross_rope,
            k_rope=k_stream.cross_rope,
        )
        return attended * q_gate * keep

    @staticmethod
    def _av_values(table: mx.array, stream: StreamState, first: int) -> tuple[mx.array, mx.array, mx.array]:
        """(scale, shift, gate) for the AV cross-attention; note scale comes before shift here."""
        batch = stream.cross_scale_shift.shape[0]
        dim = table.shape[-1]
        table = table.astype(stream.cross_scale_shift.dtype)
        scale_shift = table[None, None, :AV_SCALE_SHIFT_VALUES] + stream.cross_scale_shift.reshape(
            batch, -1, AV_SCALE_SHIFT_VALUES, dim
        )
        gate = table[AV_SCALE_SHIFT_VALUES] + stream.cross_gate
        return scale_shift[:, :, first], scale_shift[:, :, first + 1], gate
