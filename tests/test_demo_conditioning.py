"""What the demo transformer is given while training (issue 18): the pipelines' conditionings -
first frame, extension, retake, appended keyframe images - with the audio under given frames."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.demo import write_demo_set
from ltx_core.demo.train.conditioning import CONDITIONING_SHARES, draw_conditioning, given_audio
from ltx_core.demo.train.data import ClipGeometry


def test_conditioning_modes_come_in_their_shares_and_give_the_right_frames():
    rng = np.random.default_rng(0)
    draws = [draw_conditioning(rng, 4) for _ in range(4000)]
    for name, share in CONDITIONING_SHARES:
        assert abs(np.mean([d.mode == name for d in draws]) - share) < 0.02, name
    for d in draws:
        given = d.given_frames
        if d.mode == "first-frame":
            assert given.tolist() == [True, False, False, False]
        elif d.mode == "extend":
            assert given[0] and not given[-1] and list(given) == sorted(given, reverse=True)
        elif d.mode == "extend-backward":
            assert not given[0] and given[-1] and list(given) == sorted(given)
        elif d.mode == "retake":
            hidden = np.nonzero(~given)[0]
            assert 0 < len(hidden) < 4 and np.all(np.diff(hidden) == 1)
        else:
            assert not given.any()
        assert bool(d.keyframes) == (d.mode == "keyframes")
    assert draw_conditioning(np.random.default_rng(0), 1, (("retake", 1.0),)).mode == "first-frame"


def test_audio_is_given_under_given_video_time():
    video = np.array([[0.0, 0.04], [0.04, 0.37], [0.37, 0.70]])
    audio = np.stack([np.arange(18) * 0.04, np.arange(1, 19) * 0.04], axis=1)
    given = given_audio(video, np.array([True, True, False]), audio)
    assert given[:9].all() and not given[9:].any()  # centres 0.02 ... 0.34 lie under the first two frames


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    from ltx_core.demo.train.transformer_stage import TransformerStage

    model = write_demo_set(tmp_path_factory.mktemp("demo") / "model")
    return TransformerStage(model, ((ClipGeometry(frames=17, height=64, width=64), 1.0),), batch_size=2, pool_clips=2)


@pytest.mark.parametrize("mode", ["extend", "keyframes"])
def test_batches_carry_the_conditioning_as_the_pipelines_build_it(stage, mode: str):
    stage.conditioning_shares = ((mode, 1.0),)
    batch = stage.batch(3)
    tokens, per_frame = 3 * 2 * 2, 2 * 2
    conditioned = np.array(batch["conditioned"])[0, :, 0]
    times = np.array(batch["video_positions"])[0, 0]  # (T, 2) seconds
    audio_given = np.array(batch["audio_conditioned"])[0, :, 0]
    if mode == "extend":
        assert batch["video"].shape[1] == tokens
        given_frames = int(conditioned.sum()) // per_frame
        assert 1 <= given_frames <= 2 and conditioned[: given_frames * per_frame].all()
        end = times[given_frames * per_frame - 1, 1]
        centres = np.array(batch["audio_positions"])[0, 0].mean(-1)
        assert np.array_equal(audio_given.astype(bool), centres < end)
    else:
        appended = batch["video"].shape[1] - tokens
        assert appended in (per_frame, 2 * per_frame, 3 * per_frame)
        assert not conditioned[:tokens].any() and conditioned[tokens:].all() and not audio_given.any()
        starts = sorted(set(np.round(times[tokens:, 0] * 24).astype(int)))
        assert set(starts) <= {0, 8, 16} and len(starts) * per_frame == appended  # first, middle, last frame
    stage.conditioning_shares = CONDITIONING_SHARES
    loss, metrics = stage.loss(batch, mx.random.key(0))
    assert np.isfinite(float(loss))
