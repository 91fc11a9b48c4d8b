"""LoRAs under block streaming on a real-width slice of the 19B transformer: per-block overhead and peak memory.

    .venv/bin/python -m bench.lora_streaming [--blocks 2] [--rank 128] [--size 384x256x17] [--repeats 1]

Writes a ``--blocks`` real-width slice (random weights, bf16 as released), its 4-bit conversion
(group 64, what the 'compact' preset streams) and three LoRAs of rank ``--rank`` on every linear
layer of the blocks (random, official key layout). Then, for each mode, runs forwards with 0, 1
and 3 LoRAs applied and prints the streamer's seconds per block spent putting LoRAs in and peak
MLX memory:

- float32 streamed from the bf16 file: LoRAs fused into each block's weights as it loads (full
  forwards: seconds per step and peak);
- 4-bit streamed (compact): LoRAs as side paths read per block from the memory-mapped files. The
  CPU backend has no fast quantized matmul (a real-width 4-bit forward takes many minutes), so the
  blocks are streamed in and out without running them: read and LoRA seconds per block, the
  side-path matmuls timed at the step's token count, and the peak.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from bench.real_width import real_inputs  # noqa: E402
from bench.streaming import write_slice_checkpoint  # noqa: E402
from ltx_core.backend import default_compute_dtype  # noqa: E402
from ltx_core.loader import load_transformer  # noqa: E402
from ltx_core.loader.checkpoint import TRANSFORMER_PREFIX  # noqa: E402
from ltx_core.loader.convert import convert_checkpoint  # noqa: E402
from ltx_core.loader.lora import LoraSpec, apply_loras, lora_footprint  # noqa: E402
from ltx_core.loader.quantization import QuantizationSpec  # noqa: E402
from ltx_core.loader.safetensors_file import SafetensorsFile  # noqa: E402


def write_block_lora(checkpoint: Path, path: Path, rank: int, seed: int) -> int:
    """A LoRA on every 2-D block weight of ``checkpoint`` (every linear layer); returns its bytes."""
    file = SafetensorsFile(checkpoint)
    rng = np.random.default_rng(seed)
    tensors = {}
    for key in file.keys():
        short = key[len(TRANSFORMER_PREFIX) :]
        info = file.info(key)
        if not short.startswith("transformer_blocks.") or not short.endswith(".weight") or len(info.shape) != 2:
            continue
        out_features, in_features = info.shape
        module = short[: -len(".weight")]
        tensors[f"diffusion_model.{module}.lora_A.weight"] = mx.array(
            rng.normal(0, 0.01, (rank, in_features)).astype(np.float32)
        ).astype(mx.bfloat16)
        tensors[f"diffusion_model.{module}.lora_B.weight"] = mx.array(
            rng.normal(0, 0.01, (out_features, rank)).astype(np.float32)
        ).astype(mx.bfloat16)
    file.close()
    mx.save_safetensors(str(path), tensors)
    return sum(v.nbytes for v in tensors.values())


def measure(model, inputs, repeats: int) -> tuple[float, int]:
    """(seconds per step, peak bytes during the steps)."""
    mx.eval(model(*inputs))  # warm-up: allocator, text K/V cache
    gc.collect()
    mx.clear_cache()
    mx.reset_peak_memory()
    started = time.perf_counter()
    for _ in range(repeats):
        mx.eval(model(*inputs))
    return (time.perf_counter() - started) / repeats, mx.get_peak_memory()


def streamed_blocks(model, tokens: int, repeats: int) -> tuple[float, float, float, int]:
    """Every block streamed in and out without running it: (read s/block, LoRA s/block, side-path
    compute s/block for ``tokens`` tokens through every layer, peak bytes). The CPU backend has no
    fast quantized matmul, so 4-bit forwards are not timed; the rest of a step is the same compute
    with or without LoRAs."""
    hook = model.block_hook
    gc.collect()
    mx.clear_cache()
    mx.reset_peak_memory()
    hook.stats.__init__()
    side_seconds = 0.0
    for _ in range(repeats):
        for block in model.transformer_blocks:
            hook.before(block)
            for _, layer in block.named_modules():
                paths = getattr(layer, "side_paths", None)
                if paths is None or paths.down_t is None:
                    continue
                x = mx.random.normal((1, tokens, paths.down_t.shape[0])).astype(paths.down_t.dtype)
                mx.eval(x)
                started = time.perf_counter()
                mx.eval((x @ paths.down_t) @ paths.up_t)
                side_seconds += time.perf_counter() - started
            hook.after(block)
    stats = hook.stats
    blocks = max(stats.blocks, 1)
    return (stats.seconds - stats.lora_seconds) / blocks, stats.lora_seconds / blocks, side_seconds / blocks, mx.get_peak_memory()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--rank", type=int, default=128)
    parser.add_argument("--size", default="384x256x17", help="WxHxF")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    dtype = default_compute_dtype()
    width, height, frames = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "slice.safetensors"
        stored = write_slice_checkpoint(source, args.blocks)
        converted = folder / "slice-4bit.safetensors"
        convert_checkpoint(source, converted, QuantizationSpec(4, 64), dtype=mx.bfloat16)
        loras = [folder / f"lora-{i}.safetensors" for i in range(3)]
        lora_bytes = [write_block_lora(source, path, args.rank, seed=i) for i, path in enumerate(loras)]
        footprint = lora_footprint(loras[:1])
        inputs = real_inputs(height, width, frames, dtype=dtype)
        mx.eval([inputs[0].latent, inputs[0].context, inputs[1].latent, inputs[1].context])
        tokens = inputs[0].latent.shape[1]
        print(
            f"{args.blocks}-block real-width slice: {stored / 2**30:.2f} GiB bf16; LoRA rank {args.rank} on every block "
            f"linear layer: {lora_bytes[0] / 2**30:.3f} GiB per file (bf16), "
            f"{footprint.largest_block_elements * 4 / 2**30:.3f} GiB per block as float32 side path; compute {dtype}; "
            f"{width}x{height}x{frames} ({tokens} video tokens)",
            flush=True,
        )
        print("\nfloat32 streamed from the bf16 file, LoRAs fused into each block as it loads (full forwards):")
        print(f"{'LoRAs':>5s} {'s/step':>7s} {'LoRA s/block':>12s} {'peak GiB':>8s}")
        for count in (0, 1, 3):
            gc.collect()
            mx.clear_cache()
            model = load_transformer(source, dtype=dtype, streaming=True)
            applied = apply_loras(model, [LoraSpec(p, 0.5) for p in loras[:count]]) if count else None
            model.block_hook.stats.__init__()
            seconds, peak = measure(model, inputs, args.repeats)
            stats = model.block_hook.stats
            print(f"{count:5d} {seconds:7.2f} {stats.lora_seconds / max(stats.blocks, 1):12.3f} {peak / 2**30:8.2f}",
                  flush=True)  # fmt: skip
            if applied is not None:
                applied.remove()
            model.clear_run_cache()
            del model, applied
        print("\n4-bit converted file streamed ('compact'), LoRAs as side paths (blocks streamed in and out):")
        print(f"{'LoRAs':>5s} {'read s/block':>12s} {'LoRA s/block':>12s} {'side-path compute s/block':>26s} "
              f"{'peak GiB':>8s}")  # fmt: skip
        for count in (0, 1, 3):
            gc.collect()
            mx.clear_cache()
            model = load_transformer(converted, dtype=dtype, streaming=True)
            resident = mx.get_active_memory()
            applied = apply_loras(model, [LoraSpec(p, 0.5) for p in loras[:count]]) if count else None
            streamed_blocks(model, tokens, 1)  # warm the page cache
            read, lora, side, peak = streamed_blocks(model, tokens, args.repeats)
            print(f"{count:5d} {read:12.3f} {lora:12.3f} {side:26.3f} {peak / 2**30:8.2f}  "
                  f"(non-block layers resident: {resident / 2**30:.2f} GiB)", flush=True)  # fmt: skip
            if applied is not None:
                applied.remove()
            del model, applied


if __name__ == "__main__":
    main()
