"""``python -m ltx_core generate``: every pipeline from the command line, with a progress bar."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import LTXError

QUANTIZE_CHOICES = ("none", "8", "4")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models (no --weights: the built-in demo models)")
    models.add_argument("--weights", help="LTX-2 checkpoint (.safetensors), e.g. ltx-2-19b-distilled.safetensors")
    models.add_argument("--gemma-path", default=os.environ.get("LTX_GEMMA_DIR"), help="Gemma 3 12B folder")
    models.add_argument("--spatial-upscaler-weights", help="ltx-2-spatial-upscaler-x2-1.0.safetensors")
    models.add_argument("--temporal-upscaler-weights", help="ltx-2-temporal-upscaler-x2-1.0.safetensors")
    models.add_argument("--distilled-lora", help="ltx-2-19b-distilled-lora-384.safetensors (two-stage, keyframes)")
    models.add_argument("--preset", help="memory preset name (default: picked from this machine's RAM)")
    models.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default=None)
    models.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None, help="transformer quantization")
    models.add_argument("--text-quantize", choices=QUANTIZE_CHOICES, default=None, help="Gemma quantization")


def add_generate_parser(commands) -> None:
    parser = commands.add_parser("generate", help="text/image-to-video with any pipeline")
    parser.add_argument("--pipeline", default="distilled", help="distilled, one-stage, two-stage or keyframes")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--negative-prompt", default="")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--frames", type=int, default=121, help="8k+1")
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--steps", type=int, default=40, help="denoising steps of the guided (dev) stage")
    parser.add_argument("--steps-stage1", type=int, help="same as --steps")
    parser.add_argument("--steps-stage2", type=int, help="refinement steps of two-stage pipelines (1-3, default 3)")
    parser.add_argument("--cfg", type=float, default=3.0, help="video CFG scale (audio uses --audio-cfg)")
    parser.add_argument("--audio-cfg", type=float, default=7.0)
    parser.add_argument("--stg", type=float, default=1.0, help="STG scale")
    parser.add_argument("--stg-blocks", default="29", help="comma-separated transformer blocks perturbed by STG")
    parser.add_argument("--rescale", type=float, default=0.7)
    parser.add_argument("--modality-scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, help="the .mp4 to write (a .json sidecar is written beside it)")
    parser.add_argument("--embedding", help="pre-computed prompt embeddings (.npz/.safetensors) instead of Gemma")
    parser.add_argument("--generate-audio", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--enhance-prompt", action="store_true")
    parser.add_argument("--lora", action="append", default=[], metavar="PATH[:STRENGTH]")
    parser.add_argument("--image", action="append", default=[], metavar="PATH[:FRAME[:STRENGTH]]",
                        help="conditioning image (frame 0 by default)")  # fmt: skip
    parser.add_argument("--keyframe", action="append", default=[], metavar="PATH:FRAME[:STRENGTH]")
    parser.add_argument("--control-video", help="IC-LoRA control video (depth, pose or edges)")
    parser.add_argument("--canny", action="store_true", help="turn --control-video into Canny edges first")
    parser.add_argument("--control-strength", type=float, default=1.0)
    parser.add_argument("--control-attention", type=float, default=1.0, help="IC-LoRA reference attention weight")
    add_model_arguments(parser)


def _split(spec: str, defaults: list) -> list:
    """``path:a:b`` -> [path, a, b] with defaults; a Windows drive letter stays in the path."""
    parts = spec.split(":")
    if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha():
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    values = [parts[0]]
    for index, default in enumerate(defaults):
        raw = parts[index + 1] if index + 1 < len(parts) else None
        values.append(type(default)(raw) if raw not in (None, "") else default)
    return values


def build_ledger(args: argparse.Namespace):
    from ltx_core.demo import demo_paths
    from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
    from ltx_core.presets import load_presets, pick_preset, preset_by_name, system_memory_bytes
    from ltx_core.loader.components import resolve_dtype
    from ltx_core.loader.quantization import QuantizationSpec

    presets = load_presets()
    preset = preset_by_name(args.preset, presets) if args.preset else pick_preset(system_memory_bytes(), presets)
    if args.weights:
        paths = ModelPaths(
            checkpoint=Path(args.weights),
            gemma=Path(args.gemma_path) if args.gemma_path else None,
            spatial_upsampler=Path(args.spatial_upscaler_weights) if args.spatial_upscaler_weights else None,
            temporal_upsampler=Path(args.temporal_upscaler_weights) if args.temporal_upscaler_weights else None,
            distilled_lora=Path(args.distilled_lora) if args.distilled_lora else None,
        )
    else:
        print("No --weights given: using the built-in demo models (outputs are not meaningful).", file=sys.stderr)
        paths = demo_paths()
    dtype_name = args.dtype if args.dtype not in (None, "auto") else preset.resolved_compute_dtype()
    demo = not args.weights  # the tiny demo models run unquantized and resident whatever the preset

    def quantization(choice, fallback):
        if choice is None:
            return None if demo else fallback
        return None if choice == "none" else QuantizationSpec(int(choice), 64)

    return ModelLedger(
        paths,
        dtype=resolve_dtype(dtype_name),
        transformer_quantization=quantization(args.quantize, preset.transformer_quantization),
        text_encoder_quantization=quantization(args.text_quantize, preset.text_encoder_quantization),
        unload_policy=preset.unload_policy,
        block_streaming=preset.block_streaming and not demo,
        batch_guidance_passes=preset.batch_guidance_passes,
        preset=preset,
    ), preset


def request_from_args(args: argparse.Namespace):
    from ltx_core.pipelines.request import GenerationRequest, ImageCondition, LoraChoice

    images = [ImageCondition(p, f, s) for p, f, s in (_split(x, [0, 1.0]) for x in args.image)]
    images += [ImageCondition(p, f, s) for p, f, s in (_split(x, [0, 1.0]) for x in args.keyframe)]
    loras = [LoraChoice(p, s) for p, s in (_split(x, [1.0]) for x in args.lora)]
    blocks = tuple(int(b) for b in args.stg_blocks.split(",") if b.strip())
    video = MultiModalGuiderParams(args.cfg, args.stg, blocks, args.rescale, args.modality_scale)
    return GenerationRequest(
        prompt=args.prompt, negative_prompt=args.negative_prompt, seed=args.seed, height=args.height,
        width=args.width, frames=args.frames, fps=args.fps, steps=args.steps_stage1 or args.steps,
        refine_steps=args.steps_stage2,
        video_guidance=video, audio_guidance=replace(video, cfg_scale=args.audio_cfg),
        images=tuple(images), loras=tuple(loras), generate_audio=args.generate_audio,
        enhance_prompt=args.enhance_prompt, embeddings=args.embedding,
        control_video=control_video(args), control_strength=args.control_strength,
        control_attention=args.control_attention,
    )  # fmt: skip


def control_video(args: argparse.Namespace) -> str | None:
    """The control video to use; with ``--canny`` its edges, written next to the output first."""
    if args.control_video is None or not args.canny:
        return args.control_video
    from ltx_core.media import canny_video, iter_video_frames, probe_video, write_mp4

    source = Path(args.control_video)
    edges = Path(args.output).with_name(Path(args.output).stem + "-edges.mp4")
    Path(edges).parent.mkdir(parents=True, exist_ok=True)
    write_mp4(edges, canny_video(iter_video_frames(source, max_frames=args.frames)), probe_video(source).fps, sidecar=False)
    return str(edges)


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ltx_core.pipelines.runner import run_generation

    ledger, preset = build_ledger(args)
    request = request_from_args(args)
    tiling = preset_tiling(preset)
    bars: dict[str, tqdm] = {}

    def progress(event) -> None:
        bar = bars.get(event.stage)
        if bar is None:
            for old in bars.values():
                old.close()
            bar = bars[event.stage] = tqdm(total=event.total, desc=event.stage, unit="step", file=sys.stderr)
        bar.n = event.step
        bar.refresh()

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    record = run_generation(ledger, args.pipeline, request, output, tiling, progress, extra_settings={"preset": preset.name})
    for bar in bars.values():
        bar.close()
    for notice in record.notices:
        print(f"notice: {notice}", file=sys.stderr)
    print(f"wrote {record.video} ({record.seconds:.1f} s, peak {record.peak_memory / 2**30:.2f} GiB)")
    for stage in record.stages:
        print(f"  {stage.stage:14s} {stage.seconds:7.1f} s  peak {stage.peak_bytes / 2**20:9.1f} MiB")
    return 0


def add_upscale_parser(commands) -> None:
    parser = commands.add_parser("upscale", help="spatial and/or temporal x2 of an existing video")
    parser.add_argument("--input", required=True, help="video to upscale (a generated one keeps its prompt)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--spatial", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--temporal", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--prompt", help="prompt for the refinement (default: from the input's sidecar)")
    parser.add_argument("--seed", type=int, default=0)
    add_model_arguments(parser)


def add_encode_prompt_parser(commands) -> None:
    parser = commands.add_parser("encode-prompt", help="save prompt embeddings to reuse with --embedding")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--output", required=True, help=".safetensors or .npz")
    add_model_arguments(parser)


def preset_tiling(preset):
    return preset.vae_tiling.config()


def run_upscale_command(args: argparse.Namespace) -> int:
    from ltx_core.pipelines.upscale import UpscaleRequest, run_upscale

    ledger, preset = build_ledger(args)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    request = UpscaleRequest(args.input, spatial=args.spatial, temporal=args.temporal, prompt=args.prompt, seed=args.seed)
    record = run_upscale(ledger, request, output, preset_tiling(preset))
    for notice in record.notices:
        print(f"notice: {notice}", file=sys.stderr)
    print(f"wrote {record.video} ({record.seconds:.1f} s)")
    return 0


def run_encode_prompt(args: argparse.Namespace) -> int:
    from ltx_core.model.text_encoder.cache import save_embeddings

    ledger, _ = build_ledger(args)
    embeddings = ledger.get("prompt_encoder").encode(args.prompt, args.negative_prompt)
    save_embeddings(args.output, embeddings)
    print(f"wrote {args.output}")
    return 0
