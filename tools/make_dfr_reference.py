"""Write tests/data/dfr_reference.npz: the official ltx-pipelines 1.2.0 ``DFRPipeline.__call__`` on
the tiny LTX-2.5 set (stage 1 with generated keyframe slots on the segment grid, x2 spatial
upsampling of the video and of the slots, stage 2 re-seeding the slots, then two temporal x2
rounds of keyframe-seam tiles stitched together, and the tail trimmed to the request).

The pipeline object is assembled from the official blocks by hand (``DFRPipeline.__new__``), with:
- the transformer built in float32 (``DiffusionStage`` builds it in the file's bf16 otherwise);
  the spatial and temporal ``VideoUpsampler`` in float32; no distilled LoRA (the tiny set is a
  distilled transformer and ships none);
- the prompt encoder replaced by the recorded contexts of the set (``text/out/{video,audio}_context``);
  no images; ``tiling_config=None``; video and audio decoders replaced by recorders (the latents
  handed to them are the outputs here: no pixels are decoded);
- the temporal rounds' ancestral loop run with ``model_dtype=float32`` (the pipeline leaves the
  loop's bf16 default) and its noise recorded through ``new_noise_fn`` (plain ``torch.randn`` from
  the per-tile generator, as the default);
- ``OpenImageIO`` (media reading, unused here) stubbed so the module imports.
Every Gaussian draw is recorded in order: ``in/noise/NNN`` (the pipeline's ``GaussianNoiser``:
stage 1 video, audio; stage 2 video, audio; then one video draw per temporal tile) and
``in/ancestral/NNN`` (each tile's ancestral re-noising, tiles in order, steps in order).

Run in the scratch env with the 1.2.0 sources, from outside the repo:

    cd /tmp && PYTHONPATH=/tmp/ltx2-120/packages/ltx-core/src:/tmp/ltx2-120/packages/ltx-pipelines/src \
        /tmp/refenv/bin/python /work/wt-dfr/tools/make_dfr_reference.py <fixtures-2.5> <out.npz>
"""

import importlib.machinery
import sys
import types
from functools import partial
from pathlib import Path

import numpy as np
import torch

stub = types.ModuleType("OpenImageIO")
stub.__spec__ = importlib.machinery.ModuleSpec("OpenImageIO", None)
sys.modules["OpenImageIO"] = stub

import ltx_pipelines.dfr_pipeline as dfr
from ltx_pipelines.dfr_layout import resolve_canvas, tile_ranges
from ltx_pipelines.utils import (
    blocks,
    helpers,
    samplers,
)

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.model.transformer import X0Model
from ltx_core.types import Audio

SEED = 11
HEIGHT = WIDTH = 64
FRAMES = 41  # content 40 pads to 48 (segment 24): the canvas has 49 frames, the tail is trimmed
FPS = 24.0
ROUNDS = 2

out: dict[str, np.ndarray] = {}


def put(key: str, value) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().numpy()
    out[key] = np.asarray(value)


def file_in(root: Path, folder: str, contains: str = "") -> str:
    (path,) = [p for p in sorted((root / folder).glob("*.safetensors")) if contains in p.name]
    return str(path)


class ContextEncoder:
    def __init__(self, video: torch.Tensor, audio: torch.Tensor):
        self.encoding = types.SimpleNamespace(video_encoding=video, audio_encoding=audio)

    def __call__(self, prompts, **_):
        return [self.encoding]


class NoImages:
    def resolve_crf(self, images):
        return list(images)

    def __call__(self, fn):
        return fn(None)  # no images: ``combined_image_conditionings`` never touches the encoder


class Recorder:
    """Stands in for the decoders: the latents they would decode are the outputs."""

    def __init__(self, name: str, checkpoint_path: str):
        self.name, self.checkpoint_path = name, checkpoint_path
        self.diffvae_optimization = blocks.DiffVAEMode.CHUNKED_EAGER

    def __call__(self, latent, *_):
        put(f"out/{self.name}_latent", latent)
        return Audio(waveform=torch.zeros(2, 48000 * 10), sampling_rate=48000)  # trimmed by the pipeline


class RecordingStage:
    def __init__(self, stage):
        self.stage, self.calls = stage, 0

    def assert_generated_keyframes_supported(self):
        self.stage.assert_generated_keyframes_supported()

    def __call__(self, *args, **kwargs):
        video, audio = self.stage(*args, **kwargs)
        name = f"stage/{self.calls}"
        self.calls += 1
        put(f"{name}/video_latent", video.latent)
        if video.generated_keyframes is not None:
            put(f"{name}/generated_keyframes", video.generated_keyframes)
        if audio is not None:
            put(f"{name}/audio_latent", audio.latent)
        return video, audio


def record_noise_draws() -> list[torch.Tensor]:
    """Every ``GaussianNoiser`` draw from now on, in order."""
    draws: list[torch.Tensor] = []
    sample = GaussianNoiser._sample_noise

    def recorded_sample(self, state):
        noise = sample(self, state)
        draws.append(noise.clone())
        return noise

    GaussianNoiser._sample_noise = recorded_sample
    return draws


