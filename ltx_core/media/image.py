"""Images for conditioning, as the official ``load_image_conditioning`` prepares them.

Official order: decode -> (crf > 0) H.264 re-encode of the image cropped to even size, so a still
looks like a video frame -> resize so the target is covered, bilinear (align_corners=False, no
antialiasing) -> center crop -> x / 127.5 - 1. Unlike the official decoder this one applies the
EXIF orientation and converts greyscale/palette/RGBA/CMYK to RGB (the official ``[..., :3]``
fails on greyscale and keeps palette indices).
"""

from __future__ import annotations

import math
import os
import subprocess
import warnings

import mlx.core as mx
import numpy as np
from PIL import Image, ImageOps

from ltx_core.media.errors import InputShapeError, MediaError, MediaReadError
from ltx_core.media.ffmpeg import PathLike, _tail, ffmpeg_exe

DEFAULT_IMAGE_CRF = 33  # ltx_pipelines.utils.constants.DEFAULT_IMAGE_CRF
ImageSource = PathLike | Image.Image | np.ndarray


def _to_rgb(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale: Pillow's convert("RGB") would clip at 255 instead of scaling.
        grey = np.asarray(image, dtype=np.float64)
        scale = 257.0 if image.mode != "I" or grey.max() > 255 else 1.0
        grey = np.clip(np.round(grey / scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(source: ImageSource) -> np.ndarray:
    """Any image Pillow reads (a path, a Pillow image or an (H, W[, C]) uint8 array) as uint8 RGB
    (H, W, 3), EXIF orientation applied. An unreadable file raises ``MediaReadError``."""
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4) or array.dtype != np.uint8:
            raise InputShapeError(f"an image array must be uint8 (H, W), (H, W, 1|3|4), got {array.dtype} {source.shape}")
        return np.ascontiguousarray(np.broadcast_to(array[..., :3], (*array.shape[:2], 3)))
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    name = os.fspath(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about oddities it can still decode
            with Image.open(name) as image:
                image.load()
                return _to_rgb(image)
    except FileNotFoundError:
        raise MediaReadError(f"cannot read {name} as an image: no such file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise MediaReadError(f"cannot read {name} as an image: {error}") from error


def _bilinear_weights(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # torch.nn.functional.interpolate(mode="bilinear", align_corners=False) with an explicit
    # output size: source coordinate (i + 0.5) * src / dst - 0.5, clamped at 0.
    coord = (np.arange(dst, dtype=np.float32) + np.float32(0.5)) * np.float32(src / dst) - np.float32(0.5)
    coord = np.maximum(coord, np.float32(0.0))
    lo = np.minimum(np.floor(coord).astype(np.int64), src - 1)
    hi = np.minimum(lo + 1, src - 1)
    frac = (coord - lo).astype(np.float32)
    return lo, hi, frac


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) float32, bilinear like torch with align_corners=False
    and no antialiasing (so downscaling aliases exactly as the official pipeline does)."""
    src_h, src_w = image.shape[:2]
    pixels = image.astype(np.float32, copy=False)
    if (src_h, src_w) == (height, width):
        return pixels.copy() if pixels is image else pixels
    lo, hi, frac = _bilinear_weights(src_w, width)
    frac = frac[None, :, None]
    rows = pixels[:, lo] * (np.float32(1.0) - frac) + pixels[:, hi] * frac
    lo, hi, frac = _bilinear_weights(src_h, height)
    frac = frac[:, None, None]
    return rows[lo] * (np.float32(1.0) - frac) + rows[hi] * frac


def cover_size(src_height: int, src_width: int, height: int, width: int) -> tuple[int, int]:
    """Size the source is resized to before the center crop: the smallest scale covering the
    target, rounded up (the official uses ceil so the crop offsets are never negative)."""
    scale = max(height / src_height, width / src_width)
    return math.ceil(src_height * scale), math.ceil(src_width * scale)


def resize_and_center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 or float -> (height, width, 3) float32 in [0, 255]: resize to cover, then
    center crop (offsets rounded down)."""
    if height < 1 or width < 1:
        raise InputShapeError(f"target size must be positive, got {width}x{height}")
    new_h, new_w = cover_size(image.shape[0], image.shape[1], height, width)
    resized = resize_bilinear(image, new_h, new_w)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return resized[top : top + height, left : left + width]


def h264_roundtrip(image: np.ndarray, crf: float = DEFAULT_IMAGE_CRF, preset: str = "veryfast") -> np.ndarray:
    """Encode one uint8 RGB frame with libx264 at ``crf`` and decode it again, as the official
    ``preprocess`` does: the image is cropped to even size, converted to yuv420p, and the
    compression artifacts make it look like a frame the model saw in training."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    if height == 0 or width == 0:
        raise InputShapeError(f"an image of {image.shape[1]}x{image.shape[0]} is too small to encode")
    frame = np.ascontiguousarray(image[:height, :width, :3], dtype=np.uint8)
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
    # swscale's bilinear flag and BT.601 are what PyAV's reformat uses for rgb24 <-> yuv420p.
    encode = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *raw, "-r", "1", "-i", "-",
              "-sws_flags", "bilinear", "-c:v", "libx264", "-crf", str(crf), "-preset", preset,
              "-pix_fmt", "yuv420p", "-f", "h264", "-"]  # fmt: skip
    encoded = subprocess.run(encode, input=frame.tobytes(), capture_output=True)
    if encoded.returncode != 0:
        raise MediaError(f"H.264 re-encoding of the image failed: {_tail(encoded.stderr)}")
    decode = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "h264", "-i", "-", "-frames:v", "1",
              "-sws_flags", "bilinear", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    decoded = subprocess.run(decode, input=encoded.stdout, capture_output=True)
    if decoded.returncode != 0 or len(decoded.stdout) != frame.nbytes:
        raise MediaError(f"decoding the re-encoded image failed: {_tail(decoded.stderr)}")
    return np.frombuffer(decoded.stdout, dtype=np.uint8).reshape(frame.shape).copy()


def to_model_pixels(frames: np.ndarray) -> mx.array:
    """(F, H, W, 3) or (H, W, 3) values in [0, 255] -> MLX float32 (1, 3, F, H, W) in [-1, 1]."""
    if frames.ndim == 3:
        frames = frames[None]
    pixels = np.transpose(frames.astype(np.float32, copy=False), (3, 0, 1, 2))[None]
    return mx.array(pixels / np.float32(127.5) - np.float32(1.0))


def prepare_image(source: ImageSource, height: int, width: int, crf: float = DEFAULT_IMAGE_CRF) -> np.ndarray:
    """The conditioning image as float32 (height, width, 3) in [0, 255] (before normalisation)."""
    image = read_image(source)
    if crf:
        image = h264_roundtrip(image, crf)
    return resize_and_center_crop(image, height, width)


def load_image_conditioning(source: ImageSource, height: int, width: int, crf: float = DEFAULT_IMAGE_CRF) -> mx.array:
    """An image as the video VAE takes it: MLX float32 (1, 3, 1, height, width) in [-1, 1].
    ``crf=0`` skips the H.264 re-encode."""
    return to_model_pixels(prepare_image(source, height, width, crf))
