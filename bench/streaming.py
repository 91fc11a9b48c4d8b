"""Block streaming vs resident weights on a real-width slice of the 19B transformer.

    .venv/bin/python bench/streaming.py [--blocks 4] [--repeats 2] [--sizes 384x256x17,704x480x25] [--read-costs]

Writes ``--blocks`` real-width audio-video blocks (random weights, stored in bf16 as in the
released file) plus the non-block layers to a temporary single-file checkpoint, then loads it
twice in the CPU compute dtype (float32): resident (every block in memory) and streamed (each
block read from the memory-mapped file when it runs). Prints seconds per step and peak MLX
memory for both, their ratios, and the streamer's read time. The process RSS after each mode shows what stays
resident, mapped file pages included.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)
import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from bench.real_width import RELEASED, real_inputs, real_width_model  # noqa: E402
from ltx_core.backend import default_compute_dtype  # noqa: E402
from ltx_core.loader import load_transformer  # noqa: E402
from ltx_core.loader.checkpoint import TRANSFORMER_PREFIX  # noqa: E402
from ltx_core.model.transformer.weights import param_name  # noqa: E402


def official_key(name: str) -> str:
    """This port's parameter name -> the released checkpoint's key (inverse of ``param_name``)."""
    key = name.replace(".emb.", ".emb.timestep_embedder.").replace(".to_out.", ".to_out.0.")
    key = key.replace(".ff.proj_in.", ".ff.net.0.proj.").replace(".ff.proj_out.", ".ff.net.2.")
    if key.startswith("video."):
        key = key[len("video.") :]
    elif key.startswith("audio."):
        key = "audio_" + key[len("audio.") :]
    return TRANSFORMER_PREFIX + key


def write_slice_checkpoint(path: Path, blocks: int, dtype: mx.Dtype = mx.bfloat16) -> int:
    model = real_width_model(blocks, dtype)
    tensors = {}
    for name, value in tree_flatten(model.parameters()):
        key = official_key(name)
        assert param_name(key[len(TRANSFORMER_PREFIX) :]) == name, (name, key)
        tensors[key] = value
    config = {"transformer": {**RELEASED, "num_layers": blocks}}
    mx.save_safetensors(str(path), tensors, metadata={"config": json.dumps(config)})
    size = sum(v.nbytes for v in tensors.values())
    del model, tensors
    gc.collect()
    mx.clear_cache()
    return size


def current_rss() -> int | None:
    """Resident set size now (Linux ``/proc``), None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize()


def run(model, inputs, repeats: int) -> tuple[float, int, int]:
    """(seconds per step, peak bytes during the steps, active bytes after them)."""
    mx.eval(model(*inputs))  # warm-up: allocator, JIT, text K/V cache
    mx.clear_cache()
    mx.reset_peak_memory()
    started = time.perf_counter()
    for _ in range(repeats):
        mx.eval(model(*inputs))
    seconds = (time.perf_counter() - started) / repeats
    gc.collect()
    mx.clear_cache()
    return seconds, mx.get_peak_memory(), mx.get_active_memory()


def read_costs(path: Path, folder: Path) -> None:
    """Seconds to stream one block in, per stored format and compute dtype (no forward): what a
    step pays per block where compute does not hide it. Warm page cache: reading is a memcpy."""
    from ltx_core.loader.convert import convert_checkpoint
    from ltx_core.loader.quantization import QuantizationSpec

    converted = folder / "slice-4bit.safetensors"
    convert_checkpoint(path, converted, QuantizationSpec(4, 64), dtype=mx.bfloat16)
    cases = (
        ("bf16 file -> float32", path, mx.float32, None),
        ("bf16 file -> bfloat16", path, mx.bfloat16, None),
        ("bf16 file -> 4-bit at load", path, mx.bfloat16, QuantizationSpec(4, 64)),
        ("4-bit converted file", converted, mx.bfloat16, None),
    )
    print(f"\n{'one block streamed in':28s} {'GiB in memory':>12s} {'seconds':>8s}")
    for label, file, dtype, quantization in cases:
        model = load_transformer(file, dtype=dtype, quantization=quantization, streaming=True)
        block = model.transformer_blocks[0]
        model.block_hook.before(block)  # warm the page cache
        model.block_hook.after(block)
        model.block_hook.stats.__init__()
        for _ in range(2):
            model.block_hook.before(block)
            model.block_hook.after(block)
        stats = model.block_hook.stats
        print(f"{label:28s} {stats.bytes / stats.blocks / 2**30:12.3f} {stats.seconds / stats.blocks:8.2f}", flush=True)
        del model
        gc.collect()
        mx.clear_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sizes", default="384x256x17,704x480x25", help="WxHxF, comma-separated")
    parser.add_argument("--read-costs", action="store_true", help="also time streaming one block in per format")
    args = parser.parse_args()
    dtype = default_compute_dtype()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "slice.safetensors"
        stored = write_slice_checkpoint(path, args.blocks)
        print(f"{args.blocks}-block real-width slice: {stored / 2**30:.2f} GiB stored (bf16), compute {dtype}")
        if args.read_costs:
            read_costs(path, Path(folder))
        results = {}
        for mode in ("streamed", "resident"):
            model = load_transformer(path, dtype=dtype, streaming=mode == "streamed")
            mx.eval(model.parameters()) if mode == "resident" else None
            gc.collect()
            mx.clear_cache()
            loaded = mx.get_active_memory()
            for width, height, frames in sizes:
                inputs = real_inputs(height, width, frames, dtype=dtype)
                mx.eval([inputs[0].latent, inputs[0].context, inputs[1].latent, inputs[1].context])
                if mode == "streamed":
                    model.block_hook.stats.__init__()
                seconds, peak, after = run(model, inputs, args.repeats)
                read = model.block_hook.stats.seconds / (args.repeats + 1) if mode == "streamed" else 0.0
                results[(mode, width, height, frames)] = (seconds, peak, loaded, read, inputs[0].latent.shape[1])
                model.clear_run_cache()
            rss = current_rss()
            if rss is not None:
                print(f"{mode}: process RSS after the runs {rss / 2**30:.2f} GiB (mapped file pages included)", flush=True)
            del model
            gc.collect()
            mx.clear_cache()
    print(f"\n{'size':>12} {'tokens':>6} {'mode':>9} {'weights GiB':>10} {'peak GiB':>8} {'s/step':>7} {'read s':>7}")
    for (mode, width, height, frames), (seconds, peak, loaded, read, tokens) in results.items():
        print(
            f"{f'{width}x{height}x{frames}':>12} {tokens:6d} {mode:>9} {loaded / 2**30:10.2f} {peak / 2**30:8.2f} "
            f"{seconds:7.2f} {read:7.2f}"
        )
    print("\nstreamed / resident (same run):")
    for width, height, frames in sizes:
        s = results[("streamed", width, height, frames)]
        r = results[("resident", width, height, frames)]
        print(f"  {width}x{height}x{frames}: time x{s[0] / r[0]:.2f}, peak memory x{s[1] / r[1]:.2f}")


if __name__ == "__main__":
    main()
