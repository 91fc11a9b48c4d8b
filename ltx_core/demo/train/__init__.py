"""Training the demo model family (issue 18): design.

Files and configs. The trained family is the demo set itself (``ltx_core.demo``, LTX-2.0 layout:
one checkpoint with the JSON ``config`` metadata holding transformer, video VAE, audio VAE and
vocoder; a Gemma 3 folder; both latent upsamplers; a distilled LoRA; an IC-LoRA), with the same
configs as the random-weight set, so every loader, ``info``, quantization, streaming, LoRA and
pipeline path treats the trained files exactly as today's. Training starts from the set's seeded
random weights (reproducible from ``SEED``) and rewrites tensors in place: the key layout never
changes. 2.0 because it is the simplest single-file layout all pipelines support; 2.3/2.5
layouts differ in file split, not in what is learned.

Demo geometry: 128x128 pixels, 17 frames at 24 fps (0.7 s; video latent 3x4x4 = 48 tokens,
audio latent 18 tokens). The whole set is about 12 MB in float32; a distilled job at this size
runs in seconds on 2 CPU cores.

Trained vs frozen. Gemma stays frozen (seeded random weights; its hidden states still differ per
word). Learned: the video VAE (stage ``vae``); then, with the VAE frozen, the text feature
projection, both embedding connectors and the audio-video transformer (stage ``transformer``).
The audio VAE and vocoder stay random for now: their latents are a fixed deterministic function
of the soundtrack, which the transformer learns to generate alongside the video.

Objectives.
- ``vae``: pixel MSE of the decoded posterior sample (decoder at its inference decode timestep
  and noise injection) + 1e-4 x KL to N(0, 1); latent statistics re-estimated at every export.
- ``transformer``: the rectified-flow objective of the official trainer (ltx-trainer
  ``text_to_video`` strategy): ``x_t = (1 - sigma) x0 + sigma noise``, velocity target
  ``noise - x0``, sigma from the stretched shifted logit-normal sampler with the shift for the
  video token count (0.95 at 1024 tokens, 2.05 at 4096, linear), 10% uniform; first-frame
  conditioning with probability 0.1 (those tokens clean, timestep 0, out of the loss); video and
  audio MSE summed. Captions drop to the empty prompt with probability 0.1 so CFG has an
  unconditional branch.
- Not built yet: ``distill`` (same objective at the distilled sigma schedule, trained into the
  distilled LoRA), ``upsampler`` (latent pairs of the same clip at 1x/2x), ``iclora`` (canny
  edges as the reference video), ``audio`` (audio VAE + vocoder on the soundtrack's mel).

Runs. ``python -m ltx_core.demo.train --stage vae --steps 3000`` (``--resume`` continues); the
run folder (default ``.demo-training/``) holds ``model/`` (the demo set being trained, loadable
as is) and one state folder per stage (``loop.py``). ``ltx_core.demo.install_trained_set`` copies
``model/`` into a demo folder the studio would use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_FOLDER = ".demo-training"


@dataclass(frozen=True)
class StageDefaults:
    steps: int
    learning_rate: float
    batch_size: int


STAGES = {
    "vae": StageDefaults(steps=3000, learning_rate=1e-3, batch_size=2),
    "transformer": StageDefaults(steps=20000, learning_rate=5e-4, batch_size=4),
}


def prepare_folder(folder: Path) -> Path:
    """The run's ``model/`` folder, written from the seeded random demo set on first use."""
    from ltx_core.demo import write_demo_set

    model = Path(folder) / "model"
    if not model.exists():
        write_demo_set(model)
        _neutral_distilled_lora(model)
    return model


def _neutral_distilled_lora(model: Path) -> None:
    """The trained checkpoint itself learns the distilled sigmas, so its distilled LoRA is made an
    identity (``lora_B`` zero): same file layout, no change to the model."""
    import numpy as np

    from ltx_core.demo import DISTILLED_LORA
    from ltx_core.demo.train.weights import read_file, write_file

    tensors, metadata = read_file(model / DISTILLED_LORA)
    tensors = {k: np.zeros_like(v) if k.endswith("lora_B.weight") else v for k, v in tensors.items()}
    write_file(model / DISTILLED_LORA, tensors, metadata)


def build_stage(name: str, model: Path, batch_size: int | None = None, seed: int = 0):
    from ltx_core.demo import CHECKPOINT
    from ltx_core.demo.train.data import ClipGeometry

    batch_size = batch_size or STAGES[name].batch_size
    if name == "vae":
        from ltx_core.demo.train.vae_stage import VAEStage

        return VAEStage(model / CHECKPOINT, ClipGeometry(), batch_size=batch_size, seed=seed)
    from ltx_core.demo.train.transformer_stage import TransformerStage

    return TransformerStage(model, ClipGeometry(), batch_size=batch_size, seed=seed)
