"""Time the official ltx-core 1.0.0 video VAE decoder (19B config, random weights) at real width.

Scratch env only; float32 on CPU, same config as bench/vae_decode.py:

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/bench_official_vae_decoder.py --sizes 768x512x9
    ... --serve      # worker for bench.compare
"""

import argparse
import json
import resource
import sys
import time

import torch
from ltx_core.model.video_vae import VideoDecoderConfigurator

VAE_RES = ["res_x", {"num_layers": 5, "inject_noise": False}]
VAE_UP = ["compress_all", {"residual": True, "multiplier": 2}]
REAL_VAE = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "decoder_base_channels": 128,
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
    "timestep_conditioning": True, "spatial_padding_mode": "reflect",
    "decoder_blocks": [VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES, VAE_UP, VAE_RES],
    "encoder_blocks": [["res_x", {"num_layers": 1}]],
}


def parse_sizes(text):
    return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]


def measure(decoder, size, repeats):
    width, height, frames = size
    latent = torch.randn(1, 128, (frames - 1) // 8 + 1, height // 32, width // 32)
    best = float("inf")
    with torch.no_grad():
        decoder(latent, torch.tensor([0.05]), torch.Generator().manual_seed(0))
        for _ in range(repeats):
            start = time.perf_counter()
            decoder(latent, torch.tensor([0.05]), torch.Generator().manual_seed(0))
            best = min(best, time.perf_counter() - start)
    return {"size": f"{width}x{height}x{frames}", "seconds": best, "per_frame": best / frames,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="768x512x9")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    decoder = VideoDecoderConfigurator.from_config({"vae": REAL_VAE}).eval()
    with torch.no_grad():
        for p in decoder.parameters():
            p.normal_(0, 0.02)
    if args.serve:
        print(json.dumps({"ready": True, "impl": "official", "torch": torch.__version__,
                          "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(measure(decoder, parse_sizes(line.strip())[0], args.repeats)), flush=True)
        return
    for size in parse_sizes(args.sizes):
        r = measure(decoder, size, args.repeats)
        print(f"{r['size']}: {r['per_frame']:.3f} s/frame, {r['seconds']:.2f} s, peak RSS {r['peak_gb']:.2f} GiB")


if __name__ == "__main__":
    main()
