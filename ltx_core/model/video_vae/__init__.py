"""LTX-2 video VAE: encoder, decoder, tiled decoding/encoding and uint8 conversion."""

from ltx_core.model.video_vae.config import VideoVAEConfig
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.ops import PerChannelStatistics

__all__ = ["PerChannelStatistics", "VideoDecoder", "VideoEncoder", "VideoVAEConfig"]
