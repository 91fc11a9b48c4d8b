"""``python -m ltx_core generate``: every pipeline from the command line, with a progress bar."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.model_spec import VersionSpec
from ltx_core.runtime import DTYPE_CHOICES, QUANTIZE_CHOICES


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models (no --weights: the built-in demo models)")
    models.add_argument(
        "--weights",
        help="LTX-2 checkpoint (.safetensors), e.g. ltx-2-19b-distilled.safetensors, or an LTX-2.5 weights folder "
        "(diffusion_models/, text_encoders/, vae/, latent_upscale_models/, model_patches/; roles read from headers)",
    )
    models.add_argument("--gemma-path", default=os.environ.get("LTX_GEMMA_DIR"), help="Gemma 3 12B folder")
    models.add_argument("--enhancer-gemma", help="a Gemma 3 folder (e.g. gemma-3-12b-it) that rewrites prompts for "
                        "--enhance-prompt; needed on LTX-2.5, whose Gemma 4 text encoder cannot generate text")  # fmt: skip
    models.add_argument("--spatial-upscaler-weights", help="ltx-2-spatial-upscaler-x2-1.0.safetensors (or the LTX-2.3 "
                        "x1.5 one, used with --spatial-upscale 1.5)")  # fmt: skip
    models.add_argument("--temporal-upscaler-weights", help="ltx-2-temporal-upscaler-x2-1.0.safetensors")
    models.add_argument("--distilled-lora", help="ltx-2-19b-distilled-lora-384.safetensors (two-stage, keyframes)")
    models.add_argument("--preset", help=f"memory preset: {', '.join(_preset_names())} (default: picked from this machine's RAM)")
    models.add_argument("--dtype", choices=DTYPE_CHOICES, default=None)
    models.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None, help="transformer quantization")
    models.add_argument("--text-quantize", choices=QUANTIZE_CHOICES, default=None, help="Gemma quantization")
    models.add_argument(
        "--video-decoder", choices=("diffusion", "conv"), default=None,
        help="LTX-2.5 folders: decode with the diffusion video VAE (default when the folder has it, as the official "
        "app) or the conv video VAE (faster)",
    )  # fmt: skip


def _preset_names() -> list[str]:
    from ltx_core.presets import PRESETS_DIR

    return sorted(path.stem for path in PRESETS_DIR.glob("*.json"))


def add_generate_parser(commands) -> None:
    from ltx_core.cli_edit import EDIT_PIPELINES, add_edit_arguments
    from ltx_core.pipelines.registry import GENERATION_PIPELINES

    parser = commands.add_parser("generate", help="text/image-to-video with any pipeline, or edit a clip in time")
    parser.add_argument("--pipeline", default="distilled", choices=GENERATION_PIPELINES + EDIT_PIPELINES)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--negative-prompt", default="")
    parser.add_argument("--height", type=int, default=None, help="default 512 (two-stage-hq: the version's HQ size)")
    parser.add_argument("--width", type=int, default=None, help="default 768 (two-stage-hq: the version's HQ size)")
    parser.add_argument("--frames", type=_frames, default=None,
                        help="8k+1 (default 121), or 'auto': the LTX-2.5 duration head predicts 1-20 s from the prompt; "
                        "audio-to-video: 'auto' (the default) follows the audio")  # fmt: skip
    parser.add_argument("--fps", type=float, default=None, help="frames per second (default: the model version's)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps of the guided (dev) stage "
                        "(default: the model version's, e.g. 40 for LTX-2, 30 for LTX-2.3, 15 for two-stage-hq)")  # fmt: skip
    parser.add_argument("--steps-stage1", type=int, help="same as --steps")
    parser.add_argument("--steps-stage2", type=int, help="refinement steps of two-stage pipelines (1-3, default 3)")
    parser.add_argument("--spatial-upscale", type=float, default=2.0, choices=(2.0, 1.5),
                        help="two-stage pipelines: stage 1 at half size through the x2 upsampler (default), or at two "
                        "thirds through the LTX-2.3 x1.5 one (sizes then multiples of 96)")  # fmt: skip
    guidance = parser.add_argument_group("guidance of the dev pipelines (defaults: the model version's)")
    guidance.add_argument("--cfg", type=float, help="video CFG scale (audio uses --audio-cfg)")
    guidance.add_argument("--audio-cfg", type=float)
    guidance.add_argument("--stg", type=float, help="STG scale")
    guidance.add_argument("--stg-blocks", help="comma-separated transformer blocks perturbed by STG")
    guidance.add_argument("--rescale", type=float)
    guidance.add_argument("--modality-scale", type=float)
    guidance.add_argument("--skip-step", type=int, help="guide only every (N+1)-th step, reuse the last prediction between")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, help="the .mp4 to write (a .json sidecar is written beside it)")
    parser.add_argument("--embedding", help="pre-computed prompt embeddings (.npz/.safetensors) instead of Gemma")
    parser.add_argument("--generate-audio", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--enhance-prompt", action="store_true")
    parser.add_argument("--lora", action="append", default=[], metavar="PATH[:STRENGTH[:STAGE2_STRENGTH]]",
                        help="a LoRA (repeatable) at STRENGTH (default 1) in stage 1 and STAGE2_STRENGTH (default: the "
                        "same; 0: off) in the refinement stage of two-stage pipelines; with ic-lora and no "
                        "--control-lora, the IC-LoRA")  # fmt: skip
    parser.add_argument("--control-lora", action="append", default=[], metavar="PATH[:STRENGTH]",
                        help="IC-LoRA of the ic-lora pipeline (stage 1 only); --lora then gives style LoRAs")  # fmt: skip
    parser.add_argument("--image", action="append", default=[], metavar="PATH[:FRAME[:STRENGTH]]",
                        help="conditioning image (frame 0 by default)")  # fmt: skip
    parser.add_argument("--keyframe", action="append", default=[], metavar="PATH:FRAME[:STRENGTH]")
    parser.add_argument("--control-video", help="IC-LoRA control video (depth, pose or edges)")
    parser.add_argument("--canny", action="store_true", help="turn --control-video into Canny edges first")
    parser.add_argument("--control-strength", type=float, default=1.0)
    parser.add_argument("--control-attention", type=float, default=1.0, help="IC-LoRA reference attention weight")
    parser.add_argument("--num-generated-keyframes", type=int, default=0, metavar="N",
                        help="LTX-2.5: N keyframes generated at evenly spaced interior frames in the first stage "
                             "(distilled, one-stage, two-stage, two-stage-hq; default 0)")  # fmt: skip
    parser.add_argument("--temporal-rounds", type=int, default=0, choices=(0, 1, 2),
                        help="dfr: temporal x2 rounds after the spatial stage (each doubles frames and fps; "
                             "needs --temporal-upscaler-weights)")  # fmt: skip
    audio = parser.add_argument_group("audio-to-video")
    audio.add_argument("--audio", help="the audio the video follows: wav, mp3, m4a/aac, flac, or a video with sound")
    audio.add_argument("--audio-start", type=float, default=0.0, help="seconds into --audio (default 0)")
    audio.add_argument("--audio-max-seconds", type=float, help="use at most this much of --audio (default: to its end)")
    add_edit_arguments(parser)
    add_model_arguments(parser)


def _frames(value: str) -> int | str:
    """``--frames``: a whole number, or "auto" (the duration head decides)."""
    from ltx_core.pipelines.request import AUTO_FRAMES

    if value.strip().lower() == AUTO_FRAMES:
        return AUTO_FRAMES
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"frames must be a whole number (8k+1) or {AUTO_FRAMES!r}, got {value!r}") from None


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


def lora_choice(spec: str):
    """``PATH[:STRENGTH[:STAGE2_STRENGTH]]`` -> LoraChoice (stage-2 strength None: as stage 1)."""
    from ltx_core.errors import ConfigError
    from ltx_core.pipelines.request import LoraChoice

    try:
        path, strength, stage2 = _split(spec, [1.0, ""])
        return LoraChoice(path, strength, float(stage2) if stage2 != "" else None)
    except ValueError:
        raise ConfigError(
            f"--lora {spec}: give PATH, PATH:STRENGTH or PATH:STRENGTH:STAGE2_STRENGTH with numbers as strengths."
        ) from None


def build_ledger(args: argparse.Namespace):
    """The ledger for the CLI's model options (the demo models without ``--weights``)."""
    from ltx_core.demo import demo_defaults_for, demo_paths
    from ltx_core.model_paths import sort_spatial_upsampler
    from ltx_core.pipelines.ledger import MissingModelError, ModelPaths, build_ledger as ledger_for
    from ltx_core.presets import load_presets, pick_preset, preset_by_name, system_memory_bytes

    presets = load_presets()
    preset = preset_by_name(args.preset, presets) if args.preset else pick_preset(system_memory_bytes(), presets)
    if args.weights and Path(args.weights).is_dir():
        overrides = {
            key: Path(value)
            for key, value in (("temporal_upsampler", args.temporal_upscaler_weights),
                               ("distilled_lora", args.distilled_lora))
            if value
        }  # fmt: skip
        overrides.update(sort_spatial_upsampler(args.spatial_upscaler_weights))
        if getattr(args, "enhancer_gemma", None):
            overrides["enhancer"] = Path(args.enhancer_gemma)
        paths = ModelPaths.from_folder(args.weights, video_decoder=getattr(args, "video_decoder", None), **overrides)
    elif args.weights:
        if getattr(args, "video_decoder", None) == "diffusion":
            raise MissingModelError(
                f"{Path(args.weights).name} is a single-file checkpoint, whose video VAE has the conv decoder only: the "
                "diffusion video decoder comes with LTX-2.5 weights folders (leave --video-decoder on its default)."
            )
        paths = ModelPaths(
            checkpoint=Path(args.weights),
            gemma=Path(args.gemma_path) if args.gemma_path else None,
            **sort_spatial_upsampler(args.spatial_upscaler_weights),
            enhancer=Path(args.enhancer_gemma) if getattr(args, "enhancer_gemma", None) else None,
            temporal_upsampler=Path(args.temporal_upscaler_weights) if args.temporal_upscaler_weights else None,
            distilled_lora=Path(args.distilled_lora) if args.distilled_lora else None,
        )
    else:
        paths = demo_paths()
        trained = demo_defaults_for(paths) is not None
        what = "tiny models trained on synthetic clips of coloured shapes" if trained else "outputs are not meaningful"
        print(f"No --weights given: using the built-in demo models ({what}).", file=sys.stderr)
        if args.gemma_path:
            print("notice: --gemma-path is ignored with the demo models (they bring their own text encoder).",
                  file=sys.stderr)  # fmt: skip
    ledger = ledger_for(
        paths, preset, demo=not args.weights, dtype=args.dtype, quantize=args.quantize, text_quantize=args.text_quantize
    )
    return ledger, preset


