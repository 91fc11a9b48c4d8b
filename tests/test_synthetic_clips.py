"""The synthetic clip generator of the demo models: deterministic, faithful to its caption, and
readable back by the analyser that will score generated videos."""

import numpy as np
import pytest

from ltx_core.demo.synthetic import (
    COLOURS,
    MOTIONS,
    SHAPES,
    ClipSpec,
    describe_video,
    render_audio,
    render_video,
    synthetic_clip,
)


def test_the_same_seed_gives_the_same_clip_and_other_seeds_differ():
    first, again, other = synthetic_clip(3), synthetic_clip(3), synthetic_clip(4)
    assert first.caption == again.caption
    assert np.array_equal(first.video, again.video) and np.array_equal(first.audio, again.audio)
    assert first.video.shape == (25, 64, 64, 3) and first.video.dtype == np.uint8
    assert first.audio.shape == (16667, 2) and first.audio.dtype == np.float32
    assert (first.caption, first.video.tobytes()) != (other.caption, other.video.tobytes())


def test_the_analyser_reads_back_what_was_rendered_for_most_seeds():
    hits = {"colour": 0, "shape": 0, "motion": 0, "background": 0}
    seeds = range(60)
    for seed in seeds:
        spec = ClipSpec.sample(np.random.default_rng(seed))
        observed = describe_video(render_video(spec, 17, 48, 64))
        for field, ok in observed.matches(spec).items():
            hits[field] += ok
    rates = {field: count / len(seeds) for field, count in hits.items()}
    print("ANALYSER", rates)
    assert rates["colour"] == 1.0 and rates["background"] == 1.0 and rates["motion"] == 1.0
    assert rates["shape"] >= 0.9


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("motion", MOTIONS)
def test_every_caption_of_the_grammar_renders_and_reads_back(shape, motion):
    spec = ClipSpec.from_caption(f"a yellow {shape} {motion} on a dark blue background")
    observed = describe_video(render_video(spec, 9, 64, 64))
    assert observed.matches(spec) == {"colour": True, "shape": True, "motion": True, "background": True}


def test_captions_round_trip_and_bad_captions_say_what_to_write():
    spec = ClipSpec.from_caption("a red circle moving right on a black background")
    assert spec.caption == "a red circle moving right on a black background"
    with pytest.raises(ValueError, match="not a caption of the grammar: write e.g. 'a red circle moving right"):
        ClipSpec.from_caption("a cat")
    with pytest.raises(ValueError, match="unknown colour 'pink': use one of " + ", ".join(COLOURS)):
        ClipSpec.from_caption("a pink circle still on a black background")


def _pitch_hz(signal: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * sample_rate / len(signal))


def test_the_soundtrack_rises_with_the_shape_and_pans_with_it():
    rate = 16000
    up = render_audio(ClipSpec.from_caption("a red circle moving up on a black background"), 49, 24.0, rate)
    window = rate // 10
    start, end = _pitch_hz(up[:window, 0], rate), _pitch_hz(up[-window:, 0], rate)
    # y from 0.7 to 0.3: 220 * 2^(2 * 0.3) = 333 Hz up to 220 * 2^(2 * 0.7) = 581 Hz.
    assert start == pytest.approx(333.4, abs=15) and end == pytest.approx(580.6, abs=15)
    right = render_audio(ClipSpec.from_caption("a red circle moving right on a black background"), 49, 24.0, rate)

    def balance(part):  # right / left loudness: tan(x * pi / 2) for a shape at x
        return float(np.sqrt(np.mean(part[:, 1] ** 2) / np.mean(part[:, 0] ** 2)))

    # From x = 0.3 (tan(0.15 pi) = 0.51) to x = 0.7 (1.96); each window spans 0.01 of the path.
    assert balance(right[:window]) == pytest.approx(0.51, abs=0.03)
    assert balance(right[-window:]) == pytest.approx(1.96, abs=0.08)


def test_each_bounce_clicks():
    rate = 16000
    spec = ClipSpec.from_caption("a red square bouncing on a grey background")
    audio = render_audio(spec, 49, 24.0, rate)
    quiet = render_audio(ClipSpec.from_caption("a red square still on a grey background"), 49, 24.0, rate)
    assert np.abs(quiet).max() <= 0.2 + 1e-6
    loud = np.nonzero(np.abs(audio[:, 0]) + np.abs(audio[:, 1]) > 0.35)[0]
    bursts = 1 + int(np.count_nonzero(np.diff(loud) > rate // 20))
    assert bursts == len(spec.bounce_times()) == 2


def test_clips_whose_travel_fills_the_frame_are_sampled():
    from ltx_core.demo.train.data import training_spec

    # Clip 0 of step 2,302 (seed 0) is a large shape whose travel is all the room there is: its
    # start range was empty by a rounding error (numpy: "high - low < 0") and stopped a run.
    spec = training_spec(0, 2302, 0)
    x, y, radius = spec.centre_and_radius(np.linspace(0.0, 1.0, 17))
    assert (x - radius >= -1e-9).all() and (x + radius <= 1 + 1e-9).all()
    assert (y - radius >= -1e-9).all() and (y + radius <= 1 + 1e-9).all()
