"""Write tests/data/keyframes25_reference.npz: the official ltx-pipelines 1.2.0
``KeyframeInterpolationPipeline.__call__`` on the tiny LTX-2.5 set: three images guiding the video
at frames 0, 9 and 16 (``image_conditionings_by_adding_guiding_latent``: 1.2.0's
``VideoConditionByKeyframeIndex``, a zero placeholder in the noisy latent and a one-frame span),
stage 1 guided at half size, x2 spatial upsampling, stage 2 refined.

Assembled like tools/make_dfr_reference.py (``__new__`` and the official blocks), with:
- the transformers, the upsampler and the image encoder built in float32 (the pipeline's bf16 otherwise);
  no distilled LoRA in stage 2 (the tiny set ships none; the test leaves it out too);
- the prompt encoder replaced by the set's recorded contexts (``text/out/*_context``), the negative
  contexts being ``-0.5 x`` those (any distinct context exercises the guidance);
- ``load_image_and_preprocess`` replaced by seeded uniform pixels in [-1, 1] per image and size
  (recorded as ``in/pixels/<image>/<height>``): no file decoding or CRF re-compression;
- ``tiling_config=None``; the decoders replaced by recorders (their latents are the outputs).
Every ``GaussianNoiser`` draw is recorded in order as ``in/noise/NNN``. ``x0/...``: the transformer
alone on stage 1's first step (the conditional pass's inputs: 1-0 timesteps on the keyframe tokens
and the video, which 1.2.0's audio-video cross-attention modulates per token), run again unperturbed.

Run in the scratch env with the 1.2.0 sources, from outside the repo:

    cd /tmp && PYTHONPATH=/tmp/ltx2-120/packages/ltx-core/src:/tmp/ltx2-120/packages/ltx-pipelines/src \
        /tmp/refenv/bin/python /work/wt-v25fix/tools/make_keyframes25_reference.py <fixtures-2.5> <out.npz>
"""

import sys
import types
from dataclasses import replace
from pathlib import Path

# ruff: noqa: I001 (make_dfr_reference first: it stubs OpenImageIO before ltx_pipelines imports)
import make_dfr_reference as shared  # ``put``/``out``, the recorders (same folder)
import numpy as np
import torch
import ltx_pipelines.keyframe_interpolation as keyframes
from ltx_pipelines.utils import blocks, helpers
from ltx_pipelines.utils.args import ImageConditioningInput

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.guidance.perturbations import BatchedPerturbationConfig

SEED = 5
HEIGHT = WIDTH = 128
FRAMES = 17
FPS = 24.0
STEPS = 2
IMAGES = ((0, 1.0), (9, 0.7), (16, 1.0))  # (frame, strength)
GUIDANCE = {"cfg_scale": 3.0, "stg_scale": 1.0, "stg_blocks": [1], "rescale_scale": 0.7, "modality_scale": 3.0}
AUDIO_CFG = 7.0
put, out = shared.put, shared.out


class GuidedContexts:
    def __init__(self, video: torch.Tensor, audio: torch.Tensor):
        self.encodings = [types.SimpleNamespace(video_encoding=v, audio_encoding=a)
                          for v, a in ((video, audio), (-0.5 * video, -0.5 * audio))]  # fmt: skip

    def __call__(self, prompts, **_):
        return self.encodings[: len(prompts)]


class Recorder(shared.Recorder):
    def __call__(self, latent, *args, **_):  # this pipeline passes the VAE dtype as a keyword
        return super().__call__(latent, *args)


def seeded_pixels(image_path, height, width, dtype, device, crf=None, color_space=None):
    index = int(Path(image_path).stem)
    rng = np.random.default_rng(100 * index + height)
    pixels = rng.uniform(-1.0, 1.0, (1, 3, 1, height, width)).astype(np.float32)
    put(f"in/pixels/{index}/{height}", pixels)
    return torch.from_numpy(pixels)


