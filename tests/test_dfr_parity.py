"""The DFR pipeline (LTX-2.5) against the official ltx-pipelines 1.2.0 ``DFRPipeline`` on the tiny
2.5 set (tests/data/dfr_reference.npz, tools/make_dfr_reference.py): the canvas and tile layout,
the conditioned video states (generated keyframe slots: positions, denoise and keyframes masks,
seeded latents; the carried anchor keyframes), every stage's latents and slots, the stitched and
trimmed output of two temporal rounds. Contexts and every noise draw are injected."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.model_paths import ModelPaths
from ltx_core.pipelines import blocks, dfr, dfr_layout
from ltx_core.pipelines.blocks import Prompts
from ltx_core.pipelines.dfr import DFRPipeline
from ltx_core.pipelines.keyframe_slots import generated_keyframes
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest
from tests.conftest import Reference
from tests.ltx25_helpers import recorded_ltx25_reference
from tests.parity import DOWNSTREAM_OF_ROPE, TOLERANCE, check_parity, load_npz
from tests.pipeline_helpers import InjectedNoise

DATA = Path(__file__).parent / "data" / "dfr_reference.npz"


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return recorded_ltx25_reference()  # the set tests/data's reference was recorded on


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz(DATA)


def test_layout_matches(ref):
    frames, rounds = ref["in/settings"].tolist()[3::2]
    canvas, segment, positions = dfr_layout.resolve_canvas(int(frames))
    assert [canvas, segment] == ref["layout/canvas"].tolist() and list(positions) == ref["layout/positions"].tolist()
    seams, now = list(positions), canvas
    for round_index in range(1, int(rounds) + 1):
        now, seams = 2 * (now - 1) + 1, [2 * s for s in seams]
        tiles = dfr_layout.tile_ranges(seams, now, 2**round_index)
        got = [[t.pixel_start, t.pixel_end, t.latent_start, t.latent_stop, t.drop] for t in tiles]
        assert got == ref[f"layout/round{round_index}/tiles"].tolist()
        for name, attr in (("anchors", "anchors"), ("slots", "slots")):
            expected = [[v for v in row if v >= 0] for row in ref[f"layout/round{round_index}/{name}"].tolist()]
            assert [list(getattr(t, attr)) for t in tiles] == expected
        seams = sorted({*seams, *(s for t in tiles for s in t.slots)})
    assert dfr.output_frames(int(frames), int(rounds)) == int(ref["out/frames"])
    # the memory check sizes the largest pass: round 2's 13-latent-frame tiles (97 frames) < the 161-frame output
    assert dfr_layout.largest_denoised_frames(int(frames), int(rounds)) == 161
    assert dfr_layout.largest_denoised_frames(49, 1) == 97  # round 1's second tile spans the whole canvas


def test_dfr_run_matches_the_reference(ltx25: Reference, ref, monkeypatch):
    seed, height, width, frames, fps, rounds = ref["in/settings"].tolist()
    video_context, audio_context = (mx.array(ltx25[f"text/out/{s}_context"]) for s in ("video", "audio"))
    prompts = Prompts(
        PromptEmbeddings(
            TextContexts(video=video_context, audio=audio_context, mask=mx.array(ltx25["text/out/context_mask"]))
        ),
        "fixture",
    )
    draws = lambda prefix: [mx.array(ref[k]) for k in sorted(k for k in ref if k.startswith(prefix))]
    noise, ancestral = InjectedNoise(draws("in/noise/")), InjectedNoise(draws("in/ancestral/"))
    states, outputs = [], []
    denoise_states = blocks.denoise_states

    def recording(ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, *args, **kwargs):
        state = video_space.initial_state(ledger.dtype, kwargs.get("initial_video"))
        for item in conditionings:
            state = item.apply(state, video_space)
        states.append(state)
        video, audio = denoise_states(
            ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, *args, **kwargs
        )
        outputs.append(
            (
                video_space.finish(video),
                generated_keyframes(video, video_space),
                audio_space and audio is not None and audio_space.finish(audio),
            )
        )
        return video, audio

    monkeypatch.setattr(dfr, "denoise_states", recording)
    ledger = ModelLedger(ModelPaths.from_folder(ltx25.directory))
    request = GenerationRequest(
        prompt="fixture", seed=int(seed), height=int(height), width=int(width), frames=int(frames), fps=float(fps),
        temporal_rounds=int(rounds),
    )  # fmt: skip
    latents = DFRPipeline(ledger).generate(request, noiser=noise, prompts=prompts, ancestral_noiser=ancestral)
    assert not noise._tensors and not ancestral._tensors, "fewer noise draws than the reference"

    assert len(states) == len([k for k in ref if k.endswith("/denoise_mask")])
    for index, state in enumerate(states):
        for field in ("positions", "denoise_mask", "keyframes_mask", "latent", "clean_latent"):
            key = f"state/{index}/{field}"
            check_parity(key, getattr(state, field), ref[key], TOLERANCE)
    for index, (video, slots, audio) in enumerate(outputs):
        check_parity(f"stage/{index}/video_latent", video, ref[f"stage/{index}/video_latent"], DOWNSTREAM_OF_ROPE)
        check_parity(
            f"stage/{index}/generated_keyframes", slots, ref[f"stage/{index}/generated_keyframes"], DOWNSTREAM_OF_ROPE
        )
        if f"stage/{index}/audio_latent" in ref:
            check_parity(f"stage/{index}/audio_latent", audio, ref[f"stage/{index}/audio_latent"], DOWNSTREAM_OF_ROPE)
    check_parity("out/video_latent", latents.video, ref["out/video_latent"], DOWNSTREAM_OF_ROPE)
    check_parity("out/audio_latent", latents.audio, ref["out/audio_latent"], DOWNSTREAM_OF_ROPE)
    assert latents.fps == float(fps) * 2 ** int(rounds)
    assert round(latents.audio_seconds * 48000) == int(ref["out/audio_samples_at_48k"])
    assert (latents.video.shape[2] - 1) * 8 + 1 == int(ref["out/frames"])
    print(f"PARITY out/frames 0 ({int(ref['out/frames'])} frames)")
