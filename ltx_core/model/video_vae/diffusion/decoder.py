"""LTX-2.5 diffusion video VAE decoder: normalised latent (B, 128, F', H', W') -> pixels (B, 3, F, H, W).

Stages 1-4 are deterministic neighbourhood-attention stages, each followed by a linear
pixel-shuffle upsampler; they turn the latent into a context volume. Stage 5 denoises
pixel-space noise ``x_T`` (patchified) in ``default_num_inference_steps`` Euler steps from
t = 1, each step conditioned on that context and on the timestep through a shared AdaLN.

Follows ltx-core 1.2.0 ``DiffusionVideoDecoder`` in its eager chunked mode (CHUNKED_EAGER without
natten), including its geometry: the latent is edge-padded up to the stages' minimum size, its last
frame is repeated ``(k_t // 2) * 2`` times through stages 1-4 (cropped again before stage 5), the
noise covers the padded volume, and the output is cropped back to the content.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.errors import InputShapeError
from ltx_core.model.transformer.embeddings import TimestepEmbedding
from ltx_core.model.video_vae.diffusion.attention import RMS_EPS
from ltx_core.model.video_vae.diffusion.blocks import AdaLNZero, DiffusionNABlock, LinearPixelShuffleUpsample, NABlock
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltx_core.model.video_vae.diffusion.tiling import (
    DiffusionTile,
    DiffusionTilingConfig,
    fit_tiling,
    masks_are_complementary,
    resize_axis,
    tile_plan,
)
from ltx_core.model.video_vae.ops import PerChannelStatistics, patchify, unpatchify
from ltx_core.model.video_vae.tiling import temporal_groups

_MIN_WEIGHT = 1e-8


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _round_up(value: int, multiple: int) -> int:
    return _ceil_div(value, multiple) * multiple


class DiffusionVideoDecoder(nn.Module):
    def __init__(self, config: DiffusionDecoderConfig):
        super().__init__()
        self.config = config
        c = config.stage_channels
        self.latent_channels = config.in_channels
        self.out_channels = config.out_channels
        self.patch = config.patch_size
        self.scale = (8, 32, 32)
        self.per_channel_statistics = PerChannelStatistics(config.in_channels)
        self.conv_in = nn.Linear(config.in_channels, c[0])
        self.det_stages = [
            [NABlock(c[i], config.stage_kernels[i], config.head_dim) for _ in range(config.stage_depths[i])]
            for i in range(4)
        ]
        self.upsamples = [LinearPixelShuffleUpsample(c[i], s, r) for i, (s, r) in enumerate(config.upsamples)]
        self.t_embedder = TimestepEmbedding(config.t_emb_dim)
        c5 = config.diffusion_channels
        self.conv_in_x_t = nn.Linear(config.noised_pixel_channels, c5)
        self.shared_adaln = AdaLNZero(c5, config.t_emb_dim)
        self.diff_blocks = [
            DiffusionNABlock(c5, config.stage5_kernel, config.context_channels, config.head_dim)
            for _ in range(config.stage_depths[-1])
        ]
        self.norm_out = nn.RMSNorm(c5, eps=RMS_EPS)
        self.conv_out = nn.Linear(c5, config.noised_pixel_channels)
        self._geometry()

    # -- geometry ------------------------------------------------------------------------------
    def _geometry(self) -> None:
        cfg = self.config
        strides = [s for s, _ in cfg.upsamples]
        cumulative = [(1, 1, 1)]
        for s in strides:
            cumulative.append(tuple(a * b for a, b in zip(cumulative[-1], s)))
        mins = [1, 1, 1]
        for i in range(4):
            mins = [max(m, _ceil_div(cfg.stage_kernels[i][a], cumulative[i][a])) for a, m in enumerate(mins)]
        mins = [max(m, _ceil_div(cfg.stage5_kernel[a], cumulative[4][a])) for a, m in enumerate(mins)]
        self.min_latent = tuple(mins)
        s3 = strides[3]
        self.tile_min = tuple(max(cfg.stage_kernels[3][a], _ceil_div(cfg.stage5_kernel[a], s3[a])) for a in range(3))
        halo4 = [cfg.stage_depths[3] * (cfg.stage_kernels[3][a] // 2) for a in range(3)]
        halo5 = [_ceil_div(cfg.stage_depths[-1] * (cfg.stage5_kernel[a] // 2), s3[a]) for a in range(3)]
        self.min_overlaps = (
            _round_up(max(halo4[0], halo5[0]) * s3[0], 8),
            _round_up(max(halo4[1], halo5[1], halo4[2], halo5[2]) * s3[1] * self.patch, 32),
        )
        self.trailing_pad = (cfg.stage_kernels[0][0] // 2) * 2
        self.stage4_time_scale = math.prod(s[0] for s in strides[:3])

    @property
    def tiling_factors(self) -> tuple[int, int, int]:
        """Tile sizes and overlaps (frames, height px, width px) must be multiples of these."""
        st, sh, sw = self.config.upsamples[3][0]
        return st, sh * self.patch, sw * self.patch

    def fit_tiling(self, tiling) -> DiffusionTilingConfig | None:
        """``tiling`` (a preset's VAE tiling, a conv ``TilingConfig`` or a ``DiffusionTilingConfig``)
        made valid for this decoder: multiples of :attr:`tiling_factors`, overlaps at least
        :attr:`min_overlaps` (see ``tiling.fit_tiling``); None stays untiled."""
        return fit_tiling(tiling, self.tiling_factors, self.min_overlaps)

    def output_shape(self, latent_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        b, _, f, h, w = latent_shape
        return b, self.out_channels, (f - 1) * 8 + 1, h * 32, w * 32

    def noise_shape(self, latent_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """Shape of ``x_T``: the output shape of the latent padded up to the stages' minimum size."""
        b, c, f, h, w = latent_shape
        f, h, w = (max(n, m) for n, m in zip((f, h, w), self.min_latent))
        return self.output_shape((b, c, f, h, w))

    def check_latent(self, latent: mx.array) -> None:
        if latent.ndim != 5 or latent.shape[1] != self.latent_channels:
            raise InputShapeError(
                f"the diffusion video decoder takes a latent (B, {self.latent_channels}, F, H, W), got {tuple(latent.shape)}"
            )

    # -- stages --------------------------------------------------------------------------------
    def stages_1_to_3(self, latent: mx.array) -> mx.array:
        """Normalised latent (B, C, F, H, W) -> channels-last stage-4 input (B, T, H, W, C)."""
        x = self.per_channel_statistics.un_normalize(latent).transpose(0, 2, 3, 4, 1)
        x = self.conv_in(x)
        for i in range(3):
            for block in self.det_stages[i]:
                x = block(x)
            x = self.upsamples[i](x, drop_leading_frame=True)
        return x

    def stage_4(self, feat: mx.array, pad_trailing: bool) -> mx.array:
        """Stage-4 blocks; with ``pad_trailing`` the repeated trailing frames are cropped again
        (keeping at least what stage 5's kernel needs). The upsample runs in :meth:`context`."""
        for block in self.det_stages[3]:
            feat = block(feat)
        if pad_trailing and self.trailing_pad:
            st = self.config.upsamples[3][0][0]
            kernel_t = max(1, _ceil_div(self.config.stage5_kernel[0], st))
            t = feat.shape[1]
            keep = min(t, max(max(t - self.trailing_pad * self.stage4_time_scale, 1), kernel_t))
            feat = resize_axis(feat, 1, keep, "repeat_last")
        return feat

    def context(self, feat: mx.array, origin: bool) -> mx.array:
        return self.upsamples[3](feat, drop_leading_frame=origin)

    def diffusion_step(self, x_t: mx.array, context: mx.array, t: float) -> mx.array:
        """Model prediction for channels-last pixels ``x_t`` (B, F, H, W, 3) at time ``t``."""
        x = self.conv_in_x_t(patchify(x_t, self.patch))
        timestep = mx.full((x_t.shape[0],), t * self.config.timestep_scale_multiplier, dtype=mx.float32)
        modulation = self.shared_adaln(self.t_embedder(timestep, x.dtype))
        for block in self.diff_blocks:
            x = block(x, context, modulation)
        return unpatchify(self.conv_out(self.norm_out(x)), self.patch)

    def timesteps(self) -> list[float]:
        n = self.config.default_num_inference_steps
        return [float(v) for v in np.linspace(1.0, 1.0 / n, n, dtype=np.float64).astype(np.float32)]

    def denoise(self, x_t: mx.array, context: mx.array, evaluate: bool = False) -> mx.array:
        """Euler steps from t = 1 to 0 on channels-last ``x_T`` (float32 updates)."""
        steps = self.timesteps()
        x0_model = self.config.model_output_type == "x0"
        for i, t_now in enumerate(steps):
            t_next = steps[i + 1] if i + 1 < len(steps) else 0.0
            out = self.diffusion_step(x_t, context, t_now).astype(mx.float32)
            if x0_model and t_next == 0.0:
                return out.astype(x_t.dtype)
            velocity = (x_t.astype(mx.float32) - out) / t_now if x0_model else out
            x_t = (x_t.astype(mx.float32) - (t_now - t_next) * velocity).astype(x_t.dtype)
            if evaluate:
                mx.eval(x_t)
        return x_t

    # -- decoding ------------------------------------------------------------------------------
    def draw_noise(self, latent_shape: tuple[int, ...], key: mx.array | None, dtype: mx.Dtype) -> mx.array:
        return mx.random.normal(self.noise_shape(latent_shape), dtype=dtype, key=key)

    def __call__(self, latent: mx.array, noise: mx.array | None = None, key: mx.array | None = None) -> mx.array:
        """Untiled decode (one chunk) to (B, 3, F, H, W) in about [-1, 1]."""
        return next(self.decode(latent, noise=noise, key=key, evaluate=False))

    def decode(
        self,
        latent: mx.array,
        tiling: DiffusionTilingConfig | None = None,
        noise: mx.array | None = None,
        key: mx.array | None = None,
        evaluate: bool = True,
    ) -> Iterator[mx.array]:
        """Decode to (B, 3, F, H, W) chunks whose frames, concatenated, are the video.

        ``noise`` is ``x_T`` of :meth:`noise_shape` (B, 3, ...), else drawn with ``key``. Tiled,
        stages 1-3 run once and each tile runs stage 4 and the diffusion stage on its own; with
        ``evaluate`` every tile and step is evaluated as it finishes, so memory follows the tile."""
        self.check_latent(latent)
        _, _, f, h, w = latent.shape
        content = self.output_shape(latent.shape)
        padded = resize_axis(latent, 2, max(f, self.min_latent[0]), "repeat_last")
        h_before = (max(h, self.min_latent[1]) - h) // 2
        w_before = (max(w, self.min_latent[2]) - w) // 2
        padded = resize_axis(padded, 3, max(h, self.min_latent[1]), "symmetric")
        padded = resize_axis(padded, 4, max(w, self.min_latent[2]), "symmetric")
        full = self.output_shape(padded.shape)
        if noise is None:
            noise = self.draw_noise(latent.shape, key, latent.dtype)
        elif tuple(noise.shape) != full:
            raise InputShapeError(
                f"decoder noise must have shape {full} for latent {tuple(latent.shape)}, got {tuple(noise.shape)}"
            )
        s4 = self._stage4_thw(padded.shape[2:])
        tiles = tile_plan(s4, tiling, self.config.upsamples[3][0], self.patch, self.tile_min, self.min_overlaps)
        feat = self.stages_1_to_3(resize_axis(padded, 2, padded.shape[2] + self.trailing_pad, "repeat_last"))
        x_init = noise.transpose(0, 2, 3, 4, 1)
        if evaluate:
            mx.eval(feat, x_init)
        complementary = masks_are_complementary(tiles, full[2:])
        groups = temporal_groups(tiles)
        starts = [g[0].outputs[0].indices(full[2])[0] for g in groups]
        crop = (h_before * 32, w_before * 32)

        def emit(buf: mx.array, wts: mx.array | None, start: int) -> mx.array | None:
            keep = min(buf.shape[2], content[2] - start)
            if start >= content[2] or keep < 1:
                return None
            out = buf[:, :, :keep] if wts is None else buf[:, :, :keep] / mx.maximum(wts[:, :, :keep], _MIN_WEIGHT)
            out = out[:, :, :, crop[0] : crop[0] + content[3], crop[1] : crop[1] + content[4]]
            if evaluate:
                mx.eval(out)
            return out.astype(latent.dtype)

        stub: tuple[mx.array, mx.array | None] | None = None
        for gi, group in enumerate(groups):
            buf, wts = self._decode_group(group, feat, s4[0], x_init, full, complementary, evaluate)
            if stub is not None:
                n = stub[0].shape[2]
                buf[:, :, :n] = buf[:, :, :n] + stub[0]
                if wts is not None:
                    wts[:, :, :n] = wts[:, :, :n] + stub[1]
                stub = None
            if gi + 1 < len(groups):
                exclusive = min(max(0, starts[gi + 1] - starts[gi]), buf.shape[2])
                out = emit(buf[:, :, :exclusive], None if wts is None else wts[:, :, :exclusive], starts[gi])
                stub = (buf[:, :, exclusive:], None if wts is None else wts[:, :, exclusive:])
                if evaluate:
                    mx.eval(stub)
            else:
                out = emit(buf, wts, starts[gi])
            if out is not None:
                yield out

    def _stage4_thw(self, latent_thw: tuple[int, int, int]) -> tuple[int, int, int]:
        t, h, w = latent_thw
        for st, sh, sw in (s for s, _ in self.config.upsamples[:3]):
            t, h, w = t * st - (1 if st == 2 else 0), h * sh, w * sw
        return t, h, w

    def _decode_group(
        self,
        group: list[DiffusionTile],
        feat: mx.array,
        content_t: int,
        x_init: mx.array,
        full: tuple[int, ...],
        complementary: bool,
        evaluate: bool,
    ) -> tuple[mx.array, mx.array | None]:
        frames = group[0].outputs[0].indices(full[2])
        length = frames[1] - frames[0]
        b, c = full[0], full[1]
        buf = mx.zeros((b, c, length, full[3], full[4]), dtype=x_init.dtype)
        wts = None if complementary else mx.zeros((1, 1, length, full[3], full[4]), dtype=x_init.dtype)
        st, sh, sw = self.config.upsamples[3][0]
        for tile in group:
            t0, t1, _ = tile.inputs[0].indices(content_t)
            origin, pad_trailing = t0 == 0, t1 == content_t
            h0, h1, _ = tile.inputs[1].indices(feat.shape[2])
            w0, w1, _ = tile.inputs[2].indices(feat.shape[3])
            tile_feat = feat[:, t0 : feat.shape[1] if pad_trailing else t1, h0:h1, w0:w1]
            frames5 = (t1 - t0) * st - (1 if origin and st == 2 else 0)
            if pad_trailing:
                frames5 = max(frames5, self.config.stage5_kernel[0])
            size5 = (frames5, (h1 - h0) * sh * self.patch, (w1 - w0) * sw * self.patch)
            pt, ph, pw = (tile.outputs[a].indices(full[2 + a]) for a in range(3))
            x_t = x_init[:, pt[0] : pt[1], ph[0] : ph[1], pw[0] : pw[1]]
            x_t = resize_axis(x_t, 1, size5[0], "repeat_last")
            x_t = resize_axis(resize_axis(x_t, 2, size5[1], "symmetric"), 3, size5[2], "symmetric")
            context = self.context(self.stage_4(tile_feat, pad_trailing), origin)
            if evaluate:
                mx.eval(context)
            pixels = self.denoise(x_t, context, evaluate)
            pixels = resize_axis(pixels, 1, pt[1] - pt[0], "repeat_last")
            pixels = resize_axis(resize_axis(pixels, 2, ph[1] - ph[0], "symmetric"), 3, pw[1] - pw[0], "symmetric")
            mt, mh, mw = (mx.array(m) for m in tile.masks)
            weight = mt[:, None, None] * mh[None, :, None] * mw[None, None, :]
            region = (slice(None), slice(None), slice(None), slice(ph[0], ph[1]), slice(pw[0], pw[1]))
            buf[region] = buf[region] + pixels.transpose(0, 4, 1, 2, 3) * weight
            if wts is not None:
                wts[region] = wts[region] + mx.broadcast_to(weight, (1, 1, *pixels.shape[1:4]))
            if evaluate:
                mx.eval(buf, wts) if wts is not None else mx.eval(buf)
        return buf, wts
