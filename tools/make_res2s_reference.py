"""Write tests/data/res2s_reference.npz with the official res_2s sampler (ltx-core / ltx-pipelines 1.0.0).

The shared fixtures have no res_2s case, so this script records the official outputs itself:

- ``coeff/*``: ``get_res2s_coefficients`` (a21, b1, b2) and ``phi`` for several step sizes;
- ``sde_step/*``: ``Res2sDiffusionStep.step`` on seeded random tensors (a step to sigma 0 too);
- ``noise/*``: ``_get_new_noise`` (the raw float64 draw and the normalised noise);
- ``loop_*/*``: ``res2s_audio_video_denoising_loop`` (as the HQ pipeline calls it: legacy mode,
  bong iteration on) with a closed-form denoiser that the port reproduces exactly, on a state with
  conditioning tokens (denoise mask 0); every noise tensor the loop draws is stored in draw order;
- ``e2e_stage1/*``: the loop on the tiny 2.3 checkpoint (official X0Model and multi-modal guidance
  with the HQ parameters), injected contexts (``transformer_av`` inputs of the 2.3 set), negative
  contexts and conditioning; ``e2e_stage2/*``: the same with the simple (unguided) denoiser and the
  stage-2 distilled sigmas, as the HQ pipeline's refinement runs.

The loop's ``model_dtype`` is float32 here (the official pipeline passes bfloat16 latents on GPU;
this port keeps the compute dtype). Run it in a scratch environment, never the project's (the
official import name ``ltx_core`` collides with ours):

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch ltx-core==1.0.0 ltx-pipelines==1.0.0
    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_res2s_reference.py \\
        /path/to/tests/reference/ltx-2.3 /path/to/tests/data/res2s_reference.npz

The stored file was recorded with torch 2.14.1 (CPU), ltx-core 1.0.0, ltx-pipelines 1.0.0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.types import LatentState
from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS, STAGE_2_DISTILLED_SIGMA_VALUES
from ltx_pipelines.utils.helpers import multi_modal_guider_denoising_func, simple_denoising_func
from ltx_pipelines.utils.res2s import get_res2s_coefficients, phi
from ltx_pipelines.utils.samplers import _channelwise_normalize, _get_new_noise, res2s_audio_video_denoising_loop

torch.set_num_threads(1)
STEPS = (0.05, 0.3, 0.49, 0.6, 1.2, 2.5, 6.9)


class Recorder:
    """The official noise function (``_get_new_noise``), keeping every raw draw in order."""

    def __init__(self):
        self.raw: list[np.ndarray] = []

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raw = torch.randn(x.shape, generator=generator, dtype=torch.float64, device=generator.device)
        self.raw.append(raw.numpy().copy())
        noise = (raw - raw.mean()) / raw.std()
        return _channelwise_normalize(noise)


def toy_denoiser(weight_v: torch.Tensor, weight_a: torch.Tensor):
    """A closed-form stand-in for the transformer: x0 = tanh(latent @ W) * (1 - sigma) + 0.1 * sigma."""

    def fn(video_state, audio_state, sigmas, step_index):
        sigma = sigmas[step_index].to(torch.float32)
        v = torch.tanh(video_state.latent.float() @ weight_v) * (1 - sigma) + 0.1 * sigma
        a = torch.tanh(audio_state.latent.float() @ weight_a) * (1 - sigma) + 0.1 * sigma
        return v, a

    return fn


def states(rng: np.random.Generator, video_shape, audio_shape, clean_tokens: int, video_positions=None, audio_positions=None):
    arrays = {}
    v_latent = rng.standard_normal(video_shape).astype(np.float32)
    a_latent = rng.standard_normal(audio_shape).astype(np.float32)
    v_clean = rng.standard_normal(video_shape).astype(np.float32)
    v_mask = np.ones((*video_shape[:2], 1), np.float32)
    v_mask[:, :clean_tokens] = 0.0
    v_latent[:, :clean_tokens] = v_clean[:, :clean_tokens]
    a_mask = np.ones((*audio_shape[:2], 1), np.float32)
    if video_positions is None:
        video_positions = np.zeros((video_shape[0], 3, video_shape[1], 2), np.float32)
        audio_positions = np.zeros((audio_shape[0], 1, audio_shape[1], 2), np.float32)
    arrays.update(
        {"in/video_latent": v_latent, "in/video_clean": v_clean, "in/video_mask": v_mask, "in/audio_latent": a_latent,
         "in/audio_mask": a_mask, "in/video_positions": video_positions, "in/audio_positions": audio_positions}
    )  # fmt: skip
    t = lambda x: torch.from_numpy(np.asarray(x))  # noqa: E731
    video = LatentState(t(v_latent), t(v_mask), t(video_positions), t(v_clean.copy()))
    audio = LatentState(t(a_latent), t(a_mask), t(audio_positions), t(a_latent.copy()))
    return video, audio, arrays


def run_loop(prefix: str, sigmas: np.ndarray, video, audio, denoise_fn, arrays: dict) -> None:
    recorder = Recorder()
    out_v, out_a = res2s_audio_video_denoising_loop(
        sigmas=torch.from_numpy(sigmas), video_state=video, audio_state=audio, stepper=Res2sDiffusionStep(),
        denoise_fn=denoise_fn, new_noise_fn=recorder, model_dtype=torch.float32,
    )  # fmt: skip
    arrays[f"{prefix}/in/sigmas"] = sigmas
    # Draw order per step: substep video, substep audio, step video, step audio.
    for i, raw in enumerate(recorder.raw):
        arrays[f"{prefix}/in/noise_{i:02d}"] = raw.astype(np.float32)
    arrays[f"{prefix}/out/video"] = out_v.latent.numpy()
    arrays[f"{prefix}/out/audio"] = out_a.latent.numpy()
    print(prefix, "draws", len(recorder.raw), "video", out_v.latent.abs().max().item(), "audio", out_a.latent.abs().max().item())


def main(fixtures: str, out_path: str) -> None:
    rng = np.random.default_rng(2323)
    arrays: dict[str, np.ndarray] = {}

    # -- coefficients --------------------------------------------------------------------------
    cache: dict = {}
    arrays["coeff/h"] = np.array(STEPS, np.float64)
    arrays["coeff/abb"] = np.array([get_res2s_coefficients(h, cache, 0.5) for h in STEPS], np.float64)
    arrays["coeff/phi"] = np.array([[phi(j, -h) for j in (1, 2, 3)] for h in STEPS] + [[phi(j, 0.0) for j in (1, 2, 3)]])

    # -- one SDE step ----------------------------------------------------------------------------
    shape = (1, 24, 8)
    sample, denoised, noise = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    arrays.update({"sde_step/in/sample": sample, "sde_step/in/denoised": denoised, "sde_step/in/noise": noise})
    stepper = Res2sDiffusionStep()
    pairs = [(1.0, 0.8), (0.6, 0.3), (0.2, 0.0011), (0.5, 0.0)]
    arrays["sde_step/in/pairs"] = np.array(pairs, np.float32)
    for i, (s, n) in enumerate(pairs):
        out = stepper.step(
            sample=torch.from_numpy(sample).double(), denoised_sample=torch.from_numpy(denoised).double(),
            sigmas=torch.tensor([s, n], dtype=torch.float64), step_index=0, noise=torch.from_numpy(noise).double(),
        )  # fmt: skip
        arrays[f"sde_step/out/pair{i}"] = out.numpy().astype(np.float32)

    # -- noise normalisation ---------------------------------------------------------------------
    generator = torch.Generator().manual_seed(-1)
    clone = torch.Generator().manual_seed(-1)
    x = torch.zeros(2, 16, 8)
    raw = torch.randn(x.shape, generator=clone, dtype=torch.float64)
    arrays["noise/in/raw"] = raw.numpy()
    arrays["noise/out/normalised"] = _get_new_noise(x, generator).numpy()

    # -- the loop with a closed-form denoiser ----------------------------------------------------
    weight_v = torch.from_numpy((rng.standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32))
    weight_a = torch.from_numpy((rng.standard_normal((6, 6)) / np.sqrt(6)).astype(np.float32))
    arrays["loop/in/weight_video"] = weight_v.numpy()
    arrays["loop/in/weight_audio"] = weight_a.numpy()
    for name, sigmas in (
        ("loop_to_zero", np.array([1.0, 0.85, 0.6, 0.3, 0.1, 0.0], np.float32)),  # bong on small steps, final denoise
        ("loop_stage2", np.array(STAGE_2_DISTILLED_SIGMA_VALUES, np.float32)),
        ("loop_partial", np.array([0.9, 0.5, 0.2], np.float32)),  # no final sigma 0
    ):
        video, audio, inputs = states(rng, (1, 32, 8), (1, 10, 6), clean_tokens=8)
        arrays.update({f"{name}/{k}": v for k, v in inputs.items()})
        run_loop(name, sigmas, video, audio, toy_denoiser(weight_v, weight_a), arrays)

    # -- end to end on the tiny 2.3 checkpoint ---------------------------------------------------
    from ltx_pipelines.utils.model_ledger import ModelLedger
    from ltx_core.components.schedulers import LTX2Scheduler

    fixtures = Path(fixtures)
    ref = np.load(fixtures / "reference.npz")
    ledger = ModelLedger(dtype=torch.float32, device=torch.device("cpu"), checkpoint_path=str(fixtures / "ltx2-tiny.safetensors"))
    transformer = ledger.transformer()
    v_ctx = torch.from_numpy(ref["transformer_av/in/video/context"])
    a_ctx = torch.from_numpy(ref["transformer_av/in/audio/context"])
    v_neg = torch.from_numpy(rng.standard_normal(v_ctx.shape).astype(np.float32))
    a_neg = torch.from_numpy(rng.standard_normal(a_ctx.shape).astype(np.float32))
    arrays.update({"e2e/in/video_context": v_ctx.numpy(), "e2e/in/audio_context": a_ctx.numpy(),
                   "e2e/in/video_negative_context": v_neg.numpy(), "e2e/in/audio_negative_context": a_neg.numpy()})  # fmt: skip
    v_shape, a_shape = ref["transformer_av/in/video/latent"].shape, ref["transformer_av/in/audio/latent"].shape
    v_pos, a_pos = ref["transformer_av/in/video/positions"], ref["transformer_av/in/audio/positions"]
    hq = LTX_2_3_HQ_PARAMS
    arrays["e2e_stage1/in/video_guidance"] = np.array(
        [hq.video_guider_params.cfg_scale, hq.video_guider_params.stg_scale, hq.video_guider_params.rescale_scale,
         hq.video_guider_params.modality_scale], np.float32)  # fmt: skip
    arrays["e2e_stage1/in/audio_guidance"] = np.array(
        [hq.audio_guider_params.cfg_scale, hq.audio_guider_params.stg_scale, hq.audio_guider_params.rescale_scale,
         hq.audio_guider_params.modality_scale], np.float32)  # fmt: skip
    with torch.inference_mode():
        sigmas = LTX2Scheduler().execute(latent=torch.empty(1, 8, 3, 4, 4), steps=3).to(torch.float32).numpy()
        video, audio, inputs = states(rng, v_shape, a_shape, clean_tokens=16, video_positions=v_pos, audio_positions=a_pos)
        arrays.update({f"e2e_stage1/{k}": v for k, v in inputs.items()})
        guided = multi_modal_guider_denoising_func(
            video_guider=MultiModalGuider(params=hq.video_guider_params, negative_context=v_neg),
            audio_guider=MultiModalGuider(params=hq.audio_guider_params, negative_context=a_neg),
            v_context=v_ctx, a_context=a_ctx, transformer=transformer,
        )  # fmt: skip
        run_loop("e2e_stage1", sigmas, video, audio, guided, arrays)

        video, audio, inputs = states(rng, v_shape, a_shape, clean_tokens=16, video_positions=v_pos, audio_positions=a_pos)
        arrays.update({f"e2e_stage2/{k}": v for k, v in inputs.items()})
        simple = simple_denoising_func(video_context=v_ctx, audio_context=a_ctx, transformer=transformer)
        run_loop("e2e_stage2", np.array(STAGE_2_DISTILLED_SIGMA_VALUES, np.float32), video, audio, simple, arrays)

    np.savez(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
