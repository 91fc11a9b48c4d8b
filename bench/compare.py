"""Ours vs the official implementation, interleaved in one run, with ratios.

    python -m bench.compare transformer --sizes 384x256x121,704x480x25,768x512x121 [--rounds 2]
    python -m bench.compare vae --sizes 768x512x9

Starts both sides once as workers (ours: ``bench.transformer_step --serve`` /
``bench.vae_decode --serve``; official: ``tools/bench_official_*.py --serve`` in the scratch
env ``--ref-python``, default /tmp/refenv/bin/python), then for each round and size times ours,
then the official, then the next size, so both see the same machine load. Each side reports
its best of ``--repeats``; the table keeps each side's best over the rounds and the ratio of
those (official / ours: above 1 means ours is faster). GFLOP/s come from one count
(``bench.flops`` for the transformer, the decoder's convolution shapes for the VAE) applied to
both. The 1-minute load average before each measurement is printed: on a shared machine
absolute times move, the interleaved ratio much less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.flops import parse_sizes, transformer_step_flops, video_tokens  # noqa: E402

CPU_PEAK_GFLOPS = 233.0  # 2-core AMD EPYC Zen 4, float32 (NOTES.md)


class Worker:
    def __init__(self, name: str, argv: list[str], cwd: Path):
        self.name = name
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.info = self._read()

    def _read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} worker exited (rc {self.proc.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def run(self, size: str) -> dict:
        self.proc.stdin.write(size + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("transformer", "vae"))
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="PyTorch threads (official side)")
    parser.add_argument("--ref-python", default="/tmp/refenv/bin/python")
    args = parser.parse_args()
    py = sys.executable
    common = ["--serve", "--repeats", str(args.repeats)]
    if args.kind == "transformer":
        sizes = args.sizes or "384x256x121,704x480x25,768x512x121"
        common += ["--blocks", str(args.blocks)]
        ours_argv = [py, "-m", "bench.transformer_step", *common]
        ref_tool = ROOT / "tools" / "bench_official_transformer.py"
        unit, key = "s/layer", "per_layer"
    else:
        sizes = args.sizes or "768x512x9"
        ours_argv = [py, "-m", "bench.vae_decode", *common]
        ref_tool = ROOT / "tools" / "bench_official_vae_decoder.py"
        unit, key = "s/frame", "per_frame"
    # The official package is also called ltx_core: run it from /tmp so ours is not on its path.
    ref_argv = [args.ref_python, str(ref_tool), *common, "--threads", str(args.threads)]
    ours = Worker("ours", ours_argv, ROOT)
    official = Worker("official", ref_argv, Path("/tmp"))
    print(f"ours: {ours.info}\nofficial: {official.info}", flush=True)
    best: dict[tuple[str, str], dict] = {}
    for rnd in range(args.rounds):
        for size in sizes.split(","):
            for worker in (ours, official):
                load = os.getloadavg()[0]
                r = worker.run(size)
                r["load"] = load
                print(f"round {rnd + 1} {worker.name:8s} {size:>12s} {r[key]:8.3f} {unit} (load {load:.1f})", flush=True)
                k = (worker.name, size)
                if k not in best or r[key] < best[k][key]:
                    best[k] = r
    ours.close()
    official.close()

    print(f"\n| size | tokens | ours {unit} | official {unit} | ratio (official/ours) | ours GFLOP/s | official GFLOP/s | ours peak GiB | official peak RSS GiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes.split(","):
        o, f = best[("ours", size)], best[("official", size)]
        w, h, fr = parse_sizes(size)[0]
        flops = transformer_step_flops(w, h, fr, args.blocks) if args.kind == "transformer" else o["flops"]
        tokens = video_tokens(w, h, fr)
        print(
            f"| {size} | {tokens} | {o[key]:.3f} | {f[key]:.3f} | {f[key] / o[key]:.2f}x | "
            f"{flops / o['seconds'] / 1e9:.0f} ({flops / o['seconds'] / 1e9 / CPU_PEAK_GFLOPS:.0%} of peak) | "
            f"{flops / f['seconds'] / 1e9:.0f} | {o['peak_gb']:.2f} | {f['peak_gb']:.2f} |"
        )


if __name__ == "__main__":
    main()
