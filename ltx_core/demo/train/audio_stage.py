"""Stage ``audio``: the audio VAE learns to reconstruct the log-mel of the clips' soundtracks and
the vocoder to turn a log-mel into the soundtrack (see the package docstring for the design).

Losses: log-mel MSE of the decoded posterior sample + ``KL_WEIGHT`` x KL (the encoder's second
half of output channels are the log-variances, ``double_z``); for the vocoder, fed the true
log-mel, L1 of log STFT magnitudes at ``STFT_RESOLUTIONS`` plus L1 of the magnitudes against the
soundtrack rendered at the vocoder's output rate; from ``JOINT_FROM_STEP`` on the vocoder is fed
the decoder's log-mel (no gradient into the decoder through it). Like the video VAE, the latent statistics are
re-estimated at every checkpoint (per latent channel and mel bin, the audio layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.synthetic import ClipSpec, render_audio
from ltx_core.demo.train.data import ClipGeometry, training_spec
from ltx_core.demo.train.weights import ParameterIndex, save_components

KL_WEIGHT = 1e-6
STFT_RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))  # (n_fft, hop)
STATISTICS_SEED = 434343
STATISTICS_CLIPS = 16
VOCODER_START_SCALE = 0.1
# From this step on the vocoder hears the audio decoder's log-mel (as ``decode_audio`` chains them)
# instead of the true one, so it learns to render what the decoder actually gives it.
JOINT_FROM_STEP = 2000


class AudioParts(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, vocoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.vocoder = vocoder


def audio_encoder_moments(encoder: nn.Module, mel: mx.array) -> tuple[mx.array, mx.array]:
    """Raw posterior means and log-variances (B, z, frames', bins'): the encoder's own forward up
    to its output convolution (its ``__call__`` keeps only the normalised means)."""
    h = encoder.conv_in(mel.transpose(0, 2, 3, 1))
    for stage in encoder.down:
        h = stage.run_blocks(h)
        if "downsample" in stage:
            h = stage.downsample(h)
    h = encoder.conv_out(nn.silu(encoder.norm_out(encoder.mid(h))))
    half = h.shape[-1] // 2
    return h[..., : h.shape[-1] - half].transpose(0, 3, 1, 2), h[..., h.shape[-1] - half :].transpose(0, 3, 1, 2)


def stft_magnitude(waveform: mx.array, n_fft: int, hop: int) -> mx.array:
    """|STFT| of (..., samples), periodic Hann window, no padding: (..., frames, n_fft // 2 + 1)."""
    frames = (waveform.shape[-1] - n_fft) // hop + 1
    index = mx.arange(frames)[:, None] * hop + mx.arange(n_fft)[None, :]
    window = mx.array((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32))
    return mx.abs(mx.fft.rfft(waveform[..., index] * window, axis=-1))


def spectral_loss(predicted: mx.array, target: mx.array) -> mx.array:
    loss = mx.array(0.0)
    for n_fft, hop in STFT_RESOLUTIONS:
        p, t = stft_magnitude(predicted, n_fft, hop), stft_magnitude(target, n_fft, hop)
        loss = loss + mx.mean(mx.abs(mx.log(p + 1e-5) - mx.log(t + 1e-5))) + mx.mean(mx.abs(p - t))
    return loss / len(STFT_RESOLUTIONS)


def log_mels(specs: list[ClipSpec], geometry: ClipGeometry, config) -> mx.array:
    """The log-mel the pipelines give the audio encoder for the clips' soundtracks (B, 2, T, mels)."""
    from ltx_core.media.audio_read import AudioClip
    from ltx_core.pipelines.source_audio import log_mel_of

    rate = config.sample_rate
    clips = [AudioClip(render_audio(spec, geometry.frames, geometry.fps, rate).T, rate, 0.0, 0.0) for spec in specs]
    return mx.concatenate([log_mel_of(clip, config) for clip in clips])


def start_at_mean_log_mel(checkpoint: Path, geometry: ClipGeometry) -> None:
    """Set the audio decoder's output bias in ``checkpoint`` to the mean log-mel of fixed training
    soundtracks (per channel), where audio training starts. The soundtracks are mostly the
    silence floor (mean -10.0, std 2.8 over 4 clips): from the random bias (~0) the decoder's
    first 60 steps went only from MSE 84 to 12.8, still worse than predicting the mean (2.8), and
    its output did not depend on the latent yet (0.0005 against 0.88 between clips)."""
    from ltx_core.demo.train.weights import read_file, write_file
    from ltx_core.loader.audio_vae import audio_vae_config
    from ltx_core.loader.components import open_checkpoint

    config = audio_vae_config(open_checkpoint(checkpoint))
    mel = log_mels([training_spec(STATISTICS_SEED, 1, i) for i in range(STATISTICS_CLIPS)], geometry, config)
    tensors, metadata = read_file(checkpoint)
    key = "audio_vae.decoder.conv_out.conv.bias"
    tensors[key] = np.array(mx.mean(mel, axis=(0, 2, 3))).astype(np.float32).reshape(np.shape(tensors[key]))
    write_file(checkpoint, tensors, metadata)


def start_quiet_vocoder(checkpoint: Path) -> None:
    """Scale the vocoder's output convolution by ``VOCODER_START_SCALE`` (bias zero) in
    ``checkpoint``. From the seeded random weights its output sat near the final tanh's saturation
    (rms 0.85 against the soundtracks' 0.10): in 60-80 steps training drove it to rms 1.0, and the
    spectral loss stuck at 3.7-3.8, worse than silence (1.52). Started quiet (rms 0.33) the
    spectral loss fell to 1.34 by step 80 (held out 1.22, below silence)."""
    from ltx_core.demo.train.weights import read_file, write_file

    tensors, metadata = read_file(checkpoint)
    tensors = {key: np.array(value) for key, value in tensors.items()}
    tensors["vocoder.conv_post.weight"] *= np.float32(VOCODER_START_SCALE)
    if "vocoder.conv_post.bias" in tensors:
        tensors["vocoder.conv_post.bias"][:] = 0.0
    write_file(checkpoint, tensors, metadata)


@dataclass
class AudioStage:
    model_folder: Path
    geometry: ClipGeometry
    batch_size: int = 4
    seed: int = 0
    joint_from_step: int = JOINT_FROM_STEP
    name: str = "audio"
    modules: AudioParts = field(init=False)

    def __post_init__(self) -> None:
        from ltx_core.demo import CHECKPOINT
        from ltx_core.loader.audio_vae import (
            audio_vae_config,
            load_audio_decoder,
            load_audio_encoder,
            load_vocoder,
            vocoder_config,
        )
        from ltx_core.loader.components import open_checkpoint

        self.checkpoint = Path(self.model_folder) / CHECKPOINT
        loaders = (load_audio_encoder, load_audio_decoder, load_vocoder)
        self._indices = tuple(ParameterIndex.probe(self.checkpoint, load) for load in loaders)
        encoder, decoder, vocoder = (load(self.checkpoint) for load in loaders)
        for part in (encoder, decoder, vocoder):
            part.train()
        self.modules = AudioParts(encoder, decoder, vocoder)
        encoder.per_channel_statistics.freeze()
        decoder.per_channel_statistics.freeze()
        opened = open_checkpoint(self.checkpoint)
        self.config = audio_vae_config(opened)
        self.output_rate = vocoder_config(opened).output_sampling_rate

    def mel(self, specs: list[ClipSpec]) -> mx.array:
        """The audio encoder's input for the clips' soundtracks, as the pipelines make it."""
        return log_mels(specs, self.geometry, self.config)

    def batch(self, step: int) -> tuple[mx.array, mx.array, bool]:
        """Log-mels, target waveforms, and whether the vocoder hears the decoder's log-mel."""
        specs = [training_spec(self.seed, step, i) for i in range(self.batch_size)]
        g = self.geometry
        waves = np.stack([render_audio(spec, g.frames, g.fps, self.output_rate).T for spec in specs])
        return self.mel(specs), mx.array(waves), step >= self.joint_from_step

    def loss(self, batch: tuple[mx.array, mx.array, bool], key: mx.array) -> tuple[mx.array, dict[str, mx.array]]:
        mel, wave, joint = batch
        encoder, decoder, vocoder = self.modules.encoder, self.modules.decoder, self.modules.vocoder
        means, log_var = audio_encoder_moments(encoder, mel)
        log_var = mx.clip(log_var, -30.0, 20.0)
        raw = means + mx.exp(0.5 * log_var) * mx.random.normal(means.shape, key=key)
        decoded = decoder(encoder.per_channel_statistics.normalize(raw))
        frames = min(decoded.shape[2], mel.shape[2])
        mel_mse = mx.mean((decoded[:, :, :frames] - mel[:, :, :frames]) ** 2)
        kl = 0.5 * mx.mean(means**2 + mx.exp(log_var) - 1.0 - log_var)
        sound = vocoder(mx.stop_gradient(decoded[:, :, :frames]) if joint else mel)
        samples = min(sound.shape[-1], wave.shape[-1])
        spectral = spectral_loss(sound[..., :samples], wave[..., :samples])
        return mel_mse + KL_WEIGHT * kl + spectral, {"mel_mse": mel_mse, "kl": kl, "spectral": spectral}

    def export(self) -> None:
        """Re-estimate the latent statistics, then write audio VAE and vocoder into the checkpoint."""
        specs = [training_spec(STATISTICS_SEED, 0, i) for i in range(STATISTICS_CLIPS)]
        means, _ = audio_encoder_moments(self.modules.encoder, self.mel(specs))
        values = np.array(means).transpose(1, 3, 0, 2).reshape(means.shape[1] * means.shape[3], -1)
        mean = values.mean(axis=1).astype(np.float32)
        std = np.maximum(values.std(axis=1), 1e-3).astype(np.float32)
        for part in (self.modules.encoder, self.modules.decoder):
            part.per_channel_statistics.mean_of_means = mx.array(mean)
            part.per_channel_statistics.std_of_means = mx.array(std)
        parts = (self.modules.encoder, self.modules.decoder, self.modules.vocoder)
        save_components(self.checkpoint, list(zip(parts, self._indices)))
