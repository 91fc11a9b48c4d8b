"""The Audio to Video tab in headless Chromium: drop a song, see its waveform with the used part
highlighted and the frames follow the trim, generate; screenshot in tests/artifacts/audio-to-video.png."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_ui_browser import fill_number, page, shot, tab  # noqa: F401  (page: the module's fixture)
from tests.test_a2v_pipeline import write_song

pytestmark = pytest.mark.browser


def test_audio_tab_previews_the_trim_and_generates(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    tab(page, "Audio to Video")
    song = tmp_path / "song.wav"
    write_song(song, 3.0)
    page.locator("#a2v-audio input[type=file]").set_input_files(str(song))
    expect(page.locator("#a2v-wave img")).to_be_visible()
    expect(page.locator("#a2v-note")).to_contain_text("Using 3.00 s from 0 s of 3.00 s (44100 Hz, 2 channels)")
    expect(page.locator("#audio-to-video-frames input")).to_have_value("65")
    fill_number(page, "a2v-start", 1)
    fill_number(page, "a2v-max", 1)
    expect(page.locator("#a2v-note")).to_contain_text("the clip is 17 frames")
    expect(page.locator("#audio-to-video-frames input")).to_have_value("17")
    for elem_id, value in (("audio-to-video-width", 128), ("audio-to-video-height", 128)):
        fill_number(page, elem_id, value)
    page.locator("#audio-to-video-prompt textarea").fill("a band on a stage")
    page.locator("#audio-to-video-generate").click()
    expect(page.locator("#audio-to-video-status")).to_contain_text("Saved", timeout=120_000)
    expect(page.locator("#audio-to-video-video video")).to_have_attribute("src", re.compile(r"audio-to-video"))
    shot(page, "audio-to-video")
