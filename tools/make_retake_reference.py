"""Write tests/data/retake_reference.npz with the official retake (ltx-pipelines 1.0.0) from the
encoded latents onward, on the tiny 2.0 and 2.3 checkpoints.

What the official ``RetakePipeline.__call__`` does after encoding the source is recorded here
with its own parts: ``noise_video_state`` / ``noise_audio_state`` with the source latents as
initial latents and the official ``TemporalRegionMask`` (from ``ltx_pipelines.retake``) as the
conditioning, the official ``GaussianNoiser`` fed with recorded noise, ``euler_denoising_loop``
with ``simple_denoising_func`` (distilled sigmas) or ``multi_modal_guider_denoising_func`` (the
dev recipe: ``LTX2Scheduler`` sigmas). The source latents are seeded random arrays standing in
for the VAE encodings in the first three cases (the encoders are compared elsewhere). Contexts are
the set's ``e2e_distilled`` contexts; negatives are seeded random.

Cases per version (``<version>/<case>/...``):
- ``both``: video and audio regenerated in [0.4, 0.7) s, distilled;
- ``video_only``: video regenerated, audio kept (the official ``regenerate_audio=False``: the
  audio mask is [0, 0));
- ``guided``: both regenerated in [0.3, 0.65) s with 3 ``LTX2Scheduler`` steps and the version's
  dev guidance (CFG, STG, rescale, modality);
- ``encoded``: the audio encode path of the retake from the waveform on: a seeded stereo 24 kHz
  waveform (0.9 s, shorter than the 25-frame clip, so the latent is zero-padded) goes through the
  official ``_encode_audio_for_retake`` (``encode_audio`` with the official ``AudioProcessor``:
  torchaudio's ``resample`` and ``MelSpectrogram``, then the audio VAE encoder, then the trim/pad to
  the clip's audio latent frames); its log-mel (the official processor's, recorded separately) and
  the conformed latent are stored, and the latent is the source audio of a distilled retake that
  regenerates video and audio in [0.4, 0.7) s. The torchaudio in /tmp/refenv (2.11) runs on CPU, so
  nothing is substituted here.

Run it in a scratch environment, never the project's (the official import name ``ltx_core``
collides with ours):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_retake_reference.py \\
        /path/to/tests/reference /path/to/tests/data/retake_reference.npz
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from ltx_core.model.audio_vae.ops import AudioProcessor
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_pipelines.retake import TemporalRegionMask, _encode_audio_for_retake
from ltx_pipelines.utils.constants import DISTILLED_SIGMA_VALUES
from ltx_pipelines.utils.helpers import create_noised_state, multi_modal_guider_denoising_func, simple_denoising_func
from ltx_pipelines.utils.model_ledger import ModelLedger
from ltx_pipelines.utils.samplers import euler_denoising_loop

from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.types import Audio, AudioLatentShape, VideoLatentShape, VideoPixelShape

torch.set_num_threads(1)
FRAMES, HEIGHT, WIDTH, FPS = 25, 128, 128, 24.0
# The version's dev guidance (2.0: STG block 29; the tiny models have fewer blocks, so block 1).
GUIDANCE = {
    "video": MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0),
    "audio": MultiModalGuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0),
}
WAVEFORM_RATE, WAVEFORM_SECONDS, ENCODED_SEED = 24000, 0.9, 1516
CASES = {
    "both": {"window": (0.4, 0.7), "video": True, "audio": True, "guided": False},
    "video_only": {"window": (0.4, 0.7), "video": True, "audio": False, "guided": False},
    "guided": {"window": (0.3, 0.65), "video": True, "audio": True, "guided": True},
    "encoded": {"window": (0.4, 0.7), "video": True, "audio": True, "guided": False, "encoded": True},
}


class RecordedNoiser(GaussianNoiser):
    """The official noiser with its draws taken from a list (recorded into the npz)."""

    def __init__(self, draws: list[np.ndarray]):
        super().__init__(generator=torch.Generator().manual_seed(0))
        self.draws = list(draws)

    def __call__(self, latent_state, noise_scale: float = 1.0):
        noise = torch.from_numpy(self.draws.pop(0))
        scaled_mask = latent_state.denoise_mask * noise_scale
        latent = noise * scaled_mask + latent_state.latent * (1 - scaled_mask)
        return replace(latent_state, latent=latent.to(latent_state.latent.dtype))


def record_version(directory: Path, version: str, rng: np.random.Generator, arrays: dict) -> None:
    ref = np.load(directory / "reference.npz")
    ledger = ModelLedger(dtype=torch.float32, device=torch.device("cpu"), checkpoint_path=str(directory / "ltx2-tiny.safetensors"))
    transformer = ledger.transformer()
    v_ctx = torch.from_numpy(ref["e2e_distilled/in/video_context"])
    a_ctx = torch.from_numpy(ref["e2e_distilled/in/audio_context"])
    v_neg = torch.from_numpy(rng.standard_normal(v_ctx.shape).astype(np.float32))
    a_neg = torch.from_numpy(rng.standard_normal(a_ctx.shape).astype(np.float32))
    video_channels = ref["transformer_av/in/video_latent_5d"].shape[1]
    _, audio_channels, _, mel_bins = ref["transformer_av/in/audio_latent_4d"].shape
    pixel = VideoPixelShape(batch=1, frames=FRAMES, height=HEIGHT, width=WIDTH, fps=FPS)
    video_shape = VideoLatentShape.from_pixel_shape(pixel, latent_channels=video_channels)
    audio_shape = AudioLatentShape.from_video_pixel_shape(pixel, channels=audio_channels, mel_bins=mel_bins)
    source_video = rng.standard_normal(video_shape.to_torch_shape()).astype(np.float32)
    source_audio = rng.standard_normal(audio_shape.to_torch_shape()).astype(np.float32)
    prefix = f"{version}/"
    arrays.update({
        prefix + "in/video_context": v_ctx.numpy(), prefix + "in/audio_context": a_ctx.numpy(),
        prefix + "in/video_negative_context": v_neg.numpy(), prefix + "in/audio_negative_context": a_neg.numpy(),
        prefix + "in/source_video": source_video, prefix + "in/source_audio": source_audio,
        prefix + "in/pixel_shape": np.array([FRAMES, HEIGHT, WIDTH]), prefix + "in/fps": np.array(FPS, np.float32),
    })  # fmt: skip
    video_tools = VideoLatentTools(VideoLatentPatchifier(patch_size=1), video_shape, FPS)
    audio_tools = AudioLatentTools(AudioPatchifier(patch_size=1), audio_shape)
    audio_encoder = ledger.audio_encoder()
    for case, spec in CASES.items():
        start, end = spec["window"]
        case_audio, draws = source_audio, rng
        if spec.get("encoded"):  # its own generator: the other cases' arrays stay as first recorded
            draws = np.random.default_rng(ENCODED_SEED)
            case_audio, encoded = encode_waveform(audio_encoder, pixel, draws)
            arrays.update({f"{prefix}{case}/{name}": value for name, value in encoded.items()})
        noise = [
            draws.standard_normal((1, video_shape.token_count(), video_channels)).astype(np.float32),
            draws.standard_normal((1, audio_shape.frames, audio_channels * mel_bins)).astype(np.float32),
        ]
        noiser = RecordedNoiser(noise)
        video_window = (start, end) if spec["video"] else (0.0, 0.0)
        audio_window = (start, end) if spec["audio"] else (0.0, 0.0)
        with torch.inference_mode():
            video = create_noised_state(
                video_tools, [TemporalRegionMask(*video_window, fps=FPS)], noiser, torch.float32, torch.device("cpu"),
                initial_latent=torch.from_numpy(source_video),
            )  # fmt: skip
            audio = create_noised_state(
                audio_tools, [TemporalRegionMask(*audio_window, fps=FPS)], noiser, torch.float32, torch.device("cpu"),
                initial_latent=torch.from_numpy(case_audio),
            )  # fmt: skip
            if spec["guided"]:
                sigmas = LTX2Scheduler().execute(steps=3).to(torch.float32)
                denoise = multi_modal_guider_denoising_func(
                    MultiModalGuider(params=GUIDANCE["video"], negative_context=v_neg),
                    MultiModalGuider(params=GUIDANCE["audio"], negative_context=a_neg),
                    v_context=v_ctx, a_context=a_ctx, transformer=transformer,
                )  # fmt: skip
            else:
                sigmas = torch.tensor(DISTILLED_SIGMA_VALUES, dtype=torch.float32)
                denoise = simple_denoising_func(video_context=v_ctx, audio_context=a_ctx, transformer=transformer)
            masks = (video.denoise_mask.numpy().copy(), audio.denoise_mask.numpy().copy())
            out_video, out_audio = euler_denoising_loop(sigmas, video, audio, EulerDiffusionStep(), denoise)
            out_video = video_tools.clear_conditioning(out_video)
            out_video = video_tools.unpatchify(out_video)
            out_audio = audio_tools.clear_conditioning(out_audio)
            out_audio = audio_tools.unpatchify(out_audio)
        key = f"{prefix}{case}/"
        arrays.update({
            key + "in/window": np.array(spec["window"], np.float32),
            key + "in/flags": np.array([spec["video"], spec["audio"], spec["guided"]]),
            key + "in/sigmas": sigmas.numpy(), key + "in/video_noise": noise[0], key + "in/audio_noise": noise[1],
            key + "out/video_mask": masks[0], key + "out/audio_mask": masks[1],
            key + "out/video_latent": out_video.latent.numpy(), key + "out/audio_latent": out_audio.latent.numpy(),
        })  # fmt: skip
        print(version, case, "mask v", masks[0].sum(), "a", masks[1].sum(), "video", out_video.latent.abs().max().item())


def encode_waveform(audio_encoder, pixel: VideoPixelShape, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The official retake's audio encode of a seeded waveform: (the conformed latent, arrays to store)."""
    samples = round(WAVEFORM_SECONDS * WAVEFORM_RATE)
    t = np.arange(samples) / WAVEFORM_RATE
    tones = np.stack([0.4 * np.sin(2 * np.pi * 330 * t), 0.3 * np.sin(2 * np.pi * 523 * t + 1.0)])
    waveform = (tones + 0.05 * rng.standard_normal((2, samples))).astype(np.float32)
    with torch.inference_mode():
        mel = AudioProcessor(
            target_sample_rate=audio_encoder.sample_rate, mel_bins=audio_encoder.mel_bins,
            mel_hop_length=audio_encoder.mel_hop_length, n_fft=audio_encoder.n_fft,
        ).waveform_to_mel(Audio(waveform=torch.from_numpy(waveform)[None], sampling_rate=WAVEFORM_RATE))  # fmt: skip
        latent = _encode_audio_for_retake(audio_encoder, torch.from_numpy(waveform), WAVEFORM_RATE, pixel, torch.float32)
    latent = latent.numpy()
    print("encoded audio", mel.shape, latent.shape, "padded frames", int((np.abs(latent).sum(axis=(0, 1, 3)) == 0).sum()))
    return latent, {"in/waveform": waveform, "in/waveform_rate": np.array(WAVEFORM_RATE), "out/mel": mel.numpy(),
                    "out/source_audio": latent}  # fmt: skip


def main(reference_root: str, out_path: str) -> None:
    rng = np.random.default_rng(1515)
    arrays: dict[str, np.ndarray] = {}
    for version in ("2.0", "2.3"):
        record_version(Path(reference_root) / f"ltx-{version}", version, rng, arrays)
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
