"""The studio on real-layout weights folders (tiny LTX-2.3 set), through its Gradio API: the x2 /
x1.5 spatial upsampler choice of the two-stage pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from ltx_core.media import probe_video
from tests.browser.studio_server import running_studio
from tests.conftest import REFERENCE_ROOT
from tests.test_ui_api import GENERATE, TINY
from tests.text_helpers import gemma_folder_with_tokenizer

SET_23 = REFERENCE_ROOT / "ltx-2.3"
FILES_23 = ("ltx2-tiny.safetensors", "ltx2-tiny-spatial-upsampler.safetensors",
            "ltx2-tiny-spatial-upsampler-x1.5.safetensors", "ltx2-tiny-temporal-upsampler.safetensors")  # fmt: skip


def folder_23(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in FILES_23:
        (folder / name).symlink_to(SET_23 / name)
    gemma_folder_with_tokenizer(SET_23 / "gemma", folder / "gemma-3-12b-it")
    return folder


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio-versions")
    with running_studio(root, weights_dir=folder_23(root / "weights")) as running:
        running.studio.set_preset(_quality(), False)
        yield running


def _quality():
    from ltx_core.presets import load_presets, preset_by_name

    return preset_by_name("quality", load_presets())  # unquantized, resident: the tiny model as it is


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def sidecar(app, video: str) -> dict:
    return json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]


def test_two_stage_jobs_run_through_the_chosen_spatial_upsampler(app, client):
    assert app.studio.models.version.version == "2.3" and app.studio.models.paths.spatial_upscales == (2.0, 1.5)
    common = {**GENERATE, **TINY, "prompt": "a lighthouse at dusk", "seed": 5}
    status, _, video, *_ = client.predict(**{**common, "spatial_upscale": "1.5", "width": 200, "height": 190},
                                          api_name="/generate")  # fmt: skip
    assert "Saved" in status and "192" in status, status  # snapped to multiples of 96, with a note
    settings = sidecar(app, video)
    assert settings["request"]["spatial_upscale"] == 1.5
    assert settings["models"]["spatial_upsampler"] == "ltx2-tiny-spatial-upsampler-x1.5.safetensors"
    assert (probe_video(video).width, probe_video(video).height) == (192, 192)
    assert settings["studio"]["ui"]["spatial_upscale"] == "1.5"  # what Reuse restores

    status, _, video, *_ = client.predict(**{**common, "spatial_upscale": "2"}, api_name="/generate")
    settings = sidecar(app, video)
    assert settings["request"]["spatial_upscale"] == 2.0
    assert settings["models"]["spatial_upsampler"] == "ltx2-tiny-spatial-upsampler.safetensors"

    with pytest.raises(AppError, match="not in the list of choices"):  # not a choice: refused, and the studio keeps serving
        client.predict(**{**common, "spatial_upscale": "3"}, api_name="/generate")


def test_models_tab_picks_one_of_several_checkpoints_and_refuses_the_other_versions_companions(app, client, tmp_path):
    """A 2.0 and a 2.3 checkpoint in one folder: the user picks which; the upsamplers and LoRA of
    the other version are listed as not used, with the reason, and never picked."""
    from tests.pipeline_helpers import tiny_lora

    set_20 = REFERENCE_ROOT / "ltx-2.0"
    folder = folder_23(tmp_path / "both")
    (folder / "ltx-2-tiny-dev.safetensors").symlink_to(set_20 / "ltx2-tiny.safetensors")
    (folder / "ltx-2-spatial-upscaler-x2.safetensors").symlink_to(set_20 / "ltx2-tiny-spatial-upsampler.safetensors")
    tiny_lora(SET_23 / "ltx2-tiny.safetensors", folder / "style-2.3.safetensors")
    before = app.studio.weights_dir
    try:
        found, _ = client.predict(str(folder), api_name="/models_rescan")
        models = app.studio.models
        assert {f.path.name for f in models.models()} == {"ltx2-tiny.safetensors", "ltx-2-tiny-dev.safetensors"}
        chosen = models.paths.checkpoint
        other = next(f.path for f in models.models() if f.path != chosen)

        found, _ = client.predict(str(other), api_name="/models_checkpoint")
        models = app.studio.models
        assert models.paths.checkpoint == other
        x2 = "ltx-2-spatial-upscaler-x2.safetensors" if models.version.version == "2.0" else "ltx2-tiny-spatial-upsampler.safetensors"
        assert models.paths.spatial_upsampler.name == x2
        refused = {f.path.name: f.refused for f in models.found if f.refused}
        print("REFUSED", refused)
        if models.version.version == "2.0":
            assert set(refused) == {"ltx2-tiny-spatial-upsampler.safetensors", "ltx2-tiny-spatial-upsampler-x1.5.safetensors",
                                    "ltx2-tiny-temporal-upsampler.safetensors", "style-2.3.safetensors"}  # fmt: skip
            assert models.paths.spatial_upsampler_x1_5 is None and "style-2.3.safetensors" not in {p.name for p in models.loras()}
            assert "**not used**: the spatial upsampler ltx2-tiny-spatial-upsampler.safetensors works on 8-channel latents" in found
            assert "**not used**: the LoRA style-2.3.safetensors is for LTX-2.3" in found
        else:
            assert set(refused) == {"ltx-2-spatial-upscaler-x2.safetensors"}
        assert f"`{other.name}` | LTX-{models.version.version}" in found and "**in use**" in found

        back, _ = client.predict(str(chosen), api_name="/models_checkpoint")
        assert app.studio.models.paths.checkpoint == chosen and back != found
        with pytest.raises(AppError, match="not a checkpoint found in the weights folder"):
            client.predict(str(folder / "style-2.3.safetensors"), api_name="/models_checkpoint")
    finally:
        client.predict(str(before), api_name="/models_rescan")
    assert app.studio.models.version.version == "2.3"


def returned(client: Client, endpoint: str, label_start: str, values: tuple) -> object:
    """The value ``endpoint`` returned for the component whose label starts with ``label_start``."""
    returns = client.view_api(return_format="dict", print_info=False)["named_endpoints"][endpoint]["returns"]
    index = next(i for i, r in enumerate(returns) if str(r.get("label", "")).startswith(label_start))
    return values[index]


def test_ltx25_auto_length_predicts_shows_records_and_reuses(app, client):
    """LTX-2.5 folder: "auto length" lets the duration head choose; the status line says what it
    predicted, the sidecar records it, and Reuse restores auto."""
    import numpy as np

    set_25 = REFERENCE_ROOT / "ltx-2.5"
    reference = np.load(set_25 / "reference.npz")
    prompt = bytes(reference["text/in/prompt_utf8"]).decode("utf-8")
    seconds, expected = float(reference["duration_head/out/seconds"][0]), int(reference["duration_head/out/num_frames_clamped"])
    before = app.studio.weights_dir
    try:
        client.predict(str(set_25), api_name="/models_rescan")
        assert app.studio.models.version.version == "2.5" and app.studio.models.paths.duration_head is not None
        status, _, video, *_ = client.predict(**{**GENERATE, **TINY, "prompt": prompt, "seed": 2, "frames": 9,
                                                 "auto_length": True}, api_name="/generate")  # fmt: skip
        assert f"auto length: the duration head predicted {seconds:.2f} s → {expected} frames" in status, status
        assert probe_video(video).frames == expected
        settings = sidecar(app, video)
        assert settings["request"]["frames"] == expected and settings["request"]["auto_duration"]["frames"] == expected
        assert settings["studio"]["ui"]["auto_length"] is True
        reused = client.predict(Path(video).name, api_name="/gallery_reuse")
        assert returned(client, "/gallery_reuse", "Auto length", reused) is True
    finally:
        client.predict(str(before), api_name="/models_rescan")
    assert app.studio.models.version.version == "2.3"


@pytest.mark.usefixtures("short_enhancer_rewrites")
def test_ltx25_prompt_enhancement_needs_an_enhancer_and_uses_the_one_set(app, client):
    """On LTX-2.5 "Enhance now" says what to configure; with the tiny Gemma 3 set as the enhancer
    (Models tab) it rewrites the prompt with that model."""
    from ltx_core.loader.enhancer import PromptEnhancer

    before = app.studio.weights_dir
    gemma = before / "gemma-3-12b-it"  # the tiny Gemma 3 with a chat tokenizer
    try:
        client.predict(str(REFERENCE_ROOT / "ltx-2.5"), api_name="/models_rescan")
        assert app.studio.models.version.version == "2.5" and app.studio.models.paths.enhancer is None
        with pytest.raises(AppError, match="needs a separate Gemma 3 model on LTX-2.5.*set a prompt enhancer folder"):
            client.predict("a fox", None, 5, api_name="/enhance_prompt")
        with pytest.raises(AppError, match="not a Gemma 3 folder|has no config.json"):
            client.predict(str(REFERENCE_ROOT / "ltx-2.5"), api_name="/models_enhancer")
        status, _ = client.predict(str(gemma), api_name="/models_enhancer")
        assert f"rewrites with `{gemma}`" in status and app.studio.models.paths.enhancer == gemma
        rewritten = client.predict("a fox", None, 5, api_name="/enhance_prompt")
        runtime = app.studio.ledger().runtime  # the memory mode's dtype and Gemma quantization
        q = runtime.text_encoder_quantization
        same = PromptEnhancer(gemma, runtime.dtype, q.bits if q else None, q.group_size if q else 64)
        assert rewritten == same.enhance("a fox", seed=5) and rewritten != "a fox"
        status, _ = client.predict("", api_name="/models_enhancer")
        assert "off for LTX-2.5" in status and app.studio.models.paths.enhancer is None
    finally:
        client.predict(str(before), api_name="/models_rescan")
    assert app.studio.models.version.version == "2.3"


def test_the_estimate_follows_the_spatial_upscale(app):
    """The memory estimate next to Generate runs stage 1 at two thirds through the x1.5 upsampler."""
    from ltx_ui.estimates import memory_estimate
    from ltx_ui.tab_generate import GenerateTab

    tab = GenerateTab(app.studio)
    values = {"prompt": "estimate", "negative_prompt": "", "width": 1152, "height": 768, "frames": 121, "fps": 24,
              "steps": 8, "cfg": 3.0, "stg": 1.0, "audio": True}  # fmt: skip
    stage1 = {}
    for choice in ("2", "1.5"):
        request, _ = tab.base_request("distilled", values, **tab.estimate_request("distilled", spatial_upscale=choice))
        assert request.spatial_upscale == float(choice)
        stage1[choice] = memory_estimate(app.studio, "distilled", request)[1].stage("stage 1").activations
    assert stage1["1.5"] > stage1["2"]  # (768x512 vs 576x384 stage-1 tokens)
