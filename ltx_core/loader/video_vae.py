"""Build the video VAE encoder / decoder from a checkpoint's ``vae`` config and load their weights."""

from __future__ import annotations

import os

import mlx.core as mx

from ltx_core.errors import CheckpointError
from ltx_core.loader.checkpoint import VIDEO_VAE_PREFIX, LTXCheckpoint
from ltx_core.loader.components import open_checkpoint, resolve_dtype
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.video_vae.config import VideoVAEConfig
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.ops import PerChannelStatistics
from ltx_core.model.video_vae.weights import conv_to_channels_last, statistics_param

STATISTICS_PREFIX = VIDEO_VAE_PREFIX + "per_channel_statistics."


def video_vae_config(checkpoint: LTXCheckpoint) -> VideoVAEConfig:
    """The conv VAE's flat ``vae`` section, or (``CausalDiffusionVAE``, LTX-2.5) its nested
    ``vae.encoder`` section read as ltx-core 1.2.0's ``_prepare_video_encoder_kwargs`` does:
    ``blocks`` are the encoder blocks and the encoder's ``out_channels`` is the latent width. The
    diffusion decoder's own config is ``loader.diffusion_vae.diffusion_decoder_config``."""
    return VideoVAEConfig.from_dict(encoder_section(checkpoint.section("vae")), source=f"{checkpoint.name} config")


def encoder_section(vae: dict) -> dict:
    """A ``vae`` config section in the flat (conv VAE) form, for the encoder and the statistics."""
    encoder = vae.get("encoder") if isinstance(vae, dict) else None
    if not isinstance(encoder, dict):
        return vae
    flat = {k: v for k, v in encoder.items() if k not in ("blocks", "out_channels", "spatial_padding_mode")}
    flat["latent_channels"] = encoder.get("out_channels", vae.get("latent_channels", 128))
    flat["encoder_blocks"] = encoder.get("blocks", encoder.get("encoder_blocks", []))
    if "spatial_padding_mode" in encoder:
        flat["encoder_spatial_padding_mode"] = encoder["spatial_padding_mode"]
    return flat


def _statistics_mapping(checkpoint: LTXCheckpoint, param_prefix: str) -> dict[str, TensorSource]:
    mapping = {}
    for short, full in checkpoint.keys_under(STATISTICS_PREFIX).items():
        try:
            name = statistics_param(short)
        except KeyError:
            name = short  # not a statistic ltx-core knows: the strict load reports it as unexpected
        if name is not None:
            mapping[param_prefix + name] = TensorSource(full)
    return mapping


def _mapping(checkpoint: LTXCheckpoint, part: str) -> dict[str, TensorSource]:
    prefix = f"{VIDEO_VAE_PREFIX}{part}."
    keys = checkpoint.keys_under(prefix)
    if not keys:
        raise CheckpointError(
            f"{checkpoint.name} has no video VAE {part} weights (no keys under '{prefix}'). "
            "Use a full LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
        )
    mapping = {name: TensorSource(full, conv_to_channels_last) for name, full in keys.items()}
    mapping.update(_statistics_mapping(checkpoint, "per_channel_statistics."))
    return mapping


def load_video_encoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> VideoEncoder:
    """The video VAE encoder with its latent statistics, weights loaded strictly."""
    checkpoint = open_checkpoint(checkpoint)
    model = VideoEncoder(video_vae_config(checkpoint))
    mapping = _mapping(checkpoint, "encoder")
    load_module_weights(model, checkpoint.file, mapping, resolve_dtype(dtype), "video VAE encoder")
    model.eval()
    return model


def load_video_decoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> VideoDecoder:
    """The video VAE decoder with its latent statistics, weights loaded strictly."""
    checkpoint = open_checkpoint(checkpoint)
    model = VideoDecoder(video_vae_config(checkpoint))
    mapping = _mapping(checkpoint, "decoder")
    load_module_weights(model, checkpoint.file, mapping, resolve_dtype(dtype), "video VAE decoder")
    model.eval()
    return model


def load_video_statistics(checkpoint: LTXCheckpoint | str | os.PathLike) -> PerChannelStatistics:
    """Only the per-channel latent statistics (what ``upsample_video`` needs), in float32."""
    checkpoint = open_checkpoint(checkpoint)
    stats = PerChannelStatistics(video_vae_config(checkpoint).latent_channels)
    mapping = _statistics_mapping(checkpoint, "")
    load_module_weights(stats, checkpoint.file, mapping, mx.float32, "video VAE statistics")
    return stats
