"""Audio-to-video (the official ``a2vid_two_stage`` recipe): the user's audio is read, resampled and
turned into the audio VAE's log-mel, encoded, and kept fixed (denoise mask 0) while the video is
denoised beside it: a guided half-size stage with the dev model (the audio guider neutral), ×2
upsampling, the distilled-LoRA refinement. The clip's length follows the audio (``frames`` "auto":
the longest 8k+1 frames the audio covers) and the mp4 carries the user's own samples, not a
re-synthesised waveform: losslessly (FLAC in the mp4), at the file's own rate and channels, cut at
the start sample and ending with the video."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.media.audio_read import AudioClip, read_audio_clip
from ltx_core.media.errors import MediaReadError
from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import Prompts, encode_audio
from ltx_core.pipelines.denoising import GuidedDenoiser, SimpleDenoiser
from ltx_core.pipelines.descriptor import (
    AUDIO_FIELDS,
    COMMON_FIELDS,
    GUIDED_FIELDS,
    REFINE_FIELDS,
    Latents,
    PipelineDescriptor,
    StagePlan,
)
from ltx_core.pipelines.latents import AudioLatentConditioning, ConditioningError
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.staged import StagedPipeline
from ltx_core.types import AudioLatentShape

MIN_FRAMES = 9  # the shortest clip with motion: two latent frames


class AudioToVideoPipeline(StagedPipeline):
    def __init__(self, ledger):
        super().__init__(ledger)
        self._clips: dict[tuple, AudioClip] = {}
        self._audio_latent: mx.array | None = None  # the encoded audio of the running job

    def clip(self, request: GenerationRequest) -> AudioClip:
        """The request's audio, read once per job (file, start, maximum duration)."""
        if request.audio is None:
            raise RequestError("audio-to-video needs an audio file (wav, mp3, m4a/aac) or a video with sound.")
        key = (str(request.audio), request.audio_start, request.audio_max_seconds)
        if key not in self._clips:
            try:
                self._clips[key] = read_audio_clip(request.audio, request.audio_start, request.audio_max_seconds)
            except MediaReadError as exc:
                raise RequestError(str(exc)) from None
        return self._clips[key]

    def available_latent_frames(self, clip: AudioClip) -> int:
        """Audio latent frames the encoder makes of ``clip`` (after resampling to the VAE's rate)."""
        from ltx_core.loader.audio_vae import audio_vae_config

        config = audio_vae_config(self.ledger.audio_file)
        samples = -(-clip.waveform.shape[1] * config.sample_rate // clip.sample_rate)
        return config.latent_frames(1 + samples // config.mel_hop_length)

    def needed_latent_frames(self, frames: int, fps: float) -> int:
        return AudioLatentShape.from_duration(1, frames / fps, self.ledger.audio_latent_channels).frames

    def prepare(self, request: GenerationRequest, text_encoder: bool = True) -> tuple[GenerationRequest, tuple[str, ...]]:
        clip = self.clip(request)
        available = self.available_latent_frames(clip)
        where = f"the audio of {Path(request.audio).name} from {request.audio_start:g} s is {clip.seconds:.2f} s long"
        if request.auto_frames:
            frames = (max(int(clip.seconds * request.fps + 1e-9), 1) - 1) // 8 * 8 + 1  # the longest 8k+1 covered
            while frames > 1 and self.needed_latent_frames(frames, request.fps) > available:
                frames -= 8
            if frames < MIN_FRAMES:
                raise RequestError(
                    f"{where}; audio-to-video needs at least {MIN_FRAMES / request.fps:.2f} s ({MIN_FRAMES} frames at "
                    f"{request.fps:g} fps): choose a longer audio or an earlier start."
                )
            notice = f"the clip follows the audio: {frames} frames ({frames / request.fps:.2f} s at {request.fps:g} fps)."
            request = replace(request, frames=frames)
        elif isinstance(request.frames, int) and self.needed_latent_frames(request.frames, request.fps) > available:
            raise RequestError(
                f"{where}; {request.frames} frames at {request.fps:g} fps need {request.frames / request.fps:.2f} s: "
                "give fewer frames (or 'auto' to follow the audio) or a longer audio."
            )
        else:
            notice = None
        request = replace(request, generate_audio=True)
        request, notices = super().prepare(request, text_encoder)
        return request, notices + ((notice,) if notice else ())

    def produce(
        self,
        request: GenerationRequest,
        reporter: ProgressReporter | None = None,
        noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
        ancestral_noiser: GaussianNoiser | None = None,
        mel: mx.array | None = None,
    ) -> Latents:
        """``mel``: the log-mel to encode instead of the one made from the audio (to reproduce a run)."""
        clip = self.clip(request)
        with self.ledger.stage("audio encode"):
            if reporter is not None:
                reporter.report("audio encode", 0, 1)
            self._audio_latent = self.encode(clip, request, mel)
        try:
            latents = super().produce(request, reporter, noiser, prompts, ancestral_noiser)
        finally:
            self._audio_latent = None
        return replace(latents, audio=None, audio_track=self.track(clip, request), audio_codec="flac")

    def encode(self, clip: AudioClip, request: GenerationRequest, mel: mx.array | None = None) -> mx.array:
        """The clip's normalised audio latent, cut to the frames the video needs."""
        from ltx_core.loader.audio_vae import audio_vae_config
        from ltx_core.pipelines.source_audio import log_mel_of

        if mel is None:
            mel = log_mel_of(clip, audio_vae_config(self.ledger.audio_file))
        latent = encode_audio(self.ledger, mel)
        needed = self.needed_latent_frames(request.frames, request.fps)
        if latent.shape[2] < needed:
            raise ConditioningError(
                f"the audio gives {latent.shape[2]} audio latent frames; {request.frames} frames need {needed}."
            )
        return latent[:, :, :needed]

    @staticmethod
    def track(clip: AudioClip, request: GenerationRequest) -> tuple[np.ndarray, int]:
        """The user's samples (int16, interleaved) for the clip's duration: video and audio end together."""
        samples = round(request.frames / request.fps * clip.sample_rate)
        return clip.pcm16()[:samples], clip.sample_rate

    def audio_conditionings(self, plan: StagePlan, request: GenerationRequest) -> tuple:
        if self._audio_latent is None:
            raise ConditioningError("the audio is encoded when the job runs (produce), not before.")
        return (AudioLatentConditioning(self._audio_latent, strength=1.0),)

    @staticmethod
    def _denoiser(plan: StagePlan, request: GenerationRequest, prompts: Prompts, model, with_audio: bool, batched: bool):
        """As the official recipe: the video guided by the request, the audio guider neutral (its
        passes use the positive audio context; the fixed audio's predictions are not used)."""
        positive = prompts.embeddings.positive
        if not plan.guided:
            return SimpleDenoiser(model, positive.video, positive.audio)
        return GuidedDenoiser(
            model, positive.video, positive.audio,
            MultiModalGuider(request.video_guidance), MultiModalGuider(MultiModalGuiderParams()),
            prompts.embeddings.negative.video, positive.audio, batch_passes=batched,
        )  # fmt: skip


AudioToVideoPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="audio-to-video",
    title="Audio to video",
    summary="A video made to a given audio (song, voice): the audio is encoded and kept fixed while the video is "
    "denoised; guided half-size stage, x2 upsampling, distilled-LoRA refinement; the mp4 keeps the original audio.",
    first=StagePlan("scheduler", guided=True),
    second=StagePlan("distilled_stage2", distilled_lora=True),
    round_sizes=True,
    needs=(Role.SPATIAL_UPSAMPLER, Role.DISTILLED_LORA),
    fields=COMMON_FIELDS | GUIDED_FIELDS | REFINE_FIELDS | AUDIO_FIELDS,
    variant="dev",
    factory=AudioToVideoPipeline,
    defaults=lambda version: {"frames": "auto"},
)
