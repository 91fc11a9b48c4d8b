"""LTX-2.5 per-component files end to end: a weights folder resolved by the files' headers, the
distilled pipeline through ``run_job`` with a typed prompt (Gemma 4 text encoder, ancestral
stage 1, diffusion video VAE decoder, tiled as the preset asks) to an mp4, and the refusals before anything loads."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ltx_core.errors import ConfigError, LTXError
from ltx_core.model_paths import MissingModelError, ModelPaths
from ltx_core.model_spec import LTX_2_5, Role
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.runner import run_job
from tests.conftest import Reference
from tests.ltx25_helpers import component_file, ltx25_reference, rewrite_safetensors


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return ltx25_reference()


def linked_folder(ltx25: Reference, target: Path, skip: tuple[str, ...] = ()) -> Path:
    """The set's model files, linked under ``target`` with other names (roles come from headers)."""
    for index, path in enumerate(sorted(ltx25.directory.glob("*/*.safetensors"))):
        if any(part in path.name for part in skip):
            continue
        (target / path.parent.name).mkdir(parents=True, exist_ok=True)
        os.symlink(path, target / path.parent.name / f"file{index}.safetensors")
    return target


def test_folder_resolves_every_role_from_headers(ltx25: Reference, tmp_path: Path):
    paths = ModelPaths.from_folder(linked_folder(ltx25, tmp_path))
    resolved = {role: Path(os.path.realpath(paths.path_for(role))).name for role in (
        Role.TRANSFORMER, Role.TEXT_ENCODER, Role.VIDEO_VAE, Role.AUDIO_VAE, Role.DURATION_HEAD,
        Role.SPATIAL_UPSAMPLER, Role.TEMPORAL_UPSAMPLER)}  # fmt: skip
    assert resolved == {
        Role.TRANSFORMER: component_file(ltx25, "diffusion_models").name,
        Role.TEXT_ENCODER: component_file(ltx25, "text_encoders").name,
        Role.VIDEO_VAE: "ltx-2.5-tiny-video-vae-bf16.safetensors",  # the diffusion decoder, as the official app
        Role.AUDIO_VAE: "ltx-2.5-tiny-audio-vae-bf16.safetensors",
        Role.DURATION_HEAD: component_file(ltx25, "model_patches").name,
        Role.SPATIAL_UPSAMPLER: "ltx-2.5-tiny-latent-spatial-upscaler-x2-bf16-1.0.safetensors",
        Role.TEMPORAL_UPSAMPLER: "ltx-2.5-tiny-latent-temporal-upscaler-x2-bf16-1.0.safetensors",
    }
    assert paths.split and paths.distilled_lora is None


@pytest.mark.parametrize(
    "skip, message",
    [
        (("audio-vae",), "no audio VAE file"),
        (("transformer",), "no transformer file"),
        (("video-vae",), "no video VAE file"),
    ],
)
def test_a_missing_component_is_named(ltx25: Reference, tmp_path: Path, skip: tuple, message: str):
    with pytest.raises(MissingModelError, match=message):
        ModelPaths.from_folder(linked_folder(ltx25, tmp_path, skip))


@pytest.mark.parametrize(
    "skip, choice, expected",
    [
        ((), None, "ltx-2.5-tiny-video-vae-bf16.safetensors"),
        ((), "diffusion", "ltx-2.5-tiny-video-vae-bf16.safetensors"),
        ((), "conv", "ltx-2.5-tiny-video-vae-conv-bf16.safetensors"),
        (("video-vae-bf16",), None, "ltx-2.5-tiny-video-vae-conv-bf16.safetensors"),  # only the conv file
        (("video-vae-conv",), None, "ltx-2.5-tiny-video-vae-bf16.safetensors"),
    ],
)
def test_the_video_decoder_choice(ltx25: Reference, tmp_path: Path, skip: tuple, choice, expected: str):
    paths = ModelPaths.from_folder(linked_folder(ltx25, tmp_path, skip), video_decoder=choice)
    assert Path(os.path.realpath(paths.video_vae)).name == expected
    assert ModelLedger(paths).diffusion_decoder == ("conv" not in expected)


