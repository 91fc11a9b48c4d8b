"""Video VAE decoder: normalised latent (B, C, F', H', W') -> pixels (B, 3, F, H, W)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import InputShapeError
from ltx_core.model.video_vae.blocks import DepthToSpaceUpsample, ResnetBlock3D, TimeEmbedder, UNetMidBlock3D
from ltx_core.model.video_vae.config import DECODER_BLOCKS, VideoVAEConfig, block_params
from ltx_core.model.video_vae.ops import CausalConv3d, PerChannelStatistics, make_norm, norm_silu_conv, unpatchify

DECODE_NOISE_SCALE = 0.025
DECODE_TIMESTEP = 0.05


def _decoder_block(name: str, params: dict, channels: int, config: VideoVAEConfig) -> tuple[nn.Module, int]:
    norm, pad = config.norm_layer, config.decoder_padding_mode
    noise = params.get("inject_noise", False)
    if name == "res_x":
        block = UNetMidBlock3D(channels, params["num_layers"], norm, pad, noise, config.timestep_conditioning)
        return block, channels
    if name == "res_x_y":
        out = channels // params.get("multiplier", 2)
        return ResnetBlock3D(channels, out, norm, pad, noise, timestep_conditioning=False), out
    multiplier = params.get("multiplier", 1)
    residual = params.get("residual", False) if name == "compress_all" else False
    block = DepthToSpaceUpsample(channels, DECODER_BLOCKS[name], pad, residual, multiplier)
    return block, channels // multiplier


class VideoDecoder(nn.Module):
    """Mirror of the encoder, with the decoder's timestep conditioning.

    With timestep conditioning the latent is first mixed with noise,
    ``noise * decode_noise_scale + (1 - decode_noise_scale) * latent``, and every residual
    block and the output norm are modulated by the (scaled) timestep.
    """

    def __init__(self, config: VideoVAEConfig):
        super().__init__()
        self.config = config
        self.latent_channels = config.latent_channels
        self.scale = config.decoder_scale()
        self.causal = config.causal_decoder
        self.timestep_conditioning = config.timestep_conditioning
        self.decode_noise_scale = DECODE_NOISE_SCALE
        self.decode_timestep = DECODE_TIMESTEP
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels)
        pad = config.decoder_padding_mode
        # ltx-core assumes three 2x channel reductions on the way up: width base * 8 at the bottom.
        channels = config.decoder_base_channels * 8
        self.conv_in = CausalConv3d(config.latent_channels, channels, 3, padding_mode=pad)
        self.up_blocks = []
        for name, params in reversed(config.decoder_blocks):
            block, channels = _decoder_block(name, block_params(params), channels, config)
            self.up_blocks.append(block)
        self.conv_norm_out = make_norm(config.norm_layer, channels)
        self.conv_out = CausalConv3d(channels, config.out_channels * config.patch_size**2, 3, padding_mode=pad)
        if config.timestep_conditioning:
            self.timestep_scale_multiplier = mx.array(1000.0)
            self.last_time_embedder = TimeEmbedder(channels * 2)
            self.last_scale_shift_table = mx.zeros((2, channels))

    def check_latent(self, latent: mx.array) -> None:
        c = self.latent_channels
        if latent.ndim != 5 or latent.shape[1] != c:
            raise InputShapeError(
                f"video decoder: expected a latent of shape (B, {c}, F', H', W'), got {tuple(latent.shape)}."
            )

    def output_shape(self, latent_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        b, _, f, h, w = latent_shape
        st, sh, sw = self.scale
        return (b, self.config.out_channels, (f - 1) * st + 1, h * sh, w * sw)

    def draw_noise(self, shape: tuple[int, ...], key: mx.array | None, dtype: mx.Dtype = mx.float32) -> mx.array:
        """The latent noise ``__call__`` draws from ``key`` (seed 0 when None, so runs are reproducible)."""
        noise_key = mx.random.split(key if key is not None else mx.random.key(0))[0]
        return mx.random.normal(shape, dtype=dtype, key=noise_key)

    def __call__(
        self,
        latent: mx.array,
        timestep: float | mx.array | None = None,
        noise: mx.array | None = None,
        key: mx.array | None = None,
        noise_scale: float | None = None,
    ) -> mx.array:
        """(B, C, F', H', W') normalised latent -> (B, 3, F, H, W) pixels, unclamped.

        ``timestep`` defaults to ``decode_timestep`` (0.05); ``noise`` (the latent's shape) is
        drawn from ``key`` when not given; ``noise_scale`` defaults to ``decode_noise_scale``.
        ``key`` also seeds the blocks' spatial noise injection where the config enables it.
        """
        self.check_latent(latent)
        batch = latent.shape[0]
        block_key = mx.random.split(key if key is not None else mx.random.key(0))[1]
        x = latent
        if self.timestep_conditioning:
            scale = self.decode_noise_scale if noise_scale is None else noise_scale
            if noise is None:
                noise = self.draw_noise(latent.shape, key, latent.dtype)
            elif tuple(noise.shape) != tuple(latent.shape):
                raise InputShapeError(
                    f"video decoder: noise must have the latent's shape {tuple(latent.shape)}, "
                    f"got {tuple(noise.shape)}."
                )
            x = noise.astype(x.dtype) * scale + (1.0 - scale) * x
        x = self.per_channel_statistics.un_normalize(x.transpose(0, 2, 3, 4, 1), channel_axis=-1)
        x = self.conv_in(x, causal=self.causal)

        scaled_t = None
        if self.timestep_conditioning:
            t = self.decode_timestep if timestep is None else timestep
            t = t.astype(x.dtype) if isinstance(t, mx.array) else mx.array(t, dtype=x.dtype)
            t = mx.broadcast_to(t.reshape(-1), (batch,))
            scaled_t = t * self.timestep_scale_multiplier.astype(x.dtype)

        keys = mx.random.split(block_key, len(self.up_blocks))
        for block, block_key_i in zip(self.up_blocks, keys):
            if isinstance(block, UNetMidBlock3D):
                x = block(x, causal=self.causal, timestep=scaled_t, key=block_key_i)
            elif isinstance(block, ResnetBlock3D):
                x = block(x, causal=self.causal, key=block_key_i)
            else:
                x = block(x, causal=self.causal)

        shift = scale = None
        if self.timestep_conditioning:
            embed = self.last_time_embedder(scaled_t, x.dtype).reshape(batch, 2, -1)
            ada = self.last_scale_shift_table[None].astype(x.dtype) + embed
            shift, scale = (ada[:, i].reshape(batch, 1, 1, 1, -1) for i in range(2))
        x = norm_silu_conv(self.conv_norm_out, self.conv_out, x, scale, shift, self.causal)
        return unpatchify(x, self.config.patch_size).transpose(0, 4, 1, 2, 3)
