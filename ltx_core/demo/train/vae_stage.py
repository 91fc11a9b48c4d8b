"""Stage ``vae``: the video VAE encoder and decoder learn to reconstruct synthetic clips.

Loss: pixel MSE of the decoded posterior sample (the decoder runs as it does at inference: its
decode timestep and latent noise injection) + ``KL_WEIGHT`` x the KL of the posterior (means and
the config's uniform log-variance channel) to N(0, 1). The per-channel latent statistics stay
frozen between checkpoints; each checkpoint re-estimates them from fixed clips so that normalised
latents have zero mean and unit variance per channel (what the diffusion transformer expects),
in both encoder and decoder, and training continues with them (the decoder's latent noise is
relative to the normalised latent, so it must train with the statistics it ships with).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.train.data import ClipGeometry, pixels, shape_crop, training_clip, training_spec, video_pixels
from ltx_core.demo.train.weights import ParameterIndex, save_components
from ltx_core.model.video_vae.ops import patchify

KL_WEIGHT = 1e-6
# Training windows (pixels a side) cut from the demo-geometry clips around the shape, for the first
# ``WINDOW_STEPS`` steps: 4x cheaper than whole 128-pixel frames, and the shape's colour and edges
# are what the decoder has to learn first. Whole clips after: trained on windows alone the VAE
# rendered shapes only where windows put them (near the middle, every latent cell at a border):
# at step 1,000 on windows, shape pixels of whole held-out clips had MSE 0.46 (painting the
# background there: 0.66) against ~0.25 inside windows, and held-out PSNR sat at 20.5 dB. 150
# whole-clip steps from there took it to 22.0 dB.
CROP = 64
WINDOW_STEPS = 1000
# Held-out clips per evaluation: with 4 the PSNR swung by 4 dB between evaluations (19.9, 16.1,
# 20.2 dB at steps 750-1,250); 16 take 7 s on the 2-core CPU.
VALIDATION_CLIPS = 16
# The posterior's log-variance at the start of training. Seeded random weights give it ~0: noise of
# std ~1 over means of std ~0.4, so the decoder would see mostly noise until Adam's small steps
# lowered it (after 300 steps at 1e-3 it was still std ~3 over means of std ~5).
INITIAL_LOG_VARIANCE = -8.0
# Why the stage's weight matrices train with Muon (``STAGES["vae"]``), measured with lr 2e-4, batch
# 2, 64-pixel windows. AdamW at its default epsilon 1e-8 moves every weight of a convolution by ~lr
# with the sign of its gradient: a rank-1 update of spectral norm lr * sqrt(fan_in * fan_out) (~0.13
# a step for the 64 -> 256 upsampler convolutions), the same direction step after step. The
# decoder's activations before its output PixelNorm grew from rms 2.7 to 250 in 8 steps, one
# direction took every pixel and the decoder stopped depending on the latent by step 25 (a plain
# autoencoder, a mean-colour output bias and a 100-step warmup collapsed the same way). At epsilon
# 1e-3 it did not collapse, but with gradients of 2e-5 to 5e-4 per element (step 5,000) Adam is
# then SGD at rate lr / 1e-3 x gradient: the window PSNR crept from 15.3 dB (step 1,000) to 17.5 dB
# (step 5,600) and the held-out PSNR stayed at 20 dB from step 1,500 on.
STATISTICS_SEED = 424242
STATISTICS_CLIPS = 16


class VideoVAEPair(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder


def encoder_moments(encoder: nn.Module, video: mx.array) -> tuple[mx.array, mx.array]:
    """Raw (un-normalised) posterior means and log-variances, channels last: the encoder's own
    forward up to its output convolution (its ``__call__`` keeps only the normalised means)."""
    x = patchify(video.transpose(0, 2, 3, 4, 1), encoder.config.patch_size)
    x = encoder.conv_in(x)
    for block in encoder.down_blocks:
        x = block(x)
    x = encoder.conv_out(nn.silu(encoder.conv_norm_out(x)))
    channels = encoder.latent_channels
    means, log_var = x[..., :channels], x[..., channels:]
    return means, mx.broadcast_to(log_var, means.shape) if log_var.shape[-1] == 1 else log_var


def psnr(reconstruction: mx.array, target: mx.array) -> mx.array:
    mse = mx.mean((mx.clip(reconstruction, -1, 1) - target) ** 2)
    return 10 * mx.log10(4.0 / mx.maximum(mse, 1e-10))


def start_nearly_deterministic(checkpoint: Path) -> None:
    """Set the log-variance outputs of the video and audio encoders to ``INITIAL_LOG_VARIANCE`` in
    ``checkpoint`` (their output-convolution weights zero, bias the value): where VAE training
    starts. Video: the channels after ``latent_channels``; audio (``double_z``): the second half."""
    from ltx_core.demo.train.weights import read_file, write_file

    tensors, metadata = read_file(checkpoint)
    config = json.loads(metadata["config"])
    audio_channels = config["audio_vae"]["model"]["params"]["ddconfig"]["z_channels"]
    for prefix, channels in (("vae.encoder", config["vae"]["latent_channels"]), ("audio_vae.encoder", audio_channels)):
        weight, bias = (np.array(tensors[f"{prefix}.conv_out.conv.{name}"]) for name in ("weight", "bias"))
        weight[channels:] = 0.0
        bias[channels:] = INITIAL_LOG_VARIANCE
        tensors.update({f"{prefix}.conv_out.conv.weight": weight, f"{prefix}.conv_out.conv.bias": bias})
    write_file(checkpoint, tensors, metadata)


def held_out_reconstruction(
    encoder: nn.Module, decoder: nn.Module, geometry: ClipGeometry, clips: int
) -> tuple[float, float]:
    """Encode-decode, as the pipelines run them, of whole clips of the first ``clips`` held-out
    captions (never seen in training): the PSNR (dB, pixels in [-1, 1]) and the share of clips
    whose shape (circle, square, triangle) reads back from the reconstruction."""
    from ltx_core.demo.synthetic import ClipSpec, describe_video, render_video
    from ltx_core.demo.train.data import held_out_captions
    from ltx_core.model.video_vae.tiled import to_uint8_frames

    g, errors, shapes = geometry, [], 0
    for caption in held_out_captions()[:clips]:
        spec = ClipSpec.from_caption(caption)
        video = video_pixels([render_video(spec, g.frames, g.height, g.width)])
        decoded = mx.clip(decoder(encoder(video)), -1.0, 1.0)
        errors.append(float(mx.mean((decoded - video) ** 2)))
        shapes += describe_video(to_uint8_frames(decoded, "round")).matches(spec)["shape"]
    return float(10 * np.log10(4.0 / max(np.mean(errors), 1e-10))), shapes / clips


@dataclass
class VAEStage:
    checkpoint: Path
    geometry: ClipGeometry
    batch_size: int = 2
    seed: int = 0
    crop: int | None = CROP  # window size for the first ``window_steps`` steps; None: whole frames throughout
    window_steps: int = WINDOW_STEPS
    name: str = "vae"
    modules: VideoVAEPair = field(init=False)

    def __post_init__(self) -> None:
        from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder

        self._indices = (
            ParameterIndex.probe(self.checkpoint, load_video_encoder),
            ParameterIndex.probe(self.checkpoint, load_video_decoder),
        )
        encoder, decoder = load_video_encoder(self.checkpoint), load_video_decoder(self.checkpoint)
        encoder.train()
        decoder.train()
        self.modules = VideoVAEPair(encoder, decoder)
        encoder.per_channel_statistics.freeze()
        decoder.per_channel_statistics.freeze()
        if "timestep_scale_multiplier" in decoder:
            decoder.freeze(recurse=False, keys=["timestep_scale_multiplier"])

    def batch(self, step: int) -> mx.array:
        clips = [training_clip(self.seed, step, i, self.geometry) for i in range(self.batch_size)]
        if self.crop is None or step >= self.window_steps:
            return pixels(clips)
        rng = np.random.default_rng([self.seed, step, 11])
        windows = [
            shape_crop(training_spec(self.seed, step, i), clip.video, self.crop, rng) for i, clip in enumerate(clips)
        ]
        return video_pixels(windows)

    def loss(self, video: mx.array, key: mx.array) -> tuple[mx.array, dict[str, mx.array]]:
        encoder, decoder = self.modules.encoder, self.modules.decoder
        sample_key, decode_key = mx.random.split(key)
        means, log_var = encoder_moments(encoder, video)
        log_var = mx.clip(log_var, -30.0, 20.0)
        raw = means + mx.exp(0.5 * log_var) * mx.random.normal(means.shape, key=sample_key)
        latent = encoder.per_channel_statistics.normalize(raw, channel_axis=-1).transpose(0, 4, 1, 2, 3)
        reconstruction = decoder(latent, key=decode_key)
        mse = mx.mean((reconstruction - video) ** 2)
        kl = 0.5 * mx.mean(means**2 + mx.exp(log_var) - 1.0 - log_var)
        return mse + KL_WEIGHT * kl, {"mse": mse, "kl": kl, "psnr": psnr(reconstruction, video)}

    def validation(self) -> dict[str, float]:
        encoder, decoder = self.modules.encoder, self.modules.decoder
        psnr_db, shapes = held_out_reconstruction(encoder, decoder, self.geometry, VALIDATION_CLIPS)
        return {"held_out_psnr": psnr_db, "held_out_shapes": shapes}

    def export(self) -> None:
        """Re-estimate the latent statistics (the decoder trains on from there with them), then
        write encoder and decoder into the checkpoint."""
        mean, std = self.latent_statistics()
        for part in (self.modules.encoder, self.modules.decoder):
            part.per_channel_statistics.mean_of_means = mx.array(mean)
            part.per_channel_statistics.std_of_means = mx.array(std)
        save_components(self.checkpoint, list(zip((self.modules.encoder, self.modules.decoder), self._indices)))

    def latent_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std of the raw posterior means over fixed clips."""
        clips = [training_clip(STATISTICS_SEED, 0, i, self.geometry) for i in range(STATISTICS_CLIPS)]
        means, _ = encoder_moments(self.modules.encoder, pixels(clips))
        flat = np.array(means).reshape(-1, means.shape[-1])
        return flat.mean(axis=0).astype(np.float32), np.maximum(flat.std(axis=0), 1e-3).astype(np.float32)
