"""Memory estimator vs measurement on real-width slices (random weights, CPU backend).

    .venv/bin/python bench/memory_estimate.py [--blocks 2] [--quick]

Measures each stage's peak MLX memory from an empty start (weights loaded inside the
measurement) and prints it beside ``ltx_core.memory``'s prediction for the same config:
- denoising: a ``--blocks``-block real-width transformer slice, 1024 context tokens, batch 1 and a
  batched pair of guidance passes, two forwards (the first fills the text K/V cache);
- video decode: the 19B-sized video decoder (128 latent channels, base 128, 5 layers per stage),
  untiled at two sizes and tiled;
- upsample: the x2 spatial upsampler at the released widths;
- audio decode: the audio VAE decoder and vocoder at their default (released) widths.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)
import mlx.core as mx  # noqa: E402
from mlx.utils import tree_map  # noqa: E402

from bench.real_width import RELEASED, real_inputs, real_width_model  # noqa: E402
from ltx_core.memory import estimate as memory  # noqa: E402
from ltx_core.presets import VaeTiling  # noqa: E402

VAE_RES = ["res_x", {"num_layers": 5, "inject_noise": False}]
VAE_UP = ["compress_all", {"residual": True, "multiplier": 2}]
REAL_VAE = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "decoder_base_channels": 128,
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
    "timestep_conditioning": True, "decoder_blocks": [VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES],
    "encoder_blocks": [["res_x", {"num_layers": 1}]],
}  # fmt: skip
REAL_AUDIO_VAE = {
    "model": {"params": {"ddconfig": {"mel_bins": 64, "attn_resolutions": []}, "sampling_rate": 16000}},
    "preprocessing": {"stft": {"filter_length": 1024, "hop_length": 160, "causal": True}, "mel": {"n_mel_channels": 64}},
}
REAL_VOCODER = {"resblock": "1", "stereo": True}  # other fields: the released defaults


def measure(run: Callable[[], object]) -> int:
    """Peak bytes above what was allocated before ``run`` (which loads its own weights)."""
    gc.collect()
    mx.clear_cache()
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    result = run()
    peak = mx.get_peak_memory() - base
    del result
    gc.collect()
    mx.clear_cache()
    return peak


def randomize(module, dtype=mx.float32):
    module.update(tree_map(lambda p: (mx.random.normal(p.shape) * 0.02).astype(dtype), module.parameters()))
    mx.eval(module.parameters())
    return module


def denoise_rows(blocks: int, sizes, batches) -> list[tuple[str, memory.StageEstimate, int]]:
    rows = []
    config = {**RELEASED, "num_layers": blocks}
    for width, height, frames in sizes:
        for batch in batches:
            def run():
                model = real_width_model(blocks, mx.float32)
                video, audio = real_inputs(height, width, frames, batch=batch)
                for _ in range(2):
                    mx.eval(model(video, audio))
                return model

            guidance = memory.Guidance(batch, batch > 1, batch)
            predicted = memory.denoise_stage(
                "stage", config, frames, height, width, 25.0, True, guidance, "float32", None, False, "cpu"
            )
            rows.append((f"denoise {blocks} blocks {width}x{height}x{frames} batch {batch}", predicted, measure(run)))
    return rows


def vae_rows(cases) -> list[tuple[str, memory.StageEstimate, int]]:
    from ltx_core.model.video_vae.config import VideoVAEConfig
    from ltx_core.model.video_vae.decoder import VideoDecoder
    from ltx_core.model.video_vae.tiled import decode_video

    rows = []
    for frames, height, width, tiling in cases:
        def run():
            decoder = randomize(VideoDecoder(VideoVAEConfig.from_dict(REAL_VAE)))
            latent = mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 32, width // 32))
            for _ in decode_video(latent, decoder, None if tiling is None else memory_tiling(tiling), key=mx.random.key(0)):
                pass
            return decoder

        predicted = memory.video_decode_stage(REAL_VAE, frames, height, width, "float32", tiling)
        label = "untiled" if tiling is None else f"tiles {tiling.spatial_tile}px/{tiling.temporal_tile}f"
        rows.append((f"video decode {width}x{height}x{frames} {label}", predicted, measure(run)))
    return rows


def memory_tiling(tiling: VaeTiling):
    from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

    return TilingConfig(
        SpatialTilingConfig(tiling.spatial_tile, tiling.spatial_overlap),
        TemporalTilingConfig(tiling.temporal_tile, tiling.temporal_overlap),
    )


def upsampler_rows(cases) -> list[tuple[str, memory.StageEstimate, int]]:
    from ltx_core.model.upsampler.config import UpsamplerConfig
    from ltx_core.model.upsampler.model import LatentUpsampler

    rows = []
    for frames, height, width in cases:
        def run():
            model = randomize(LatentUpsampler(UpsamplerConfig.from_dict({})))
            latent = mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 32, width // 32))
            out = model(latent)
            mx.eval(out)
            return model

        predicted = memory.upsample_stage(None, frames, height, width, "float32", 0)
        rows.append((f"upsample from {width}x{height}x{frames}", predicted, measure(run)))
    return rows


def audio_rows(cases) -> list[tuple[str, memory.StageEstimate, int]]:
    from ltx_core.model.audio_vae.audio import decode_audio
    from ltx_core.model.audio_vae.config import AudioVAEConfig, VocoderConfig
    from ltx_core.model.audio_vae.vae import AudioDecoder
    from ltx_core.model.audio_vae.vocoder import Vocoder

    rows = []
    for frames, fps in cases:
        def run():
            vae_config = AudioVAEConfig.from_section(REAL_AUDIO_VAE)
            decoder = randomize(AudioDecoder(vae_config))
            vocoder = randomize(Vocoder(VocoderConfig.from_section(REAL_VOCODER)))
            latent = mx.random.normal((1, vae_config.z_channels, memory.audio_latent_frames(frames, fps), vae_config.latent_mel_bins))
            mx.eval(decode_audio(latent, decoder, vocoder).waveform)
            return decoder

        predicted = memory.audio_decode_stage(REAL_AUDIO_VAE, REAL_VOCODER, frames, fps, "float32")
        rows.append((f"audio decode {frames} frames @ {fps:g} fps", predicted, measure(run)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one size per stage")
    args = parser.parse_args()
    sizes = [(384, 256, 17)] + ([] if args.quick else [(704, 480, 25)])
    vae_cases = [(9, 128, 128, None)]
    if not args.quick:
        vae_cases += [(17, 128, 256, None), (33, 256, 256, VaeTiling(128, 64, 16, 8))]
    print("peak = weights (exact, from the lazily built module) + working memory (calibrated terms);")
    print("measured working = measured peak - predicted weights.")
    header = f"{'case':46s} {'pred GiB':>8s} {'meas GiB':>8s} {'ratio':>6s} {'pred work':>9s} {'meas work':>9s} {'ratio':>6s}"
    print(header, flush=True)
    for rows in (
        lambda: audio_rows([(121, 24.0)] + ([] if args.quick else [(241, 24.0)])),
        lambda: upsampler_rows([(17, 256, 384)] + ([] if args.quick else [(25, 480, 704)])),
        lambda: vae_rows(vae_cases),
        lambda: denoise_rows(args.blocks, sizes, (1, 2) if not args.quick else (1,)),
    ):
        for label, predicted, measured in rows():
            work = measured - predicted.weights
            print(
                f"{label:46s} {predicted.peak / 2**30:8.3f} {measured / 2**30:8.3f} {predicted.peak / measured:6.2f} "
                f"{predicted.activations / 2**30:9.3f} {work / 2**30:9.3f} {predicted.activations / work:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
