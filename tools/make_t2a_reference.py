"""Write tests/data/t2a_reference.npz with the official text-to-audio recipe (``ltx_pipelines.t2a_one_stage``,
ltx-core / ltx-pipelines 1.2.0) on the tiny LTX-2.5 set.

It runs ``T2AOneStagePipeline.__call__``'s steps with the official blocks: the audio-only transformer
(``DiffusionStage.from_checkpoint`` with ``LTXAudioOnlyModelConfigurator`` and the audio-only key map),
``FactoryGuidedDenoiser`` with no video and the audio guider (CFG, STG on the audio self-attention,
modality scale 1 as the official CLI sets it), ``LTX2Scheduler`` sigmas, then ``AudioDecoder`` (audio VAE
decoder + vocoder). Seeded random contexts stand in for the prompt encoder; the model runs in float32
on CPU; the noise the noiser draws is stored. Without scipy or torchaudio in the environment empty modules
stand in (only the beta scheduler and ``AudioProcessor``, unused here, need them). Run it in the 1.2.0 scratch environment:

    cd /tmp && PYTHONPATH=/tmp/ltx2-120/packages/ltx-core/src:/tmp/ltx2-120/packages/ltx-pipelines/src \\
        /tmp/vae25-torch/bin/python /path/to/tools/make_t2a_reference.py /path/to/tests/reference/ltx-2.5 \\
        /path/to/tests/data/t2a_reference.npz
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

# Placeholders for imports this run never uses: scipy (the beta scheduler), torchaudio (``AudioProcessor``),
# OpenImageIO (HDR image reading).
for name in ("scipy", "torchaudio", "OpenImageIO"):
    if importlib.util.find_spec(name) is None:
        sys.modules[name] = types.ModuleType(name)
        for part in ("transforms", "functional", "stats"):
            setattr(sys.modules[name], part, types.ModuleType(f"{name}.{part}"))
from ltx_core.loader.single_gpu_model_builder import SingleGPUModelBuilder
from ltx_pipelines.utils.blocks import AudioDecoder, DiffusionStage
from ltx_pipelines.utils.denoisers import FactoryGuidedDenoiser
from ltx_pipelines.utils.types import ModalitySpec
from safetensors import safe_open

from ltx_core.components.guiders import MultiModalGuiderParams, create_multimodal_guider_factory
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.model.transformer import LTXV_AUDIO_ONLY_MODEL_COMFY_RENAMING_MAP, LTXAudioOnlyModelConfigurator

_official_build = SingleGPUModelBuilder.build


def _build_in_dtype(self, device=None, dtype=None, **kwargs):
    # ``DiffusionStage`` builds the transformer without a dtype (the file's bf16); this run is float32.
    return _official_build(self, device, dtype, **kwargs).to(dtype or torch.float32)


SingleGPUModelBuilder.build = _build_in_dtype

torch.set_num_threads(1)
FRAMES, FPS, STEPS, TOKENS = 25, 24.0, 3, 24
GUIDANCE = {"cfg_scale": 7.0, "stg_scale": 1.0, "stg_blocks": [1], "rescale_scale": 0.7, "modality_scale": 1.0}


class RecordingNoiser(GaussianNoiser):
    def __init__(self, generator: torch.Generator):
        super().__init__(generator)
        self.draws: list[np.ndarray] = []

    def _sample_noise(self, latent_state):
        noise = super()._sample_noise(latent_state)
        self.draws.append(noise.float().numpy().copy())
        return noise


def main(fixtures: str, out_path: str) -> None:
    fixtures = Path(fixtures)
    transformer = next((fixtures / "diffusion_models").glob("*.safetensors"))
    audio_vae = next((fixtures / "vae").glob("*audio-vae*.safetensors"))
    with safe_open(str(transformer), "pt") as handle:
        config = json.loads(handle.metadata()["config"])["transformer"]
    width = config.get("audio_cross_attention_dim", 2048)
    rng = np.random.default_rng(2525)
    positive = rng.standard_normal((1, TOKENS, width)).astype(np.float32)
    negative = rng.standard_normal((1, TOKENS, width)).astype(np.float32)
    device, dtype = torch.device("cpu"), torch.float32
    stage = DiffusionStage.from_checkpoint(
        str(transformer), dtype=dtype, device=device, model_configurator=LTXAudioOnlyModelConfigurator,
        model_sd_ops=LTXV_AUDIO_ONLY_MODEL_COMFY_RENAMING_MAP,
    )  # fmt: skip
    noiser = RecordingNoiser(torch.Generator(device=device).manual_seed(0))
    with torch.inference_mode():
        a_pos, a_neg = torch.from_numpy(positive), torch.from_numpy(negative)
        sigmas = LTX2Scheduler().execute(steps=STEPS).to(torch.float32)
        factory = create_multimodal_guider_factory(params=MultiModalGuiderParams(**GUIDANCE), negative_context=a_neg)
        _, audio_state = stage(
            denoiser=FactoryGuidedDenoiser(v_context=None, a_context=a_pos, video_guider_factory=None,
                                           audio_guider_factory=factory),
            sigmas=sigmas, noiser=noiser, width=512, height=512, frames=FRAMES, fps=FPS, video=None,
            audio=ModalitySpec(context=a_pos),
        )  # fmt: skip
        audio = AudioDecoder(str(audio_vae), dtype=dtype, device=device)(audio_state.latent)
    arrays = {"in/audio_context": positive, "in/audio_negative_context": negative, "in/frames": np.array(FRAMES),
              "in/fps": np.array(FPS), "in/steps": np.array(STEPS), "out/sigmas": sigmas.numpy(),
              "out/audio_latent": audio_state.latent.float().numpy(), "out/waveform": audio.waveform.float().numpy(),
              "out/sample_rate": np.array(audio.sampling_rate)}  # fmt: skip
    for key, value in GUIDANCE.items():
        arrays[f"in/guidance/{key}"] = np.array(value, np.float32)
    for index, draw in enumerate(noiser.draws):
        arrays[f"in/noise_{index}"] = draw
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}; draws {[d.shape for d in noiser.draws]}, "
          f"latent {audio_state.latent.shape}, waveform {tuple(audio.waveform.shape)} at {audio.sampling_rate}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
