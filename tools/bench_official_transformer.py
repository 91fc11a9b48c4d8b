"""Time the official ltx-core 1.0.0 transformer on the same real-width slice as bench/transformer_step.py.

Scratch env only (see make_guider_reference.py); float32 on CPU:

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/bench_official_transformer.py --sizes 704x480x25 --blocks 2
    ... --serve      # worker for bench.compare: one WIDTHxHEIGHTxFRAMES per stdin line, one JSON line back

Prints seconds per layer (best of ``--repeats`` after a warm-up) and the process's peak
resident memory (PyTorch has no allocator counter on CPU; ``ru_maxrss`` includes the weights).
"""

import argparse
import json
import resource
import sys
import time

import torch
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape

DEFAULT_SIZES = "384x256x121,704x480x25,768x512x121"
CONFIG = {"transformer": dict(
    caption_channels=3840, use_audio_video_cross_attention=True, av_ca_timestep_scale_multiplier=1000,
    rope_type="split", frequencies_precision="float64", dropout=0.0, attention_bias=True, num_vector_embeds=None,
    activation_fn="gelu-approximate", num_embeds_ada_norm=1000, use_linear_projection=False, only_cross_attention=False,
    cross_attention_norm=True, double_self_attention=False, upcast_attention=False, standardization_norm="rms_norm",
    norm_elementwise_affine=False, qk_norm="rms_norm", positional_embedding_type="rope", share_ff=False,
    av_cross_ada_norm=True, use_middle_indices_grid=True, num_attention_heads=32, attention_head_dim=128,
    audio_num_attention_heads=32, audio_attention_head_dim=64,
)}


def parse_sizes(text):
    return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]


def build(blocks):
    CONFIG["transformer"]["num_layers"] = blocks
    model = LTXModelConfigurator.from_config(CONFIG).to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model.eval()


def measure(model, size, repeats, blocks):
    width, height, frames = size
    pixel = VideoPixelShape(1, frames, height, width, 25.0)
    vtools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape.from_pixel_shape(pixel, 128), 25.0)
    atools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape.from_video_pixel_shape(pixel))
    vstate = vtools.create_initial_state("cpu", torch.float32)
    astate = atools.create_initial_state("cpu", torch.float32)
    sigma = torch.tensor(0.7)
    video = Modality(latent=torch.randn_like(vstate.latent), sigma=sigma, timesteps=vstate.denoise_mask * sigma,
                     positions=vstate.positions, context=torch.randn(1, 1024, 3840))
    audio = Modality(latent=torch.randn_like(astate.latent), sigma=sigma, timesteps=astate.denoise_mask * sigma,
                     positions=astate.positions, context=torch.randn(1, 1024, 3840))
    best = float("inf")
    with torch.no_grad():
        model(video, audio, None)
        for _ in range(repeats):
            start = time.perf_counter()
            model(video, audio, None)
            best = min(best, time.perf_counter() - start)
    return {"size": f"{width}x{height}x{frames}", "tokens": int(vstate.latent.shape[1]), "seconds": best,
            "per_layer": best / blocks, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build(args.blocks)
    if args.serve:
        print(json.dumps({"ready": True, "impl": "official", "torch": torch.__version__,
                          "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(measure(model, parse_sizes(line.strip())[0], args.repeats, args.blocks)), flush=True)
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, blocks {args.blocks}")
    for size in parse_sizes(args.sizes):
        r = measure(model, size, args.repeats, args.blocks)
        print(f"{r['size']}: tokens {r['tokens']}, {r['per_layer']:.3f} s/layer, peak RSS {r['peak_gb']:.2f} GiB")


if __name__ == "__main__":
    main()
