#!/usr/bin/env python3
"""Predicted peak memory of a 768x512x121 distilled job per model version and memory preset.

Header-only configs of the released sizes (nothing is loaded, nothing allocated): the transformer
config of each version's tiny reference set with the real widths written over it (48 blocks, 32 x
128 video heads, 32 x 64 audio heads, 4096 / 2048 cross-attention, 3840-wide captions), the
released video VAEs (2.0 conv with timestep conditioning, 2.3 conv, 2.5 diffusion decoder with
ltx-core's default "L" layout), Gemma 3 12B for 2.0 / 2.3 and the Gemma 4 12B stand-in
(``text_encoder.memory.gemma4_12b_config``) for 2.5. Each preset as it runs on Metal (bf16 compute).

    .venv/bin/python bench/memory_versions.py [--height 512 --width 768 --frames 121] [--backend metal|cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (OpenBLAS before mlx)
from ltx_core.loader.safetensors_file import SafetensorsFile  # noqa: E402
from ltx_core.memory import GIB, default_margin, estimate_for_preset  # noqa: E402
from ltx_core.memory.estimate import transformer_weight_bytes  # noqa: E402
from ltx_core.model.text_encoder.memory import gemma4_12b_config, gemma_12b_config  # noqa: E402
from ltx_core.pipelines.registry import PIPELINES  # noqa: E402
from ltx_core.presets import load_presets  # noqa: E402

REFERENCE = ROOT / "tests" / "reference"
REAL_WIDTHS = dict(
    num_layers=48, num_attention_heads=32, attention_head_dim=128, audio_num_attention_heads=32,
    audio_attention_head_dim=64, cross_attention_dim=4096, audio_cross_attention_dim=2048, caption_channels=3840,
    connector_num_attention_heads=30, connector_attention_head_dim=128, audio_connector_num_attention_heads=30,
    audio_connector_attention_head_dim=128, connector_num_layers=2,
)  # fmt: skip
# 2.3 / 2.5 (V2 text path): deeper register connectors (8 layers, audio 32 x 64 wide). Assumed: with
# them the 2.5 transformer file (LTX model + connectors) is the published ~42 GB bf16.
V2_CONNECTORS = dict(connector_num_layers=8, audio_connector_num_attention_heads=32, audio_connector_attention_head_dim=64)
CONV_VAE = {
    "latent_channels": 128, "decoder_base_channels": 128, "patch_size": 4,
    "decoder_blocks": [["res_x", {"num_layers": 5, "inject_noise": False}], ["compress_all", {"residual": True, "multiplier": 2}]] * 3
    + [["res_x", {"num_layers": 5, "inject_noise": False}]],
    "encoder_blocks": [["res_x", {"num_layers": 1}]],
}  # fmt: skip
AUDIO = {
    "audio_vae": {
        "model": {"params": {"ddconfig": {"mel_bins": 64, "attn_resolutions": []}, "sampling_rate": 16000}},
        "preprocessing": {"stft": {"hop_length": 160}, "mel": {"n_mel_channels": 64}},
    },
    "vocoder": {"resblock": "1", "stereo": True},
}


def _transformer(path: Path, v2: bool = False) -> dict:
    config = json.loads(SafetensorsFile(path).metadata["config"])["transformer"]
    return {**config, **REAL_WIDTHS, **(V2_CONNECTORS if v2 else {})}


def connector_bytes(t: dict, dtype_bytes: int = 2) -> int:
    video = t["connector_attention_head_dim"] * t["connector_num_attention_heads"]
    audio = t["audio_connector_attention_head_dim"] * t["audio_connector_num_attention_heads"]
    return t["connector_num_layers"] * 12 * (video**2 + audio**2) * dtype_bytes


def version_configs() -> dict[str, tuple[dict, object]]:
    """version -> (checkpoint config of the released sizes, Gemma config)."""
    v20 = {"transformer": {**_transformer(REFERENCE / "ltx-2.0" / "ltx2-tiny.safetensors")},
           "vae": {**CONV_VAE, "timestep_conditioning": True}, **AUDIO}  # fmt: skip
    v23 = {"transformer": _transformer(REFERENCE / "ltx-2.3" / "ltx2-tiny.safetensors", v2=True),
           "vae": {**CONV_VAE, "timestep_conditioning": False}, **AUDIO}  # fmt: skip
    transformer25 = next((REFERENCE / "ltx-2.5" / "diffusion_models").glob("*.safetensors"))
    v25 = {"transformer": _transformer(transformer25, v2=True),
           "vae": {"_class_name": "CausalDiffusionVAE", "latent_channels": 128, "decoder": {}}, **AUDIO}  # fmt: skip
    return {"2.0 (19B)": (v20, gemma_12b_config()), "2.3 (22B)": (v23, gemma_12b_config()), "2.5": (v25, gemma4_12b_config())}


def weights_per_mode(transformer: dict, gemma) -> str:
    """Transformer weights resident in bf16, 8-bit and 4-bit, streamed (the non-block layers and one
    4-bit block), and the text encoder in bf16 / 8-bit / 4-bit."""
    from ltx_core.model.text_encoder.memory import gemma4_weight_bytes, weight_bytes

    config = json.dumps(transformer, sort_keys=True)
    parts = []
    for label, dtype, bits in (("bf16", "bfloat16", None), ("8-bit", "bfloat16", 8), ("4-bit", "bfloat16", 4)):
        rest, block, blocks = transformer_weight_bytes(config, dtype, bits)
        parts.append(f"{label} {(rest + block * blocks) / GIB:.2f}")
        if bits == 4:
            parts.append(f"streamed (4-bit) {(rest + block) / GIB:.2f}")
    text = gemma4_weight_bytes if type(gemma).__name__.startswith("Gemma4") else weight_bytes
    encoder = ", ".join(f"{mode} {text(gemma, mode) / GIB:.2f}" for mode in ("bfloat16", "8bit", "4bit"))
    return "transformer " + ", ".join(parts) + "; text encoder " + encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--backend", default="metal", choices=("metal", "cpu"))
    args = parser.parse_args()
    stages = PIPELINES["distilled"].memory_stages()
    presets = load_presets()
    print(f"distilled {args.width}x{args.height}x{args.frames}, {args.backend} backend; GiB (stage peak)")
    for version, (config, gemma) in version_configs().items():
        rest, block, blocks = transformer_weight_bytes(json.dumps(config["transformer"], sort_keys=True), "bfloat16")
        model = rest + block * blocks
        connectors = connector_bytes(config["transformer"])
        print(f"\n{version}: transformer {model / 2**30:.1f} GiB bf16 ({blocks} blocks) + connectors {connectors / 2**30:.1f} GiB "
              f"= {(model + connectors) / 2**30:.1f} GiB; text encoder: {type(gemma).__name__}")  # fmt: skip
        print("   weights per mode (GiB): " + weights_per_mode(config["transformer"], gemma))
        header = None
        for preset in presets:
            estimate = estimate_for_preset(
                config, preset, backend=args.backend, height=args.height, width=args.width, frames=args.frames,
                fps=24.0, stages=stages, gemma_config=gemma,
            )  # fmt: skip
            if header is None:
                header = [s.stage for s in estimate.stages]
                print(f"{'preset':>9} {'RAM':>5} " + " ".join(f"{name:>13}" for name in header) + f" {'peak':>7} fits (RAM - margin)")
            peaks = " ".join(f"{s.peak / GIB:13.2f}" for s in estimate.stages)
            total = int(preset.min_ram_gb * GIB)  # the smallest machine the preset is for
            fits = "yes" if estimate.peak <= total - default_margin(total) else "NO"
            print(f"{preset.name:>9} {preset.min_ram_gb:5g} {peaks} {estimate.peak / GIB:7.2f} {fits}")
        notes = {s.stage: s.notes for s in estimate.stages if s.notes}
        print("   (maximum: " + "; ".join(f"{k}: {v}" for k, v in notes.items()) + ")")


if __name__ == "__main__":
    main()
