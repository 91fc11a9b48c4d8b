"""Command line: ``python -m ltx_core info CHECKPOINT``."""

from __future__ import annotations

import argparse
import json
import sys

import ltx_core  # noqa: F401  (backend set-up before mlx)
from ltx_core.errors import ConfigError, LTXError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_core", description="LTX-2 in MLX")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe a checkpoint without loading its weights")
    info.add_argument("checkpoint", help="path to an LTX-2 .safetensors checkpoint")
    convert = commands.add_parser(
        "convert", help="write a copy of a checkpoint with the transformer stored quantized (loads directly)"
    )
    convert.add_argument("checkpoint", help="bf16 (or fp8) LTX-2 checkpoint")
    convert.add_argument("output", help="the .safetensors file to write")
    convert.add_argument("--bits", type=int, default=8, help="4 or 8 (default 8; 4-bit may show artifacts)")
    convert.add_argument("--group-size", type=int, default=64)
    convert.add_argument("--dtype", default="bfloat16", help="dtype of scales/biases and dequantized fp8 tensors")
    convert.add_argument(
        "--lora", action="append", default=[], metavar="FILE[:STRENGTH]",
        help="fuse this LoRA (repeatable, default strength 1) into the weights before quantizing: no side path at "
        "run time; the file records it, so giving it again at generation applies only a strength difference",
    )  # fmt: skip
    from ltx_core import cli_generate as cli

    cli.add_generate_parser(commands)
    cli.add_upscale_parser(commands)
    cli.add_encode_prompt_parser(commands)
    from ltx_core import cli_edit

    cli_edit.add_timeline_parser(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            return cli.run_generate(args)
        if args.command == "upscale":
            return cli.run_upscale_command(args)
        if args.command == "encode-prompt":
            return cli.run_encode_prompt(args)
        if args.command == "timeline":
            return cli_edit.run_timeline_command(args)
        if args.command == "info":
            from ltx_core.info import describe_checkpoint

            print(json.dumps(describe_checkpoint(args.checkpoint), indent=2))
        elif args.command == "convert":
            from ltx_core.loader.components import resolve_dtype
            from ltx_core.loader.convert import convert_checkpoint
            from ltx_core.loader.quantization import QuantizationSpec

            from ltx_core.cli_generate import lora_choice
            from ltx_core.loader.lora import LoraSpec

            spec = QuantizationSpec(bits=args.bits, group_size=args.group_size)
            loras = []
            for value in args.lora:
                choice = lora_choice(value)
                if choice.stage2_strength is not None:
                    raise ConfigError(f"convert --lora {value}: a fused LoRA has one strength; give FILE[:STRENGTH].")
                loras.append(LoraSpec(choice.path, choice.strength))

            def report(done: int, total: int) -> None:
                print(f"\r{done}/{total} tensors", end="", file=sys.stderr, flush=True)

            summary = convert_checkpoint(args.checkpoint, args.output, spec, resolve_dtype(args.dtype), report, loras)
            print(file=sys.stderr)
            print(json.dumps(summary, indent=2))
    except LTXError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
