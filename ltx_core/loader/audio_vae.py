"""Build the audio VAE encoder/decoder and the vocoder from a checkpoint's config and load their weights."""

from __future__ import annotations

import os

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import CheckpointError
from ltx_core.loader.checkpoint import AUDIO_VAE_PREFIX, VOCODER_PREFIX, LTXCheckpoint
from ltx_core.loader.components import open_checkpoint, resolve_dtype
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.audio_vae.bwe import VocoderWithBWE
from ltx_core.model.audio_vae.config import (
    AudioVAEConfig,
    VocoderConfig,
    VocoderWithBWEConfig,
    vocoder_config_from_section,
)
from ltx_core.model.audio_vae.vae import AudioDecoder, AudioEncoder
from ltx_core.model.audio_vae.vocoder import Vocoder
from ltx_core.model.audio_vae.weights import statistics_param_name, vae_transform, vocoder_transform

AUDIO_DECODER_PREFIX = AUDIO_VAE_PREFIX + "decoder."
AUDIO_ENCODER_PREFIX = AUDIO_VAE_PREFIX + "encoder."
AUDIO_STATISTICS_PREFIX = AUDIO_VAE_PREFIX + "per_channel_statistics."


def audio_vae_config(checkpoint: LTXCheckpoint) -> AudioVAEConfig:
    return AudioVAEConfig.from_section(checkpoint.section("audio_vae"), source=f"{checkpoint.name} config")


def vocoder_config(checkpoint: LTXCheckpoint) -> VocoderConfig | VocoderWithBWEConfig:
    """The plain vocoder's config (LTX-2.0), or the vocoder with bandwidth extension's (LTX-2.3)."""
    return vocoder_config_from_section(checkpoint.section("vocoder"), source=f"{checkpoint.name} config")


def _require_keys(checkpoint: LTXCheckpoint, prefix: str, component: str) -> dict[str, str]:
    keys = checkpoint.keys_under(prefix)
    if not keys:
        raise CheckpointError(
            f"{checkpoint.name} has no {component} weights (no keys under '{prefix}'). "
            "Use a full LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
        )
    return keys


def _load_vae_part(checkpoint: LTXCheckpoint, module: nn.Module, prefix: str, component: str, dtype: mx.Dtype) -> None:
    mapping = {}
    for short, full in _require_keys(checkpoint, prefix, component).items():
        mapping[short] = TensorSource(full, vae_transform(short, len(checkpoint.file.info(full).shape)))
    # Shared by encoder and decoder, stored once beside them.
    for short, full in _require_keys(checkpoint, AUDIO_STATISTICS_PREFIX, "audio VAE statistics").items():
        mapping[statistics_param_name(short)] = TensorSource(full)
    load_module_weights(module, checkpoint.file, mapping, dtype, component)
    module.eval()


def load_audio_decoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> AudioDecoder:
    """Normalised audio latent -> log-mel spectrogram, weights loaded strictly."""
    checkpoint = open_checkpoint(checkpoint)
    decoder = AudioDecoder(audio_vae_config(checkpoint))
    _load_vae_part(checkpoint, decoder, AUDIO_DECODER_PREFIX, "audio VAE decoder", resolve_dtype(dtype))
    return decoder


def load_audio_encoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> AudioEncoder:
    """Log-mel spectrogram -> normalised audio latent, weights loaded strictly."""
    checkpoint = open_checkpoint(checkpoint)
    encoder = AudioEncoder(audio_vae_config(checkpoint))
    _load_vae_part(checkpoint, encoder, AUDIO_ENCODER_PREFIX, "audio VAE encoder", resolve_dtype(dtype))
    return encoder


def load_vocoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> Vocoder | VocoderWithBWE:
    """Stereo log-mel -> waveform at the config's output sampling rate, weights loaded strictly.

    Keys lose one ``vocoder.`` (as the official filter does): ``vocoder.vocoder.*`` of an LTX-2.3
    file is the inner vocoder, ``vocoder.bwe_generator.*`` / ``vocoder.mel_stft.*`` the extension.
    """
    checkpoint = open_checkpoint(checkpoint)
    config = vocoder_config(checkpoint)
    vocoder = VocoderWithBWE(config) if isinstance(config, VocoderWithBWEConfig) else Vocoder(config)
    mapping = {
        short: TensorSource(full, vocoder_transform(short, len(checkpoint.file.info(full).shape)))
        for short, full in _require_keys(checkpoint, VOCODER_PREFIX, "vocoder").items()
    }
    load_module_weights(vocoder, checkpoint.file, mapping, resolve_dtype(dtype), "vocoder")
    vocoder.eval()
    return vocoder
