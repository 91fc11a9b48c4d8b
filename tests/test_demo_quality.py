"""The demo quality checks beyond caption words (issue 18): the placement measure reads a drawn
clip back to its true centres, and the keyframe, IC-LoRA and upsampler checks run end to end
through the normal pipelines (on the random demo set here: the numbers mean something only for a
trained set, ``python -m ltx_core.demo.evaluate``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltx_core.demo import write_demo_set
from ltx_core.demo.evaluate import placement_checks
from ltx_core.demo.placement import _bilinear_2x, _distance, _placed_spec, _truth
from ltx_core.demo.synthetic import ClipSpec, render_video, track_shape


def test_placement_measure_reads_a_drawn_clip_back_to_its_true_centres():
    rng = np.random.default_rng(3)
    for caption in ("a red circle moving right on a black background", "a yellow square bouncing on a grey background"):
        spec = _placed_spec(caption, rng)
        assert spec.caption == caption and (spec.x, spec.y) != (ClipSpec.from_caption(caption).x, 0.5)
        track = track_shape(render_video(spec, 17, 128, 128))
        seen = np.stack([track.centre_x, track.centre_y], axis=1)
        assert _distance(seen, _truth(spec, 17), list(range(17))) < 0.02
        moved = _truth(ClipSpec.from_caption(caption), 17)
        assert _distance(seen, moved, list(range(17))) > 0.02 or spec.motion == "bouncing"


def test_bilinear_resize_keeps_ramps_and_constants():
    ramp = np.arange(4, dtype=np.float32)[None, None, None, None, :].repeat(4, axis=3)
    wide = _bilinear_2x(ramp)
    assert wide.shape == (1, 1, 1, 8, 8)
    np.testing.assert_allclose(wide[0, 0, 0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])  # torch align_corners=False
    flat = _bilinear_2x(np.full((1, 3, 2, 2, 2), 0.3, np.float32))
    assert flat.shape == (1, 3, 2, 4, 4) and np.all(flat == np.float32(0.3))


def test_placement_checks_run_through_the_pipelines(tmp_path: Path):
    root = write_demo_set(tmp_path / "demo")
    lines = []
    report = placement_checks(root, limit=1, steps=2, cfg=3.0, log=lines.append)
    keyframes, control = report["placements"]
    assert keyframes["what"] == "keyframe images" and control["what"] == "IC-LoRA edges"
    for result in (keyframes, control):
        assert result["jobs"] == 1 and result["hit_rate"] in (0.0, 1.0)
        assert 0 <= result["mean_distance"] < 1.5 and 0 <= result["text_only_distance"] < 1.5
    assert np.isfinite(report["upsampled_psnr"]) and np.isfinite(report["resized_psnr"])
    assert any(line.startswith("spatial upsampler, 64 -> 128 pixels") for line in lines)
