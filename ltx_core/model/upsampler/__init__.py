"""LTX-2 latent upsamplers (spatial x2, temporal x2) and ``upsample_video``."""

from ltx_core.model.upsampler.config import UpsamplerConfig
from ltx_core.model.upsampler.model import LatentUpsampler, upsample_video

__all__ = ["LatentUpsampler", "UpsamplerConfig", "upsample_video"]
