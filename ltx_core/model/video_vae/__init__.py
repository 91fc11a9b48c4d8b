"""LTX-2 video VAE: encoder, decoder, tiled decoding/encoding and uint8 conversion."""

from ltx_core.model.video_vae.config import VideoVAEConfig
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.ops import PerChannelStatistics
from ltx_core.model.video_vae.tiled import decode_video, tiled_decode, tiled_encode, to_uint8_frames
from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

__all__ = [
    "PerChannelStatistics",
    "SpatialTilingConfig",
    "TemporalTilingConfig",
    "TilingConfig",
    "VideoDecoder",
    "VideoEncoder",
    "VideoVAEConfig",
    "decode_video",
    "tiled_decode",
    "tiled_encode",
    "to_uint8_frames",
]
