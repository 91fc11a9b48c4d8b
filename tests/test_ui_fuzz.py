"""A bounded fuzz run: a few hundred random bad requests (numbers, files, paths, sizes) at a studio
on the demo models, over loopback with gradio_client. The studio must keep serving, answer each
refusal in one line, and leave only finished outputs in its outputs folder."""

from __future__ import annotations

import random
import time
from pathlib import Path

from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.browser.studio_server import running_studio
from tests.test_ui_api import GENERATE, TINY, clip, image

REQUESTS = 150
SECONDS = 90  # stop early on a slow machine; the count is an upper bound
NUMBERS = [0, -1, 1, 9, 64, 128, 130, 4096, 1e12, -1e12, "inf", "-inf", "nan", "abc", None, 2**31, 0.5]  # JSON: NaN as text
PATHS = ["", "/etc/passwd", "../../etc/passwd", "/proc/self/environ", "nothing.mp4", "inputs", ".thumbs",
         "a\nb.mp4", "x" * 300, "/", "~/.ssh/id_rsa"]  # fmt: skip


def number(rng: random.Random):
    return rng.choice(NUMBERS)


def bad_files(folder: Path) -> list[Path]:
    files = {"empty.mp4": b"", "junk.mp4": b"\x00\x01junk" * 500, "notes.txt": b"not media", "empty.png": b"",
             "fake.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64}  # fmt: skip
    made = []
    for name, content in files.items():
        (folder / name).write_bytes(content)
        made.append(folder / name)
    made.append(image(folder / "tiny.png", (10, 200, 30), size=(8, 8)))
    made.append(clip(folder / "short.mp4", frames=3))
    return made


def requests(rng: random.Random, files: list[Path]):
    """(endpoint, args, kwargs) of one random bad request."""
    file = lambda: handle_file(str(rng.choice(files)))  # noqa: E731
    kind = rng.randrange(9)
    if kind == 0:
        values = {**GENERATE, **TINY, "prompt": rng.choice(["", " ", "fuzz", "x" * 3000]), "seed": number(rng),
                  "width": number(rng), "height": number(rng), "frames": rng.choice([0, 9, 10, 1e9, "nan", -9]),
                  "fps": number(rng), "steps": rng.choice([0, 1, -3, 1e9, "nan"]), "seed_count": number(rng),
                  "randomize_seed": rng.random() < 0.5, "pipeline": rng.choice(["distilled", "one-stage", "nope"])}  # fmt: skip
        if rng.random() < 0.3:
            values["image"] = file()
        return "/generate", (), values
    if kind == 1:
        return "/keyframes_add", ([file() for _ in range(rng.randrange(1, 3))], number(rng)), {}
    if kind == 2:
        return "/upscale", (rng.choice(PATHS + ["(uploaded video below)"]), file() if rng.random() < 0.5 else None,
                            rng.random() < 0.5, rng.random() < 0.5, "", number(rng)), {}  # fmt: skip
    if kind == 3:
        return "/canny", (file(), number(rng), number(rng)), {}
    if kind == 4:
        return "/inspect", (rng.choice(PATHS),), {}
    if kind == 5:
        return rng.choice(["/gallery_show", "/gallery_reuse", "/gallery_delete", "/gallery_send_to_upscale"]), \
            (rng.choice(PATHS),), {}  # fmt: skip
    if kind == 6:
        return "/models_estimate", (rng.choice(["distilled", "two-stage", "upscale"]), number(rng), number(rng),
                                    number(rng), rng.random() < 0.5), {}  # fmt: skip
    if kind == 7:
        return rng.choice(["/keyframes_set", "/keyframes_up", "/keyframes_remove"]), (number(rng),), {}
    table = {"headers": ["#", "image", "frame", "strength"], "data": [[1, "a.png", number(rng), number(rng)]]}
    return "/keyframes_edit_table", (table, number(rng)), {}


def test_random_bad_requests_get_one_line_answers_and_leave_only_finished_outputs(tmp_path_factory):
    rng = random.Random(20261201)
    folder = tmp_path_factory.mktemp("fuzz-files")
    files = bad_files(folder)
    with running_studio(tmp_path_factory.mktemp("fuzz")) as app:
        client = Client(app.url, verbose=False)
        started, sent, refused = time.monotonic(), 0, 0
        while sent < REQUESTS and time.monotonic() - started < SECONDS:
            endpoint, args, kwargs = requests(rng, files)
            sent += 1
            try:
                if endpoint == "/keyframes_set":
                    args = (*args, number(rng), 0.5, number(rng))
                client.predict(*args, **kwargs, api_name=endpoint)
            except AppError as exc:
                refused += 1
                message = str(exc)
                assert "\n" not in message.strip() and "Traceback" not in message, f"{endpoint}: {message!r}"
                assert "/tmp/gradio" not in message, f"{endpoint} named the server's copy: {message!r}"
        print(f"\n[fuzz] {sent} requests in {time.monotonic() - started:.0f} s, {refused} refused")
        assert sent >= 50 and refused > sent // 2

        # Still serving, and the outputs folder holds only finished outputs.
        status, *_ = client.predict(**{**GENERATE, **TINY, "prompt": "after the fuzz", "seed": 1}, api_name="/generate")
        assert "Saved" in status
        for path in app.outputs.iterdir():
            if path.is_dir():
                assert path.name in ("inputs", ".thumbs"), path
            elif path.suffix == ".mp4":
                assert path.with_suffix(".json").is_file(), path
            else:
                assert path.suffix == ".json" and path.with_suffix(".mp4").is_file(), path
        assert not [p for p in app.outputs.rglob("*") if ".part" in p.name]
