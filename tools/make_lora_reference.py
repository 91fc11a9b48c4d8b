"""Write tests/data/lora_*.safetensors + tests/data/lora_reference.npz with ltx-core 1.0.0.

Two random LoRAs for the tiny fixture transformer, in the official key layout
(``diffusion_model.<module>.lora_A.weight`` / ``lora_B.weight``), and the official transformer's
outputs with them fused. Run it in a scratch environment (see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python tools/make_lora_reference.py FIXTURE_DIR OUT_DIR

The LoRA and model state dicts are read with the official loader and key maps
(``SafetensorsStateDictLoader`` + ``LTXV_LORA_COMFY_RENAMING_MAP`` / ``LTXV_MODEL_COMFY_RENAMING_MAP``,
as ``ModelLedger`` and ``args.LoraAction`` do) and the deltas come from the official
``fuse_loras._prepare_deltas`` (key matching, strength, sum over LoRAs). The final
``weight + delta`` is written out here because ``fuse_loras._fuse_deltas`` only accepts
bfloat16 (or fp8) base weights and the fixture is float32; the addition is the same
``deltas.add_(weight)`` as ``_fuse_delta_with_bfloat16``.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.loader.fuse_loras import _prepare_deltas
from ltx_core.loader.primitives import LoraStateDictWithStrength
from ltx_core.loader.sd_ops import LTXV_LORA_COMFY_RENAMING_MAP
from ltx_core.loader.sft_loader import SafetensorsStateDictLoader
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model_configurator import (
    LTXV_MODEL_COMFY_RENAMING_MAP,
    LTXModelConfigurator,
    LTXVideoOnlyModelConfigurator,
)
from safetensors.torch import save_file

# LoRA 1: every linear layer of the transformer (blocks, embeddings, AdaLN, projections) plus one
# text-connector layer and per-module ``alpha`` tensors, which the official fuse ignores.
# LoRA 2: a subset, with IC-LoRA style metadata.
CONNECTOR_MODULE = "video_embeddings_connector.transformer_1d_blocks.0.attn1.to_q"
LORA2_PARTS = ("attn1.to_q", "attn1.to_v", "audio_attn1.to_k", "ff.net.2", "audio_ff.net.0.proj")
CASES = {"single": [("lora_a", 0.7)], "pair": [("lora_a", 0.7), ("lora_b", -1.3)]}
SAVED_WEIGHTS = ("transformer_blocks.0.attn1.to_q.weight", "adaln_single.emb.timestep_embedder.linear_1.weight")


def linear_modules(state: dict) -> dict[str, tuple[int, int]]:
    return {k[: -len(".weight")]: tuple(v.shape) for k, v in state.items() if k.endswith(".weight") and v.ndim == 2}


def random_lora(modules: dict, rank: int, seed: int, alpha: bool) -> dict:
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for module, (out_dim, in_dim) in sorted(modules.items()):
        tensors[f"diffusion_model.{module}.lora_A.weight"] = torch.randn(rank, in_dim, generator=gen) / in_dim**0.5
        tensors[f"diffusion_model.{module}.lora_B.weight"] = 0.3 * torch.randn(out_dim, rank, generator=gen) / rank**0.5
        if alpha:
            tensors[f"diffusion_model.{module}.alpha"] = torch.tensor(float(2 * rank))
    return tensors


def modality(ref, case: str, stream: str) -> Modality | None:
    prefix = f"{case}/in/{stream}/"
    if prefix + "latent" not in ref:
        return None
    fields = ("latent", "sigma", "timesteps", "positions", "context")
    return Modality(**{name: torch.from_numpy(ref[prefix + name]) for name in fields})


def main(fixture_dir: str, out_dir: str) -> None:
    fixtures, out = Path(fixture_dir), Path(out_dir)
    checkpoint = str(fixtures / "ltx2-tiny.safetensors")
    ref = np.load(fixtures / "reference.npz")
    with open(fixtures / "manifest.json") as handle:
        config = json.load(handle)["config"]
    loader = SafetensorsStateDictLoader()
    base = loader.load(checkpoint, sd_ops=LTXV_MODEL_COMFY_RENAMING_MAP)

    model = LTXModelConfigurator.from_config(config).to_empty(device="cpu")
    modules = linear_modules(model.state_dict())
    connector = {CONNECTOR_MODULE: tuple(base.sd[CONNECTOR_MODULE + ".weight"].shape)}
    lora_a = random_lora({**modules, **connector}, rank=4, seed=11, alpha=True)
    subset = {m: s for m, s in modules.items() if m.startswith("transformer_blocks.") and m.endswith(LORA2_PARTS)}
    lora_b = random_lora(subset, rank=2, seed=12, alpha=False)
    paths = {"lora_a": out / "lora_a.safetensors", "lora_b": out / "lora_b.safetensors"}
    save_file(lora_a, str(paths["lora_a"]))
    save_file(lora_b, str(paths["lora_b"]), metadata={"reference_downscale_factor": "2"})
    loras = {name: loader.load(str(path), sd_ops=LTXV_LORA_COMFY_RENAMING_MAP) for name, path in paths.items()}

    arrays = {}
    for case, chosen in CASES.items():
        with_strength = [LoraStateDictWithStrength(loras[name], strength) for name, strength in chosen]
        fused = {}
        for key, weight in base.sd.items():
            deltas = _prepare_deltas(with_strength, key, weight.dtype, weight.device)
            fused[key] = weight.clone() if deltas is None else deltas.add_(weight)
        for key in SAVED_WEIGHTS:
            arrays[f"{case}/weight/{key}"] = fused[key].numpy()
        models = ((LTXModelConfigurator, "transformer_av"), (LTXVideoOnlyModelConfigurator, "transformer_video"))
        for configurator, ref_case in models:
            net = configurator.from_config(config).to_empty(device="cpu")
            result = net.load_state_dict(fused, strict=False)
            assert not result.missing_keys, result.missing_keys
            net.eval()
            video, audio = modality(ref, ref_case, "video"), modality(ref, ref_case, "audio")
            with torch.no_grad():
                v, a = net(video, audio, BatchedPerturbationConfig.empty(1))
            arrays[f"{case}/{ref_case}/video_velocity"] = v.numpy()
            if audio is not None:
                arrays[f"{case}/{ref_case}/audio_velocity"] = a.numpy()
    np.savez_compressed(out / "lora_reference.npz", **arrays)
    print(f"wrote {len(arrays)} arrays and {len(paths)} LoRA files to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
