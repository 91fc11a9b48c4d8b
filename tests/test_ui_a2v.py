"""The Audio to Video tab through its Gradio API (gradio_client) on the demo models: the waveform preview
and the frames that follow the trimmed audio, a generation whose mp4 keeps the audio sample for sample,
gallery reuse, and bad audio refused in one sentence (the studio keeps serving)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ltx_core.media import probe_video
from ltx_core.media.audio_read import read_audio_clip
from tests.browser.studio_server import running_studio
from tests.test_a2v_pipeline import write_song

TINY = {"width": 128, "height": 128, "frames": 17, "fps": 24, "steps": 2, "cfg": 3.0, "stg": 1.0,
        "randomize_seed": False, "seed_count": 1, "audio": True, "negative_prompt": "", "seed": 3}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio-a2v")) as running:
        yield running


def test_preview_generate_reuse_and_bad_audio(app, tmp_path: Path) -> None:
    client = Client(app.url, verbose=False)
    song = tmp_path / "song.wav"
    pcm = write_song(song, 2.0)
    status, _, video, *_ = client.predict(
        handle_file(str(song)), 0.5, 1.0, **{**TINY, "prompt": "a band on a stage"}, api_name="/audio_to_video_generate"
    )  # fmt: skip
    assert "Saved" in status
    info = probe_video(video)
    assert (info.frames, info.sample_rate, info.channels) == (17, 44100, 2)
    first = round(0.5 * 44100)
    np.testing.assert_array_equal(read_audio_clip(video).pcm16(), pcm[first : first + round(17 / 24 * 44100)])
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert settings["pipeline"] == "audio-to-video" and settings["request"]["audio_start"] == 0.5
    kept = Path(settings["request"]["audio"])
    assert kept.parent == app.outputs / "inputs" and kept.suffix == ".wav"

    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert "loaded into the audio-to-video tab (seed 3)" in reused[0]
    loaded = [v for v in reused if v != {"__type__": "update"}]
    assert Path(loaded[1]).name == kept.name and loaded[2:7] == [0.5, 1.0, [], "a band on a stage", ""]  # no LoRAs

    with pytest.raises(AppError, match=r"^41 frames at 24 fps need 1\.71 s but the audio gives 1\.00 s: use at most 17 frames"):
        client.predict(handle_file(str(song)), 0.5, 1.0, **{**TINY, "frames": 41, "prompt": "x"},
                       api_name="/audio_to_video_generate")  # fmt: skip
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    with pytest.raises(AppError, match=r"^Invalid file type"):  # Gradio's own check of the extension
        client.predict(handle_file(str(text)), 0.0, 0.0, **{**TINY, "prompt": "x"}, api_name="/audio_to_video_generate")
    fake = tmp_path / "notes.mp3"
    fake.write_text("not audio")
    with pytest.raises(AppError, match=r"^notes\.mp3 has no audio stream: give a wav, mp3, m4a/aac or flac file"):
        client.predict(handle_file(str(fake)), 0.0, 0.0, **{**TINY, "prompt": "x"}, api_name="/audio_to_video_generate")
    with pytest.raises(AppError, match=r"^the audio of song\.wav is 2\.00 s long: the start 9 s is past its end"):
        client.predict(handle_file(str(song)), 9.0, 0.0, **{**TINY, "prompt": "x"}, api_name="/audio_to_video_generate")
    status, *_ = client.predict(handle_file(str(song)), 0.0, 0.0, **{**TINY, "frames": 9, "prompt": "again"},
                                api_name="/audio_to_video_generate")  # fmt: skip
    assert "Saved" in status  # still serving


def test_waveform_preview_and_frames_follow_the_trim(tmp_path: Path) -> None:
    from ltx_ui.tab_audio import clip_frames, waveform_image

    song = tmp_path / "song.wav"
    write_song(song, 2.0)
    image = np.asarray(waveform_image(song, 0.5, 1.0))
    assert image.shape == (140, 720, 3)
    highlighted = (image == (245, 158, 11)).all(axis=2).any(axis=0)
    columns = np.flatnonzero(highlighted)
    assert columns.min() >= 175 and columns.max() <= 540 and len(columns) > 300  # 0.5-1.5 s of 2 s
    assert (clip_frames(1.0, 24), clip_frames(2.0, 24), clip_frames(0.3, 24), clip_frames(100, 24)) == (17, 41, 1, 505)
