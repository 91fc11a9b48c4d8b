"""Conditioning images: official resize/crop parity, sizes, range, EXIF, modes, crf, errors."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

from ltx_core.errors import LTXError
from ltx_core.media import MediaReadError, h264_roundtrip, load_image_conditioning, read_image, resize_and_center_crop
from ltx_core.media.image import cover_size, resize_bilinear, to_model_pixels

DATA = Path(__file__).parent / "data" / "media_resize_reference.npz"


def test_resize_and_crop_matches_official():
    # Recorded with ltx-pipelines 1.0.0 (tools/make_media_reference.py): resize_and_center_crop + normalize_latent.
    reference = np.load(DATA)
    for case in sorted(key.split("/")[0] for key in reference.files if key.endswith("/output")):
        source, expected = reference[f"{case}/input"], reference[f"{case}/output"]
        height, width = expected.shape[-2:]
        frames = source if source.ndim == 4 else source[None]
        ours = np.array(to_model_pixels(np.stack([resize_and_center_crop(f, height, width) for f in frames])))
        error = np.abs(ours - expected).max()
        print(f"PARITY media_resize/{case} {error:.2e}")
        assert ours.shape == expected.shape
        assert error < 5e-5


def test_crf_reencode_matches_official():
    # The official preprocess (PyAV's libx264, crf 33, veryfast) recorded by tools/make_media_reference.py.
    # Bit-identical with imageio-ffmpeg's ffmpeg on Linux; other x264 builds may round differently.
    reference = np.load(DATA)
    for case in ("crf_ramp", "crf_blocks"):
        expected = reference[f"{case}/crf33"].astype(int)
        ours = h264_roundtrip(reference[f"{case}/input"], crf=33).astype(int)
        assert ours.shape == expected.shape
        error = np.abs(ours - expected)
        print(f"PARITY media_crf33/{case} max {error.max()} mean {error.mean():.3f} levels")
        assert error.mean() < 1.0 and error.max() <= 40


def test_bilinear_matches_hand_computed_torch_values():
    # align_corners=False, 2 -> 4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped index).
    row = np.array([[[0.0], [255.0]]], dtype=np.float32)
    np.testing.assert_allclose(resize_bilinear(row, 1, 4)[0, :, 0], [0.0, 63.75, 191.25, 255.0])
    assert cover_size(1080, 1920, 512, 768) == (512, 911)  # width-limited: 1920 * 512/1080 = 910.2 -> ceil
    assert cover_size(1000, 500, 64, 96) == (192, 96)


def _save(tmp_path: Path, name: str, array: np.ndarray, **kwargs) -> Path:
    path = tmp_path / name
    Image.fromarray(array).save(path, **kwargs)
    return path


def test_load_image_sizes_range_and_layout(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    path = _save(tmp_path, "wide.png", image)
    for height, width in ((64, 96), (96, 64), (32, 32), (128, 256)):
        pixels = load_image_conditioning(path, height, width, crf=0)
        assert pixels.shape == (1, 3, 1, height, width)
        assert pixels.dtype == mx.float32
        values = np.array(pixels)
        assert values.min() >= -1.0 and values.max() <= 1.0
    # Same size: no resampling, so the values are exactly x / 127.5 - 1, channels first.
    same = np.array(load_image_conditioning(path, 90, 160, crf=0))[0, :, 0]
    np.testing.assert_allclose(same, np.transpose(image, (2, 0, 1)) / 127.5 - 1.0, atol=1e-6)
    # A centre crop: a 2:1 image cropped to a square keeps its middle columns.
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, 16:48] = 255
    square = np.array(load_image_conditioning(_save(tmp_path, "bars.png", wide), 32, 32, crf=0))
    np.testing.assert_array_equal(square, np.ones_like(square))


def test_exif_orientation_is_applied(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high; top-left quarter red
    image[:10, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _save(tmp_path, "rotated.png", image, exif=exif)
    shown = read_image(path)
    assert shown.shape == (40, 20, 3)
    np.testing.assert_array_equal(shown, np.rot90(image, k=-1))  # red now top-right
    jpeg = read_image(_save(tmp_path, "rotated.jpg", image, exif=exif, quality=95))
    assert jpeg.shape == (40, 20, 3) and jpeg[:20, 10:, 0].mean() > 200 and jpeg[20:, :, 0].mean() < 30


def test_modes_become_rgb(tmp_path):
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(read_image(_save(tmp_path, "g.png", grey)), np.repeat(grey[..., None], 3, -1))
    rgba = np.dstack([np.full((8, 8, 3), 77, np.uint8), np.zeros((8, 8), np.uint8)])
    assert (read_image(_save(tmp_path, "a.png", rgba)) == 77).all()
    deep = Image.fromarray((np.arange(64, dtype=np.uint16).reshape(8, 8) * 1024).astype(np.uint16))
    deep.save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png")[7, 7, 0] == round(63 * 1024 / 257)
    palette = Image.fromarray(np.full((8, 8, 3), (10, 200, 30), np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert tuple(read_image(palette)[0, 0]) == (10, 200, 30)
    webp = _save(tmp_path, "w.webp", np.full((8, 8, 3), 128, np.uint8), lossless=True)
    assert (read_image(webp) == 128).all()


def test_undecodable_file_names_the_file(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not an image at all")
    with pytest.raises(MediaReadError, match=r"cannot read .*notes\.png as an image") as error:
        load_image_conditioning(bad, 32, 32)
    assert isinstance(error.value, LTXError)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_save(tmp_path, "full.png", np.zeros((64, 64, 3), np.uint8)).read_bytes()[:60])
    with pytest.raises(MediaReadError, match="cut.png"):
        read_image(truncated)
    with pytest.raises(MediaReadError, match="no such file"):
        read_image(tmp_path / "missing.jpg")


def test_crf_reencode_like_a_video_frame(tmp_path):
    y, x = np.mgrid[0:63, 0:81]  # odd size: cropped to 80x62 before encoding, as the official does
    image = np.dstack([x * 3, y * 4, (x + y) * 2]).clip(0, 255).astype(np.uint8)
    encoded = h264_roundtrip(image, crf=33)
    assert encoded.shape == (62, 80, 3)
    error = np.abs(encoded.astype(int) - image[:62, :80]).mean()
    print(f"MEDIA crf33 mean abs error {error:.2f} levels")
    assert 0.2 < error < 8.0  # changed, but still the same picture
    np.testing.assert_array_equal(encoded, h264_roundtrip(image, crf=33))  # deterministic
    assert np.abs(h264_roundtrip(image, crf=10).astype(int) - image[:62, :80]).mean() < error
    path = _save(tmp_path, "ramp.png", image)
    plain = np.array(load_image_conditioning(path, 32, 32, crf=0))
    crf = np.array(load_image_conditioning(path, 32, 32))  # default crf 33
    assert crf.shape == plain.shape == (1, 3, 1, 32, 32)
    assert 0 < np.abs(crf - plain).max() < 0.25
