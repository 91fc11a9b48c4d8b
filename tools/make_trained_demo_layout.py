"""Write ltx_core/demo/trained_layout.json: the file layout of the demo family that is trained (issue 18).

The random demo set (layout.json) copies the tiny parity fixtures: a 16-channel latent and a video
decoder whose top layer has 4 channels for 48 output values per position, too narrow to learn
clips. The trained family keeps every file, key prefix and config section of that layout and
changes only sizes (``SIZES``): a 32-channel latent, a decoder that keeps 32 channels up to the
top, a wider and deeper audio-video transformer, and upsamplers over the new latent.

Tensor names and shapes come from the official ltx-core 1.0.0 modules built from the new configs
(their ``state_dict`` under the official key prefixes), so the files are what the official loaders
read. Components whose config does not change (audio VAE, vocoder, text connectors, Gemma feature
projection, Gemma) keep the random layout's entries; the tool checks that the official modules
give exactly the random layout's keys and shapes for its own configs. Run it in the scratch
environment (see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_trained_demo_layout.py \\
        /path/to/ltx_core/demo/layout.json /path/to/ltx_core/demo/trained_layout.json
"""

import copy
import json
import sys
from pathlib import Path

from ltx_core.model.transformer.model_configurator import LTXModelConfigurator

from ltx_core.model.upsampler import LatentUpsamplerConfigurator
from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

LATENT_CHANNELS = 32
SIZES = {
    "vae": {
        "latent_channels": LATENT_CHANNELS,
        # 32x spatial and 8x temporal compression, as every LTX-2 VAE: the pipelines (the official ones
        # and ours) take the VAE's scale as fixed (``VideoLatentShape.from_pixel_shape``), so a 16x
        # layout, tried because shapes decoded as blobs at 32x, could not run through them.
        # Encoder width starts at the latent channel count (ltx-core): 32 -> 64 -> 64 -> 128 -> 128
        # (a 128-channel stage at 1/16 of the pixels doubled the encoder's cost for no gain here).
        "encoder_blocks": [
            ["res_x", {"num_layers": 1}],
            ["compress_space_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 1}],
            ["compress_time_res", {"multiplier": 1}],
            ["res_x", {"num_layers": 1}],
            ["compress_all_res", {"multiplier": 2}],
            ["compress_all_res", {"multiplier": 1}],
        ],
        # Decoder: 64 channels at the bottom (base 8 x 8), halved once, then 32 up to the pixels.
        "decoder_blocks": [
            ["res_x", {"num_layers": 1, "inject_noise": False}],
            ["compress_all", {"residual": True, "multiplier": 1}],
            ["res_x", {"num_layers": 1, "inject_noise": False}],
            ["compress_all", {"residual": True, "multiplier": 1}],
            ["res_x", {"num_layers": 1, "inject_noise": False}],
            ["compress_all", {"residual": True, "multiplier": 2}],
            ["res_x", {"num_layers": 1, "inject_noise": False}],
        ],
        "decoder_base_channels": 8,
    },
    "transformer": {
        "in_channels": LATENT_CHANNELS,
        "out_channels": LATENT_CHANNELS,
        "num_layers": 4,
        "num_attention_heads": 4,
        "attention_head_dim": 32,
        "cross_attention_dim": 128,
        "audio_num_attention_heads": 2,
        "audio_attention_head_dim": 32,
        "audio_cross_attention_dim": 64,
    },
    "upsampler": {"in_channels": LATENT_CHANNELS, "mid_channels": 64},
}
TRANSFORMER_PREFIX = "model.diffusion_model."
CONNECTORS = ("video_embeddings_connector.", "audio_embeddings_connector.")


def header(state: dict, prefix: str = "") -> dict:
    return {prefix + key: ["F32", list(value.shape)] for key, value in state.items()}


def vae_tensors(config: dict) -> dict:
    """The checkpoint's ``vae.*`` tensors: encoder, decoder, and the shared statistics (the two
    the official modules hold plus the two extra entries every LTX-2 file carries)."""
    out = {}
    for part, configurator in (("encoder", VideoEncoderConfigurator), ("decoder", VideoDecoderConfigurator)):
        state = configurator.from_config(config).state_dict()
        for key, value in state.items():
            if key.startswith("per_channel_statistics."):
                out["vae." + key] = ["F32", list(value.shape)]
            else:
                out[f"vae.{part}.{key}"] = ["F32", list(value.shape)]
    channels = config["vae"]["latent_channels"]
    for extra in ("channel", "mean-of-stds"):
        out[f"vae.per_channel_statistics.{extra}"] = ["F32", [channels]]
    return out


def transformer_tensors(config: dict) -> dict:
    return header(LTXModelConfigurator.from_config(config).state_dict(), TRANSFORMER_PREFIX)


def checkpoint_tensors(old: dict, config: dict) -> dict:
    """The random layout's tensors with the video VAE and the transformer (not its text
    connectors) rebuilt from ``config``."""

    def rebuilt(key: str) -> bool:
        if key.startswith("vae."):
            return True
        return key.startswith(TRANSFORMER_PREFIX) and not key[len(TRANSFORMER_PREFIX) :].startswith(CONNECTORS)

    kept = {key: value for key, value in old.items() if not rebuilt(key)}
    return {**kept, **vae_tensors(config), **transformer_tensors(config)}


def check_against(layout: dict) -> None:
    """The official modules give the random layout's own keys and shapes for its own configs."""
    checkpoint = layout["checkpoint"]
    config = json.loads(checkpoint["metadata"]["config"])
    if checkpoint_tensors(checkpoint["tensors"], config) != checkpoint["tensors"]:
        raise SystemExit("the official modules do not reproduce the random layout's checkpoint tensors")
    for part in ("spatial_upsampler", "temporal_upsampler"):
        entry = layout[part]
        built = header(LatentUpsamplerConfigurator.from_config(json.loads(entry["metadata"]["config"])).state_dict())
        if built != entry["tensors"]:
            raise SystemExit(f"the official modules do not reproduce the random layout's {part} tensors")


def trained_layout(layout: dict) -> dict:
    out = copy.deepcopy(layout)
    out["tokenizer"] = "caption-words"  # ltx_core.demo.tokenizer: one token per grammar word
    checkpoint = out["checkpoint"]
    config = json.loads(checkpoint["metadata"]["config"])
    config["vae"].update(SIZES["vae"])
    config["transformer"].update(SIZES["transformer"])
    checkpoint["tensors"] = checkpoint_tensors(checkpoint["tensors"], config)
    checkpoint["metadata"]["config"] = json.dumps(config)
    for part in ("spatial_upsampler", "temporal_upsampler"):
        entry = out[part]
        upsampler = {**json.loads(entry["metadata"]["config"]), **SIZES["upsampler"]}
        entry["metadata"]["config"] = json.dumps(upsampler)
        entry["tensors"] = header(LatentUpsamplerConfigurator.from_config(upsampler).state_dict())
    return out


def main(source: str, output: str) -> None:
    layout = json.loads(Path(source).read_text())
    check_against(layout)
    Path(output).write_text(json.dumps(trained_layout(layout), separators=(",", ":"), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
