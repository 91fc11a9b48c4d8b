"""The retake's denoising (``retake_latents``) against the official ltx-pipelines 1.0.0 retake from
the encoded latents onward (tests/data/retake_reference.npz, recorded by
tools/make_retake_reference.py on the tiny 2.0 and 2.3 checkpoints): the temporal region masks
and the final video and audio latents, with the recorded source latents, noise and contexts
injected. Cases: video and audio regenerated (distilled), video only (audio kept), the guided dev
recipe, and ``encoded``: the audio encode path from the waveform on (the official
``_encode_audio_for_retake`` with its torchaudio ``AudioProcessor``): our log-mel, our encoded and
zero-padded source audio latent, and the retake run from that latent."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.pipelines.blocks import Prompts, latent_spaces
from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.retake import PreparedRetake, RetakeRequest, TemporalRegionMask, retake_latents
from ltx_core.pipelines.source_clip import SourceClip
from tests.conftest import REFERENCE_ROOT
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity
from tests.pipeline_helpers import InjectedNoise

DATA = np.load(Path(__file__).parent / "data" / "retake_reference.npz")
VERSIONS = ("2.0", "2.3")
CASES = ("both", "video_only", "guided", "encoded")
# The recording's dev guidance (tools/make_retake_reference.py: STG on block 1 of the tiny models).
VIDEO_GUIDANCE = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)
AUDIO_GUIDANCE = MultiModalGuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)


def contexts(version: str, kind: str) -> TextContexts:
    video, audio = (mx.array(DATA[f"{version}/in/{m}_{kind}context"]) for m in ("video", "audio"))
    return TextContexts(video=video, audio=audio, mask=mx.ones(video.shape[:2]))


@pytest.fixture(scope="module", params=VERSIONS)
def version_ledger(request):
    return request.param, ModelLedger(ModelPaths(REFERENCE_ROOT / f"ltx-{request.param}" / "ltx2-tiny.safetensors"))


def job_for(version: str, case: str) -> PreparedRetake:
    frames, height, width = (int(v) for v in DATA[f"{version}/in/pixel_shape"])
    fps = float(DATA[f"{version}/in/fps"])
    start, end = (float(v) for v in DATA[f"{version}/{case}/in/window"])
    regenerate_video, regenerate_audio, guided = (bool(v) for v in DATA[f"{version}/{case}/in/flags"])
    request = RetakeRequest("fixture.mp4", start, end, "fixture", regenerate_video=regenerate_video,
                            regenerate_audio=regenerate_audio)  # fmt: skip
    generation = GenerationRequest(
        prompt="fixture", height=height, width=width, frames=frames, fps=fps, steps=3, video_guidance=VIDEO_GUIDANCE,
        audio_guidance=AUDIO_GUIDANCE,
    )  # fmt: skip
    clip = SourceClip(Path("fixture.mp4"), height, width, frames, fps, has_audio=True)
    return PreparedRetake(request, clip, generation, guided=guided, generate_audio=True)


def encoded_source_audio(ledger: ModelLedger, key: str, frames: int) -> mx.array:
    """The recorded waveform through our log-mel and audio VAE encoder, conformed to ``frames``
    latent frames (zero-padded: the waveform is shorter than the clip), compared on the way."""
    from ltx_core.loader.audio_vae import audio_vae_config
    from ltx_core.media.audio_read import AudioClip
    from ltx_core.pipelines.source_audio import encode_clip_audio, log_mel_of

    waveform, rate = DATA[f"{key}/in/waveform"], int(DATA[f"{key}/in/waveform_rate"])
    clip = AudioClip(waveform, rate, 0.0, waveform.shape[1] / rate)
    check_parity(f"retake/{key}/mel", log_mel_of(clip, audio_vae_config(ledger.audio_file)), DATA[f"{key}/out/mel"])
    latent = encode_clip_audio(ledger, clip, frames)
    expected = DATA[f"{key}/out/source_audio"]
    check_parity(f"retake/{key}/source_audio", latent, expected)
    padded = np.abs(expected).sum(axis=(0, 1, 3)) == 0
    assert padded[-1] and np.array_equal(np.array(latent)[:, :, padded], expected[:, :, padded])
    return latent


@pytest.mark.parametrize("case", CASES)
def test_retake_matches_the_official_pipeline(version_ledger, case: str):
    version, ledger = version_ledger
    job = job_for(version, case)
    key = f"{version}/{case}"
    get = lambda name: mx.array(DATA[name])

    # the masks: the region mask on a fresh state of each modality
    video_space, audio_space = latent_spaces(ledger, job.generation.height, job.generation.width, job.generation.frames, job.fps)
    windows = [TemporalRegionMask(job.request.start, job.request.end, job.fps) if flag else TemporalRegionMask(0, 0, job.fps)
               for flag in (job.request.regenerate_video, job.request.regenerate_audio)]  # fmt: skip
    video_mask = windows[0].apply(video_space.initial_state(), video_space).denoise_mask
    audio_mask = windows[1].apply(audio_space.initial_state(), audio_space).denoise_mask
    check_parity(f"retake/{key}/video_mask", video_mask, DATA[f"{key}/out/video_mask"], 0.0)
    check_parity(f"retake/{key}/audio_mask", audio_mask, DATA[f"{key}/out/audio_mask"], 0.0)
    if job.guided:
        from ltx_core.components.schedulers import ltx2_sigmas

        check_parity(f"retake/{key}/sigmas", ltx2_sigmas(3), DATA[f"{key}/in/sigmas"])

    source_audio = get(f"{version}/in/source_audio")
    if case == "encoded":
        source_audio = encoded_source_audio(ledger, key, audio_space.shape.frames)
    embeddings = PromptEmbeddings(contexts(version, ""), contexts(version, "negative_"))
    noise = InjectedNoise([get(f"{key}/in/video_noise"), get(f"{key}/in/audio_noise")])
    video, audio = retake_latents(
        ledger, job, Prompts(embeddings, "fixture"), noise, get(f"{version}/in/source_video"), source_audio,
    )  # fmt: skip
    check_parity(f"retake/{key}/video_latent", video, DATA[f"{key}/out/video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity(f"retake/{key}/audio_latent", audio, DATA[f"{key}/out/audio_latent"], DOWNSTREAM_OF_ROPE)
    # outside the window the latents are the source's, bit for bit
    source = np.array(DATA[f"{version}/in/source_video"])
    outside = np.array(video_mask)[0, :, 0] == 0
    tokens = np.array(video).transpose(0, 2, 3, 4, 1).reshape(1, -1, source.shape[1])
    expected = source.transpose(0, 2, 3, 4, 1).reshape(1, -1, source.shape[1])
    assert outside.any() and np.array_equal(tokens[0, outside], expected[0, outside])
