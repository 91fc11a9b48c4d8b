"""Errors raised while reading or writing images, videos and audio."""

from __future__ import annotations

from ltx_core.errors import InputShapeError, LTXError


class MediaError(LTXError):
    """Base class for media input/output errors."""


class MediaReadError(MediaError):
    """A file could not be read as the image, video or audio it was given as."""


class VideoTooShortError(MediaError, ValueError):
    """A video has fewer frames than a pipeline asked for."""


class MediaWriteError(MediaError):
    """Encoding or writing an output file failed; nothing was left behind."""


__all__ = ["InputShapeError", "MediaError", "MediaReadError", "MediaWriteError", "VideoTooShortError"]
