"""The studio's LoRA library through its Gradio API (gradio_client), on the demo models with a
weights folder holding LoRAs in its ``loras/`` sub-folder: listing, search, incompatible LoRAs,
add/remove, a generation with two LoRAs at per-stage strengths recorded in the sidecar and
restored by Reuse, IC-LoRA + style LoRA, the estimate and the Models tab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.browser.studio_server import running_studio
from tests.test_lora_info import lora_with, png_data_url
from tests.test_ui_api import GENERATE, TINY, clip, sidecar

DATA = Path(__file__).parent / "data"


def make_library(folder: Path) -> dict[str, Path]:
    """Three LoRAs fitting the demo model (one with model-spec metadata and a thumbnail, one with a
    kohya name) and one made for LTX-2.3."""
    loras = folder / "loras"
    loras.mkdir(parents=True)
    url, _ = png_data_url((30, 120, 220), (16, 16))
    spec = {"modelspec.title": "Watercolor Style", "modelspec.trigger_phrase": "wtrclr", "modelspec.thumbnail": url,
            "ss_tag_frequency": json.dumps({"1_a": {"paper": 4, "wash": 9}})}  # fmt: skip
    return {
        "watercolor": lora_with(loras / "watercolor.safetensors", spec),
        "dolly": lora_with(loras / "dolly.safetensors", {"ss_output_name": "Dolly In"}),
        "newer": lora_with(folder / "style-2.3.safetensors", {"model_version": "2.3.0", "modelspec.title": "Newer"}),
    }


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora-studio")
    files = make_library(root / "weights")
    with running_studio(root, weights_dir=root / "weights") as running:
        running.loras = files
        yield running


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def choices(update) -> dict[str, str]:
    return {value: label for label, value in update["choices"]}


def test_the_library_lists_searches_and_shows_incompatible_loras_with_the_reason(app, client):
    html, pick = client.predict("", api_name="/generate_lora_search")
    files = app.loras
    offered = choices(pick)
    assert str(files["watercolor"]) in offered and str(files["dolly"]) in offered
    assert offered[str(files["watercolor"])] == "Watercolor Style (watercolor.safetensors)"
    assert str(files["newer"]) not in offered  # listed, but not offered
    assert "Newer" in html and "Cannot be used with the model in use" in html and "is for LTX-2.3 (22B, 2.3)" in html
    assert "Dolly In" in html and "rank 4" in html and "LTX-2.0" in html
    assert "<code>wtrclr</code>" in html and "Trained on: wash, paper" in html and 'src="data:image/png;base64,' in html
    assert "ltx2-demo-ic-lora-canny-control.safetensors" in html  # the demo LoRAs are in the library too
    html, pick = client.predict("WTRCLR", api_name="/generate_lora_search")
    assert list(choices(pick)) == [str(files["watercolor"])] and "Dolly" not in html
    html, pick = client.predict("no such lora", api_name="/generate_lora_search")
    assert choices(pick) == {} and "No LoRA matching" in html


def test_add_update_remove_and_refusals(app, client):
    files = app.loras
    chosen, note = client.predict([], str(files["watercolor"]), 0.8, 0.3, api_name="/generate_lora_add")
    assert chosen == [{"file": str(files["watercolor"]), "strength": 0.8, "stage2_strength": 0.3}]
    assert "`wtrclr`" in note  # its trigger words, to put in the prompt
    chosen, _ = client.predict(chosen, str(files["dolly"]), 0.5, 0.0, api_name="/generate_lora_add")
    chosen, _ = client.predict(chosen, str(files["watercolor"]), 1.2, 0.6, api_name="/generate_lora_add")
    assert [(Path(c["file"]).name, c["strength"], c["stage2_strength"]) for c in chosen] == [
        ("watercolor.safetensors", 1.2, 0.6), ("dolly.safetensors", 0.5, 0.0)]  # updated in place, any number
    assert client.predict(chosen, str(files["watercolor"]), api_name="/generate_lora_remove") == chosen[1:]
    with pytest.raises(AppError, match=r"^style-2.3.safetensors cannot be used: the LoRA style-2.3.safetensors is for LTX-2.3"):
        client.predict([], str(files["newer"]), 1.0, 1.0, api_name="/generate_lora_add")
    with pytest.raises(AppError, match="choose a LoRA from the library first"):
        client.predict([], None, 1.0, 1.0, api_name="/generate_lora_add")


def test_two_loras_at_per_stage_strengths_are_recorded_and_reuse_restores_them(app, client):
    files = app.loras
    loras = [{"file": str(files["watercolor"]), "strength": 0.8, "stage2_strength": 0.3},
             {"file": str(files["dolly"]), "strength": 0.5, "stage2_strength": 0.0}]  # fmt: skip
    status, _, video, *_ = client.predict(**{**GENERATE, **TINY, "prompt": "wtrclr boats", "seed": 5,
                                             "loras": loras}, api_name="/generate")  # fmt: skip
    assert "Saved" in status
    settings = sidecar(app, video)["settings"]
    ran = [{"path": i["file"], "strength": i["strength"], "stage2_strength": i["stage2_strength"]} for i in loras]
    assert settings["request"]["loras"] == ran  # the request the pipeline ran
    assert settings["studio"]["ui"]["loras"] == loras  # what Reuse loads
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert loras in reused and "Estimated" in json.dumps(reused)
    with pytest.raises(AppError, match=r"^style-2.3.safetensors cannot be used: .*is for LTX-2.3"):
        client.predict(**{**GENERATE, **TINY, "prompt": "x", "seed": 1,
                          "loras": [{"file": str(files["newer"])}]}, api_name="/generate")  # fmt: skip


def test_audio_to_video_takes_loras_from_the_library(app, client, tmp_path):
    """The Audio to Video tab has the library too: a LoRA found by its trigger word runs in both stages at
    its strengths, is recorded in the sidecar and comes back with Reuse."""
    from tests.test_a2v_pipeline import write_song
    from tests.test_ui_a2v import TINY as A2V

    files = app.loras
    _, pick = client.predict("wtrclr", api_name="/audio_to_video_lora_search")
    assert list(choices(pick)) == [str(files["watercolor"])]
    loras, _ = client.predict([], str(files["watercolor"]), 0.7, 0.2, api_name="/audio_to_video_lora_add")
    song = tmp_path / "song.wav"
    write_song(song, 1.0)
    status, _, video, *_ = client.predict(handle_file(str(song)), 0.0, 0.0, **{**A2V, "prompt": "wtrclr dancers",
                                          "loras": loras}, api_name="/audio_to_video_generate")  # fmt: skip
    assert "Saved" in status
    settings = sidecar(app, video)["settings"]
    assert settings["pipeline"] == "audio-to-video" and settings["studio"]["ui"]["loras"] == loras
    assert settings["request"]["loras"] == [{"path": str(files["watercolor"]), "strength": 0.7, "stage2_strength": 0.2}]
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert loras in reused and "loaded into the audio-to-video tab" in reused[0]


def test_the_estimate_counts_the_loras_of_each_stage(app):
    from ltx_core.pipelines.request import GenerationRequest, LoraChoice
    from ltx_ui.estimates import memory_estimate

    studio = app.studio
    plain = GenerationRequest.for_version(studio.models.version, prompt="x", height=128, width=128, frames=9)
    one_stage = GenerationRequest.for_version(studio.models.version, prompt="x", height=128, width=128, frames=9,
                                              loras=(LoraChoice(app.loras["watercolor"], 1.0, 0.0),))  # fmt: skip
    _, base = memory_estimate(studio, "distilled", plain)
    _, with_lora = memory_estimate(studio, "distilled", one_stage)
    peaks = {s.stage: (s.peak, w.peak) for s, w in zip(base.stages, with_lora.stages)}
    fuse = (5 + 1) * 4 * 8192  # the demo model is unquantized: the LoRA is fused (a float32 transient delta)
    assert peaks["stage 1"][1] - peaks["stage 1"][0] == fuse
    assert peaks["stage 2"][1] == peaks["stage 2"][0]  # stage-2 strength 0: not applied there
    assert peaks["text encoder"][1] == peaks["text encoder"][0]


def test_ic_lora_control_and_a_style_lora_together(app, client, tmp_path):
    files = app.loras
    control, _ = client.predict(handle_file(str(clip(tmp_path / "source.mp4"))), 50, 100, api_name="/canny")
    ic = str(app.studio.models.ic_lora())
    style = [{"file": str(files["watercolor"]), "strength": 0.7, "stage2_strength": 0.4}]
    status, _, video, *_ = client.predict(handle_file(control), ic, 1.0, style, **{**TINY, "prompt": "edges", "seed": 4},
                                          api_name="/ic_lora_generate")  # fmt: skip
    assert "Saved" in status
    request = sidecar(app, video)["settings"]["request"]
    assert request["control_loras"] == [{"path": ic, "strength": 1.0}]
    assert request["loras"] == [{"path": str(files["watercolor"]), "strength": 0.7, "stage2_strength": 0.4}]


def test_models_tab_lists_lora_costs_per_memory_mode_and_estimates_with_loras(app, client):
    table = json.dumps(client.config)
    assert "watercolor.safetensors" in table and "streamed side path" in table and "convert CHECKPOINT OUT" in table
    files = app.loras
    report = client.predict("distilled", 256, 256, 9, True, [str(files["watercolor"]), str(files["dolly"])],
                            api_name="/models_estimate")  # fmt: skip
    assert "| stage 1 |" in report and "LoRA side paths" in report and "fits" in report
    too_big = client.predict("distilled", 8192, 8192, 513, True, [str(files["watercolor"])], api_name="/models_estimate")
    assert "A run would be refused: not enough memory for upsample" in too_big  # 51 GiB for the latent upsampler


def test_a_refusal_with_side_paths_names_fusing_with_convert(tmp_path):
    """On a quantized memory mode (the tiny LTX-2 model, 8-bit) a LoRA rides as a side path; a job
    whose denoising stage is too big for the machine (here a 0.3 GiB one, the tiny Gemma's
    encode far below it) is refused naming ``convert --lora``, and the Models tab's LoRA list
    marks the mode in use."""
    from dataclasses import replace

    from ltx_core.pipelines.request import GenerationRequest, LoraChoice
    from ltx_core.presets import system_memory_bytes
    from ltx_ui.context import Studio
    from ltx_ui.estimates import memory_estimate, refusal
    from ltx_ui.lora_library import lora_table

    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("ltx2-tiny.safetensors", "ltx2-tiny-spatial-upsampler.safetensors"):
        (weights / name).symlink_to(Path(__file__).parent / "reference" / "ltx-2.0" / name)
    (weights / "loras").mkdir()
    (weights / "loras" / "style.safetensors").symlink_to(DATA / "lora_a.safetensors")
    studio = Studio.create(tmp_path / "outputs", weights, Path(__file__).parent / "reference" / "ltx-2.0" / "gemma",
                           "balanced")  # fmt: skip
    assert not studio.models.demo
    ledger = studio.current_ledger()
    ledger.runtime = replace(ledger.runtime, memory_margin=system_memory_bytes() - int(0.3 * 2**30))
    lora = LoraChoice(weights / "loras" / "style.safetensors", 1.0, 0.5)
    request = GenerationRequest.for_version(studio.models.version, prompt="x", height=4096, width=4096, frames=257,
                                            loras=(lora,))  # fmt: skip
    _, estimate = memory_estimate(studio, "distilled", request)
    assert {s.stage: s.lora_side_path for s in estimate.stages}["stage 1"] == 12544 * 4  # float32 A/B on the CPU
    why = refusal(studio, estimate)
    assert why.startswith("not enough memory for") and "--lora FILE:STRENGTH costs no memory" in why
    table = lora_table(studio)
    assert "**balanced** (in use)" in table and "| `style.safetensors` | LTX-2.0 | 4 |" in table
    assert "side path: 0.05 MiB" in table and "streamed side path: 0.02 MiB" in table  # 50176 / 25088 bytes
