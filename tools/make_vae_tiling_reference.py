"""Write tests/data/vae_tiling_reference.npz with the official ltx-core 1.0.0 tiled VAE paths.

The shared fixtures have no tiled decode/encode case, so this script records the official
``VideoDecoder.tiled_decode`` / ``VideoEncoder.tiled_encode`` (and their untiled forwards) on
the fixture checkpoint for a seeded latent and a deterministic video. The decoder noise scale
is set to 0 on the instance: ltx-core draws fresh noise for every tile, which no port can
reproduce. Decoded videos are stored subsampled (every 8th pixel) plus full per-frame means, to
keep the file small. Run it in the scratch environment (see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_vae_tiling_reference.py \
        /path/to/fixtures/ltx2-tiny.safetensors /path/to/tests/data/vae_tiling_reference.npz
"""

import json
import sys

import numpy as np
import torch
from ltx_core.model.video_vae import (
    SpatialTilingConfig,
    TemporalTilingConfig,
    TilingConfig,
    VideoDecoderConfigurator,
    VideoEncoderConfigurator,
)
from safetensors import safe_open

# name -> (spatial tile px, spatial overlap px, temporal tile frames, temporal overlap frames); 0 = untiled axis
DECODE_TILINGS = {"space96_time24": (96, 32, 24, 8), "time32": (0, 0, 32, 8)}
ENCODE_TILINGS = {"space96_time24": (96, 64, 24, 16)}
SUBSAMPLE = 8


def tiling(spec):
    size, overlap, frames, frame_overlap = spec
    return TilingConfig(
        spatial_config=SpatialTilingConfig(size, overlap) if size else None,
        temporal_config=TemporalTilingConfig(frames, frame_overlap) if frames else None,
    )


def test_video(frames: int, height: int, width: int) -> np.ndarray:
    """Smooth deterministic video in [-1, 1], (1, 3, F, H, W) (tests/test_vae_tiling.py has the same)."""
    f = np.arange(frames, dtype=np.float32)[:, None, None]
    y = np.arange(height, dtype=np.float32)[None, :, None]
    x = np.arange(width, dtype=np.float32)[None, None, :]
    channels = [np.sin(0.05 * x + 0.09 * y + 0.3 * f + c) * np.cos(0.07 * y - 0.04 * x + 0.5 * c) for c in range(3)]
    return np.stack(channels)[None].astype(np.float32)


def load(model, file, part):
    state = {}
    with safe_open(file, "pt") as f:
        for key in f.keys():
            if key.startswith(f"vae.{part}."):
                state[key[len(f"vae.{part}.") :]] = f.get_tensor(key)
            elif key.startswith("vae.per_channel_statistics."):
                short = key.rsplit(".", 1)[1]
                if short in ("mean-of-means", "std-of-means"):  # ltx-core ignores the others
                    state["per_channel_statistics." + short] = f.get_tensor(key)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return model.eval()


def summarise(arrays, name, video):
    arrays[f"{name}/sub"] = video[:, :, :, ::SUBSAMPLE, ::SUBSAMPLE].numpy()
    arrays[f"{name}/frame_mean"] = video.mean(dim=(3, 4)).numpy()


@torch.no_grad()
def main(checkpoint: str, out_path: str) -> None:
    torch.set_num_threads(1)
    with safe_open(checkpoint, "pt") as f:
        config = json.loads(f.metadata()["config"])
    decoder = load(VideoDecoderConfigurator.from_config(config), checkpoint, "decoder")
    encoder = load(VideoEncoderConfigurator.from_config(config), checkpoint, "encoder")
    decoder.decode_noise_scale = 0.0
    arrays = {}

    latent = np.random.default_rng(7).standard_normal((1, config["vae"]["latent_channels"], 5, 4, 6)).astype(np.float32)
    arrays["decode/in/latent"] = latent
    summarise(arrays, "decode/untiled", decoder(torch.from_numpy(latent)))
    for name, spec in DECODE_TILINGS.items():
        arrays[f"decode/{name}/spec"] = np.array(spec, dtype=np.int64)
        chunks = list(decoder.tiled_decode(torch.from_numpy(latent), tiling(spec)))
        arrays[f"decode/{name}/chunk_frames"] = np.array([c.shape[2] for c in chunks], dtype=np.int64)
        summarise(arrays, f"decode/{name}", torch.cat(chunks, dim=2))

    video = test_video(33, 128, 192)
    arrays["encode/in/shape"] = np.array(video.shape, dtype=np.int64)
    arrays["encode/in/sub"] = video[:, :, :, ::SUBSAMPLE, ::SUBSAMPLE]
    arrays["encode/untiled"] = encoder(torch.from_numpy(video)).numpy()
    for name, spec in ENCODE_TILINGS.items():
        arrays[f"encode/{name}/spec"] = np.array(spec, dtype=np.int64)
        arrays[f"encode/{name}/latent"] = encoder.tiled_encode(torch.from_numpy(video), tiling(spec)).numpy()
    np.savez(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
