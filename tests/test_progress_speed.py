"""Progress inside long stages (one step per VAE tile), cancellation between transformer blocks,
and the speed model behind the studio's whole-job ETA and its estimate next to Generate."""

from __future__ import annotations

import json

import pytest

from ltx_core.pipelines.progress import CancelCheckHook, Cancelled, CancelToken, cancel_scope, install_cancel_checks
from ltx_core.pipelines.registry import PIPELINES
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.speed import JobClock, SpeedModel, edit_plan, generation_plan, upscale_plan


def request(**overrides) -> GenerationRequest:
    from ltx_core.model_spec import LTX_2_0

    return GenerationRequest.for_version(LTX_2_0, **{"prompt": "p", "height": 256, "width": 384, "frames": 17, **overrides})


def test_the_plan_names_the_stages_the_ledger_records_and_scales_with_the_size():
    plan = generation_plan(PIPELINES["distilled"], request())
    assert [w.stage for w in plan] == ["text encoder", "stage 1", "upsample", "stage 2", "audio decode", "video decode"]
    bigger = generation_plan(PIPELINES["distilled"], request(height=512, width=768))
    assert bigger[-1].units == 4 * plan[-1].units and bigger[3].units > 4 * plan[3].units  # attention grows faster
    guided = generation_plan(PIPELINES["one-stage"], request(steps=20), passes=3)
    assert [w.stage for w in guided][:2] == ["text encoder", "stage 1"] and "upsample" not in [w.stage for w in guided]
    a2v = generation_plan(PIPELINES["audio-to-video"], request(steps=20), passes=3)  # encodes, never decodes audio
    assert [w.stage for w in a2v] == ["audio encode", "text encoder", "stage 1", "upsample", "stage 2", "video decode"]
    assert a2v[0].units == 17 / 24
    t2a = generation_plan(PIPELINES["text-to-audio"], request(steps=20), passes=3)
    assert [w.stage for w in t2a] == ["text encoder", "stage 1", "audio decode"]
    up = upscale_plan(128, 128, 9, 24.0, spatial=True, temporal=True)
    assert [w.stage for w in up] == ["encode", "temporal upsample", "spatial upsample", "text encoder", "refine",
                                     "video decode"]  # fmt: skip


def test_an_edit_plan_counts_the_source_encode_and_its_sound(tmp_path):
    """Retake / extend: the source's frames and its sound are encoded, the new audio decoded."""
    extend = edit_plan("extend", 128, 128, 33, 24.0, 8, True, 17)  # backward, overlap 2, 16 frames added
    assert [w.stage for w in extend] == ["text encoder", "encode", "audio encode", "extend", "audio decode", "video decode"]
    units = {w.stage: w.units for w in extend}
    assert units["encode"] == 17 * 128 * 128 / 1e6 and units["audio encode"] == 17 / 24 and units["audio decode"] == 33 / 24
    silent = edit_plan("retake", 128, 128, 25, 24.0, 8, True, None, 0.0)  # a silent clip given a soundtrack
    assert [w.stage for w in silent] == ["text encoder", "encode", "retake", "audio decode", "video decode"]
    model = SpeedModel(tmp_path / "speed.json")
    seconds = model.predict("k", extend).seconds - model.predict("k", edit_plan("extend", 128, 128, 33, 24.0, 8, False, 17)).seconds
    assert seconds > 0.6  # the audio encode and decode (first guess: 0.3 s fixed each, plus per second)


def test_the_speed_model_starts_from_a_guess_learns_and_survives_a_broken_file(tmp_path):
    path = tmp_path / "speed.json"
    model = SpeedModel(path)
    plan = generation_plan(PIPELINES["distilled"], request())
    guess = model.predict("demo", plan)
    assert not guess.learned and guess.seconds > 0
    measured = [(w.stage, 2.0) for w in plan]
    model.learn("demo", plan, measured)
    learned = SpeedModel(path).predict("demo", plan)  # read back from the file
    assert learned.learned and not learned.guessed and learned.seconds == pytest.approx(2.0 * len(plan), rel=1e-3)
    assert not SpeedModel(path).predict("another model", plan).learned
    path.write_text("{not json")
    assert not SpeedModel(path).predict("demo", plan).learned  # ignored, and rewritten by the next job
    SpeedModel(path).learn("demo", plan, measured)
    assert json.loads(path.read_text())["demo"]


