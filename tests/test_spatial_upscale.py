"""The x1.5 spatial upsampler as a two-stage choice (LTX-2.3): stage 1 at two thirds of the
output, sizes in multiples of 96, the right file found and recorded, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltx_core.model_paths import ModelPaths, resolve_folder, sort_spatial_upsampler, spatial_upsampler_scale
from ltx_core.pipelines.ledger import MissingModelError
from ltx_core.pipelines.registry import PIPELINES
from ltx_core.pipelines.request import RequestError
from ltx_core.pipelines.runner import run_job
from tests.conftest import REFERENCE_ROOT, load_reference
from tests.pipeline_helpers import tiny_ledger
from tests.test_pipeline_versions import request_for

SET_23 = REFERENCE_ROOT / "ltx-2.3"
X15 = SET_23 / "ltx2-tiny-spatial-upsampler-x1.5.safetensors"
X2 = SET_23 / "ltx2-tiny-spatial-upsampler.safetensors"


def test_the_size_rule_and_stage1_size_follow_the_upscale():
    distilled, one_stage = PIPELINES["distilled"], PIPELINES["one-stage"]
    assert (distilled.size_multiple_for(2.0), distilled.size_multiple_for(1.5), one_stage.size_multiple_for(1.5)) == (64, 96, 32)
    assert distilled.stage1_size(768, 1152, 1.5) == (512, 768) and distilled.stage1_size(512, 768, 2.0) == (256, 384)
    assert distilled.snap_size(512, 768, 1.5) == (480, 768)
    stage1, _ = distilled.memory_stages(1.5)
    assert stage1.downscale == 1.5
    assert distilled.uses("spatial_upscale") and not one_stage.uses("spatial_upscale")


def test_folder_files_go_to_their_scale():
    assert spatial_upsampler_scale(X15) == 1.5 and spatial_upsampler_scale(X2) == 2.0
    paths = resolve_folder(SET_23)
    assert (paths.spatial_upsampler, paths.spatial_upsampler_x1_5) == (X2, X15)
    assert paths.spatial_upscales == (2.0, 1.5) and paths.spatial_upsampler_for(1.5) == X15
    assert sort_spatial_upsampler(X15) == {"spatial_upsampler_x1_5": X15}  # a CLI-given file, by its header
    assert ModelPaths(SET_23 / "ltx2-tiny.safetensors", spatial_upsampler=X2).spatial_upscales == (2.0,)


def test_distilled_through_the_x1_5_upsampler(tmp_path: Path):
    reference = load_reference(SET_23)
    ledger = tiny_ledger(reference, tmp_path, spatial_upsampler_x1_5=X15)
    request = request_for(reference, "distilled", tmp_path, height=192, width=288, spatial_upscale=1.5)
    record = run_job(ledger, "distilled", request, tmp_path / "x15.mp4")
    sidecar = json.loads(record.sidecar.read_text())["settings"]
    assert sidecar["models"]["spatial_upsampler"] == X15.name
    sidecar = sidecar["request"]
    assert sidecar["spatial_upscale"] == 1.5 and (sidecar["width"], sidecar["height"]) == (288, 192)
    from ltx_core.media import probe_video

    info = probe_video(record.video)
    assert (info.width, info.height) == (288, 192)
    stage1 = next(s for s in ledger.stages if s.stage == "stage 1")
    assert stage1.loaded  # the transformer ran; the upsampler used was the x1.5 one:
    assert ledger._spatial_upscale == 1.5

    with pytest.raises(RequestError, match=r"multiple of 96 for this pipeline through the x1.5 upsampler \(e.g. 96\)"):
        PIPELINES["distilled"].create(ledger).prepare(request_for(reference, "distilled", tmp_path, spatial_upscale=1.5))


def test_a_missing_x1_5_file_is_named_before_loading(tmp_path: Path):
    reference = load_reference(SET_23)
    ledger = tiny_ledger(reference, tmp_path)
    request = request_for(reference, "distilled", tmp_path, height=192, width=192, spatial_upscale=1.5)
    with pytest.raises(MissingModelError, match="x1.5 spatial upsampler is not configured.*choose the x2 upscale"):
        PIPELINES["distilled"].create(ledger).prepare(request)
    assert ledger.loaded() == []
    wrong = tiny_ledger(reference, tmp_path, spatial_upsampler_x1_5=X2)  # an x2 file in the x1.5 slot
    with pytest.raises(MissingModelError, match="is a x2 spatial upsampler, but the job asks for x1.5"):
        wrong.spatial_upsampler(1.5)
