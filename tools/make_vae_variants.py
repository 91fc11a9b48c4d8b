"""Write tests/data/vae_variants.npz and its weight files with the official ltx-core 1.0.0 code.

Weights are rounded to float16 and stored so (the models compute in float32) to keep the files
small. The shared fixtures exercise one VAE and two upsampler configurations. This script builds
other configurations that the official configurators accept (group norm, res_x_y, plain
strided compress blocks, causal decoder, per-channel / constant log-variance, replicate and
circular padding, decoder without timestep conditioning; rational-resampler, 2-D and
spatiotemporal upsamplers) with seeded random weights, saves them in the real file layouts
and records their outputs. Run it in the scratch environment (see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_vae_variants.py /path/to/tests/data
"""

import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from ltx_core.model.upsampler import LatentUpsamplerConfigurator
from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator
from safetensors.torch import save_file

VAE_VARIANTS = {
    "vae_groupnorm_causal": {
        "latent_channels": 32,
        "decoder_base_channels": 8,
        "norm_layer": "group_norm",
        "latent_log_var": "per_channel",
        "causal_decoder": True,
        "timestep_conditioning": True,
        "spatial_padding_mode": "replicate",
        "encoder_blocks": [
            ["res_x", {"num_layers": 1}],
            ["compress_space", {}],
            ["compress_all_x_y", {"multiplier": 1}],
            ["compress_time", {}],
            ["res_x_y", {"multiplier": 2}],
        ],
        "decoder_blocks": [
            ["res_x", {"num_layers": 1}],
            ["compress_space", {"multiplier": 1}],
            ["compress_time", {"multiplier": 1}],
            ["res_x_y", {"multiplier": 2}],
        ],
    },
    "vae_plain_circular": {
        "latent_channels": 8,
        "decoder_base_channels": 2,
        "latent_log_var": "constant",
        "timestep_conditioning": False,
        "spatial_padding_mode": "circular",
        "patch_size": 2,
        "encoder_blocks": [
            ["res_x", 2],
            ["compress_all_res", {"multiplier": 2}],
            ["compress_all_res", {"multiplier": 2}],
            ["compress_time_res", {"multiplier": 1}],
        ],
        "decoder_blocks": [
            ["res_x", 2],
            ["compress_all", {"multiplier": 2}],
            ["compress_all", {"residual": True, "multiplier": 2}],
            ["compress_time", {"multiplier": 2}],
        ],
    },
}
UPSAMPLER_VARIANTS = {
    "up_rational_1p5": {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1, "rational_resampler": True,
                        "spatial_scale": 1.5},
    "up_rational_2": {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1, "rational_resampler": True,
                      "spatial_scale": 2.0},
    "up_dims2": {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 2, "dims": 2},
    "up_spatiotemporal": {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1, "spatial_upsample": True,
                          "temporal_upsample": True},
}


STRIDES = {"time": (2, 1, 1), "space": (1, 2, 2), "all": (2, 2, 2)}


def scale(vae: dict) -> tuple[int, int]:
    """(time, space) compression of the encoder blocks, with the patchify."""
    time, space = 1, vae.get("patch_size", 4)
    for name, _ in vae["encoder_blocks"]:
        kind = next((k for k in STRIDES if name.startswith(f"compress_{k}")), None)
        if kind:
            time, space = time * STRIDES[kind][0], space * STRIDES[kind][1]
    return time, space


def randomise(model: torch.nn.Module, seed: int) -> None:
    for name, tensor in model.state_dict().items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        if name.endswith("kernel"):
            continue  # BlurDownsample's fixed kernel
        if name.endswith("timestep_scale_multiplier"):
            value = np.array(1000.0)
        elif "statistics" in name:
            value = rng.uniform(0.5, 1.5, tensor.shape) if "std" in name else rng.normal(0, 0.5, tensor.shape)
        elif "scale_shift_table" in name:
            value = rng.normal(0, 0.2, tensor.shape)
        elif "norm" in name and name.endswith("weight"):
            value = 1 + rng.normal(0, 0.1, tensor.shape)
        elif name.endswith("bias"):
            value = rng.normal(0, 0.05, tensor.shape)
        else:
            fan_in = int(np.prod(tensor.shape[1:])) or 1
            value = rng.normal(0, 1 / np.sqrt(fan_in), tensor.shape)
        tensor.copy_(torch.from_numpy(np.asarray(value, dtype=np.float16).astype(np.float32)))


def half(state: dict) -> dict:
    return {
        k: (v.half() if v.is_floating_point() and not k.endswith("kernel") else v).contiguous()
        for k, v in state.items()
    }


@torch.no_grad()
def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    out = Path(out_dir)
    arrays = {}
    for index, (name, vae) in enumerate(VAE_VARIANTS.items()):
        config = {"vae": vae}
        encoder = VideoEncoderConfigurator.from_config(config).eval()
        decoder = VideoDecoderConfigurator.from_config(config).eval()
        randomise(encoder, 10 + index)
        randomise(decoder, 20 + index)
        stats = {k: v for k, v in encoder.state_dict().items() if k.startswith("per_channel_statistics.")}
        decoder.load_state_dict({**decoder.state_dict(), **stats})
        tensors = {f"vae.encoder.{k}": v for k, v in encoder.state_dict().items() if "statistics" not in k}
        tensors.update({f"vae.decoder.{k}": v for k, v in decoder.state_dict().items() if "statistics" not in k})
        tensors.update({f"vae.{k}": v for k, v in stats.items()})
        save_file(half(tensors), str(out / f"{name}.safetensors"),
                  metadata={"config": json.dumps(config)})

        rng = np.random.default_rng(100 + index)
        patch = vae.get("patch_size", 4)
        _, space = scale(vae)
        pixels = np.clip(rng.normal(0, 0.5, (1, 3, 9, 2 * space, space)), -1, 1).astype(np.float32)
        arrays[f"{name}/in/pixels"] = pixels
        arrays[f"{name}/out/latent"] = encoder(torch.from_numpy(pixels)).numpy()
        latent = rng.standard_normal((1, vae["latent_channels"], 3, 2, 3)).astype(np.float32)
        arrays[f"{name}/in/latent"] = latent
        generator = torch.Generator().manual_seed(5)
        if decoder.timestep_conditioning:
            # The decoder's first draw from the generator: the same noise, reproduced.
            noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(5))
            arrays[f"{name}/in/decode_noise"] = noise.numpy()
            arrays[f"{name}/in/timestep"] = np.array([0.2], np.float32)
            pixels_out = decoder(torch.from_numpy(latent), torch.tensor([0.2]), generator)
        else:
            pixels_out = decoder(torch.from_numpy(latent), None, generator)
        arrays[f"{name}/out/pixels"] = pixels_out.numpy()

    for index, (name, config) in enumerate(UPSAMPLER_VARIANTS.items()):
        model = LatentUpsamplerConfigurator.from_config(config).eval()
        randomise(model, 30 + index)
        save_file(half(model.state_dict()), str(out / f"{name}.safetensors"),
                  metadata={"config": json.dumps(config)})
        latent = np.random.default_rng(200 + index).standard_normal((1, 8, 3, 4, 6)).astype(np.float32)
        arrays[f"{name}/in/latent"] = latent
        arrays[f"{name}/out/raw"] = model(torch.from_numpy(latent)).numpy()
    np.savez(out / "vae_variants.npz", **arrays)
    print(f"wrote {len(arrays)} arrays to {out / 'vae_variants.npz'}")


if __name__ == "__main__":
    main(sys.argv[1])
