"""The numpy Canny edge extractor on synthetic shapes with known edges, and edge control videos."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ltx_core.errors import InputShapeError
from ltx_core.media import CannyTransform, canny, canny_video, load_video_conditioning, probe_video, write_mp4
from ltx_core.media.canny import hysteresis

TOP, BOTTOM, LEFT, RIGHT = 7, 33, 11, 44  # rectangle rows TOP..BOTTOM-1, columns LEFT..RIGHT-1


def rectangle(value: int = 200, background: int = 0) -> np.ndarray:
    image = np.full((40, 56), background, np.uint8)
    image[TOP:BOTTOM, LEFT:RIGHT] = value
    return image


def border_line() -> np.ndarray:
    """The one-pixel contour a symmetric step leaves under the NMS tie rule: for each pair of pixels
    straddling a side, the one before it along the gradient axis (outside on top/left, inside on
    bottom/right)."""
    line = np.zeros((40, 56), bool)
    line[TOP - 1, LEFT:RIGHT] = line[BOTTOM - 1, LEFT:RIGHT] = True
    line[TOP:BOTTOM, LEFT - 1] = line[TOP:BOTTOM, RIGHT - 1] = True
    return line


def test_rectangle_edges_lie_on_its_border():
    for value, background in ((200, 0), (255, 0), (30, 230)):
        edges = canny(rectangle(value, background), low=50, high=100)
        expected = border_line()
        # Away from the corners (where blur rounds them) the edge is exactly the contour line.
        sides = np.zeros_like(edges)
        sides[TOP + 4 : BOTTOM - 4, :] = sides[:, LEFT + 4 : RIGHT - 4] = True
        np.testing.assert_array_equal(edges[sides], expected[sides])
        # Nothing inside or outside: every edge pixel is within one pixel of the border.
        band = np.zeros_like(edges)
        band[TOP - 2 : BOTTOM + 1, LEFT - 2 : RIGHT + 1] = True
        band[TOP + 1 : BOTTOM - 2, LEFT + 1 : RIGHT - 2] = False
        assert not edges[~band].any()
        assert edges.sum() >= 0.95 * expected.sum()
    assert not canny(np.full((20, 20), 90, np.uint8)).any()  # a flat image has no edges


def test_thresholds():
    strong, faint = rectangle(200), rectangle(40)
    assert canny(strong, 100, 200).any()
    assert not canny(faint, 100, 200).any()  # peak gradient of a 40-level step is ~100: below high
    assert canny(faint, 20, 50).any()
    assert not canny(strong, 1000, 2000).any()
    with pytest.raises(InputShapeError, match="low <= high"):
        canny(strong, 200, 100)


def test_hysteresis_keeps_weak_pixels_only_when_connected_to_strong():
    magnitude = np.zeros((9, 12))
    magnitude[2, 1:6] = [250, 60, 60, 60, 60]  # strong head, weak tail (8-connected chain)
    magnitude[3, 6] = 60  # diagonal continuation
    magnitude[6, 2:9] = 60  # weak only: dropped
    edges = hysteresis(magnitude, magnitude > 0, low=50, high=200)
    assert edges[2, 1:6].all() and edges[3, 6]
    assert not edges[6].any()
    assert edges.sum() == 6
    assert not hysteresis(magnitude, magnitude > 0, low=70, high=200)[2, 2:].any()


def test_rgb_input_and_speed():
    rgb = np.dstack([rectangle(200)] * 3)
    np.testing.assert_array_equal(CannyTransform(50, 100)(rgb)[..., 0] > 0, canny(rectangle(200), 50, 100))
    out = CannyTransform(50, 100)(rgb)
    assert out.dtype == np.uint8 and out.shape == (40, 56, 3) and set(np.unique(out)) == {0, 255}
    rng = np.random.default_rng(0)
    frame = np.kron(rng.integers(0, 256, (16, 24, 3)), np.ones((32, 32, 1))).astype(np.uint8)  # 512x768 blocks
    started = time.perf_counter()
    edges = canny(frame, 100, 200)
    print(f"MEDIA canny 768x512: {(time.perf_counter() - started) * 1000:.0f} ms, {edges.mean():.3f} edge fraction")
    assert 0.01 < edges.mean() < 0.2


def test_edge_control_video(tmp_path):
    frames = np.zeros((9, 64, 96, 3), np.uint8)
    for index in range(9):  # a square moving right by 2 px a frame
        frames[index, 16:48, 20 + 2 * index : 52 + 2 * index] = (220, 180, 40)
    edges = np.concatenate(list(canny_video((frames[i : i + 3] for i in range(0, 9, 3)), 50, 100)))
    assert edges.shape == frames.shape and edges.dtype == np.uint8
    write_mp4(tmp_path / "edges.mp4", edges, 24, sidecar=False)
    assert probe_video(tmp_path / "edges.mp4").frames == 9
    write_mp4(tmp_path / "source.mp4", frames, 24, sidecar=False)
    control = np.array(load_video_conditioning(tmp_path / "source.mp4", 64, 96, 9, CannyTransform(50, 100)))
    assert control.shape == (1, 3, 9, 64, 96)
    assert set(np.unique(control)) <= {-1.0, 1.0}
    lit = control[0, 0] > 0
    for index in range(9):  # edges follow the square, whose left side moves 2 px a frame
        columns = np.flatnonzero(lit[index, 30])
        assert len(columns) == 2 and abs(columns[0] - (19 + 2 * index)) <= 1
