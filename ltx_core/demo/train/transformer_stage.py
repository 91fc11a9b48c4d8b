"""Stage ``transformer``: the audio-video transformer learns the rectified-flow objective on
frozen-VAE latents of synthetic clips, its text contexts from the frozen Gemma and embeddings
processor (see the package docstring for the objective, its official source and why the processor
stays frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn

from ltx_core.demo.train.conditioning import CONDITIONING_SHARES, draw_conditioning, given_audio, keyframe_frames
from ltx_core.demo.train.data import ClipGeometry, pixels, training_clip, video_pixels
from ltx_core.demo.train.weights import ParameterIndex, save_components

CAPTION_DROPOUT = 0.1
UNIFORM_SIGMA_PROBABILITY = 0.1
# One checkpoint serves the dev and the distilled pipelines: this share of samples takes its
# sigma from the distilled schedules (stage 1 and stage 2) instead of the official sampler.
DISTILLED_SIGMA_PROBABILITY = 0.25
# The official sampler's shift: linear in the video token count between these points.
SHIFT_POINTS = ((1024, 0.95), (4096, 2.05))
_NORMAL_999, _NORMAL_005 = 3.0902, -2.5758
SIGMA_EPS = 1e-3
# Clips per training geometry whose latents are encoded once (on first use) and drawn from at
# every step with fresh noise and sigma: encoding every batch anew cost as much as the step itself.
LATENT_POOL_CLIPS = 4096


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


def training_sigmas(
    rng: np.random.Generator, count: int, token_count: int, distilled_share: float = DISTILLED_SIGMA_PROBABILITY
) -> np.ndarray:
    """The official sampler's sigmas, a ``distilled_share`` replaced by a non-final sigma of the
    distilled schedules."""
    from ltx_core.components.schedulers import DISTILLED_SIGMAS, STAGE_2_DISTILLED_SIGMAS

    sampled = shifted_logit_normal_sigmas(rng, count, token_count)
    distilled = np.array(DISTILLED_SIGMAS[:-1] + STAGE_2_DISTILLED_SIGMAS[:-1], dtype=np.float32)
    use_distilled = rng.uniform(size=count) < distilled_share
    return np.where(use_distilled, rng.choice(distilled, size=count), sampled).astype(np.float32)


@dataclass(frozen=True)
class PooledClip:
    caption: str
    video: mx.array  # (1, C, F', H', W') normalised latent
    audio: mx.array  # (1, C, T', M')
    keyframes: mx.array  # (3, C, 1, H', W'): the ``keyframe_frames`` encoded as images


@dataclass
class TransformerStage:
    model_folder: Path
    geometries: tuple[tuple[ClipGeometry, float], ...]  # (geometry, share of the steps)
    batch_size: int = 4
    seed: int = 0
    pool_clips: int = LATENT_POOL_CLIPS
    distilled_share: float = DISTILLED_SIGMA_PROBABILITY  # of sigmas from the distilled schedules
    conditioning_shares: tuple[tuple[str, float], ...] = CONDITIONING_SHARES
    name: str = "transformer"
    modules: nn.Module = field(init=False)

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
        self.processor = load_embeddings_processor(checkpoint, gemma=gemma_config(gemma_folder))
        self._contexts: dict[str, tuple[mx.array, mx.array]] = {}
        self._pool: dict[tuple[int, int], PooledClip] = {}
        self._index = ParameterIndex.probe(checkpoint, load_transformer)
        self.modules = load_transformer(checkpoint)
        self.modules.train()

    # -- data ------------------------------------------------------------------------------
    def contexts(self, caption: str) -> tuple[mx.array, mx.array]:
        """The video and audio text contexts (1, T, width) of one caption, cached: the grammar has a
        few hundred captions, and Gemma and the processor are frozen."""
        if caption not in self._contexts:
            tokens = self.tokenizer(caption, allow_empty=True, what="caption")
            states = self.gemma.hidden_states(tokens.input_ids, tokens.attention_mask, skip_padding=True)
            contexts = self.processor(states, tokens.attention_mask)
            mx.eval(contexts.video, contexts.audio)
            self._contexts[caption] = (contexts.video, contexts.audio)
        return self._contexts[caption]

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

    def pooled_clip(self, geometry: int, number: int) -> PooledClip:
        """Clip ``number`` of the pool of ``geometry``, encoded alone (so its latents are the same
        whenever it is first drawn: resumes stay exact)."""
        if (geometry, number) not in self._pool:
            g = self.geometries[geometry][0]
            clip = training_clip(self.seed, number, geometry, g)
            video, audio = self.latents([clip])
            images = video_pixels([clip.video[k : k + 1] for k in keyframe_frames(g.frames)])
            keyframes = self.video_encoder(images)
            mx.eval(keyframes)
            self._pool[geometry, number] = PooledClip(clip.caption, video, audio, keyframes)
        return self._pool[geometry, number]

    def draw(self, step: int) -> tuple[np.random.Generator, int, list[int]]:
        """The step's random stream, its geometry and the pool numbers of its clips."""
        rng = np.random.default_rng([self.seed, step, 7])
        shares = np.array([share for _, share in self.geometries], dtype=np.float64)
        which = int(rng.choice(len(self.geometries), p=shares / shares.sum()))
        return rng, which, [int(n) for n in rng.integers(self.pool_clips, size=self.batch_size)]

    def batch(self, step: int) -> dict:
        rng, which, numbers = self.draw(step)
        return self.assemble(rng, which, [self.pooled_clip(which, n) for n in numbers])

    def assemble(
        self, rng: np.random.Generator, which: int, entries: list[PooledClip], references: mx.array | None = None
    ) -> dict:
        """The batch of pooled ``entries`` of geometry ``which``, given what a drawn ``Conditioning``
        gives; ``references`` (IC-LoRA control latents) are appended as clean tokens, as the pipeline
        appends them."""
        from ltx_core.pipelines.latents import (
            AudioLatentSpace,
            KeyframeConditioning,
            ReferenceVideoConditioning,
            VideoLatentSpace,
        )
        from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape

        g, count = self.geometries[which][0], len(entries)
        captions = [entry.caption if rng.uniform() >= CAPTION_DROPOUT else "" for entry in entries]
        video = mx.concatenate([entry.video for entry in entries])
        audio = mx.concatenate([entry.audio for entry in entries])
        pixel = VideoPixelShape(count, g.frames, g.height, g.width, g.fps)
        video_space = VideoLatentSpace(VideoLatentShape.from_pixel_shape(pixel, video.shape[1]), g.fps)
        audio_shape = AudioLatentShape.from_video_pixel_shape(pixel, audio.shape[1], audio.shape[3])
        audio = _fit_frames(audio, audio_shape.frames)
        video_state = video_space.initial_state(latent=video)
        audio_state = AudioLatentSpace(audio_shape).initial_state(latent=audio)
        tokens = video_space.token_count
        conditioning = draw_conditioning(rng, video_space.shape.frames, self.conditioning_shares)
        given = np.repeat(conditioning.given_frames, video_space.tokens_per_frame)
        audio_given = given_audio(
            np.array(video_state.positions[0, 0, :tokens]), given, np.array(audio_state.positions[0, 0])
        )
        if conditioning.mode == "first-frame":
            audio_given[:] = False  # image-to-video: an image, no sound
        for index in conditioning.keyframes:
            images = mx.concatenate([entry.keyframes[index : index + 1] for entry in entries])
            frame = keyframe_frames(g.frames)[index]
            video_state = KeyframeConditioning(images, frame, 1.0).apply(video_state, video_space)
        if references is not None:
            video_state = ReferenceVideoConditioning(references).apply(video_state, video_space)
        appended = video_state.latent.shape[1] - tokens
        conditioned = np.broadcast_to(
            np.concatenate([given, np.ones(appended, dtype=bool)]), (count, tokens + appended)
        )
        contexts = [self.contexts(caption) for caption in captions]
        return {
            "video": video_state.latent,
            "video_positions": video_state.positions,
            "keyframes": video_state.keyframes_mask,
            "attention_mask": video_state.attention_mask,
            "audio": audio_state.latent,
            "audio_positions": audio_state.positions,
            "conditioned": mx.array(conditioned[..., None].astype(np.float32)),
            "audio_conditioned": mx.array(
                np.broadcast_to(audio_given, (count, len(audio_given)))[..., None].astype(np.float32)
            ),
            "sigma": mx.array(training_sigmas(rng, count, tokens, self.distilled_share)),
            "video_context": mx.concatenate([c[0] for c in contexts]),
            "audio_context": mx.concatenate([c[1] for c in contexts]),
        }

    # -- objective -------------------------------------------------------------------------
    def loss(self, batch: dict, key: mx.array) -> tuple[mx.array, dict[str, mx.array]]:
        from ltx_core.model.transformer.model import Modality

        video_key, audio_key = mx.random.split(key)
        sigma = batch["sigma"]
        expand = sigma[:, None, None]
        video, video_velocity_target, video_weight = _noised(batch["video"], batch["conditioned"], expand, video_key)
        audio, audio_velocity_target, audio_weight = _noised(
            batch["audio"], batch["audio_conditioned"], expand, audio_key
        )
        video = Modality(
            latent=video, sigma=sigma, timesteps=(1 - batch["conditioned"]) * expand,
            positions=batch["video_positions"], context=batch["video_context"], keyframes_mask=batch["keyframes"],
            attention_mask=batch["attention_mask"],
        )  # fmt: skip
        audio = Modality(
            latent=audio, sigma=sigma, timesteps=(1 - batch["audio_conditioned"]) * expand,
            positions=batch["audio_positions"], context=batch["audio_context"],
        )  # fmt: skip
        video_velocity, audio_velocity = self.modules(video, audio)
        video_loss = _masked_mean((video_velocity - video_velocity_target) ** 2, video_weight)
        audio_loss = _masked_mean((audio_velocity - audio_velocity_target) ** 2, audio_weight)
        zero_loss = _masked_mean(video_velocity_target**2, video_weight)
        return video_loss + audio_loss, {"video": video_loss, "audio": audio_loss, "video_zero_predictor": zero_loss}

    def export(self) -> None:
        save_components(self.checkpoint, [(self.modules, self._index)])


def _noised(clean: mx.array, conditioned: mx.array, sigma: mx.array, key: mx.array):
    """Rectified-flow noising where not given: the noisy tokens (given ones clean), the velocity
    target ``noise - clean`` and the loss weight (0 on given tokens)."""
    noise = mx.random.normal(clean.shape, key=key)
    noisy = (1 - conditioned) * ((1 - sigma) * clean + sigma * noise) + conditioned * clean
    return noisy, noise - clean, mx.broadcast_to(1 - conditioned, clean.shape)


def _masked_mean(values: mx.array, weight: mx.array) -> mx.array:
    return mx.sum(values * weight) / mx.maximum(mx.sum(weight), 1.0)


def _fit_frames(latent: mx.array, frames: int) -> mx.array:
    latent = latent[:, :, :frames]
    missing = frames - latent.shape[2]
    return mx.pad(latent, [(0, 0), (0, 0), (0, missing), (0, 0)]) if missing > 0 else latent