def record_video_states() -> list:
    """Every conditioned video state from now on (before noise), in order."""
    states: list = []
    with_conditionings = helpers.state_with_conditionings

    def recorded_conditionings(latent_state, conditioning_items, latent_tools):
        state = with_conditionings(latent_state, conditioning_items, latent_tools)
        if state.keyframes_mask is not None:  # the video state (audio has no keyframes mask)
            states.append(state)
        return state

    helpers.state_with_conditionings = recorded_conditionings
    return states


def main(root: Path, target: Path) -> None:
    torch.set_num_threads(1)
    reference = np.load(root / "reference.npz")
    video_context = torch.from_numpy(reference["text/out/video_context"])
    audio_context = torch.from_numpy(reference["text/out/audio_context"])
    vae = file_in(root, "vae", "video-vae-bf16")
    cpu, f32 = torch.device("cpu"), torch.float32

    def build_float32(self, *, device=None, **kwargs):
        return X0Model(self._prepared_builder().build(device=cpu, dtype=f32, **kwargs)).to(cpu).eval()

    blocks.DiffusionStage._build_transformer = build_float32

    draws = record_noise_draws()
    ancestral: list[torch.Tensor] = []

    def recorded_plain_noise(latent, generator):
        noise = samplers._get_plain_noise(latent, generator)
        ancestral.append(noise.clone())
        return noise

    official_loop = dfr.euler_ancestral_denoising_loop
    dfr.euler_ancestral_denoising_loop = partial(official_loop, model_dtype=f32, new_noise_fn=recorded_plain_noise)

    states = record_video_states()

    pipeline = dfr.DFRPipeline.__new__(dfr.DFRPipeline)
    pipeline.device, pipeline.dtype = cpu, f32
    pipeline._distilled_lora = pipeline._user_loras = pipeline._detailing_lora = ()
    pipeline._detailing_downscale = 2
    pipeline.prompt_encoder = ContextEncoder(video_context, audio_context)
    pipeline.image_conditioner = NoImages()
    stage = blocks.DiffusionStage.from_checkpoint(file_in(root, "diffusion_models"), f32, cpu)
    pipeline.stage = pipeline.stage_detailing = RecordingStage(stage)
    pipeline.upsampler = blocks.VideoUpsampler(vae, file_in(root, "latent_upscale_models", "spatial"), f32, cpu)
    pipeline.temporal_upsampler = blocks.VideoUpsampler(
        vae, file_in(root, "latent_upscale_models", "temporal"), f32, cpu
    )
    pipeline.video_decoder = Recorder("video", vae)
    pipeline.audio_decoder = Recorder("audio", file_in(root, "vae", "audio-vae"))
    pipeline.duration_predictor = None

    with torch.no_grad():
        _, audio, frames, _ = pipeline(
            prompt="fixture", seed=SEED, height=HEIGHT, width=WIDTH, frame_rate=FPS, images=[], num_frames=FRAMES,
            temporal_upsample_rounds=ROUNDS, tiling_config=None,
        )  # fmt: skip

    canvas, segment, positions = resolve_canvas(FRAMES)
    put("in/settings", [SEED, HEIGHT, WIDTH, FRAMES, FPS, ROUNDS])
    put("layout/canvas", [canvas, segment])
    put("layout/positions", positions)
    seams, frames_now = positions, canvas
    for round_idx in range(1, ROUNDS + 1):  # the tiles the pipeline used (the carried bag doubles each round)
        frames_now = 2 * (frames_now - 1) + 1
        seams = [2 * s for s in seams]
        tiles = tile_ranges(seams, frames_now, 2**round_idx)
        put(f"layout/round{round_idx}/tiles", [[t.pixel_start, t.pixel_end, t.latent_start, t.latent_end_exclusive,
                                                t.drop_latent_prefix] for t in tiles])  # fmt: skip
        put(
            f"layout/round{round_idx}/anchors",
            [[*t.anchor_kf_global, *[-1] * (8 - len(t.anchor_kf_global))] for t in tiles],
        )
        put(f"layout/round{round_idx}/slots", [[*t.slot_kf_global, *[-1] * (8 - len(t.slot_kf_global))] for t in tiles])
        seams = sorted({*seams, *(s for t in tiles for s in t.slot_kf_global)})
    put("out/frames", frames)
    put("out/audio_samples_at_48k", audio.waveform.shape[-1])
    for index, state in enumerate(states):  # conditioned video states before noise: stage 1, stage 2, tiles
        for field in ("positions", "denoise_mask", "keyframes_mask", "latent", "clean_latent"):
            put(f"state/{index}/{field}", getattr(state, field))
        if state.attention_mask is not None:
            put(f"state/{index}/attention_mask", state.attention_mask)
    for index, noise in enumerate(draws):
        put(f"in/noise/{index:03d}", noise)
    for index, noise in enumerate(ancestral):
        put(f"in/ancestral/{index:03d}", noise)
    np.savez_compressed(target, **out)
    print(f"{target}: {len(out)} arrays, {target.stat().st_size / 1e6:.2f} MB; frames {frames}; "
          f"{pipeline.stage.calls} stage calls, {len(draws)} noise draws, {len(ancestral)} ancestral draws")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
