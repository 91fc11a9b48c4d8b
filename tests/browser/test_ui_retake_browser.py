"""The Retake tab in headless Chromium: a gallery item sent with "Retake part" shows up with its
player, facts and window on the timeline; the retake runs and its gallery entry names its parent.
"Extend" opens the same item in the Extend tab, "Extend backward" with the added part before it.
Screenshots: tests/artifacts/retake.png, extend.png, extend-backward.png."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client

from tests.browser.test_ui_browser import page, shot, tab  # noqa: F401  (the module's browser fixture)
from tests.test_ui_retake import GENERATE, TINY

pytestmark = pytest.mark.browser


def test_retake_part_from_the_gallery(page):  # noqa: F811
    from playwright.sync_api import expect

    client = Client(page.app.url, verbose=False)
    client.predict(**{**GENERATE, **TINY, "prompt": "a lighthouse in the fog", "seed": 5}, api_name="/generate")
    page.reload()
    tab(page, "Gallery")
    page.locator("#gallery-refresh").click()
    page.locator("#gallery-grid img").first.click()
    expect(page.locator("#gallery-details")).to_contain_text("a lighthouse in the fog")
    page.locator("#gallery-retake").click()
    expect(page.locator("#retake-source-preview video")).to_have_attribute("src", re.compile(r"distilled-s5\.mp4"))
    expect(page.locator("#retake-clip-info")).to_contain_text("25 frames at 24 fps = 1.04 s")
    expect(page.locator('#retake-timeline [title="regenerated"]')).to_have_attribute("style", re.compile(r"left:33\."))
    page.locator("#retake-prompt textarea").fill("a red boat crosses")
    expect(page.locator("#retake-estimate")).to_contain_text("Estimated")
    shot(page, "retake")
    tab(page, "Gallery")
    page.locator("#gallery-extend").click()
    expect(page.locator("#extend-source-preview video")).to_have_attribute("src", re.compile(r"distilled-s5\.mp4"))
    expect(page.locator('#extend-timeline [title="added"]')).to_have_attribute("style", re.compile(r"width:"))
    page.locator("#extend-prompt textarea").fill("the fog lifts")
    expect(page.locator("#extend-estimate")).to_contain_text("Estimated")
    shot(page, "extend")
    tab(page, "Gallery")
    page.locator("#gallery-extend-backward").click()  # the same item, the new part before its start
    expect(page.locator('#extend-direction input[value="backward"]')).to_be_checked()
    expect(page.locator('#extend-timeline [title="added"]')).to_have_attribute("style", re.compile(r"left:0;"))
    expect(page.locator('#extend-timeline [title="regenerated"]')).to_have_attribute("style", re.compile(r"width:"))
    shot(page, "extend-backward")
    tab(page, "Retake")
    page.locator("#retake-generate").click()
    expect(page.locator("#retake-status")).to_contain_text("Saved", timeout=120_000)
    made = max(page.app.outputs.glob("*retake*.mp4")).name
    tab(page, "Gallery")
    page.locator("#gallery-refresh").click()
    page.locator("#gallery-grid img").first.click()  # newest first: the retake
    expect(page.locator("#gallery-details")).to_contain_text("Made from")
    expect(page.locator("#gallery-details")).to_contain_text("distilled-s5.mp4")
    _, details, *_ = client.predict(made, api_name="/gallery_show")
    assert "Made from" in details and "distilled-s5.mp4" in details
