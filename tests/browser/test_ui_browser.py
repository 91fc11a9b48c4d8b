"""The studio in a real browser at 1440x900: headless Debian Chromium driven by Playwright. One
test per tab, each saving a screenshot to tests/artifacts/<tab>.png; together they generate,
cancel, upscale, browse and delete, on the demo models."""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from ltx_core.pipelines.registry import PIPELINES
from tests.browser.studio_server import running_studio

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("LTX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1440, "height": 900}


@contextmanager
def studio_page(root: Path, weights_dir: Path | None = None):
    """A Chromium page on a studio started in ``root`` (its ``app``: the running studio)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium (.ci/run does it)")
    with running_studio(root, weights_dir=weights_dir) as app, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app.url)
        page.app = app
        yield page
        browser.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with studio_page(tmp_path_factory.mktemp("browser")) as page:
        yield page


def fill_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")


def shot(page, name: str) -> Path:
    """A screenshot of what a 1440x900 window shows (not the whole page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    print(f"\n[ui] screenshot: {path}")
    return path


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"]


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_generate_tab_action_and_result_above_the_fold_with_progress_and_cancel(page):
    from playwright.sync_api import expect

    expect(page.locator("#studio-banner")).to_contain_text("Demo mode")
    tab(page, "Text / Image to Video")
    for selector in ("#generate-generate", "#generate-estimate", "#generate-status", "#generate-preview"):
        assert in_view(page, selector), f"{selector} is below the fold at 1440x900"
    expect(page.locator("#generate-estimate")).to_contain_text(re.compile(r"Estimated: .*peak memory"))
    expect(page.locator("#generate-rewritten")).to_be_hidden()  # enhancement is off
    page.locator("#generate-enhance input").check()
    expect(page.locator("#generate-rewritten")).to_be_visible()
    expect(page.locator("#generate-rewrite-note")).to_contain_text("random weights")
    page.locator("#generate-enhance input").uncheck()
    expect(page.locator("#generate-rewritten")).to_be_hidden()

    page.locator("#generate-prompt textarea").fill("a slow pan over hills")
    page.get_by_label(PIPELINES["one-stage"].title).check()
    # Big enough (about 20 s on two CPU cores) to be cancelled halfway.
    for elem_id, value in (("generate-width", 256), ("generate-height", 256), ("generate-frames", 17)):
        fill_number(page, elem_id, value)
    page.locator("#generate-sampling").get_by_text("Sampling").click()
    steps = page.locator("#generate-steps input[type=number]")
    steps.fill("80")
    steps.press("Tab")  # commit the value (blur) before the click reads it
    expect(steps).to_have_value("80")
    page.locator("#generate-sampling").get_by_text("Sampling").click()
    page.locator("#generate-generate").click()
    progress = re.compile(r"stage 1 · step \d+/\d+ · [\d.]+ s elapsed · ETA [\d.]+ s for the whole job")
    expect(page.locator("#generate-status")).to_contain_text(progress, timeout=60_000)
    expect(page.locator("#generate-preview img")).to_have_attribute("src", re.compile(r"."))
    shot(page, "generate")
    page.locator("#generate-cancel").click()
    expect(page.locator("#generate-status")).to_contain_text("Cancelled", timeout=30_000)
    assert not page.app.studio.jobs.busy
    assert not list(page.app.outputs.glob("*-one-stage-*.mp4")), "a cancelled job wrote an output"


def test_keyframes_tab_drops_edits_and_generates(page, tmp_path):
    from playwright.sync_api import expect

    tab(page, "Keyframe Interpolation")
    files = []
    for index, colour in enumerate(((230, 60, 40), (40, 90, 230))):
        files.append(tmp_path / f"key{index}.png")
        Image.new("RGB", (160, 120), colour).save(files[-1])
    junk = tmp_path / "readme.txt"
    junk.write_text("not an image")
    page.locator("#keyframes-drop input[type=file]").set_input_files([str(f) for f in (*files, junk)])
    expect(page.locator("#keyframes-message")).to_contain_text("Added 2 keyframe(s)")
    expect(page.locator("#keyframes-message")).to_contain_text("readme.txt is not an image")
    expect(page.locator("#keyframes-gallery img")).to_have_count(2)
    expect(page.locator("#keyframes-gallery")).to_contain_text("#2 · frame 120")  # the whole caption fits
    expect(page.locator("#keyframes-table")).to_contain_text("key1.png")

    page.locator("#keyframes-prompt textarea").fill("a red square turning blue")
    fill_number(page, "keyframes-frames", 9)
    fill_number(page, "keyframes-height", 128)
    fill_number(page, "keyframes-width", 130)
    expect(page.locator("#keyframes-size-note")).to_contain_text("snapped: size 130x128 → 128x128")
    expect(page.locator("#keyframes-size-note")).to_contain_text("128x128, 9 frames = 0.38 s")
    expect(page.locator("#keyframes-width input")).to_have_value("128")
    expect(page.locator("#keyframes-message")).to_contain_text("re-spread over 9 frames")
    page.locator("#keyframes-generate").click()
    expect(page.locator("#keyframes-status")).to_contain_text("Saved", timeout=120_000)
    expect(page.locator("#keyframes-video video")).to_have_attribute("src", re.compile(r"\.mp4"))
    assert len(sorted(page.app.outputs.glob("*-keyframes-*.mp4"))) == 1
    shot(page, "keyframes")


def test_ic_lora_tab_has_the_demo_ic_lora_preselected(page):
    from playwright.sync_api import expect

    tab(page, "IC-LoRA Control")
    expect(page.locator("#ic-lora-file input")).to_have_value("ltx2-demo-ic-lora-canny-control.safetensors")
    assert in_view(page, "#ic-lora-generate")
    shot(page, "ic-lora")


def test_upscaling_tab_lists_outputs_on_page_load_and_previews_the_choice(page):
    from playwright.sync_api import expect

    page.reload()  # the list comes from the outputs folder as it is when the page loads
    tab(page, "Upscaling")
    made = sorted(page.app.outputs.glob("*.mp4"))[-1].name
    page.locator("#upscale-choice input").click()
    page.get_by_role("option", name=made).click()
    expect(page.locator("#upscale-source-preview video")).to_have_attribute("src", re.compile(re.escape(made)))
    expect(page.locator("#upscale-upload")).to_be_hidden()
    expect(page.locator("#upscale-estimate")).to_contain_text("Estimated:")
    shot(page, "upscale")


def test_gallery_tab_captions_selection_and_delete_feedback(page):
    from playwright.sync_api import expect

    tab(page, "Gallery")
    page.locator("#gallery-refresh").click()
    expect(page.locator("#gallery-grid")).to_contain_text("a red square turning blue")
    expect(page.locator("#gallery-grid")).to_contain_text(re.compile(r"seed \d+"))
    page.locator("#gallery-grid img").first.click()
    expect(page.locator("#gallery-details")).to_contain_text("a red square turning blue")
    expect(page.locator("#gallery-video video")).to_have_attribute("src", re.compile(r"\.mp4"))
    assert page.evaluate("document.body.scrollHeight") < 1600, "the gallery page stretches far below the fold"
    shot(page, "gallery")
    page.locator("#gallery-delete").click()
    page.locator("#gallery-confirm").click()
    expect(page.locator("#gallery-details")).to_contain_text("Deleted")
    expect(page.locator("#gallery-count")).to_contain_text("0 output(s)")
    assert not list(page.app.outputs.glob("*.mp4"))


def test_models_tab_folder_field_and_offline_download_message(page):
    from playwright.sync_api import expect

    tab(page, "Models & Settings")
    expect(page.locator("#models-folder")).to_be_visible()
    expect(page.locator("#models-preset")).not_to_contain_text(" Macs")
    page.locator("#models-download").click()
    expect(page.locator("#models-download-status")).to_contain_text("cannot be reached", timeout=30_000)
    expect(page.locator("#models-missing")).not_to_contain_text("Error")
    shot(page, "models")
