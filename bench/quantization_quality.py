"""Quality of 8-bit and 4-bit transformers against float32, end to end on a tiny checkpoint.

    python -m bench.quantization_quality [--checkpoint PATH] [--group-size 32] [--lora FILE:STRENGTH]

Runs the distilled pipeline with the same seed and prompt contexts in float32 and with the
transformer quantized, decodes the videos and prints the relative error of the final latents and
the PSNR of the decoded frames against float32. Defaults to the shared tiny fixture checkpoint
(random weights: a worst case for 4-bit) and the demo upsampler.

With ``--lora`` the reference is float32 with the LoRA fused, and each bit width runs twice: the
LoRA as a side path on the quantized layers (quantize at load, LoRA beside), and fused before
quantizing (``convert --lora``, no side path).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import ltx_core  # noqa: F401
import mlx.core as mx
import numpy as np

from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.pipelines.blocks import Prompts, decode_pixels
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from ltx_core.pipelines.request import GenerationRequest, LoraChoice
from ltx_core.runtime import RuntimeSettings

FIXTURES = Path(os.environ.get("LTX_REFERENCE_FIXTURES", Path(__file__).resolve().parents[1] / "tests" / "reference" / "ltx-2.0"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Of [-1, 1] pixels clipped to the displayable range (peak-to-peak 2)."""
    a, b = np.clip(a, -1, 1), np.clip(b, -1, 1)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def run(paths: ModelPaths, quantization: QuantizationSpec | None, prompts: Prompts, size: int, frames: int, loras=()):
    ledger = ModelLedger(paths, RuntimeSettings.plain(transformer_quantization=quantization))
    request = GenerationRequest(prompt="bench", seed=11, height=size, width=size, frames=frames, loras=tuple(loras))
    latents = DistilledPipeline(ledger).generate(request, prompts=prompts)
    pixels = mx.concatenate(list(decode_pixels(ledger, latents.video, seed=11)), axis=2)
    return np.array(latents.video), np.array(pixels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=str(FIXTURES / "ltx2-tiny.safetensors"))
    parser.add_argument("--upsampler", default=str(FIXTURES / "ltx2-tiny-spatial-upsampler.safetensors"))
    parser.add_argument("--group-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--lora", help="FILE:STRENGTH: compare the side path with fuse-then-quantize (convert --lora)")
    args = parser.parse_args()
    reference = np.load(FIXTURES / "reference.npz")
    video = mx.array(reference["e2e_distilled/in/video_context"])
    audio = mx.array(reference["e2e_distilled/in/audio_context"])
    prompts = Prompts(PromptEmbeddings(TextContexts(video, audio, mx.ones(video.shape[:2]))), "bench")
    paths = ModelPaths(Path(args.checkpoint), spatial_upsampler=Path(args.upsampler))
    loras = ()
    if args.lora:
        file, _, strength = args.lora.rpartition(":") if ":" in args.lora else (args.lora, "", "1")
        loras = (LoraChoice(file, float(strength)),)
    base_latent, base_pixels = run(paths, None, prompts, args.size, args.frames, loras)
    what = f" with {Path(loras[0].path).name} at {loras[0].strength}" if loras else ""
    print(f"{args.size}x{args.size}x{args.frames}, group size {args.group_size}, against float32{what}:")
    print(f"{'mode':24s} {'latent rel. max err':>20s} {'latent rel. RMS err':>20s} {'frames PSNR dB':>15s}")

    def report(label: str, latent: np.ndarray, pixels: np.ndarray) -> None:
        rel_max = np.abs(latent - base_latent).max() / np.abs(base_latent).max()
        rel_rms = np.sqrt(np.mean((latent - base_latent) ** 2) / np.mean(base_latent**2))
        print(f"{label:24s} {rel_max:20.2e} {rel_rms:20.2e} {psnr(pixels, base_pixels):15.1f}", flush=True)

    for bits in (8, 4):
        spec = QuantizationSpec(bits, args.group_size)
        report(f"int{bits}" + (" + LoRA side path" if loras else ""), *run(paths, spec, prompts, args.size, args.frames, loras))
        if loras:
            from dataclasses import replace

            from ltx_core.loader.convert import convert_checkpoint
            from ltx_core.loader.lora import LoraSpec

            with tempfile.TemporaryDirectory() as folder:
                fused = Path(folder) / f"fused-int{bits}.safetensors"
                convert_checkpoint(paths.checkpoint, fused, spec, dtype=mx.float32,
                                   loras=[LoraSpec(l.path, l.strength) for l in loras])  # fmt: skip
                report(f"int{bits} fused (convert)", *run(replace(paths, checkpoint=fused), None, prompts, args.size,
                                                         args.frames, loras))  # fmt: skip


if __name__ == "__main__":
    main()
