"""Write tests/data/diffusion_vae_tiling_reference.npz with the official ltx-core 1.2.0 diffusion
video VAE decoder (``DiffusionVideoDecoder``, CHUNKED_EAGER mode, eager NA fallback: no natten),
untiled and tiled, on the 2.5 fixture file.

The 2.5 set has no tiled decode case. The latent and the decoder noise ``x_T`` come from numpy
(``default_rng(SEED)``: latent first, then noise) so the port draws the same ones; the official
decoder's ``torch.randn`` is replaced by that noise. The official loader's key transforms (qkv
split, gate fold rounded back to bf16, t_embedder rename) are applied here by hand to the state
dict. Decoded videos are stored subsampled (every 8th pixel) plus full per-frame means. Run in a
scratch environment with torch (CPU), einops, safetensors and the ltx-core 1.2.0 sources:

    PYTHONPATH=<LTX-2 checkout>/packages/ltx-core/src /tmp/venv/bin/python \
        tools/make_diffusion_vae_tiling_reference.py <fixtures-2.5>/vae/ltx-2.5-tiny-video-vae-bf16.safetensors \
        tests/data/diffusion_vae_tiling_reference.npz
"""

import json
import sys

import numpy as np
import torch
from ltx_core.model.video_vae.model_configurator import VideoDecoderConfigurator
from ltx_core.model.video_vae.transformer.apply import apply_diffvae_mode
from ltx_core.model.video_vae.transformer.config import DiffVAEMode
from ltx_core.tiling import DimensionSizeConfig, TileSizeConfig
from safetensors import safe_open
from safetensors.torch import load_file

SEED = 7
LATENT_SHAPE = (1, 128, 3, 4, 4)
# name -> (frames tile, frames overlap, spatial tile px, spatial overlap px); 0 = untiled axis
TILINGS = {"time16_space64": (16, 8, 64, 32), "space64": (0, 0, 64, 32)}
FOLDS = {"attn.proj": "gate_msa", "mlp.w_down": "gate_mlp", "context_proj": "gate_ctx"}


def official_state_dict(path: str) -> dict:
    sd = load_file(path)
    gates = {k[12:]: v for k, v in sd.items() if k.startswith("vae.decoder.") and ".gate_" in k}
    out = {}
    for key, value in sd.items():
        if key.startswith("vae.per_channel_statistics."):
            out["per_channel_statistics." + key.rsplit(".", 1)[1]] = value
        if not key.startswith("vae.decoder.") or key[12:] in gates:
            continue
        short = key[12:].replace("t_embedder.mlp.0.", "t_embedder.timestep_embedder.linear_1.")
        short = short.replace("t_embedder.mlp.2.", "t_embedder.timestep_embedder.linear_2.")
        for linear, gate in FOLDS.items():
            gate_key = short.split(linear)[0] + gate
            if f"{linear}." in short and gate_key in gates:
                g, v = gates[gate_key].float(), value.float()
                value = (g[:, None] * v if v.ndim == 2 else g * v).to(value.dtype)
        if ".qkv." in short:
            base, leaf = short.split(".qkv.")
            d = value.shape[0] // 3
            for i, part in enumerate(("to_q", "to_k", "to_v")):
                out[f"{base}.qkv.{part}.{leaf}"] = value[i * d : (i + 1) * d]
            continue
        out[short] = value
    return {k: v.float() for k, v in out.items()}


def main(path: str, target: str) -> None:
    torch.set_num_threads(1)
    config = json.loads(safe_open(path, "pt").metadata()["config"])
    decoder = VideoDecoderConfigurator.from_metadata({"config": config})
    missing, unexpected = decoder.load_state_dict(official_state_dict(path), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    decoder = decoder.float().eval()
    apply_diffvae_mode(decoder, DiffVAEMode.CHUNKED_EAGER)

    rng = np.random.default_rng(SEED)
    latent = rng.standard_normal(LATENT_SHAPE, dtype=np.float32)
    b, _, f, h, w = LATENT_SHAPE
    noise = rng.standard_normal((b, 3, (f - 1) * 8 + 1, h * 32, w * 32), dtype=np.float32)
    torch.randn = lambda *args, **kwargs: torch.from_numpy(noise.copy())
    out = {"seed": np.array(SEED), "latent_shape": np.array(LATENT_SHAPE)}
    with torch.no_grad():
        untiled = decoder(torch.from_numpy(latent)).numpy()
        out["untiled/sub"] = untiled[..., ::8, ::8]
        out["untiled/frame_means"] = untiled.mean(axis=(3, 4))
        for name, (ft, fo, st, so) in TILINGS.items():
            cfg = TileSizeConfig(
                frames=DimensionSizeConfig(ft, fo),
                height=DimensionSizeConfig(st, so),
                width=DimensionSizeConfig(st, so),
            )
            chunks = [c.numpy() for c in decoder.tiled_decode(torch.from_numpy(latent), cfg)]
            tiled = np.concatenate(chunks, axis=2)
            out[f"{name}/sub"] = tiled[..., ::8, ::8]
            out[f"{name}/frame_means"] = tiled.mean(axis=(3, 4))
            out[f"{name}/chunk_frames"] = np.array([c.shape[2] for c in chunks])
            out[f"{name}/vs_untiled"] = np.array(np.abs(tiled - untiled).max() / np.abs(untiled).max())
            print(name, [c.shape[2] for c in chunks], "tiled vs untiled", float(out[f"{name}/vs_untiled"]))
    np.savez_compressed(target, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
