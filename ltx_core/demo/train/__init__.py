"""Training the demo model family (issue 18): design.

Files and configs. The trained family has the demo set's files (``ltx_core.demo``, LTX-2.0 layout:
one checkpoint with the JSON ``config`` metadata holding transformer, video VAE, audio VAE and
vocoder; a Gemma 3 folder; both latent upsamplers; a distilled LoRA; an IC-LoRA), keys and config
sections, with its own sizes (``ltx_core/demo/trained_layout.json``, written from the official
modules by ``tools/make_trained_demo_layout.py``): a 32-channel video latent, a video decoder 32
channels wide up to the pixels, a 4-layer 128-wide audio-video transformer, upsamplers over the
32-channel latent, and a caption-word tokenizer. Every loader, ``info``, quantization, streaming,
LoRA and pipeline path reads the files from their configs, as it reads the real ones. The random
demo set (``layout.json``, what the studio and the tests use today) is unchanged. Training starts
from the layout's seeded random weights (reproducible from ``ltx_core.demo.SEED`` and ``--seed``)
and rewrites tensors in place, through the loaders' own key mapping (``weights.ParameterIndex``):
the key layout never changes. Version 2.0 because it is the single-file layout every pipeline
supports; 2.3/2.5 differ in file split and extra heads, not in what has to be learned.

Demo geometry: 128x128 pixels, 17 frames at 24 fps (0.7 s): video latent 3x4x4 = 48 tokens,
audio latent 18 tokens. The trained family is about 36 MB in float32 (limit ~40 MB); a distilled
job at this size takes ~2 s on 2 CPU cores, a 40-step one-stage CFG job ~12 s.

Trained vs frozen. Gemma and the embeddings processor (feature projection and both connectors)
stay frozen at their seeded random weights, over the caption-word tokenizer: one token per grammar
word, so the contexts differ per word (changing one word moves that token's context by 1.1-1.3 of
its norm), and the transformer's cross-attention learns to read them. Training the processor cost
1.75 s of a 2.1 s step (its connectors attend over all 1,024 padded prompt tokens, and the CPU
backward of that attention is slow); frozen, each caption's contexts are computed once. Learned:
the video VAE (stage ``vae``), the audio VAE and vocoder (``audio``); then, with both VAEs frozen,
the audio-video transformer (stage ``transformer``) and its edge-control IC-LoRA (``iclora``).

Geometries. The transformer trains on the demo size (half the steps), on its half (the first stage
of a two-stage job at the demo size: 30%) and on 25-frame clips (20%) (``data.TRANSFORMER_GEOMETRIES``);
the upsamplers on 64- and 128-pixel inputs in turn; the IC-LoRA at its pipeline's first-stage sizes.
The VAE, trained at 128 pixels and 17 frames, reconstructs the others about as well (step 1,450:
24.4 dB at 17x128, 22.5 at 17x64, 24.5 at 25x128, 23.9 at 17x256). Latents come from a pool per
geometry (``LATENT_POOL_CLIPS`` clips, each encoded on first use) with fresh noise and sigma each time.

Objectives.
- ``vae``: pixel MSE of the decoded posterior sample (the decoder at its inference decode
  timestep and latent noise) + 1e-6 x the mean KL to N(0, 1) (a KL weight of 1e-4 per latent
  element is ~0.1 per pixel at this compression and collapses the posterior), on 64-pixel windows
  around the shape for the first 1,000 steps, whole clips after (on windows alone the held-out
  PSNR stayed at 20.5 dB: shapes decoded only where the windows had put them; 150 whole-clip steps
  took it to 22.0 dB, ``vae_stage.py``). Every checkpoint re-estimates the latent statistics so
  normalised latents have zero mean and unit variance per channel (what the diffusion expects);
  training continues with them. The posterior starts nearly deterministic (log-variance -8, not
  the random ~0 whose noise drowns the means). Optimizer: Muon (lr 0.02, 50 warmup steps) for the convolution and linear
  weights, AdamW (2e-4) for biases and tables. Plain AdamW diverged at eps 1e-8 (rank-1 updates
  blew the decoder's activations up, ``vae_stage.py``) and at eps 1e-3 acted as SGD with a tiny
  rate once gradients fell to 2e-5-5e-4 (the encoder's inner blocks at the bottom of that range):
  64-pixel-window PSNR 15.3 dB at step 1,000, 17.5 dB at 5,600. Muon, whose orthogonalised updates
  move every matrix by the same relative amount whatever its gradient's size: 17.0 dB by step 600.
- ``transformer``: the official trainer's rectified flow (ltx-trainer ``text_to_video``):
  ``x_t = (1 - sigma) x0 + sigma noise``, velocity target ``noise - x0``, sigma from the
  stretched shifted logit-normal sampler with the shift for the video token count (linear from
  0.95 at 1024 tokens to 2.05 at 4096), 10% uniform; video + audio MSE. 38% of the batches are
  given part of the clip as the pipelines give it (``conditioning.py``: first frame, extension
  forwards and backwards, retake, appended keyframe images; clean tokens at timestep 0, out of the
  loss).
  Captions drop to the empty prompt with probability 0.1 (the unconditional branch of CFG: the
  quality script uses an empty negative prompt). A quarter of samples take a sigma of the
  distilled schedules instead, so one checkpoint serves the dev and the distilled pipelines (the
  trained set's distilled LoRA is an identity: ``lora_B`` zero). Optimizer as for the VAE: Muon
  (0.02, 50 warmup steps) for the weight matrices, AdamW (5e-4) for the rest; on fixed batches
  after 600 steps it had 0.61 flow loss at sigma 0.5 where AdamW alone had 1.01.
- ``spatial-upsampler`` / ``temporal-upsampler``: MSE between ``upsample_video`` of a clip's
  latent and the latent of the same clip rendered at twice the size / twice the frame rate
  (``upsampler_stage.py``), the video encoder frozen.
- ``audio`` (``audio_stage.py``; audio VAE and vocoder, sizes unchanged: 2.8 + 1.1 MB): each
  clip's soundtrack at the audio VAE's 16 kHz (its log-mel through ``log_mel_of``, exactly the
  pipelines' encoder input) and at the vocoder's 24 kHz output rate (the target waveform: same
  spec, same tone, pan and clicks). Audio VAE: log-mel MSE of the decoded posterior sample +
  1e-6 x KL, the posterior started nearly deterministic and the statistics re-estimated at
  checkpoints, as for video. Vocoder, fed the true log-mel: L1 of log STFT magnitudes at three
  resolutions + L1 of the magnitudes, no discriminator (pure tones and clicks need none). It runs
  before ``transformer``, which learns the audio encoder's latents. From step 2,000 of 3,000 the
  vocoder is fed the decoder's log-mel instead (what ``decode_audio`` chains). Muon for the audio
  VAE's matrices, AdamW for the vocoder (which Muon destabilised; see ``STAGES``).
- ``iclora`` (``iclora_stage.py``): the transformer's objective with the clip's Canny edges as
  clean reference tokens, only the LoRA matrices on the modules of the demo IC-LoRA file learning
  (``lora_B`` from zero); mostly distilled stage-1 sigmas, as its pipeline runs it.

Runs. ``python -m ltx_core.demo.train --all --state-dir DIR --resume`` trains every stage in turn
(``STAGE_ORDER``) and, run again, continues a stopped run bit for bit (``loop.py``), skipping
finished stages; ``--stage NAME`` trains one. Progress lines carry the loss, the stage's metrics,
steps per second and an ETA, and at checkpoints held-out metrics (the VAE's PSNR on whole clips of
held-out captions). The run folder (default ``.demo-training/``, or any ``--state-dir``) holds
``model/`` (the demo set being trained, loadable as is, rewritten at each checkpoint) and one
state folder per stage. ``python -m ltx_core.demo.evaluate`` scores held-out captions;
``ltx_core.demo.install_trained_set`` makes ``model/`` a demo folder the studio would use.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FOLDER = ".demo-training"


@dataclass(frozen=True)
class StageDefaults:
    steps: int
    learning_rate: float
    batch_size: int
    # The learning rate at the last step as a fraction of ``learning_rate`` (cosine decay over the
    # stage's steps). At a constant rate the VAE's held-out PSNR kept swinging: 19.1, 19.9, 16.1,
    # 20.2 dB at steps 500-1,250 (lr 2e-4, batch 2; 4 held-out clips).
    decay_to: float = 0.1
    matrix_learning_rate: float = 0.0  # Muon's rate for the weight matrices; 0: AdamW alone
    warmup_steps: int = 0
    adamw_only: tuple[str, ...] = ()  # module paths whose weight matrices stay with AdamW


STAGES = {
    "vae": StageDefaults(steps=4000, learning_rate=2e-4, batch_size=2, matrix_learning_rate=0.02, warmup_steps=50),
    # Muon: after 600 steps its flow loss on fixed batches was 0.91 / 0.61 / 0.66 at sigma 0.2 / 0.5 /
    # 0.8, AdamW's (5e-4) 1.42 / 1.01 / 0.82.
    "transformer": StageDefaults(
        steps=20000, learning_rate=5e-4, batch_size=4, matrix_learning_rate=0.02, warmup_steps=50
    ),
    # Muon for the audio VAE: log-mel MSE 0.11 after 300 steps against AdamW's 0.43. The vocoder
    # stays with AdamW: under Muon its spectral loss rose from 1.4 to 3.1 (AdamW: 0.80).
    "audio": StageDefaults(
        steps=3000, learning_rate=2e-4, batch_size=4, matrix_learning_rate=0.02, warmup_steps=50,
        adamw_only=("vocoder.",),
    ),  # fmt: skip
    "spatial-upsampler": StageDefaults(steps=2000, learning_rate=5e-4, batch_size=2),
    "temporal-upsampler": StageDefaults(steps=2000, learning_rate=5e-4, batch_size=2),
    "iclora": StageDefaults(steps=3000, learning_rate=1e-3, batch_size=4),
}


# ``--all`` runs the stages in this order: the transformer right after the two VAEs whose latents
# it learns (the longest stage, and what a partly trained set is first usable with); the
# upsamplers need only the video encoder and serve only two-stage recipes; the IC-LoRA adapts the
# trained transformer.
STAGE_ORDER = ("vae", "audio", "transformer", "spatial-upsampler", "temporal-upsampler", "iclora")


def prepare_folder(folder: Path) -> Path:
    """The run's ``model/`` folder, written on first use from the seeded random weights of the
    trained family's layout (``ltx_core.demo.TRAINED_LAYOUT_PATH``)."""
    from ltx_core.demo import CHECKPOINT, TRAINED_LAYOUT_PATH, write_demo_set
    from ltx_core.demo.train.audio_stage import start_at_mean_log_mel, start_quiet_vocoder
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.demo.train.vae_stage import start_nearly_deterministic

    model = Path(folder) / "model"
    if not model.exists():
        partial = Path(folder) / ".model-partial"  # moved into place whole: a stop never leaves half a set
        shutil.rmtree(partial, ignore_errors=True)
        write_demo_set(partial, TRAINED_LAYOUT_PATH)
        start_nearly_deterministic(partial / CHECKPOINT)
        start_at_mean_log_mel(partial / CHECKPOINT, ClipGeometry())
        start_quiet_vocoder(partial / CHECKPOINT)
        _neutral_distilled_lora(partial)
        os.replace(partial, model)
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
    if name == "audio":
        from ltx_core.demo.train.audio_stage import AudioStage

        return AudioStage(model, ClipGeometry(), batch_size=batch_size, seed=seed)
    if name.endswith("-upsampler"):
        from ltx_core.demo.train.data import UPSAMPLER_GEOMETRIES
        from ltx_core.demo.train.upsampler_stage import UpsamplerStage

        kind = name.removesuffix("-upsampler")
        return UpsamplerStage(model, UPSAMPLER_GEOMETRIES, kind=kind, batch_size=batch_size, seed=seed)
    from ltx_core.demo.train.data import ICLORA_GEOMETRIES, TRANSFORMER_GEOMETRIES

    if name == "iclora":
        from ltx_core.demo.train.iclora_stage import ICLoraStage

        return ICLoraStage(model, ICLORA_GEOMETRIES, batch_size=batch_size, seed=seed)
    from ltx_core.demo.train.transformer_stage import TransformerStage

    return TransformerStage(model, TRANSFORMER_GEOMETRIES, batch_size=batch_size, seed=seed)
