"""Write tests/data/audio_variants.npz + tests/data/audio_variant_*.safetensors with ltx-core 1.0.0.

The shared fixtures cover the released settings (pixel norm, causal along time, no attention,
three levels, the 19B vocoder layout). This records the official audio VAE and vocoder on the
config switches the fixtures leave at one value: GroupNorm without causality plus attention
blocks; causality along the mel axis with 4 levels and mid-block attention; the
"width-compatibility" axis; a vocoder with odd (kernel - rate) upsampling, even residual kernels,
no final bias and clamping instead of tanh. Tiny random-weight models in the checkpoint layout,
batch 2, weights stored as float16. Run it in a scratch environment (see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_audio_variants.py OUT_DIR
"""

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

# ltx_core imports torchaudio only for waveform -> mel (AudioProcessor), which is not run here.
sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
from ltx_core.model.audio_vae import (  # noqa: E402
    AudioDecoderConfigurator,
    AudioEncoderConfigurator,
    VocoderConfigurator,
)
from safetensors.torch import save_file  # noqa: E402


def audio_vae_section(**ddconfig) -> dict:
    base = {"ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "attn_resolutions": [], "in_channels": 2, "out_ch": 2,
            "resolution": 256, "z_channels": 1, "double_z": True, "dropout": 0.0, "mid_block_add_attention": False,
            "norm_type": "pixel", "causality_axis": "height", "mel_bins": 64}
    base.update(ddconfig)
    return {"model": {"params": {"ddconfig": base, "sampling_rate": 16000}},
            "preprocessing": {"stft": {"filter_length": 1024, "hop_length": 160, "causal": True},
                              "mel": {"n_mel_channels": 64}}}


VOCODER = {"upsample_initial_channel": 16, "upsample_rates": [4, 3], "upsample_kernel_sizes": [7, 7],
           "resblock_kernel_sizes": [2, 5], "resblock_dilation_sizes": [[1, 2, 3], [2, 1, 1]], "resblock": "1",
           "stereo": True, "output_sampling_rate": 16000, "use_tanh_at_final": False, "use_bias_at_final": False}

VARIANTS = {
    # z=1 x 32 latent bins = ch 32 statistics; attention at resolution 128 (second level).
    "group_attn_noncausal": {"audio_vae": audio_vae_section(causality_axis=None, norm_type="group", ch_mult=[1, 1],
                                                            num_res_blocks=2, attn_resolutions=[128],
                                                            mid_block_add_attention=True),
                             "vocoder": VOCODER},
    # 4 levels, causal along mel: 64 -> 32 -> 16 -> 8 latent bins, z=2 x 8 = ch 16.
    "width_causal_mid_attn": {"audio_vae": audio_vae_section(ch=16, ch_mult=[1, 2, 2, 1], z_channels=2,
                                                             causality_axis="width", mid_block_add_attention=True),
                              "vocoder": VOCODER},
    # 3 levels: 64 -> 32 -> 16 latent bins, z=1 x 16 = ch 16.
    "width_compatibility": {"audio_vae": audio_vae_section(ch=16, ch_mult=[1, 1, 2],
                                                           causality_axis="width-compatibility"),
                            "vocoder": VOCODER},
}


def random_tensor(name: str, shape: tuple, gen: torch.Generator) -> torch.Tensor:
    if name.endswith("std-of-means"):
        return 0.5 + torch.rand(shape, generator=gen)
    if name.endswith("mean-of-means"):
        return 0.3 * torch.randn(shape, generator=gen)
    if name.endswith("bias"):
        return 0.05 * torch.randn(shape, generator=gen)
    if len(shape) == 1:  # GroupNorm scale
        return 1 + 0.1 * torch.randn(shape, generator=gen)
    fan_in = shape[1] * int(np.prod(shape[2:])) if len(shape) > 2 else shape[-1]
    if name.startswith("vocoder.ups."):  # ConvTranspose1d (in, out, k): fan-in from the input channels
        fan_in = shape[0] * shape[2]
    scale = 0.25 if name == "vocoder.conv_post.weight" else 1.0  # keep most samples inside the clamp
    return scale * torch.randn(shape, generator=gen) / fan_in**0.5


def main(out_dir: str) -> None:
    out = Path(out_dir)
    arrays = {}
    rng = np.random.default_rng(7)
    for index, (name, config) in enumerate(VARIANTS.items()):
        decoder = AudioDecoderConfigurator.from_config(config).eval()
        encoder = AudioEncoderConfigurator.from_config(config).eval()
        vocoder = VocoderConfigurator.from_config(config).eval()
        file_keys = {}
        for prefix, model in (("audio_vae.decoder.", decoder), ("audio_vae.encoder.", encoder), ("vocoder.", vocoder)):
            for key in model.state_dict():
                full = ("audio_vae." + key) if key.startswith("per_channel_statistics.") else prefix + key
                file_keys[full] = tuple(model.state_dict()[key].shape)
        gen = torch.Generator().manual_seed(1000 + index)
        # Values representable in float16, stored as float16 to keep the files small; computed in float32.
        tensors = {key: random_tensor(key, shape, gen).half().contiguous() for key, shape in sorted(file_keys.items())}
        for prefix, model in (("audio_vae.decoder.", decoder), ("audio_vae.encoder.", encoder), ("vocoder.", vocoder)):
            state = {}
            for key in model.state_dict():
                full = ("audio_vae." + key) if key.startswith("per_channel_statistics.") else prefix + key
                state[key] = tensors[full].float()
            model.load_state_dict(state, strict=True)
        save_file(tensors, str(out / f"audio_variant_{name}.safetensors"), metadata={"config": json.dumps(config)})

        latent = rng.standard_normal((2, decoder.z_channels, 4, encoder.ch // decoder.z_channels)).astype(np.float32)
        mel = (rng.standard_normal((2, 2, 17, 64)) - 3.0).astype(np.float32)
        with torch.no_grad():
            arrays[f"{name}/in/latent"] = latent
            arrays[f"{name}/out/mel"] = decoder(torch.from_numpy(latent)).numpy()
            arrays[f"{name}/in/mel"] = mel
            arrays[f"{name}/out/latent"] = encoder(torch.from_numpy(mel)).numpy()
            arrays[f"{name}/out/waveform"] = vocoder(torch.from_numpy(mel)).numpy()
    np.savez(out / "audio_variants.npz", **arrays)
    print(f"wrote {len(arrays)} arrays for {len(VARIANTS)} variants to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
