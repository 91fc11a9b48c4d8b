"""Write tests/data/a2v_reference_<version>.npz (and the small distilled LoRA it uses,
tests/data/a2v_lora_<version>.safetensors) with the official audio-to-video recipe
(``ltx_pipelines.a2vid_two_stage``, ltx-core / ltx-pipelines 1.0.0) on a tiny fixture set.

The run starts from the log-mel: torchaudio (the official ``AudioProcessor``) is not installed in
the scratch environment, so a seeded log-mel-like array stands in for ``waveform_to_mel`` (the
port's waveform -> log-mel is checked against the documented definitions in
tests/test_audio_mel_parity.py). From there it follows ``A2VidPipelineTwoStage.__call__`` step by
step with the official blocks: ``audio_encoder(mel)`` cut to ``AudioLatentShape.from_duration``
frames; stage 1 ``denoise_video_only`` at half size (audio latent fixed: noise scale 0, denoise
mask 0) with ``multi_modal_guider_denoising_func`` (video guider with the negative context, audio
guider neutral), ``LTX2Scheduler`` sigmas; ``upsample_video``; stage 2 with the distilled LoRA,
``simple_denoising_func`` and the stage-2 distilled sigmas. Contexts are the set's
``transformer_av`` inputs (plus a seeded negative video context) instead of Gemma; the model runs in
float32 on CPU. Every noise tensor the noiser draws is stored in draw order. The official
``noise_audio_state`` builds the audio latent shape with the released model's 8 channels x 16 bins
(``AudioLatentShape.from_video_pixel_shape`` defaults); the tiny model's audio latent is narrower, so
that default is set to the fixture's own width here, and ``PipelineComponents.video_latent_channels``
(128 officially) to the tiny video latent's; ``fuse_loras._fuse_deltas`` accepts bfloat16 and fp8 weights
only, so float32 weights get ``weight + delta`` (the official ``_prepare_deltas`` delta), as
tools/make_lora_reference.py records fused weights (nothing else changes).

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_a2v_reference.py /path/to/tests/reference/ltx-2.0 \\
        /path/to/tests/data/a2v_reference_2.0.npz /path/to/tests/data/a2v_lora_2.0.safetensors
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from ltx_pipelines.utils.constants import STAGE_2_DISTILLED_SIGMA_VALUES
from ltx_pipelines.utils.helpers import denoise_video_only, multi_modal_guider_denoising_func, simple_denoising_func
from ltx_pipelines.utils.model_ledger import ModelLedger
from ltx_pipelines.utils.samplers import euler_denoising_loop
from ltx_pipelines.utils.types import PipelineComponents
from safetensors import safe_open
from safetensors.torch import save_file

from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps, fuse_loras
from ltx_core.model.upsampler import upsample_video
from ltx_core.types import AudioLatentShape, VideoPixelShape

torch.set_num_threads(1)
FRAMES, HEIGHT, WIDTH, FPS, STEPS, MEL_FRAMES = 17, 128, 128, 24.0, 3, 80
GUIDANCE = {"cfg_scale": 3.0, "stg_scale": 1.0, "stg_blocks": [1], "rescale_scale": 0.7, "modality_scale": 3.0}
LORA_LAYERS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "ff.net.0.proj", "ff.net.2")


_official_fuse = fuse_loras._fuse_deltas


def _fuse_float32(deltas, weight, key, *args, **kwargs):
    if deltas is not None and weight.dtype == torch.float32:
        return {key: weight + deltas.to(weight.dtype)}
    return _official_fuse(deltas, weight, key, *args, **kwargs)


fuse_loras._fuse_deltas = _fuse_float32


class RecordingNoiser(GaussianNoiser):
    def __init__(self, generator: torch.Generator):
        super().__init__(generator)
        self.draws: list[np.ndarray] = []

    def __call__(self, latent_state, noise_scale: float = 1.0):
        noise = torch.randn(*latent_state.latent.shape, dtype=latent_state.latent.dtype, generator=self.generator)
        self.draws.append(noise.numpy().copy())
        scaled_mask = latent_state.denoise_mask * noise_scale
        return replace(latent_state, latent=noise * scaled_mask + latent_state.latent * (1 - scaled_mask))


def write_lora(checkpoint: Path, out: Path, rng: np.random.Generator) -> None:
    """A rank-2 LoRA on every block's attention and feed-forward layers of ``checkpoint``."""
    tensors = {}
    with safe_open(str(checkpoint), "pt") as handle:
        keys = set(handle.keys())
        blocks = sorted({k.split(".")[3] for k in keys if k.startswith("model.diffusion_model.transformer_blocks.")}, key=int)
        for block in blocks:
            for layer in LORA_LAYERS:
                key = f"model.diffusion_model.transformer_blocks.{block}.{layer}.weight"
                if key not in keys:
                    continue
                out_features, in_features = handle.get_slice(key).get_shape()
                name = f"diffusion_model.transformer_blocks.{block}.{layer}"
                tensors[f"{name}.lora_A.weight"] = torch.from_numpy(rng.normal(0, 0.05, (2, in_features)).astype(np.float32))
                tensors[f"{name}.lora_B.weight"] = torch.from_numpy(rng.normal(0, 0.05, (out_features, 2)).astype(np.float32))
    save_file(tensors, str(out))


