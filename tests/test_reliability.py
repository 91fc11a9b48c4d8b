"""Bad input from the command line: one sentence saying what to change, exit code 2, no traceback,
nothing loaded and nothing left in the outputs folder (each case run as a user would, in a
subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltx_core.media.output_folder import check_writable, remove_partial_outputs
from ltx_core.media.errors import MediaWriteError
from tests.conftest import ROOT, fixtures_dir

FIXTURES = fixtures_dir()


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LTX_DEMO_DIR": str(tmp_path / "demo")}
    return subprocess.run(
        [sys.executable, "-m", "ltx_core", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def generate_args(output: Path, *extra: str) -> list[str]:
    return ["generate", "--prompt", "a red ball", "--height", "128", "--width", "128", "--frames", "9",
            "--output", str(output), *extra]  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess, *phrases: str) -> str:
    message = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert message.startswith("error: ")
    for phrase in phrases:
        assert phrase in message, message
    return message


@pytest.mark.parametrize(
    "flags, phrases",
    [
        (["--cfg", "nan"], ["video guidance cfg_scale", "from 0 to 100"]),
        (["--cfg", "-1"], ["video guidance cfg_scale must be a number from 0 to 100, got -1.0"]),
        (["--seed", "-1"], ["the seed must be a whole number from 0 to"]),
        (["--seed", "18446744073709551616"], ["the seed must be a whole number from 0 to"]),
        (["--steps", "10000"], ["steps must be from 1 to"]),
        (["--fps", "0"], ["fps must be between 0 and 120"]),
    ],
    ids=["cfg-nan", "cfg-negative", "seed-negative", "seed-huge", "steps-huge", "fps-zero"],
)
def test_bad_numbers_are_refused_in_one_sentence(tmp_path: Path, flags: list[str], phrases: list[str]):
    out = tmp_path / "out" / "clip.mp4"
    assert_refused(run_cli(tmp_path, *generate_args(out, "--pipeline", "one-stage", *flags)), *phrases)
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_an_upsampler_given_as_the_model_is_named(tmp_path: Path):
    upsampler = FIXTURES / "ltx2-tiny-spatial-upsampler.safetensors"
    message = assert_refused(run_cli(tmp_path, *generate_args(tmp_path / "o.mp4", "--weights", str(upsampler))))
    assert "is a spatial upsampler file, not a checkpoint" in message


def test_a_model_given_as_the_upsampler_is_refused_before_stage_1(tmp_path: Path):
    checkpoint = FIXTURES / "ltx2-tiny.safetensors"
    result = run_cli(
        tmp_path,
        *generate_args(tmp_path / "o.mp4", "--weights", str(checkpoint), "--spatial-upscaler-weights", str(checkpoint),
                       "--gemma-path", str(FIXTURES / "gemma")),
    )  # fmt: skip
    message = assert_refused(result)
    assert "is a checkpoint file, not a spatial upsampler" in message
    assert "stage 1" not in result.stderr  # refused before any progress bar


def test_an_outputs_folder_that_is_a_file_is_named_before_the_job(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    message = assert_refused(run_cli(tmp_path, *generate_args(blocker / "clip.mp4")))
    assert f"{blocker}" in message and "is a file, not a folder" in message


def test_output_folder_checks_and_partial_file_cleanup(tmp_path: Path):
    assert check_writable(tmp_path / "new" / "nested").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MediaWriteError, match="is a file, not a folder"):
        check_writable(tmp_path / "file")
    leftovers = [tmp_path / ".clip.0123456789ab.part.mp4", tmp_path / ".clip.0123456789ab.part.wav",
                 tmp_path / ".clip.0123456789ab.part.json"]  # fmt: skip
    keep = [tmp_path / "clip.mp4", tmp_path / ".hidden-note.json", tmp_path / "clip.part.mp4"]
    for path in leftovers + keep:
        path.write_bytes(b"")
    assert sorted(remove_partial_outputs(tmp_path)) == sorted(leftovers)
    assert all(path.exists() for path in keep) and not any(path.exists() for path in leftovers)


def test_read_only_outputs_folder_is_reported(tmp_path: Path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the file-instead-of-folder case covers the message")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(MediaWriteError, match="cannot be written"):
            check_writable(folder)
    finally:
        folder.chmod(0o700)


def test_the_demo_models_are_checked_against_memory_too(tmp_path: Path):
    """A size the demo models cannot hold in this machine's memory is refused before loading (at
    7680x4352x1001 the latent upsampler alone needs ~49 GiB; 2560x1536x505 fits since the CPU
    attention and convolutions work in blocks)."""
    result = run_cli(tmp_path, "generate", "--prompt", "huge", "--height", "4352", "--width", "7680", "--frames", "1001",
                     "--output", str(tmp_path / "huge.mp4"))  # fmt: skip
    message = assert_refused(result, "not enough memory for")
    assert "Try" in message or "No preset" in message


def test_upscaling_a_4k_video_is_refused_before_anything_loads(reference, tmp_path: Path):
    """Upscaling a 9-frame 4K clip to 7680x4352 needs ~12 GiB to decode: on an 8 GB machine the
    pre-flight estimate refuses it, and the temporal upscale alone fits. (With MLX's CPU attention
    the refinement needed ~34 GB of scores and the studio died in OpenBLAS after 150 s; the NumPy
    attention works in blocks of query rows and fits it on 16 GB.)"""
    from dataclasses import replace

    import numpy as np

    from ltx_core.media.video_write import write_mp4
    from ltx_core.memory import InsufficientMemoryError
    from ltx_core.pipelines.upscale import UpscalePipeline, UpscaleRequest
    from ltx_core.presets import load_presets, preset_by_name, system_memory_bytes
    from ltx_core.runtime import RuntimeSettings
    from tests.pipeline_helpers import tiny_ledger

    source = tmp_path / "uhd.mp4"
    write_mp4(source, np.zeros((9, 2160, 3840, 3), np.uint8), 24.0, settings={"prompt_used": "a calm sea"})
    ledger = tiny_ledger(reference, tmp_path)
    runtime = RuntimeSettings.from_preset(preset_by_name("balanced", load_presets()), demo=True)
    ledger.runtime = replace(runtime, memory_margin=system_memory_bytes() - 8 * 2**30)  # an 8 GB machine
    with pytest.raises(InsufficientMemoryError, match="not enough memory for video decode"):
        UpscalePipeline(ledger).prepare(UpscaleRequest(source, spatial=True))
    assert ledger.events == []
    prepared, _ = UpscalePipeline(ledger).prepare(UpscaleRequest(source, spatial=False, temporal=True))
    assert (prepared.width, prepared.height, prepared.frames) == (3840, 2144, 9)  # temporal only fits


def test_a_full_disk_is_named_in_one_sentence_and_leaves_nothing(tmp_path: Path):
    """A 300 KB tmpfs (needs mount permission, as in CI's container; skipped elsewhere)."""
    import subprocess

    import numpy as np

    from ltx_core.media import write_mp4
    from ltx_core.media.errors import MediaWriteError

    folder = tmp_path / "small-disk"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        frames = np.random.default_rng(0).integers(0, 255, (33, 256, 256, 3), dtype=np.uint8)
        with pytest.raises(MediaWriteError) as refused:
            write_mp4(folder / "clip.mp4", frames, 24.0, settings={"prompt": "noise"})
        assert str(refused.value) == (f"the disk holding {folder} is full: free some space (or choose another outputs "
                                      "folder) and run the job again.")  # fmt: skip
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["umount", str(folder)], check=False)
