"""Stage ``transformer``: the audio-video transformer, the text feature projection and both
embedding connectors learn the rectified-flow objective on frozen-VAE latents of synthetic clips
(see the package docstring for the objective and its official source)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.train.data import ClipGeometry, pixels, training_clip
from ltx_core.demo.train.weights import ParameterIndex, save_components

CAPTION_DROPOUT = 0.1
FIRST_FRAME_CONDITIONING = 0.1
UNIFORM_SIGMA_PROBABILITY = 0.1
# One checkpoint serves the dev and the distilled pipelines: this share of samples takes its
# sigma from the distilled schedules (stage 1 and stage 2) instead of the official sampler.
DISTILLED_SIGMA_PROBABILITY = 0.25
# The official sampler's shift: linear in the video token count between these points.
SHIFT_POINTS = ((1024, 0.95), (4096, 2.05))
_NORMAL_999, _NORMAL_005 = 3.0902, -2.5758
SIGMA_EPS = 1e-3


class DiffusionParts(nn.Module):
    def __init__(self, transformer: nn.Module, processor: nn.Module):
        super().__init__()
        self.transformer = transformer
        self.processor = processor


def shifted_logit_normal_sigmas(rng: np.random.Generator, count: int, token_count: int) -> np.ndarray:
    """The official stretched, shifted logit-normal sigma sampler (ltx-trainer
    ``ShiftedLogitNormalTimestepSampler``, std 1), with its uniform fallback."""
    (t0, s0), (t1, s1) = SHIFT_POINTS
    mu = s0 + (s1 - s0) / (t1 - t0) * (token_count - t0)

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    samples = sigmoid(rng.normal(mu, 1.0, count))
    low, high = sigmoid(mu + _NORMAL_005), sigmoid(mu + _NORMAL_999)
    stretched = (samples - low) / (high - low)
    stretched = np.clip(np.where(stretched >= SIGMA_EPS, stretched, 2 * SIGMA_EPS - stretched), 0.0, 1.0)
    uniform = (1 - SIGMA_EPS) * rng.uniform(size=count) + SIGMA_EPS
    return np.where(rng.uniform(size=count) > UNIFORM_SIGMA_PROBABILITY, stretched, uniform).astype(np.float32)


def training_sigmas(rng: np.random.Generator, count: int, token_count: int) -> np.ndarray:
    """The official sampler's sigmas, a ``DISTILLED_SIGMA_PROBABILITY`` share replaced by a
    non-final sigma of the distilled schedules."""
    from ltx_core.components.schedulers import DISTILLED_SIGMAS, STAGE_2_DISTILLED_SIGMAS

    sampled = shifted_logit_normal_sigmas(rng, count, token_count)
    distilled = np.array(DISTILLED_SIGMAS[:-1] + STAGE_2_DISTILLED_SIGMAS[:-1], dtype=np.float32)
    use_distilled = rng.uniform(size=count) < DISTILLED_SIGMA_PROBABILITY
    return np.where(use_distilled, rng.choice(distilled, size=count), sampled).astype(np.float32)


@dataclass
class TransformerStage:
    model_folder: Path
    geometry: ClipGeometry
    batch_size: int = 4
    seed: int = 0
    name: str = "transformer"
    modules: DiffusionParts = field(init=False)

    def __post_init__(self) -> None:
        from ltx_core.demo import CHECKPOINT, GEMMA
        from ltx_core.loader.audio_vae import audio_vae_config, load_audio_encoder
        from ltx_core.loader.components import load_transformer, open_checkpoint
        from ltx_core.loader.text_encoder import gemma_config, load_embeddings_processor, load_gemma
        from ltx_core.loader.video_vae import load_video_encoder
        from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS, PromptTokenizer

        checkpoint = Path(self.model_folder) / CHECKPOINT
        gemma_folder = Path(self.model_folder) / GEMMA
        self.checkpoint = checkpoint
        self.video_encoder = load_video_encoder(checkpoint)
        self.audio_encoder = load_audio_encoder(checkpoint)
        self.audio_config = audio_vae_config(open_checkpoint(checkpoint))
        self.gemma = load_gemma(gemma_folder)
        self.tokenizer = PromptTokenizer(gemma_folder, MAX_PROMPT_TOKENS)
        self._text_states: dict[str, tuple[list[mx.array], mx.array]] = {}
        config = gemma_config(gemma_folder)

        def processor(path: Path) -> nn.Module:
            return load_embeddings_processor(path, gemma=config)

        self._indices = (
            ParameterIndex.probe(checkpoint, load_transformer),
            ParameterIndex.probe(checkpoint, processor),
        )
        transformer = load_transformer(checkpoint)
        transformer.train()
        self.modules = DiffusionParts(transformer, processor(checkpoint))

    # -- data ------------------------------------------------------------------------------
    def text_states(self, caption: str) -> tuple[list[mx.array], mx.array]:
        """Frozen Gemma hidden states of one caption (cached: the grammar has a few hundred)."""
        if caption not in self._text_states:
            tokens = self.tokenizer(caption, allow_empty=True, what="caption")
            states = self.gemma.hidden_states(tokens.input_ids, tokens.attention_mask, skip_padding=True)
            mx.eval(states)
            self._text_states[caption] = (states, tokens.attention_mask)
        return self._text_states[caption]

    def latents(self, clips) -> tuple[mx.array, mx.array]:
        """Normalised video latents (B, C, F', H', W') and audio latents (B, C, T', M') of ``clips``."""
        from ltx_core.media.audio_read import AudioClip
        from ltx_core.pipelines.source_audio import log_mel_of

        video = self.video_encoder(pixels(clips))
        # The log-mel the pipelines give the audio encoder for a source soundtrack.
        mel = mx.concatenate([
            log_mel_of(AudioClip(clip.audio.T, clip.sample_rate, 0.0, 0.0), self.audio_config) for clip in clips
        ])  # fmt: skip
        audio = self.audio_encoder(mel)
        mx.eval(video, audio)
        return video, audio

    def batch(self, step: int) -> dict:
        from ltx_core.pipelines.latents import AudioLatentSpace, VideoLatentSpace
        from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape

        g, count = self.geometry, self.batch_size
        clips = [training_clip(self.seed, step, i, g) for i in range(count)]
        rng = np.random.default_rng([self.seed, step, 7])
        captions = [clip.caption if rng.uniform() >= CAPTION_DROPOUT else "" for clip in clips]
        video, audio = self.latents(clips)
        pixel = VideoPixelShape(count, g.frames, g.height, g.width, g.fps)
        video_space = VideoLatentSpace(VideoLatentShape.from_pixel_shape(pixel, video.shape[1]), g.fps)
        audio_shape = AudioLatentShape.from_video_pixel_shape(pixel, audio.shape[1], audio.shape[3])
        audio = _fit_frames(audio, audio_shape.frames)
        video_state = video_space.initial_state(latent=video)
        audio_state = AudioLatentSpace(audio_shape).initial_state(latent=audio)
        tokens = video_state.latent.shape[1]
        first_frame = rng.uniform(size=count) < FIRST_FRAME_CONDITIONING
        conditioned = (np.arange(tokens)[None, :] < video_space.tokens_per_frame) & first_frame[:, None]
        states = [self.text_states(c) for c in captions]
        layers = len(states[0][0])
        return {
            "video": video_state.latent,
            "video_positions": video_state.positions,
            "keyframes": video_state.keyframes_mask,
            "audio": audio_state.latent,
            "audio_positions": audio_state.positions,
            "conditioned": mx.array(conditioned[..., None].astype(np.float32)),
            "sigma": mx.array(training_sigmas(rng, count, tokens)),
            "text": [mx.concatenate([s[0][i] for s in states]) for i in range(layers)],
            "text_mask": mx.concatenate([s[1] for s in states]),
        }

    # -- objective -------------------------------------------------------------------------
    def loss(self, batch: dict, key: mx.array) -> tuple[mx.array, dict[str, mx.array]]:
        from ltx_core.model.transformer.model import Modality

        contexts = self.modules.processor(batch["text"], batch["text_mask"])
        video_key, audio_key = mx.random.split(key)
        sigma = batch["sigma"]
        expand = sigma[:, None, None]
        clean_video, clean_audio, conditioned = batch["video"], batch["audio"], batch["conditioned"]
        video_noise = mx.random.normal(clean_video.shape, key=video_key)
        audio_noise = mx.random.normal(clean_audio.shape, key=audio_key)
        noisy_video = (1 - conditioned) * (
            (1 - expand) * clean_video + expand * video_noise
        ) + conditioned * clean_video
        noisy_audio = (1 - expand) * clean_audio + expand * audio_noise
        video_timesteps = (1 - conditioned) * expand
        video = Modality(
            latent=noisy_video, sigma=sigma, timesteps=video_timesteps, positions=batch["video_positions"],
            context=contexts.video, keyframes_mask=batch["keyframes"],
        )  # fmt: skip
        audio = Modality(
            latent=noisy_audio, sigma=sigma, timesteps=mx.broadcast_to(expand, noisy_audio.shape[:2] + (1,)),
            positions=batch["audio_positions"], context=contexts.audio,
        )  # fmt: skip
        video_velocity, audio_velocity = self.modules.transformer(video, audio)
        weight = mx.broadcast_to(1 - conditioned, clean_video.shape)
        video_target, audio_target = video_noise - clean_video, audio_noise - clean_audio
        video_loss = mx.sum((video_velocity - video_target) ** 2 * weight) / mx.maximum(mx.sum(weight), 1.0)
        audio_loss = mx.mean((audio_velocity - audio_target) ** 2)
        zero_loss = mx.sum(video_target**2 * weight) / mx.maximum(mx.sum(weight), 1.0)
        return video_loss + audio_loss, {"video": video_loss, "audio": audio_loss, "video_zero_predictor": zero_loss}

    def export(self) -> None:
        save_components(self.checkpoint, list(zip((self.modules.transformer, self.modules.processor), self._indices)))


def _fit_frames(latent: mx.array, frames: int) -> mx.array:
    latent = latent[:, :, :frames]
    missing = frames - latent.shape[2]
    return mx.pad(latent, [(0, 0), (0, 0), (0, missing), (0, 0)]) if missing > 0 else latent
