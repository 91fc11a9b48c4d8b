"""Text-to-audio in the studio through the Gradio API on the demo models: the Generate tab's
"audio only" choice writes a WAV (played by the audio player, not the video one), the gallery
lists it with a waveform thumbnail, filters it like the others, shows it with an audio player and
without the video-only actions (refused in one sentence when asked anyway), reuses its settings
and deletes it."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.browser.studio_server import GENERATE_FIELDS, running_studio
from tests.test_ui_api import gallery
from tests.test_ui_retake import TINY


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio-audio-only")) as running:
        yield running


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def test_audio_only_output_in_the_gallery(app, client):
    _, _, clip, *_ = client.predict(**{**GENERATE_FIELDS, **TINY, "prompt": "a harbour at dawn", "seed": 2},
                                    api_name="/generate")  # fmt: skip
    status, _, video, prompt_used, seed_used, _, player = client.predict(
        **{**GENERATE_FIELDS, **TINY, "pipeline": "text-to-audio", "prompt": "rain on a tin roof", "frames": 49,
           "steps": 2, "seed": 5}, api_name="/generate")  # fmt: skip
    assert "Saved" in status and video is None and seed_used == 5 and prompt_used == "rain on a tin roof"
    name = Path(player["value"]).name
    assert name.endswith("text-to-audio-s5.wav") and player["visible"]
    with wave.open(str(app.outputs / name)) as handle:
        assert abs(handle.getnframes() / handle.getframerate() - 49 / 24) < 0.05
    sidecar = json.loads((app.outputs / name).with_suffix(".json").read_text())
    assert sidecar["settings"]["studio"]["tab"] == "generate" and sidecar["settings"]["studio"]["ui"]["pipeline"] == "text-to-audio"

    captions, names, _ = gallery(client)
    assert names == [name, Path(clip).name] and captions[0] == "seed 5 · rain on a tin roof"
    assert gallery(client, pipeline="text-to-audio")[1] == [name] and gallery(client, "rain")[1] == [name]
    thumbnail = app.outputs / ".thumbs" / f"{Path(name).stem}.png"
    assert thumbnail.is_file()

    shown_video, details, _, audio, *_ = client.predict(name, api_name="/gallery_show")  # (buttons are not in the API)
    assert shown_video["value"] is None and not shown_video["visible"] and Path(audio["value"]).name == name and audio["visible"]
    assert "audio only, 2.01 s at 24000 Hz" in details
    for endpoint in ("/gallery_send_to_upscale", "/gallery_retake", "/gallery_extend", "/gallery_extend_backward"):
        with pytest.raises(AppError, match=f"{name} is audio only: .* works on videos"):
            client.predict(name, api_name=endpoint)
    retake_choices = client.predict(Path(clip).name, api_name="/gallery_retake")["choices"]
    assert name not in [choice[0] for choice in retake_choices]  # the video pickers list videos only

    reused = client.predict(name, api_name="/gallery_reuse")
    assert "text-to-audio" in reused and "rain on a tin roof" in reused and 49 in reused

    _, message, *_ = client.predict(name, api_name="/gallery_delete")
    assert "Deleted" in message and not (app.outputs / name).exists() and not (app.outputs / name).with_suffix(".json").exists()
    assert gallery(client)[1] == [Path(clip).name]