def test_the_job_clock_gives_one_eta_for_the_whole_job(tmp_path):
    plan = generation_plan(PIPELINES["distilled"], request())
    clock = JobClock(SpeedModel(tmp_path / "s.json").predict("k", plan))
    first = clock.remaining("stage 1", 1, 8, 1.0)
    later = clock.remaining("stage 1", 4, 8, 1.03)
    decode = clock.remaining("video decode", 2, 8, 3.0)
    assert first > later > decode > 0  # counts every stage still ahead, not only the current one
    assert clock.remaining("done", 1, 1, 9.0) == 0.0


def test_a_long_video_is_planned_window_by_window(tmp_path):
    """Stages named "window k/n · stage" are predicted as their own kind; between windows the ETA is
    what the later windows need."""
    from ltx_core.pipelines.speed import StageWork, stage_kind

    assert stage_kind("window 2/3 · stage 1") == "denoise" and stage_kind("window 1/3 · video decode") == "video decode"
    plan = [StageWork(f"window {k}/2 · {work.stage}", work.units) for k in (1, 2)
            for work in edit_plan("extend", 128, 128, 25, 24.0, 8, True, 9)]  # fmt: skip
    prediction = SpeedModel(tmp_path / "speed.json").predict("k", plan)
    halves = sum(seconds for stage, seconds in prediction.stages if stage.startswith("window 2/2"))
    assert prediction.seconds == pytest.approx(2 * halves) and not prediction.learned
    clock = JobClock(prediction)
    assert clock.remaining("window 1/2 · done", 1, 1, prediction.seconds / 2) == pytest.approx(halves)
    assert clock.remaining("window 2/2 · done", 1, 1, prediction.seconds) == 0.0
    assert clock.remaining("window 2/2 · extend", 4, 8, prediction.seconds * 0.75) > 0


def test_a_cancel_takes_effect_after_the_current_transformer_block():
    class Block:
        index = 0

    class Streamer:
        calls: list = []

        def before(self, block):
            self.calls.append("before")

        def after(self, block):
            self.calls.append("after")

    class Transformer:
        block_hook = Streamer()

    model = Transformer()
    install_cancel_checks(model)
    install_cancel_checks(model)  # once only
    assert isinstance(model.block_hook, CancelCheckHook) and isinstance(model.block_hook.inner, Streamer)
    token = CancelToken()
    with cancel_scope(token):
        model.block_hook.after(Block())
        token.cancel()
        with pytest.raises(Cancelled):
            model.block_hook.after(Block())
    assert Streamer.calls == ["after", "after"]  # block streaming still releases the block first
    model.block_hook.after(Block())  # outside a job: no token, no check


def test_decoding_reports_each_tile_and_the_transformer_checks_for_cancel(tmp_path, monkeypatch):
    from ltx_core.demo import demo_paths
    from ltx_core.pipelines.ledger import build_ledger
    from ltx_core.pipelines.runner import run_job
    from ltx_core.presets import load_presets, preset_by_name

    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    ledger = build_ledger(demo_paths(), preset_by_name("compact", load_presets()), demo=True)  # 256 px tiles
    events, hooks = [], []

    def progress(event):
        events.append((event.stage, event.step, event.total))
        transformer = ledger._models.get("transformer")
        if event.stage == "stage 1" and transformer is not None:
            hooks.append(type(transformer.velocity_model.block_hook).__name__)

    run_job(ledger, "distilled", request(frames=9, height=256, width=384), tmp_path / "out.mp4", progress)
    decode = [(step, total) for stage, step, total in events if stage == "video decode"]
    tiles = max(total for _, total in decode)
    assert tiles > 1 and [step for step, total in decode if total == tiles] == list(range(tiles))
    assert hooks and set(hooks) == {"CancelCheckHook"}
    assert "video_decoder" not in vars(ledger)  # the job's instrumentation is gone afterwards
