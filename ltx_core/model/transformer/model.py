"""The LTX-2 diffusion transformer (audio-video or video-only) and its X0 wrapper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ltx_core.model.transformer.block import StreamDims, StreamState, TransformerBlock
from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.embeddings import (
    AdaLayerNormSingle,
    CaptionProjection,
    TokenTimesteps,
    distinct_timesteps,
)
from ltx_core.model.transformer.perturbations import BatchedPerturbations
from ltx_core.model.transformer.rope import rotary_tables
from ltx_core.model.transformer.run_cache import IdentityCache


@dataclass(frozen=True)
class Modality:
    """One stream's input (the official ``Modality``).

    latent: (B, T, C) patchified tokens; sigma: 0-d or (B,); timesteps: (B, T, 1) = denoise
    mask * sigma; positions: (B, axes, T, 2) [start, end) bounds; context: (B, S, caption
    channels); context_mask: (B, S) with 1 for real tokens, or an additive float mask;
    attention_mask: (B, T, T) in [0, 1] (1 = full attention); keyframes_mask: (B, T, 1), non-zero on
    tokens that encode a single pixel frame (the first latent frame, generated keyframe slots),
    which get the learned keyframe embedding of models that have one.
    """

    latent: mx.array
    sigma: mx.array
    timesteps: mx.array
    positions: mx.array
    context: mx.array
    enabled: bool = True
    context_mask: mx.array | None = None
    attention_mask: mx.array | None = None
    keyframes_mask: mx.array | None = None


class StreamInput(nn.Module):
    """Per-modality input/output layers: patch embedding, AdaLN, caption projection, output head."""

    def __init__(self, in_channels: int, out_channels: int, dim: int, config: TransformerConfig, keyframes: bool = False):
        super().__init__()
        self.patchify_proj = nn.Linear(in_channels, dim)
        if keyframes:
            self.keyframes_abs_pos_embedding = mx.zeros((1, dim))
        self.adaln_single = AdaLayerNormSingle(dim, config.adaln_coefficient)
        if config.prompt_adaln:
            self.prompt_adaln_single = AdaLayerNormSingle(dim, 2)
        if config.has_caption_projection:
            self.caption_projection = CaptionProjection(config.caption_channels, dim)
        self.scale_shift_table = mx.zeros((2, dim))
        self.proj_out = nn.Linear(dim, out_channels)


class LTXModel(nn.Module):
    """Velocity-predicting transformer. ``with_audio=False`` builds the video-only model."""

    def __init__(self, config: TransformerConfig, with_audio: bool = True):
        super().__init__()
        self.config = config
        self.with_audio = with_audio
        self.norm_eps = config.norm_eps
        video_dims = StreamDims(config.inner_dim, config.num_attention_heads, config.attention_head_dim, config.cross_attention_dim)
        self.video = StreamInput(
            config.in_channels, config.out_channels, config.inner_dim, config, config.use_keyframes_abs_pos_embedding
        )
        audio_dims = None
        if with_audio:
            audio_dims = StreamDims(
                config.audio_inner_dim,
                config.audio_num_attention_heads,
                config.audio_attention_head_dim,
                config.audio_cross_attention_dim,
            )
            self.audio = StreamInput(config.audio_in_channels, config.audio_out_channels, config.audio_inner_dim, config)
            self.av_ca_video_scale_shift_adaln_single = AdaLayerNormSingle(config.inner_dim, 4)
            self.av_ca_audio_scale_shift_adaln_single = AdaLayerNormSingle(config.audio_inner_dim, 4)
            self.av_ca_a2v_gate_adaln_single = AdaLayerNormSingle(config.inner_dim, 1)
            self.av_ca_v2a_gate_adaln_single = AdaLayerNormSingle(config.audio_inner_dim, 1)
        self.transformer_blocks = [
            TransformerBlock(
                i, video_dims, audio_dims, config.norm_eps, config.apply_gated_attention, config.cross_attention_adaln,
                ff_bias=(config.ff_bias, config.audio_ff_bias),
            )
            for i in range(config.num_layers)
        ]
        # Evaluate after every block so no graph spans the whole model (bounded memory, no
        # over-long GPU command buffers).
        self.eval_per_block = True
        # Per-run constants (projected captions, RoPE tables, text K/V per block). Turning it off
        # saves about 1.2 GB per prompt at 19B bf16 and costs the recomputation every step.
        self.run_cache = IdentityCache()
        self.cache_text_kv = True
        # Optional object with ``before(block)`` / ``after(block)`` (block streaming loads a
        # block's weights before it runs and releases them after it has been evaluated).
        self.block_hook = None

    def clear_run_cache(self) -> None:
        self.run_cache.clear()

    # ---- input preparation -------------------------------------------------------------
    def prepare(self, modality: Modality, other: Modality | None, stream: str) -> StreamState:
        """Embed one modality's tokens, timesteps, context and positions for the blocks."""
        cfg = self.config
        layers: StreamInput = self.video if stream == "video" else self.audio
        dtype = modality.latent.dtype
        x = self.embed_tokens(modality, stream)
        batch = x.shape[0]
        scale = cfg.timestep_scale_multiplier

        unique, index = distinct_timesteps(modality.timesteps)
        modulation, embedded = layers.adaln_single(unique * scale, dtype)
        prompt_modulation = None
        if "prompt_adaln_single" in layers:
            prompt_modulation, _ = layers.prompt_adaln_single(_per_sample(modality.sigma, batch) * scale, dtype)
            prompt_modulation = prompt_modulation.reshape(batch, 1, -1)

        def project_context() -> mx.array:
            context = modality.context
            if "caption_projection" in layers:
                context = layers.caption_projection(context)
            return context.reshape(batch, -1, x.shape[-1])

        context = self.run_cache.get((modality.context, stream, "context"), project_context)
        heads = cfg.num_attention_heads if stream == "video" else cfg.audio_num_attention_heads
        max_pos = cfg.positional_embedding_max_pos if stream == "video" else cfg.audio_positional_embedding_max_pos
        rope = self.run_cache.get(
            (modality.positions, stream, "rope", dtype),
            lambda: rotary_tables(
                modality.positions, x.shape[-1], heads, cfg.positional_embedding_theta, max_pos,
                cfg.rope_type, cfg.double_precision_rope, dtype,
            ),
        )  # fmt: skip
        state = StreamState(
            x=x,
            context=context,
            context_mask=_additive_context_mask(modality.context_mask, dtype),
            modulation=TokenTimesteps(modulation, index),
            embedded_timestep=TokenTimesteps(embedded, index),
            rope=rope,
            prompt_modulation=prompt_modulation,
            self_attention_mask=_self_attention_bias(modality.attention_mask, dtype),
            enabled=modality.enabled,
        )
        if other is None or not self.with_audio:
            return state
        return self._with_cross_modal(state, modality, other, stream, heads)

    def embed_tokens(self, modality: Modality, stream: str) -> mx.array:
        """``patchify_proj``, plus the keyframe embedding on the tokens ``keyframes_mask`` marks."""
        layers: StreamInput = self.video if stream == "video" else self.audio
        x = layers.patchify_proj(modality.latent)
        if modality.keyframes_mask is None or "keyframes_abs_pos_embedding" not in layers:
            return x
        marked = (modality.keyframes_mask > 0).astype(x.dtype)
        return x + marked * layers.keyframes_abs_pos_embedding.astype(x.dtype)

    def _with_cross_modal(
        self, state: StreamState, modality: Modality, other: Modality, stream: str, heads: int
    ) -> StreamState:
        cfg = self.config
        dtype = modality.latent.dtype
        batch = state.x.shape[0]
        cross_max_pos = max(cfg.positional_embedding_max_pos[0], cfg.audio_positional_embedding_max_pos[0])
        cross_rope = self.run_cache.get(
            (modality.positions, stream, "cross_rope", dtype),
            lambda: rotary_tables(
                modality.positions[:, 0:1], cfg.audio_cross_attention_dim, heads, cfg.positional_embedding_theta,
                [cross_max_pos], cfg.rope_type, cfg.double_precision_rope, dtype,
            ),
        )  # fmt: skip
        if stream == "video":
            scale_shift_adaln, gate_adaln = self.av_ca_video_scale_shift_adaln_single, self.av_ca_a2v_gate_adaln_single
        else:
            scale_shift_adaln, gate_adaln = self.av_ca_audio_scale_shift_adaln_single, self.av_ca_v2a_gate_adaln_single
        # The other stream's sigma drives the AV cross-attention gate, and its scale/shift too unless
        # the version modulates each token by its own timestep (ltx-core 1.2.0).
        other_t = _per_sample(other.sigma, batch) * cfg.timestep_scale_multiplier
        if cfg.per_token_cross_modulation:
            unique, index = distinct_timesteps(modality.timesteps)
            values, _ = scale_shift_adaln(unique * cfg.timestep_scale_multiplier, dtype)
            scale_shift = mx.broadcast_to(values, (batch, *values.shape)) if index is None else mx.take(values, index, axis=0)
        else:
            scale_shift, _ = scale_shift_adaln(other_t, dtype)
        gate_factor = cfg.av_ca_timestep_scale_multiplier / cfg.timestep_scale_multiplier
        gate, _ = gate_adaln(other_t * gate_factor, dtype)
        return StreamState(
            **{
                **state.__dict__,
                "cross_rope": cross_rope,
                "cross_scale_shift": scale_shift.reshape(batch, -1, scale_shift.shape[-1]),
                "cross_gate": gate.reshape(batch, 1, -1),
            }
        )

    # ---- forward -----------------------------------------------------------------------
    def __call__(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbations | None = None,
        on_block_end: Callable[[int, StreamState | None, StreamState | None], None] | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        if video is None and audio is None:
            raise ValueError("the transformer needs a video or an audio input")
        if audio is not None and not self.with_audio:
            raise ValueError("this is a video-only transformer: it cannot take audio")
        v_state = self.prepare(video, audio, "video") if video is not None else None
        a_state = self.prepare(audio, video, "audio") if audio is not None else None
        batch = (v_state or a_state).x.shape[0]
        perturbations = perturbations or BatchedPerturbations.none(batch)
        hook = self.block_hook
        for block in self.transformer_blocks:
            if hook is not None:
                hook.before(block)
            v_state, a_state = block(v_state, a_state, perturbations, self.run_cache if self.cache_text_kv else None)
            if self.eval_per_block or hook is not None:
                mx.eval([s.x for s in (v_state, a_state) if s is not None])
            if hook is not None:
                hook.after(block)
            if on_block_end is not None:
                on_block_end(block.index, v_state, a_state)
        video_out = self._output(self.video, v_state) if v_state is not None else None
        audio_out = self._output(self.audio, a_state) if a_state is not None else None
        return video_out, audio_out

    def _output(self, layers: StreamInput, state: StreamState) -> mx.array:
        embedded = state.embedded_timestep
        shift = embedded.rows(layers.scale_shift_table[0].astype(embedded.values.dtype) + embedded.values)
        scale = embedded.rows(layers.scale_shift_table[1].astype(embedded.values.dtype) + embedded.values)
        x = mx.fast.layer_norm(state.x, None, None, self.norm_eps)
        return layers.proj_out(x * (1 + scale) + shift)


class X0Model(nn.Module):
    """Wraps the velocity model to return denoised latents: ``x0 = latent - velocity * timesteps``."""

    def __init__(self, velocity_model: LTXModel):
        super().__init__()
        self.velocity_model = velocity_model

    def __call__(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbations | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        v_velocity, a_velocity = self.velocity_model(video, audio, perturbations)
        return (
            to_denoised(video.latent, v_velocity, video.timesteps) if v_velocity is not None else None,
            to_denoised(audio.latent, a_velocity, audio.timesteps) if a_velocity is not None else None,
        )


def to_denoised(sample: mx.array, velocity: mx.array, sigma: mx.array | float) -> mx.array:
    """``sample - velocity * sigma`` computed in float32, returned in the sample's dtype."""
    sigma = mx.array(sigma, dtype=mx.float32) if not isinstance(sigma, mx.array) else sigma.astype(mx.float32)
    return (sample.astype(mx.float32) - velocity.astype(mx.float32) * sigma).astype(sample.dtype)


def _per_sample(sigma: mx.array | float, batch: int) -> mx.array:
    sigma = mx.array(sigma, dtype=mx.float32) if not isinstance(sigma, mx.array) else sigma.astype(mx.float32)
    sigma = sigma.reshape(-1)
    if sigma.size not in (1, batch):
        raise ValueError(f"sigma has {sigma.size} values for a batch of {batch}")
    return mx.broadcast_to(sigma, (batch,)) if sigma.size == 1 else sigma


def _additive_context_mask(mask: mx.array | None, dtype: mx.Dtype) -> mx.array | None:
    """(B, S) 0/1 mask -> (B, 1, 1, S) additive bias; float masks are taken as already additive."""
    if mask is None or mx.issubdtype(mask.dtype, mx.floating):
        return mask
    big = mx.finfo(dtype).max
    return ((mask.astype(dtype) - 1) * big).reshape(mask.shape[0], 1, -1, mask.shape[-1])


def _self_attention_bias(mask: mx.array | None, dtype: mx.Dtype) -> mx.array | None:
    """(B, T, T) weights in [0, 1] -> (B, 1, T, T) log-space bias (0 -> most negative value)."""
    if mask is None:
        return None
    mask = mask.astype(mx.float32)
    smallest_normal = 1.1754943508222875e-38  # float32 finfo.tiny
    bias = mx.where(mask > 0, mx.log(mx.maximum(mask, smallest_normal)), mx.finfo(dtype).min)
    return bias.astype(dtype)[:, None]
