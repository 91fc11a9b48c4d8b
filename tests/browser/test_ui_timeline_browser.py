"""The Long Video tab and audio-only outputs in headless Chromium: rows moved and added with the
total shown; an interrupted timeline (cancelled through the API during window 2) chosen under
"Interrupted timelines" shows its finished window and resumes to the gallery; a text-to-audio
output plays in the gallery's audio player without the video-only actions. Screenshots:
tests/artifacts/timeline-resume.png, timeline.png, gallery-audio.png."""

from __future__ import annotations

import re
import time

import pytest
from gradio_client import Client

from ltx_ui import timelines
from tests.browser.studio_server import GENERATE_FIELDS
from tests.browser.test_ui_browser import page, shot, tab  # noqa: F401  (the module's browser fixture)
from tests.test_ui_retake import TINY
from tests.test_ui_timeline import ROWS, TIMELINE, table

pytestmark = pytest.mark.browser


def interrupted_timeline(client: Client) -> None:
    """Start a 2-window timeline and cancel it once window 2 runs."""
    job = client.submit(segments=table(ROWS), **TIMELINE, api_name="/timeline")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not job.done():
        if any("window 2/2" in str(update[0]) for update in job.outputs()):
            client.predict(api_name="/timeline_cancel")
            break
        time.sleep(0.05)
    assert "Windows 1-1 are kept" in job.result()[0]


def test_rows_then_resume_an_interrupted_timeline(page):  # noqa: F811
    from playwright.sync_api import expect

    tab(page, "Long Video")
    rows = page.locator('#timeline-rows [role="row"][data-index]')
    expect(rows).to_have_count(2)
    expect(page.locator("#timeline-total")).to_contain_text("Total 8 s in 2 window(s)")
    page.locator('#timeline-rows [data-testid="cell-0-1"]').click()
    page.locator("#timeline-down").click()
    expect(rows.nth(1)).to_contain_text("leaves a harbour")
    page.locator("#timeline-add").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#timeline-total")).to_contain_text("Row 3 has no prompt")

    interrupted_timeline(Client(page.app.url, verbose=False))
    (name,) = timelines.interrupted(page.app.outputs)
    page.reload()
    tab(page, "Long Video")
    page.locator("#timeline-resume input").click()
    page.get_by_role("option", name=name).click()
    expect(page.locator("#timeline-finished")).to_contain_text("1 of 2 window(s) finished: resuming starts at window 2")
    expect(page.locator("#timeline-finished-video video")).to_have_attribute("src", re.compile(r"window-01\.mp4"))
    expect(page.locator("#timeline-generate")).to_have_text("Resume from window 2 of 2")
    expect(rows).to_have_count(2)
    expect(page.locator("#timeline-total")).to_contain_text("Total 0.8 s in 2 window(s)")
    shot(page, "timeline-resume")
    page.locator("#timeline-generate").click()
    expect(page.locator("#timeline-status")).to_contain_text("Saved", timeout=120_000)
    expect(page.locator("#timeline-status")).to_contain_text(f"Resuming {name} from window 2")
    expect(page.locator("#timeline-video video")).to_be_visible()
    expect(page.locator("#timeline-generate")).to_have_text("Generate long video")  # finished: no longer resumable
    shot(page, "timeline")


def test_an_audio_only_output_plays_in_the_gallery(page):  # noqa: F811
    from playwright.sync_api import expect

    client = Client(page.app.url, verbose=False)
    client.predict(**{**GENERATE_FIELDS, **TINY, "pipeline": "text-to-audio", "prompt": "waves on pebbles", "frames": 49,
                      "steps": 2, "seed": 8}, api_name="/generate")  # fmt: skip
    page.reload()
    tab(page, "Gallery")
    page.locator("#gallery-refresh").click()
    page.locator("#gallery-grid img").first.click()
    expect(page.locator("#gallery-details")).to_contain_text("audio only")
    expect(page.locator("#gallery-audio")).to_be_visible()
    for hidden in ("#gallery-video", "#gallery-send", "#gallery-retake", "#gallery-extend", "#gallery-extend-backward"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#gallery-reuse")).to_be_visible()
    shot(page, "gallery-audio")
    page.locator("#gallery-reuse").click()
    expect(page.locator("#generate-audio")).to_be_visible()
    expect(page.locator("#generate-width")).to_be_hidden()