def main(root: Path, target: Path) -> None:
    torch.set_num_threads(1)
    reference = np.load(root / "reference.npz")
    video_context = torch.from_numpy(reference["text/out/video_context"])
    audio_context = torch.from_numpy(reference["text/out/audio_context"])
    vae = shared.file_in(root, "vae", "video-vae-bf16")
    cpu, f32 = torch.device("cpu"), torch.float32

    def build_float32(self, *, device=None, **kwargs):
        return shared.X0Model(self._prepared_builder().build(device=cpu, dtype=f32, **kwargs)).to(cpu).eval()

    blocks.DiffusionStage._build_transformer = build_float32
    helpers.load_image_and_preprocess = seeded_pixels
    draws, states = shared.record_noise_draws(), shared.record_video_states()
    forward = shared.X0Model.forward

    def recorded_forward(self, video, audio, perturbations):
        if "x0/video/latent" not in out:  # the first call: the conditional pass is batch element 0
            video1, audio1 = (replace(m, latent=m.latent[:1], timesteps=m.timesteps[:1], positions=m.positions[:1],
                                      context=m.context[:1], sigma=m.sigma[:1],
                                      keyframes_mask=None if m.keyframes_mask is None else m.keyframes_mask[:1])
                              for m in (video, audio))  # fmt: skip
            for name, m in (("video", video1), ("audio", audio1)):
                for field in ("latent", "timesteps", "positions", "context", "sigma", "keyframes_mask"):
                    if getattr(m, field) is not None:
                        put(f"x0/{name}/{field}", getattr(m, field))
            single = BatchedPerturbationConfig.empty(1, self.num_blocks, device=cpu, dtype=f32)
            x0_video, x0_audio = forward(self, video1, audio1, single)
            put("x0/out/video", x0_video)
            put("x0/out/audio", x0_audio)
        return forward(self, video, audio, perturbations)

    shared.X0Model.forward = recorded_forward

    pipeline = keyframes.KeyframeInterpolationPipeline.__new__(keyframes.KeyframeInterpolationPipeline)
    pipeline.device, pipeline.dtype = cpu, f32
    pipeline._scheduler = keyframes.LTX2Scheduler()
    pipeline.prompt_encoder = GuidedContexts(video_context, audio_context)
    pipeline.image_conditioner = blocks.ImageConditioner(vae, f32, cpu)
    stage = blocks.DiffusionStage.from_checkpoint(shared.file_in(root, "diffusion_models"), f32, cpu)
    pipeline.stage_1 = pipeline.stage_2 = shared.RecordingStage(stage)
    pipeline.upsampler = blocks.VideoUpsampler(vae, shared.file_in(root, "latent_upscale_models", "spatial"), f32, cpu)
    pipeline.video_decoder = Recorder("video", vae)
    pipeline.audio_decoder = Recorder("audio", shared.file_in(root, "vae", "audio-vae"))

    images = [ImageConditioningInput(f"{i}.png", frame, strength) for i, (frame, strength) in enumerate(IMAGES)]
    with torch.no_grad():
        pipeline(
            prompt="fixture", negative_prompt="negative", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            frame_rate=FPS, num_inference_steps=STEPS, images=images, tiling_config=None,
            video_guider_params=MultiModalGuiderParams(**GUIDANCE),
            audio_guider_params=MultiModalGuiderParams(**{**GUIDANCE, "cfg_scale": AUDIO_CFG}),
        )  # fmt: skip

    put("in/settings", [SEED, HEIGHT, WIDTH, FRAMES, FPS, STEPS, AUDIO_CFG])
    put("in/images", [list(i) for i in IMAGES])
    put("in/video_guidance", [GUIDANCE[k] for k in ("cfg_scale", "stg_scale", "rescale_scale", "modality_scale")])
    put("in/stg_block", GUIDANCE["stg_blocks"][0])
    for index, state in enumerate(states):  # conditioned video states before noise: stage 1, stage 2
        for field in ("positions", "denoise_mask", "keyframes_mask", "latent", "clean_latent"):
            put(f"state/{index}/{field}", getattr(state, field))
    for index, noise in enumerate(draws):
        put(f"in/noise/{index:03d}", noise)
    np.savez_compressed(target, **out)
    print(f"{target}: {len(out)} arrays, {target.stat().st_size / 1e6:.2f} MB; "
          f"{pipeline.stage_1.calls} stage calls, {len(draws)} noise draws")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
