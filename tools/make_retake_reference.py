"""Write tests/data/retake_reference.npz with the official retake (ltx-pipelines 1.0.0) from the
encoded latents onward, on the tiny 2.0 and 2.3 checkpoints.

What the official ``RetakePipeline.__call__`` does after encoding the source is recorded here
with its own parts: ``noise_video_state`` / ``noise_audio_state`` with the source latents as
initial latents and the official ``TemporalRegionMask`` (from ``ltx_pipelines.retake``) as the
conditioning, the official ``GaussianNoiser`` fed with recorded noise, ``euler_denoising_loop``
with ``simple_denoising_func`` (distilled sigmas) or ``multi_modal_guider_denoising_func`` (the
dev recipe: ``LTX2Scheduler`` sigmas). The source latents are seeded random arrays standing in
for the VAE encodings (the encoders are compared elsewhere; the official audio encode path runs
torchaudio's mel front end, which has no CPU build for the torch here, so it is not recorded).
Contexts are the set's ``e2e_distilled`` contexts; negatives are seeded random.

Cases per version (``<version>/<case>/...``):
- ``both``: video and audio regenerated in [0.4, 0.7) s, distilled;
- ``video_only``: video regenerated, audio kept (the official ``regenerate_audio=False``: the
  audio mask is [0, 0));
- ``guided``: both regenerated in [0.3, 0.65) s with 3 ``LTX2Scheduler`` steps and the version's
  dev guidance (CFG, STG, rescale, modality).

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
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_pipelines.retake import TemporalRegionMask
from ltx_pipelines.utils.constants import DISTILLED_SIGMA_VALUES
from ltx_pipelines.utils.helpers import create_noised_state, multi_modal_guider_denoising_func, simple_denoising_func
from ltx_pipelines.utils.model_ledger import ModelLedger
from ltx_pipelines.utils.samplers import euler_denoising_loop

from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape

torch.set_num_threads(1)
FRAMES, HEIGHT, WIDTH, FPS = 25, 128, 128, 24.0
# The version's dev guidance (2.0: STG block 29; the tiny models have fewer blocks, so block 1).
GUIDANCE = {
    "video": MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0),
    "audio": MultiModalGuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0),
}
CASES = {
    "both": {"window": (0.4, 0.7), "video": True, "audio": True, "guided": False},
    "video_only": {"window": (0.4, 0.7), "video": True, "audio": False, "guided": False},
    "guided": {"window": (0.3, 0.65), "video": True, "audio": True, "guided": True},
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
    for case, spec in CASES.items():
        start, end = spec["window"]
        noise = [
            rng.standard_normal((1, video_shape.token_count(), video_channels)).astype(np.float32),
            rng.standard_normal((1, audio_shape.frames, audio_channels * mel_bins)).astype(np.float32),
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
                initial_latent=torch.from_numpy(source_audio),
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


def main(reference_root: str, out_path: str) -> None:
    rng = np.random.default_rng(1515)
    arrays: dict[str, np.ndarray] = {}
    for version in ("2.0", "2.3"):
        record_version(Path(reference_root) / f"ltx-{version}", version, rng, arrays)
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
