"""Text-to-audio (audio only) against the official ``t2a_one_stage`` recipe (tools/make_t2a_reference.py,
ltx-pipelines 1.2.0) on the tiny LTX-2.5 set: same contexts and noise; the sigmas, the denoised audio
latent and the decoded waveform compared. Then the CLI writes the WAV and its sidecar (demo models)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.components.schedulers import ltx2_sigmas
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.pipelines.blocks import Prompts, decode_audio
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.text_to_audio import TextToAudioPipeline
from tests.conftest import REFERENCE_ROOT, load_reference
from tests.model_files import model_paths
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity
from tests.pipeline_helpers import InjectedNoise

DATA = Path(__file__).parent / "data"


def test_t2a_matches_the_official_recipe() -> None:
    ref = np.load(DATA / "t2a_reference.npz")
    ledger = ModelLedger(model_paths(load_reference(REFERENCE_ROOT / "ltx-2.5")))
    positive, negative = mx.array(ref["in/audio_context"]), mx.array(ref["in/audio_negative_context"])
    mask = mx.ones(positive.shape[:2])
    # The video contexts are never read (no video stream); the audio ones are.
    prompts = Prompts(PromptEmbeddings(TextContexts(positive, positive, mask), TextContexts(negative, negative, mask)), "x")
    guidance = {k: float(ref[f"in/guidance/{k}"]) for k in ("cfg_scale", "stg_scale", "rescale_scale")}
    request = GenerationRequest(
        prompt="fixture", frames=int(ref["in/frames"]), fps=float(ref["in/fps"]), steps=int(ref["in/steps"]),
        audio_guidance=MultiModalGuiderParams(**guidance, stg_blocks=tuple(int(b) for b in ref["in/guidance/stg_blocks"])),
    )  # fmt: skip
    latents = TextToAudioPipeline(ledger).generate(request, noiser=InjectedNoise([mx.array(ref["in/noise_0"])]), prompts=prompts)
    assert latents.video is None
    check_parity("t2a/sigmas", ltx2_sigmas(request.steps), ref["out/sigmas"], 1e-6)
    check_parity("t2a/audio_latent", latents.audio, ref["out/audio_latent"], DOWNSTREAM_OF_ROPE)
    audio = decode_audio(ledger, latents.audio)
    assert audio.sampling_rate == int(ref["out/sample_rate"])
    check_parity("t2a/waveform", audio.waveform, ref["out/waveform"], DOWNSTREAM_OF_ROPE)
    with pytest.raises(RequestError, match="text-to-audio needs a duration: give frames"):
        TextToAudioPipeline(ledger).generate(GenerationRequest(prompt="x", frames="auto"), prompts=prompts)


def test_cli_writes_a_wav_and_its_sidecar(tmp_path: Path, monkeypatch, capsys) -> None:
    from ltx_core.__main__ import main

    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    out = tmp_path / "rain.mp4"
    assert main(["generate", "--pipeline", "text-to-audio", "--prompt", "rain on a tin roof", "--frames", "49",
                 "--steps", "2", "--output", str(out), "--preset", "compact", "--dtype", "float32", "--quantize",
                 "none", "--text-quantize", "none"]) == 0  # fmt: skip
    wav = out.with_suffix(".wav")
    assert "wrote " + str(wav) in capsys.readouterr().out and not out.exists()
    with wave.open(str(wav)) as handle:
        seconds = handle.getnframes() / handle.getframerate()
        assert handle.getnchannels() == 2 and abs(seconds - 49 / 24) < 0.05  # 51 latent frames -> 4*51-3 mel frames
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["video"] is None and sidecar["audio"]["codec"] == "pcm_s16le"
    assert sidecar["settings"]["pipeline"] == "text-to-audio" and "width" not in sidecar["settings"]["request"]
