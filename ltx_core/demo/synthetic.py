"""Synthetic captioned clips for training and checking the demo models (issue 18).

A small caption grammar - "a red circle moving right on a black background" - and a renderer
that turns a caption into frames and a matching soundtrack: a tone whose pitch follows the
shape's height and whose stereo pan follows its horizontal position, with a click on each
bounce. Everything is deterministic from a seed and generated on the fly (nothing is stored).

``describe_video`` reads a clip back into the grammar's words (colour, shape, motion,
background) from pixels alone, so a generated video can be scored against its prompt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 40),
    "white": (240, 240, 240),
    "purple": (150, 60, 200),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (12, 12, 12),
    "grey": (115, 115, 115),
    "dark blue": (15, 25, 75),
    "beige": (205, 190, 155),
}
SHAPES = ("circle", "square", "triangle")
MOTIONS = ("moving left", "moving right", "moving up", "moving down", "bouncing", "growing", "still")
# A colour must stand out from its background by this much (RGB distance) to be a valid pair.
MIN_CONTRAST = 120.0
BOUNCES = 2
BASE_PITCH_HZ = 220.0
# Shape half-sizes, fractions of the frame's shorter side. At 0.10-0.16 (a shape narrower than one
# 32-pixel latent cell at 128 pixels) the trained VAE gave back every shape as the same round blob:
# 14 of 52 held-out shapes read back from its reconstructions, colour, motion and background 52.
RADIUS_RANGE = (0.17, 0.25)
CAPTION_RADIUS = 0.21


@dataclass(frozen=True)
class ClipSpec:
    """One clip of the grammar. Positions and sizes are fractions of the frame's shorter side
    (``x``/``y`` of the shape's centre at the start, ``radius`` its half-size)."""

    colour: str
    shape: str
    motion: str
    background: str
    x: float = 0.5
    y: float = 0.5
    radius: float = CAPTION_RADIUS
    travel: float = 0.4

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.colour, COLOURS, "colour"),
            (self.shape, SHAPES, "shape"),
            (self.motion, MOTIONS, "motion"),
            (self.background, BACKGROUNDS, "background"),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} {self.motion} on a {self.background} background"

    @classmethod
    def sample(cls, rng: np.random.Generator) -> ClipSpec:
        colour, background = rng.choice(contrasting_pairs())
        shape = str(rng.choice(SHAPES))
        motion = str(rng.choice(MOTIONS))
        radius = float(rng.uniform(*RADIUS_RANGE))
        margin = radius * (1.8 if motion == "growing" else 1.0) + 0.03
        free = 1 - 2 * margin  # the room the centre has
        travel = min(float(rng.uniform(0.3, 0.45)), free)
        x, y = (float(v) for v in rng.uniform(margin, 1 - margin, 2))
        if motion in ("moving left", "moving right"):
            x = float(rng.uniform(margin, margin + (free - travel)))  # never high < low, even when travel == free
            if motion == "moving left":
                x = 1 - x
        elif motion in ("moving up", "moving down"):
            y = float(rng.uniform(margin, margin + (free - travel)))
            if motion == "moving up":
                y = 1 - y
        elif motion == "bouncing":
            y = 1 - margin  # the floor the shape bounces on
            travel = min(travel, y - margin)
        return cls(str(colour), shape, motion, str(background), x, y, radius, travel)

    @classmethod
    def from_caption(cls, caption: str) -> ClipSpec:
        """The default clip of a caption of the grammar (centred, mid-size), e.g. for evaluation."""
        text = caption.strip().lower().removeprefix("a ").removesuffix(" background")
        try:
            head, background = text.split(" on a ", 1)
            colour, shape, motion = head.split(" ", 2)
        except ValueError:
            raise ValueError(f"{caption!r} is not a caption of the grammar: write e.g. {example_caption()!r}") from None
        start = {
            "moving left": (0.7, 0.5),
            "moving right": (0.3, 0.5),
            "moving up": (0.5, 0.7),
            "moving down": (0.5, 0.3),
            "bouncing": (0.5, 1 - CAPTION_RADIUS - 0.03),
        }
        x, y = start.get(motion, (0.5, 0.5))
        return cls(colour, shape, motion, background, x, y, CAPTION_RADIUS, 0.4)

    def centre_and_radius(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre ``(x, y)`` and radius at normalised times ``t`` in [0, 1]."""
        x = np.full_like(t, self.x)
        y = np.full_like(t, self.y)
        radius = np.full_like(t, self.radius)
        if self.motion == "moving left":
            x = self.x - self.travel * t
        elif self.motion == "moving right":
            x = self.x + self.travel * t
        elif self.motion == "moving up":
            y = self.y - self.travel * t
        elif self.motion == "moving down":
            y = self.y + self.travel * t
        elif self.motion == "bouncing":
            y = self.y - self.travel * np.abs(np.cos(math.pi * BOUNCES * t))  # starts and ends at the top
        elif self.motion == "growing":
            radius = self.radius * (1 + 0.8 * t)
        return x, y, radius

    def bounce_times(self) -> list[float]:
        """Normalised times at which the shape touches the floor (a click in the soundtrack)."""
        return [(k + 0.5) / BOUNCES for k in range(BOUNCES)] if self.motion == "bouncing" else []


@dataclass(frozen=True)
class Clip:
    caption: str
    video: np.ndarray  # uint8 [frames, height, width, 3]
    audio: np.ndarray  # float32 [samples, 2]
    sample_rate: int


def contrasting_pairs() -> list[tuple[str, str]]:
    return [
        (colour, background)
        for colour, rgb in COLOURS.items()
        for background, bg in BACKGROUNDS.items()
        if np.linalg.norm(np.subtract(rgb, bg)) >= MIN_CONTRAST
    ]


def example_caption() -> str:
    return ClipSpec("red", "circle", "moving right", "black").caption


def synthetic_clip(
    seed: int, frames: int = 25, height: int = 64, width: int = 64, fps: float = 24.0, sample_rate: int = 16000
) -> Clip:
    """The clip of ``seed``: the same seed always gives the same caption, frames and audio."""
    spec = ClipSpec.sample(np.random.default_rng(seed))
    return Clip(
        spec.caption,
        render_video(spec, frames, height, width),
        render_audio(spec, frames, fps, sample_rate),
        sample_rate,
    )


def render_video(spec: ClipSpec, frames: int, height: int, width: int, supersample: int = 3) -> np.ndarray:
    """Frames of ``spec``; edges anti-aliased by averaging ``supersample``² coverage samples."""
    scale = min(height, width)
    offsets = (np.arange(supersample) + 0.5) / supersample
    ys = (np.arange(height)[:, None] + offsets[None, :]).reshape(-1) / scale
    xs = (np.arange(width)[:, None] + offsets[None, :]).reshape(-1) / scale
    # Centre the unit square of the shorter side in a non-square frame.
    xs -= (width - scale) / (2 * scale)
    ys -= (height - scale) / (2 * scale)
    t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    centres_x, centres_y, radii = spec.centre_and_radius(t)
    background = np.array(BACKGROUNDS[spec.background], np.float32)
    colour = np.array(COLOURS[spec.colour], np.float32)
    video = np.empty((frames, height, width, 3), np.uint8)
    for index in range(frames):
        dx = xs[None, :] - centres_x[index]
        dy = ys[:, None] - centres_y[index]
        inside = _inside(spec.shape, dx, dy, radii[index])
        coverage = inside.reshape(height, supersample, width, supersample).mean(axis=(1, 3))[..., None]
        video[index] = np.round(background + (colour - background) * coverage).astype(np.uint8)
    return video


def _inside(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    if shape == "circle":
        return dx * dx + dy * dy <= radius * radius
    if shape == "square":
        half = radius * math.sqrt(math.pi) / 2  # the circle's area
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # An upward triangle inscribed in the circle of ``radius``: apex up, flat base.
    base = radius * 0.5
    slope = math.sqrt(3.0)
    return (dy <= base) & (dy >= -radius + slope * np.abs(dx))


def render_audio(spec: ClipSpec, frames: int, fps: float, sample_rate: int) -> np.ndarray:
    """Stereo soundtrack: pitch from height (two octaves, higher when higher up), pan from x,
    and a short decaying click at each bounce."""
    samples = max(1, round(frames / fps * sample_rate))
    t = np.linspace(0.0, 1.0, samples)
    x, y, _ = spec.centre_and_radius(t)
    frequency = BASE_PITCH_HZ * 2.0 ** (2.0 * (1.0 - np.clip(y, 0.0, 1.0)))
    phase = 2 * math.pi * np.cumsum(frequency) / sample_rate
    tone = 0.2 * np.sin(phase)
    click_length = int(0.02 * sample_rate)
    envelope = np.exp(-np.arange(click_length) / (0.003 * sample_rate))
    click = 0.5 * envelope * np.sin(2 * math.pi * 2000.0 * np.arange(click_length) / sample_rate)
    for when in spec.bounce_times():
        start = min(int(when * (samples - 1)), samples - 1)
        end = min(start + click_length, samples)
        tone[start:end] += click[: end - start]
    pan = np.clip(x, 0.0, 1.0) * math.pi / 2
    return np.stack([tone * np.cos(pan), tone * np.sin(pan)], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Observation:
    colour: str
    shape: str
    motion: str
    background: str

    def matches(self, spec: ClipSpec) -> dict[str, bool]:
        return {
            field: getattr(self, field) == getattr(spec, field) for field in ("colour", "shape", "motion", "background")
        }


@dataclass(frozen=True)
class ShapeTrack:
    """Where a clip's shape is, frame by frame, read from pixels: centres as fractions of the
    shorter side, areas in pixels, and the masks they come from."""

    background_rgb: np.ndarray
    colour_rgb: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray
    areas: np.ndarray
    foreground: np.ndarray  # bool [F, H, W]


def track_shape(video: np.ndarray) -> ShapeTrack:
    """The shape of frames ``[F, H, W, 3]`` (uint8): pixels far from the border's median colour."""
    frames = video.astype(np.float32)
    first = frames[0]
    border = np.concatenate([first[0], first[-1], first[:, 0], first[:, -1]])
    background_rgb = np.median(border, axis=0)
    distance = np.linalg.norm(frames - background_rgb, axis=-1)
    solid = distance > 0.6 * distance.max() if distance.max() > 0 else distance > 0
    foreground = distance > 0.5 * distance.max() if distance.max() > 0 else distance > 0
    colour_rgb = frames[solid].mean(axis=0) if solid.any() else background_rgb
    areas = foreground.sum(axis=(1, 2)).astype(np.float64)
    scale = min(video.shape[1], video.shape[2])
    rows = np.arange(video.shape[1])[None, :, None]
    cols = np.arange(video.shape[2])[None, None, :]
    safe = np.maximum(areas, 1.0)
    centre_y = (foreground * rows).sum(axis=(1, 2)) / safe / scale
    centre_x = (foreground * cols).sum(axis=(1, 2)) / safe / scale
    return ShapeTrack(background_rgb, colour_rgb, centre_x, centre_y, areas, foreground)


def describe_video(video: np.ndarray) -> Observation:
    """Read colour, shape, motion and background back from frames ``[F, H, W, 3]`` (uint8)."""
    track = track_shape(video)
    return Observation(
        colour=_nearest(COLOURS, track.colour_rgb),
        shape=_shape_from_mask(track.foreground[int(np.argmax(track.areas))]),
        motion=_motion(track.centre_x, track.centre_y, track.areas),
        background=_nearest(BACKGROUNDS, track.background_rgb),
    )


def _nearest(palette: dict[str, tuple[int, int, int]], rgb: np.ndarray) -> str:
    return min(palette, key=lambda name: float(np.linalg.norm(np.subtract(palette[name], rgb))))


def _shape_from_mask(mask: np.ndarray) -> str:
    """Circle, square or triangle from how much of its bounding box the shape fills
    (pi/4 ~ 0.79, 1 and 0.5 when drawn exactly)."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return "circle"
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    fill = len(ys) / box
    if fill > 0.9:
        return "square"
    return "circle" if fill > 0.64 else "triangle"


def _motion(centre_x: np.ndarray, centre_y: np.ndarray, areas: np.ndarray) -> str:
    if areas[0] > 0 and areas[-1] / areas[0] > 1.6:
        return "growing"
    dx = centre_x[-1] - centre_x[0]
    dy = centre_y[-1] - centre_y[0]
    vertical_range = centre_y.max() - centre_y.min()
    if vertical_range > 0.1 and vertical_range > 2 * abs(dy) and abs(dx) < vertical_range:
        return "bouncing"  # went up and came back down
    if max(abs(dx), abs(dy), vertical_range) < 0.05:
        return "still"
    if abs(dx) >= abs(dy):
        return "moving right" if dx > 0 else "moving left"
    return "moving down" if dy > 0 else "moving up"
