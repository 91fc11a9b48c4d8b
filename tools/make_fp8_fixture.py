"""Write tests/data/ltx2-tiny-transformer-fp8.safetensors and fp8_reference.npz with ltx-core 1.0.0.

The transformer of the shared tiny checkpoint, its block linear layers quantized with the
official per-tensor fp8 scheme (``quantize_weight_to_fp8_per_tensor``; the same layers the
official fp8 path quantizes, excluding block 0 and blocks 43-47), stored as in the released
``*-fp8.safetensors`` files: float8 e4m3 weights in (out, in) layout with float32
``weight_scale`` and ``input_scale``. The npz holds the official model's outputs with the
dequantized weights (fp8 * weight_scale) on the ``transformer_av`` inputs. Scratch env only
(see make_guider_reference.py):

    cd /tmp && /tmp/refenv/bin/python tools/make_fp8_fixture.py FIXTURE_DIR OUT_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
from ltx_core.quantization.fp8_scaled_mm import EXCLUDED_LAYER_SUBSTRINGS, quantize_weight_to_fp8_per_tensor
from safetensors import safe_open
from safetensors.torch import save_file

PREFIX = "model.diffusion_model."
LINEAR_SUFFIXES = (".to_q.weight", ".to_k.weight", ".to_v.weight", ".to_out.0.weight", "ff.net.0.proj.weight", "ff.net.2.weight")


def main(fixture_dir: str, out_dir: str) -> None:
    fixtures, out = Path(fixture_dir), Path(out_dir)
    with safe_open(str(fixtures / "ltx2-tiny.safetensors"), "pt") as handle:
        config = json.loads(handle.metadata()["config"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys() if k.startswith(PREFIX) and "connector" not in k}
    stored, dequantized = {}, {}
    for key, value in tensors.items():
        short = key[len(PREFIX):]
        if short.startswith("transformer_blocks.") and short.endswith(LINEAR_SUFFIXES) and not any(
            s in short for s in EXCLUDED_LAYER_SUBSTRINGS
        ):
            quantized_t, scale = quantize_weight_to_fp8_per_tensor(value)
            quantized = quantized_t.t().contiguous()  # released files keep the (out, in) layout
            stem = key[: -len(".weight")]
            stored[key] = quantized
            stored[f"{stem}.weight_scale"] = scale.float()
            stored[f"{stem}.input_scale"] = torch.tensor(1.0)
            dequantized[short] = quantized.float() * scale.float()
        else:
            stored[key] = value
            dequantized[short] = value
    save_file(stored, str(out / "ltx2-tiny-transformer-fp8.safetensors"), metadata={"config": json.dumps(config)})

    model = LTXModelConfigurator.from_config(config).to_empty(device="cpu")
    model.load_state_dict(dequantized, strict=True)
    model.eval()
    ref = np.load(fixtures / "reference.npz")

    def modality(stream):
        get = lambda name: torch.from_numpy(ref[f"transformer_av/in/{stream}/{name}"])  # noqa: E731
        return Modality(latent=get("latent"), sigma=get("sigma"), timesteps=get("timesteps"),
                        positions=get("positions"), context=get("context"))

    with torch.no_grad():
        video, audio = model(modality("video"), modality("audio"), None)
    np.savez(out / "fp8_reference.npz", video_velocity=video.numpy(), audio_velocity=audio.numpy())
    print(f"fp8 layers: {sum(k.endswith('.weight_scale') for k in stored)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
