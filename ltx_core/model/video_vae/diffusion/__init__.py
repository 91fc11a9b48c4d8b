"""LTX-2.5 diffusion video VAE decoder (``CausalDiffusionVAE``): neighbourhood-attention stages and a
two-step Euler pixel-diffusion stage, with bounded-memory tiled decoding."""

from ltx_core.model.video_vae.diffusion.config import DIFFUSION_VAE_CLASS, DiffusionDecoderConfig
from ltx_core.model.video_vae.diffusion.decoder import DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import AxisTiling, DiffusionTilingConfig

__all__ = [
    "DIFFUSION_VAE_CLASS",
    "AxisTiling",
    "DiffusionDecoderConfig",
    "DiffusionTilingConfig",
    "DiffusionVideoDecoder",
]
