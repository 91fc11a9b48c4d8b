"""Write tests/data/transformer_variants.npz + tests/data/variant_*.safetensors with ltx-core 1.0.0.

The shared fixtures cover the released 19B settings (split RoPE, float64 grid, no gated
attention, no cross-attention AdaLN). This records the official transformer on the config
switches the fixtures leave at one value, on a tiny random-weight model in the checkpoint
layout, with batch 2, a text-context mask, a self-attention mask, per-token timesteps and a
perturbation that applies to one sample of the batch only. Run it in a scratch environment
(see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python tools/make_transformer_variants.py FIXTURE_DIR OUT_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    Perturbation,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
from safetensors.torch import save_file

VARIANTS = {
    "interleaved_gated_adaln": {"rope_type": "interleaved", "frequencies_precision": "float32",
                                "apply_gated_attention": True, "cross_attention_adaln": True},
    "caption_before_connector": {"caption_proj_before_connector": True},
}


def random_state(model: torch.nn.Module, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, param in sorted(model.state_dict().items()):
        if name.endswith(("q_norm.weight", "k_norm.weight")):
            value = 1 + 0.1 * torch.randn(param.shape, generator=gen)
        elif name.endswith("bias"):
            value = 0.05 * torch.randn(param.shape, generator=gen)
        elif "scale_shift_table" in name:
            value = 0.2 * torch.randn(param.shape, generator=gen)
        else:
            value = torch.randn(param.shape, generator=gen) / max(param.shape[-1], 1) ** 0.5
        state[name] = value.float()
    return state


def main(fixture_dir: str, out_dir: str) -> None:
    out = Path(out_dir)
    ref = np.load(Path(fixture_dir) / "reference.npz")
    with open(Path(fixture_dir) / "manifest.json") as handle:
        base_config = json.load(handle)["config"]
    arrays = {}
    for index, (name, switches) in enumerate(VARIANTS.items()):
        config = json.loads(json.dumps(base_config))
        config["transformer"].update(switches)
        tcfg = config["transformer"]
        model = LTXModelConfigurator.from_config(config).to_empty(device="cpu")
        state = random_state(model, 100 + index)
        model.load_state_dict(state, strict=True)
        model.eval()
        save_file({f"model.diffusion_model.{k}": v.contiguous() for k, v in state.items()},
                  str(out / f"variant_{name}.safetensors"), metadata={"config": json.dumps(config)})

        gen = torch.Generator().manual_seed(7 + index)
        video_latent = torch.from_numpy(np.concatenate([ref["transformer_av/in/video/latent"]] * 2))
        audio_latent = torch.from_numpy(np.concatenate([ref["transformer_av/in/audio/latent"]] * 2))
        v_pos = torch.from_numpy(np.concatenate([ref["transformer_av/in/video/positions"]] * 2))
        a_pos = torch.from_numpy(np.concatenate([ref["transformer_av/in/audio/positions"]] * 2))
        v_tokens, a_tokens = video_latent.shape[1], audio_latent.shape[1]
        if tcfg.get("caption_proj_before_connector"):
            v_ctx_dim = tcfg["num_attention_heads"] * tcfg["attention_head_dim"]
            a_ctx_dim = tcfg["audio_num_attention_heads"] * tcfg["audio_attention_head_dim"]
        else:
            v_ctx_dim = a_ctx_dim = tcfg["caption_channels"]
        ctx_len = 12
        v_ctx = torch.randn(2, ctx_len, v_ctx_dim, generator=gen)
        a_ctx = torch.randn(2, ctx_len, a_ctx_dim, generator=gen)
        ctx_mask = torch.ones(2, ctx_len, dtype=torch.int64)
        ctx_mask[1, :5] = 0  # left padding on the second sample
        v_mask = torch.ones(2, v_tokens, 1)
        v_mask[:, :16] = 0.0  # first latent frame clean
        v_sigma = torch.tensor([0.7, 0.7])
        a_sigma = torch.tensor([0.4, 0.4])
        attn = torch.ones(2, v_tokens, v_tokens)
        attn[:, 16:, :16] = 0.5
        attn[1, :16, 16:] = 0.0
        video = Modality(latent=video_latent, sigma=v_sigma, timesteps=v_mask * v_sigma[:, None, None],
                         positions=v_pos, context=v_ctx, context_mask=ctx_mask, attention_mask=attn)
        audio = Modality(latent=audio_latent, sigma=a_sigma, timesteps=torch.ones(2, a_tokens, 1) * a_sigma[:, None, None],
                         positions=a_pos, context=a_ctx, context_mask=ctx_mask)
        perturb = BatchedPerturbationConfig([
            PerturbationConfig([Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, [0]),
                                Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN, None)]),
            PerturbationConfig([]),
        ])
        with torch.no_grad():
            plain_v, plain_a = model(video, audio, BatchedPerturbationConfig.empty(2))
            pert_v, pert_a = model(video, audio, perturb)
        prefix = f"{name}/"
        for key, value in {
            "in/video_latent": video_latent, "in/audio_latent": audio_latent, "in/video_positions": v_pos,
            "in/audio_positions": a_pos, "in/video_context": v_ctx, "in/audio_context": a_ctx,
            "in/context_mask": ctx_mask, "in/video_denoise_mask": v_mask, "in/video_sigma": v_sigma,
            "in/audio_sigma": a_sigma, "in/video_attention_mask": attn,
            "out/video_velocity": plain_v, "out/audio_velocity": plain_a,
            "out/video_velocity_perturbed": pert_v, "out/audio_velocity_perturbed": pert_a,
        }.items():
            arrays[prefix + key] = value.numpy()
    np.savez(out / "transformer_variants.npz", **arrays)
    print(f"wrote {len(arrays)} arrays and {len(VARIANTS)} checkpoints to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