def main(fixtures: str, out_path: str, lora_path: str) -> None:
    fixtures = Path(fixtures)
    rng = np.random.default_rng(2026)
    write_lora(fixtures / "ltx2-tiny.safetensors", Path(lora_path), rng)
    ref = np.load(fixtures / "reference.npz")
    device, dtype = torch.device("cpu"), torch.float32
    ledger = ModelLedger(
        dtype=dtype, device=device, checkpoint_path=str(fixtures / "ltx2-tiny.safetensors"),
        spatial_upsampler_path=str(fixtures / "ltx2-tiny-spatial-upsampler.safetensors"),
    )  # fmt: skip
    stage_2_ledger = ledger.with_additional_loras((LoraPathStrengthAndSDOps(lora_path, 1.0, LTXV_LORA_COMFY_RENAMING_MAP),))
    components = PipelineComponents(dtype=dtype, device=device)
    components.video_latent_channels = ref["transformer_av/in/video_latent_5d"].shape[1]  # the tiny model's
    v_ctx = torch.from_numpy(ref["transformer_av/in/video/context"])
    a_ctx = torch.from_numpy(ref["transformer_av/in/audio/context"])
    v_neg = torch.from_numpy(rng.standard_normal(v_ctx.shape).astype(np.float32))
    encoder = ledger.audio_encoder()
    mel_bins = encoder.mel_bins
    with torch.inference_mode():
        probe = encoder(torch.zeros(1, 2, MEL_FRAMES, mel_bins))
    official_shape = AudioLatentShape.from_video_pixel_shape
    AudioLatentShape.from_video_pixel_shape = staticmethod(
        lambda shape, channels=8, mel_bins=16, **kw: official_shape(shape, probe.shape[1], probe.shape[3], **kw)
    )
    mel = np.log(np.abs(rng.standard_normal((1, 2, MEL_FRAMES, mel_bins))) + 1e-3).astype(np.float32)
    arrays = {"in/mel": mel, "in/video_context": v_ctx.numpy(), "in/audio_context": a_ctx.numpy(),
              "in/video_negative_context": v_neg.numpy(), "in/shape": np.array([FRAMES, HEIGHT, WIDTH]),
              "in/fps": np.array(FPS), "in/steps": np.array(STEPS)}  # fmt: skip
    for key, value in GUIDANCE.items():
        arrays[f"in/guidance/{key}"] = np.array(value, np.float32)
    noiser = RecordingNoiser(torch.Generator(device=device).manual_seed(0))
    stepper = EulerDiffusionStep()
    with torch.inference_mode():
        encoded = encoder(torch.from_numpy(mel))
        frames = AudioLatentShape.from_duration(batch=1, duration=FRAMES / FPS, channels=8, mel_bins=16).frames
        encoded = encoded[:, :, :frames]
        arrays["out/audio_latent"] = encoded.numpy()

        transformer = ledger.transformer()
        sigmas = LTX2Scheduler().execute(steps=STEPS).to(torch.float32)
        arrays["out/stage1_sigmas"] = sigmas.numpy()

        def first_loop(sigmas, video_state, audio_state, stepper):
            return euler_denoising_loop(
                sigmas=sigmas, video_state=video_state, audio_state=audio_state, stepper=stepper,
                denoise_fn=multi_modal_guider_denoising_func(
                    video_guider=MultiModalGuider(params=MultiModalGuiderParams(**GUIDANCE), negative_context=v_neg),
                    audio_guider=MultiModalGuider(params=MultiModalGuiderParams()),
                    v_context=v_ctx, a_context=a_ctx, transformer=transformer,
                ),
            )  # fmt: skip

        stage_1 = VideoPixelShape(batch=1, frames=FRAMES, width=WIDTH // 2, height=HEIGHT // 2, fps=FPS)
        video_state = denoise_video_only(
            output_shape=stage_1, conditionings=[], noiser=noiser, sigmas=sigmas, stepper=stepper,
            denoising_loop_fn=first_loop, components=components, dtype=dtype, device=device,
            initial_audio_latent=encoded,
        )  # fmt: skip
        arrays["out/stage1_video_latent"] = video_state.latent.numpy()
        upscaled = upsample_video(
            latent=video_state.latent[:1], video_encoder=ledger.video_encoder(), upsampler=stage_2_ledger.spatial_upsampler()
        )
        arrays["out/upscaled_video_latent"] = upscaled.numpy()

        transformer_2 = stage_2_ledger.transformer()
        distilled = torch.Tensor(STAGE_2_DISTILLED_SIGMA_VALUES)

        def second_loop(sigmas, video_state, audio_state, stepper):
            return euler_denoising_loop(
                sigmas=sigmas, video_state=video_state, audio_state=audio_state, stepper=stepper,
                denoise_fn=simple_denoising_func(video_context=v_ctx, audio_context=a_ctx, transformer=transformer_2),
            )

        stage_2 = VideoPixelShape(batch=1, frames=FRAMES, width=WIDTH, height=HEIGHT, fps=FPS)
        video_state = denoise_video_only(
            output_shape=stage_2, conditionings=[], noiser=noiser, sigmas=distilled, stepper=stepper,
            denoising_loop_fn=second_loop, components=components, dtype=dtype, device=device,
            noise_scale=distilled[0], initial_video_latent=upscaled, initial_audio_latent=encoded,
        )  # fmt: skip
        arrays["out/video_latent"] = video_state.latent.numpy()
    for index, draw in enumerate(noiser.draws):
        arrays[f"in/noise_{index}"] = draw
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}; draws {[d.shape for d in noiser.draws]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