def guidance_from_args(
    args: argparse.Namespace, version: VersionSpec, pipeline: str | None = None
) -> tuple[MultiModalGuiderParams, ...]:
    """Video and audio guidance: the version's defaults (the pipeline's, e.g. HQ) with the options given."""
    from ltx_core.pipelines.registry import pipeline_descriptor

    defaults = pipeline_descriptor(pipeline).request_defaults(version) if pipeline else {}
    base_video = defaults.get("video_guidance", version.video_guidance)
    base_audio = defaults.get("audio_guidance", version.audio_guidance)
    blocks = None if args.stg_blocks is None else tuple(int(b) for b in args.stg_blocks.split(",") if b.strip())
    common = {"stg_scale": args.stg, "stg_blocks": blocks, "rescale_scale": args.rescale,
              "modality_scale": args.modality_scale, "skip_step": args.skip_step}  # fmt: skip
    common = {k: v for k, v in common.items() if v is not None}
    video = replace(base_video, **common, **({} if args.cfg is None else {"cfg_scale": args.cfg}))
    audio = replace(base_audio, **common, **({} if args.audio_cfg is None else {"cfg_scale": args.audio_cfg}))
    return video, audio


def request_from_args(args: argparse.Namespace, version: VersionSpec):
    from ltx_core.pipelines.request import GenerationRequest, ImageCondition, LoraChoice, RequestError

    images = [ImageCondition(p, f, s) for p, f, s in (_split(x, [0, 1.0]) for x in args.image)]
    images += [ImageCondition(p, f, s) for p, f, s in (_split(x, [0, 1.0]) for x in args.keyframe)]
    loras = [lora_choice(spec) for spec in args.lora]
    control_loras = [LoraChoice(p, s) for p, s in (_split(x, [1.0]) for x in getattr(args, "control_lora", []))]
    pipeline = getattr(args, "pipeline", None)
    if getattr(args, "audio", None) and pipeline is not None:
        from ltx_core.pipelines.registry import pipeline_descriptor

        if not pipeline_descriptor(pipeline).uses("audio"):
            raise RequestError(f"--audio is read by the audio-to-video pipeline, not {pipeline}: add --pipeline audio-to-video.")
    video, audio = guidance_from_args(args, version, pipeline)
    return GenerationRequest.for_version(
        version, pipeline, prompt=args.prompt, negative_prompt=args.negative_prompt, seed=args.seed, height=args.height,
        width=args.width, frames=args.frames, fps=args.fps, steps=args.steps_stage1 or args.steps,
        refine_steps=args.steps_stage2, video_guidance=video, audio_guidance=audio,
        images=tuple(images), loras=tuple(loras), generate_audio=args.generate_audio,
        enhance_prompt=args.enhance_prompt, embeddings=args.embedding,
        control_video=control_video(args), control_strength=args.control_strength, control_loras=tuple(control_loras),
        control_attention=args.control_attention, audio=getattr(args, "audio", None),
        audio_start=getattr(args, "audio_start", 0.0), audio_max_seconds=getattr(args, "audio_max_seconds", None),
        spatial_upscale=args.spatial_upscale, generated_keyframes=getattr(args, "num_generated_keyframes", 0),
        temporal_rounds=getattr(args, "temporal_rounds", 0),
    )  # fmt: skip


