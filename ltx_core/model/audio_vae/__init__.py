"""LTX-2 audio VAE (log-mel <-> latent) and vocoder (log-mel -> waveform)."""

from ltx_core.model.audio_vae.audio import Audio, decode_audio, waveform_to_pcm16, write_wav
from ltx_core.model.audio_vae.bwe import VocoderWithBWE
from ltx_core.model.audio_vae.config import (
    LATENT_DOWNSAMPLE_FACTOR,
    AudioVAEConfig,
    VocoderConfig,
    VocoderWithBWEConfig,
    vocoder_config_from_section,
)
from ltx_core.model.audio_vae.vae import AudioDecoder, AudioEncoder, PerChannelStatistics
from ltx_core.model.audio_vae.vocoder import Vocoder

__all__ = [
    "LATENT_DOWNSAMPLE_FACTOR",
    "Audio",
    "AudioDecoder",
    "AudioEncoder",
    "AudioVAEConfig",
    "PerChannelStatistics",
    "Vocoder",
    "VocoderConfig",
    "VocoderWithBWE",
    "VocoderWithBWEConfig",
    "decode_audio",
    "vocoder_config_from_section",
    "waveform_to_pcm16",
    "write_wav",
]
