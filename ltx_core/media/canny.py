"""Canny edges in numpy (no OpenCV), for IC-LoRA edge control videos.

grayscale -> Gaussian blur -> Sobel gradients -> non-maximum suppression -> double threshold
with hysteresis. Gradients are those of OpenCV's 3x3 Sobel on 0..255 intensities (L2 norm), so
thresholds are on the same scale as ``cv2.Canny(image, low, high, L2gradient=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ltx_core.media.errors import InputShapeError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as cv2.COLOR_RGB2GRAY


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) in [0, 255] -> float32 (H, W)."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return image.astype(np.float32)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise InputShapeError(f"an image must be (H, W) or (H, W, 3), got {image.shape}")
    return image[..., :3].astype(np.float32) @ LUMA


def gaussian_blur(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian (float64), radius ceil(3 sigma), mirrored borders; ``sigma <= 0``: a copy."""
    if sigma <= 0:
        return gray.astype(np.float64, copy=True)
    radius = max(1, int(np.ceil(3.0 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    out = np.pad(gray.astype(np.float64), radius, mode="reflect")
    for axis in (0, 1):
        length = out.shape[axis] - 2 * radius
        acc = np.zeros_like(out.take(np.arange(radius, radius + length), axis=axis))
        for k, weight in enumerate(kernel):
            acc += weight * out.take(np.arange(k, k + length), axis=axis)
        out = acc
    return out


def sobel(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3 Sobel derivatives (gx along width, gy along height), replicated borders."""
    p = np.pad(gray, 1, mode="edge")
    dx = p[:, 2:] - p[:, :-2]  # horizontal central difference
    gx = dx[:-2] + 2.0 * dx[1:-1] + dx[2:]
    dy = p[2:] - p[:-2]
    gy = dy[:, :-2] + 2.0 * dy[:, 1:-1] + dy[:, 2:]
    return gx, gy


def non_maximum_suppression(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Keep pixels that are maxima along their gradient direction (quantised to 0/45/90/135 deg).

    Ties are broken one way (strictly greater than the neighbour before, at least the one after,
    as OpenCV does) so a symmetric step keeps a one-pixel line, not two.
    """
    h, w = magnitude.shape
    m = np.pad(magnitude, 1, mode="constant")
    angle = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    sector = ((angle + 22.5) // 45.0).astype(np.int64) % 4  # 0: horizontal gradient, 1: 45, 2: vertical, 3: 135
    # (dy, dx) of the neighbour "after" along the gradient; image rows grow downwards.
    steps = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    keep = np.zeros((h, w), dtype=bool)
    for index, (dy, dx) in steps.items():
        after = m[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        before = m[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        keep |= (sector == index) & (magnitude > before) & (magnitude >= after)
    return keep & (magnitude > 0)


def _find(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def hysteresis(magnitude: np.ndarray, candidates: np.ndarray, low: float, high: float) -> np.ndarray:
    """Candidates above ``high``, plus those above ``low`` 8-connected (through such pixels) to one.

    Connected components by vectorised union-find over the weak pixels only, so the cost does not
    grow with the length of an edge chain as repeated dilation would.
    """
    weak = candidates & (magnitude >= low)
    h, w = weak.shape
    flat = np.flatnonzero(weak)
    if flat.size == 0:
        return weak
    position = np.full(h * w, -1, dtype=np.int64)
    position[flat] = np.arange(flat.size)
    rows, cols = np.divmod(flat, w)
    a_list, b_list = [], []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
        r, c = rows + dy, cols + dx
        valid = (r < h) & (c >= 0) & (c < w)
        other = np.full(flat.size, -1, dtype=np.int64)
        other[valid] = position[r[valid] * w + c[valid]]
        linked = other >= 0
        a_list.append(np.flatnonzero(linked))
        b_list.append(other[linked])
    a, b = np.concatenate(a_list), np.concatenate(b_list)
    parent = np.arange(flat.size)
    while a.size:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        lo, hi = np.minimum(ra, rb)[differ], np.maximum(ra, rb)[differ]
        np.minimum.at(parent, hi, lo)
        parent = _find(parent)
    strong_root = np.zeros(flat.size, dtype=bool)
    strong_root[parent[magnitude.reshape(-1)[flat] >= high]] = True
    edges = np.zeros(h * w, dtype=bool)
    edges[flat[strong_root[parent]]] = True
    return edges.reshape(h, w)


def canny(image: np.ndarray, low: float = 100.0, high: float = 200.0, sigma: float = 1.0) -> np.ndarray:
    """Boolean (H, W) edge map of an (H, W[, 3]) image in [0, 255]."""
    if low < 0 or high < low:
        raise InputShapeError(f"Canny thresholds need 0 <= low <= high, got low={low}, high={high}")
    # float64 and a 2^-20 grid make the Sobel sums exact, so the two pixels either side of a
    # symmetric step get bit-identical magnitudes and the tie rule in NMS picks the same side
    # everywhere (float32 noise would make the line jump between them).
    blurred = np.round(gaussian_blur(to_gray(image), sigma) * 2.0**20) / 2.0**20
    gx, gy = sobel(blurred)
    magnitude = np.hypot(gx, gy)
    return hysteresis(magnitude, non_maximum_suppression(magnitude, gx, gy), low, high)


def edges_to_rgb(edges: np.ndarray) -> np.ndarray:
    """Boolean (H, W) -> uint8 (H, W, 3): white edges on black."""
    return np.repeat((edges.astype(np.uint8) * 255)[..., None], 3, axis=-1)


@dataclass(frozen=True)
class CannyTransform:
    """A per-frame transform for ``load_video_conditioning``: frame -> white-on-black edges."""

    low: float = 100.0
    high: float = 200.0
    sigma: float = 1.0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return edges_to_rgb(canny(frame, self.low, self.high, self.sigma))


def canny_video(frames: Iterable[np.ndarray], low: float = 100.0, high: float = 200.0,
                sigma: float = 1.0) -> Iterator[np.ndarray]:  # fmt: skip
    """Edge control video, frame by frame: each (H, W, 3) or (F, H, W, 3) chunk in -> uint8 chunk
    of the same shape out (white edges on black), ready for ``write_mp4``."""
    transform = CannyTransform(low, high, sigma)
    for chunk in frames:
        chunk = np.asarray(chunk)
        if chunk.ndim == 3:
            yield transform(chunk)
        else:
            yield np.stack([transform(frame) for frame in chunk])
