"""Whole-job accounting: a distilled two-stage job at real width on a transformer slice.

    python -m bench.whole_job [--size 768x512x121] [--blocks 2] [--tile 512]

Times every stage of the distilled recipe with the released widths (random weights, float32
on CPU): stage 1 (8 sigmas) at half size, the x2 spatial latent upsampler, stage 2 (3 sigmas)
at full size, tiled video VAE decode to uint8 frames, audio VAE decode + vocoder. Text encoding
is left out (cached per prompt in the app). The transformer runs ``--blocks`` blocks; its
stage times are also extrapolated to the 48 blocks of the real model, and the table gives each
stage's share of the extrapolated job.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import ltx_core  # noqa: F401  (OpenBLAS before mlx)
import mlx.core as mx

from bench.flops import parse_sizes
from bench.memory_estimate import REAL_AUDIO_VAE, REAL_VOCODER, randomize
from bench.real_width import real_inputs, real_width_model
from bench.vae_decode import real_decoder
from ltx_core.backend import backend_name, loaded_blas

STAGE1 = [1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0]
STAGE2 = [0.909375, 0.725, 0.421875, 0.0]
FULL_BLOCKS = 48


def denoise(model, width: int, height: int, frames: int, sigmas: list[float]) -> float:
    video, audio = real_inputs(height, width, frames)
    mx.eval(video.latent, audio.latent, video.context, audio.context)
    start = time.perf_counter()
    v, a = video.latent, audio.latent
    for sigma, nxt in zip(sigmas[:-1], sigmas[1:]):
        s = mx.array(sigma)
        vm = replace(video, latent=v, sigma=s, timesteps=mx.full(video.timesteps.shape, sigma))
        am = replace(audio, latent=a, sigma=s, timesteps=mx.full(audio.timesteps.shape, sigma))
        vel_v, vel_a = model(vm, am)
        v, a = v + (nxt - sigma) * vel_v, a + (nxt - sigma) * vel_a  # Euler
        mx.eval(v, a)
    model.clear_run_cache()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="768x512x121")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--tile", type=int, default=512, help="spatial VAE tile in pixels (overlap 64; 64/24 frames)")
    args = parser.parse_args()
    width, height, frames = parse_sizes(args.size)[0]
    print(f"backend {backend_name()}, BLAS {loaded_blas() or 'bundled'}, {args.size}, {args.blocks}-block slice")
    scale = FULL_BLOCKS / args.blocks
    rows = []  # (stage, measured seconds, extrapolated seconds)

    model = real_width_model(args.blocks, mx.float32)
    denoise(model, width // 2, height // 2, frames, STAGE1[:2])  # warm-up (JIT, allocator)
    t = denoise(model, width // 2, height // 2, frames, STAGE1)
    rows.append((f"stage 1: 8 steps at {width // 2}x{height // 2}", t, t * scale))
    t = denoise(model, width, height, frames, STAGE2)
    rows.append((f"stage 2: 3 steps at {width}x{height}", t, t * scale))
    del model
    mx.clear_cache()

    from ltx_core.model.upsampler.config import UpsamplerConfig
    from ltx_core.model.upsampler.model import LatentUpsampler

    upsampler = randomize(LatentUpsampler(UpsamplerConfig.from_dict({})))
    latent = mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 64, width // 64))
    mx.eval(latent)
    start = time.perf_counter()
    mx.eval(upsampler(latent))
    t = time.perf_counter() - start
    rows.append(("x2 spatial latent upsampler", t, t))
    del upsampler

    from ltx_core.model.video_vae.tiled import decode_video
    from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

    decoder = real_decoder()
    latent = mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 32, width // 32))
    tiling = TilingConfig(SpatialTilingConfig(args.tile, 64), TemporalTilingConfig(64, 24)) if args.tile else None
    start = time.perf_counter()
    decoded = sum(chunk.shape[0] for chunk in decode_video(latent, decoder, tiling, key=mx.random.key(0)))
    t = time.perf_counter() - start
    assert decoded == frames
    rows.append((f"video VAE decode ({'tiles ' + str(args.tile) + ' px' if args.tile else 'one pass'})", t, t))
    del decoder
    mx.clear_cache()

    from ltx_core.memory.estimate import audio_latent_frames
    from ltx_core.model.audio_vae.audio import decode_audio
    from ltx_core.model.audio_vae.config import AudioVAEConfig, VocoderConfig
    from ltx_core.model.audio_vae.vae import AudioDecoder
    from ltx_core.model.audio_vae.vocoder import Vocoder

    vae_config = AudioVAEConfig.from_section(REAL_AUDIO_VAE)
    audio_decoder = randomize(AudioDecoder(vae_config))
    vocoder = randomize(Vocoder(VocoderConfig.from_section(REAL_VOCODER)))
    audio_latent = mx.random.normal((1, vae_config.z_channels, audio_latent_frames(frames, 25.0), vae_config.latent_mel_bins))
    start = time.perf_counter()
    mx.eval(decode_audio(audio_latent, audio_decoder, vocoder).waveform)
    t = time.perf_counter() - start
    rows.append(("audio VAE decode + vocoder", t, t))

    total = sum(r[2] for r in rows)
    print(f"\n| stage | measured s ({args.blocks} blocks) | s at 48 blocks | share |")
    print("|---|---|---|---|")
    for name, measured, full in rows:
        print(f"| {name} | {measured:.1f} | {full:.1f} | {full / total:.0%} |")
    print(f"| total (text encoding excluded) | {sum(r[1] for r in rows):.1f} | {total:.1f} | 100% |")


if __name__ == "__main__":
    main()
