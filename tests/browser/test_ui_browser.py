"""The studio in a real browser: headless Debian Chromium driven by Playwright drops keyframe
images on the keyframe tab, generates, sees the video and its gallery entry, and saves a
screenshot to tests/artifacts/studio.png."""

from __future__ import annotations

import os
import re
import shutil
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


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium (.ci/run does it)")
    with running_studio(tmp_path_factory.mktemp("browser")) as app, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app.url)
        page.app = app
        yield page
        browser.close()


def fill_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")


def test_keyframes_dropped_in_the_browser_generate_a_video_and_a_gallery_entry(page, tmp_path):
    from playwright.sync_api import expect

    expect(page.locator("#studio-banner")).to_contain_text("Demo mode")
    page.get_by_role("tab", name="Keyframe Interpolation").click()
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
    expect(page.locator("#keyframes-table")).to_contain_text("key1.png")

    page.locator("#keyframes-prompt textarea").fill("a red square turning blue")
    fill_number(page, "keyframes-frames", 9)
    fill_number(page, "keyframes-height", 128)
    fill_number(page, "keyframes-width", 130)
    expect(page.locator("#keyframes-size-note")).to_contain_text("snapped: size 130x128 → 128x128")
    expect(page.locator("#keyframes-size-note")).to_contain_text("128x128, 9 frames = 0.38 s")
    expect(page.locator("#keyframes-width input")).to_have_value("128")
    expect(page.locator("#keyframes-message")).to_contain_text("re-spread over 9 frames")
    expect(page.locator("#keyframes-table")).to_contain_text("8")
    page.locator("#keyframes-generate").click()
    expect(page.locator("#keyframes-status")).to_contain_text("Saved", timeout=120_000)
    video = page.locator("#keyframes-video video")
    expect(video).to_have_attribute("src", re.compile(r"\.mp4"))
    saved = sorted(page.app.outputs.glob("*-keyframes-*.mp4"))
    assert len(saved) == 1

    page.get_by_role("tab", name="Gallery").click()
    expect(page.locator("#gallery-grid img").first).to_be_visible()
    expect(page.locator("#gallery-grid")).to_contain_text(saved[0].name)
    page.locator("#gallery-grid img").first.click()
    expect(page.locator("#gallery-details")).to_contain_text("a red square turning blue")
    expect(page.locator("#gallery-video video")).to_have_attribute("src", re.compile(r"\.mp4"))

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "studio.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\n[ui] browser screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_progress_preview_and_cancel_in_the_browser(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Text / Image to Video").click()
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
    page.locator("#generate-generate").click()
    progress = re.compile(r"stage 1 · step \d+/\d+ · [\d.]+ s elapsed · ETA [\d.]+ s")
    expect(page.locator("#generate-status")).to_contain_text(progress, timeout=60_000)
    expect(page.locator("#generate-preview img")).to_have_attribute("src", re.compile(r"."))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "progress.png"))
    page.locator("#generate-cancel").click()
    expect(page.locator("#generate-status")).to_contain_text("Cancelled", timeout=30_000)
    assert not page.app.studio.jobs.busy
    assert not list(page.app.outputs.glob("*-one-stage-*.mp4")), "a cancelled job wrote an output"