def control_video(args: argparse.Namespace) -> str | None:
    """The control video to use; with ``--canny`` its edges, written next to the output first."""
    if args.control_video is None or not args.canny:
        return args.control_video
    from ltx_core.media import canny_video, iter_video_frames, probe_video, write_mp4

    source = Path(args.control_video)
    edges = Path(args.output).with_name(Path(args.output).stem + "-edges.mp4")
    from ltx_core.media.output_folder import check_writable

    check_writable(Path(edges).parent)
    write_mp4(edges, canny_video(iter_video_frames(source, max_frames=args.frames if isinstance(args.frames, int) else 121 if args.frames is None else None)), probe_video(source).fps, sidecar=False)
    return str(edges)


def with_demo_defaults(args: argparse.Namespace, ledger) -> argparse.Namespace:
    """On a trained demo set, the size and prompt left unset are the set's own (its grammar, its size)."""
    from ltx_core.demo import demo_defaults_for

    demo = demo_defaults_for(ledger.paths) if not args.weights else None
    if demo is None:
        return args
    chosen = {"height": demo.height, "width": demo.width, "frames": demo.frames, "prompt": demo.prompt}
    return argparse.Namespace(**{**vars(args), **{k: v for k, v in chosen.items() if not getattr(args, k)}})


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ltx_core.cli_edit import EDIT_PIPELINES, edit_request_from_args
    from ltx_core.pipelines.runner import run_job

    ledger, preset = build_ledger(args)
    if args.pipeline in EDIT_PIPELINES:
        request = edit_request_from_args(args, ledger.version)
    else:
        request = request_from_args(with_demo_defaults(args, ledger), ledger.version)
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
    record = run_job(ledger, args.pipeline, request, output, progress)
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


def run_upscale_command(args: argparse.Namespace) -> int:
    from ltx_core.pipelines.runner import run_job
    from ltx_core.pipelines.upscale import UpscaleRequest

    ledger, _ = build_ledger(args)
    output = Path(args.output)
    request = UpscaleRequest(args.input, spatial=args.spatial, temporal=args.temporal, prompt=args.prompt, seed=args.seed)
    record = run_job(ledger, "upscale", request, output)
    for notice in record.notices:
        print(f"notice: {notice}", file=sys.stderr)
    print(f"wrote {record.video} ({record.seconds:.1f} s)")
    return 0


def run_encode_prompt(args: argparse.Namespace) -> int:
    from ltx_core.model.text_encoder.cache import save_embeddings

    ledger, _ = build_ledger(args)
    embeddings = ledger.prompt_encoder().encode(args.prompt, args.negative_prompt)
    save_embeddings(args.output, embeddings)
    print(f"wrote {args.output}")
    return 0