@pytest.mark.parametrize("skip, choice", [(("video-vae-conv",), "conv"), (("video-vae-bf16",), "diffusion")])
def test_a_video_decoder_the_folder_lacks_is_refused(ltx25: Reference, tmp_path: Path, skip: tuple, choice: str):
    with pytest.raises(MissingModelError, match=f"has no {choice} video VAE file"):
        ModelPaths.from_folder(linked_folder(ltx25, tmp_path, skip), video_decoder=choice)
    with pytest.raises(LTXError, match="must be one of diffusion, conv"):
        ModelPaths.from_folder(ltx25.directory, video_decoder="fast")


def test_an_unknown_video_vae_class_is_refused_before_loading(ltx25: Reference, tmp_path: Path):
    def other_class(meta: dict) -> dict:
        config = json.loads(meta["config"])
        config["vae"]["_class_name"] = "SomeFutureVAE"
        return {**meta, "config": json.dumps(config)}

    vae = rewrite_safetensors(ltx25.directory / "vae" / "ltx-2.5-tiny-video-vae-bf16.safetensors", tmp_path / "v.safetensors", other_class)
    ledger = ModelLedger(ModelPaths.from_folder(ltx25.directory, video_vae=vae))
    with pytest.raises(MissingModelError, match="SomeFutureVAE video VAE"):
        ledger.check_files()
    assert ledger.events == []


def test_a_text_encoder_of_another_gemma_is_refused_before_loading(ltx25: Reference, tmp_path: Path):
    def other_version(meta: dict) -> dict:
        config = json.loads(meta["gemma_config"])
        config["gemma_version"] = "gemma4-12b-ltx-v2"
        return {**meta, "gemma_config": json.dumps(config)}

    text_encoder = rewrite_safetensors(component_file(ltx25, "text_encoders"), tmp_path / "te.safetensors", other_version)
    paths = ModelPaths.from_folder(ltx25.directory, text_encoder=text_encoder)
    ledger = ModelLedger(paths)
    request = GenerationRequest(prompt="a cat", frames=9, height=128, width=128)
    with pytest.raises(ConfigError, match="gemma4-12b-ltx-v2"):
        run_job(ledger, "distilled", request, tmp_path / "out.mp4")
    assert not any(event.startswith("load") for event in ledger.events)


def test_distilled_job_runs_end_to_end(ltx25: Reference, tmp_path: Path):
    assert LTX_2_5.supported and LTX_2_5.distilled_stage1 is not None
    ledger = ModelLedger(ModelPaths.from_folder(ltx25.directory))
    assert ledger.model.version is LTX_2_5 and ledger.model.variant == "distilled"
    prompt = bytes(ltx25["text/in/prompt_utf8"]).decode("utf-8")
    request = GenerationRequest(prompt=prompt, frames=9, height=128, width=128, seed=5)
    record = run_job(ledger, "distilled", request, tmp_path / "clip.mp4")
    assert record.video.is_file() and record.video.stat().st_size > 0
    sidecar = json.loads(record.sidecar.read_text())["settings"]
    assert sidecar["models"]["model_version"] == "2.5"
    assert sidecar["models"]["video_vae"] == "ltx-2.5-tiny-video-vae-bf16.safetensors"  # the diffusion decoder
    assert [s.stage for s in record.stages] == ["text encoder", "stage 1", "upsample", "stage 2", "audio decode", "video decode"]
    assert ledger.loaded() == []
    from ltx_core.media import probe_video

    probe = probe_video(record.video)
    assert (probe.width, probe.height) == (128, 128)


def test_monolithic_checkpoints_keep_their_layout(tmp_path: Path):
    from tests.conftest import DEFAULT_SET

    paths = ModelPaths.from_folder(shutil.copytree(DEFAULT_SET, tmp_path / "set", ignore=shutil.ignore_patterns("gemma")))
    assert not paths.split and paths.checkpoint.name == "ltx2-tiny.safetensors"
    assert paths.video_vae_file == paths.audio_vae_file == paths.checkpoint
