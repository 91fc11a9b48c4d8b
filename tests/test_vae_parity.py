"""The MLX video VAE and latent upsamplers against the ``video_vae*`` and ``*_upsampler`` cases.

Models are built from the fixture files' own configs; every shape comes from the npz arrays.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader.upsampler import load_upsampler
from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder, load_video_statistics
from ltx_core.model.upsampler import upsample_video
from ltx_core.model.video_vae.tiled import decode_video
from tests.conftest import Reference
from tests.model_files import upsampler_path, video_vae_file
from tests.parity import check_parity

UPSAMPLER_KINDS = ("spatial", "temporal")
# Case-name suffix -> the file's scale suffix (spatial_upsampler_x1p5 -> ...-upsampler-x1.5.safetensors).
_SCALE_SUFFIX = re.compile(r"_x(\d+)p(\d+)$")


def upsampler_file(reference: Reference, case: str) -> Path:
    """The fixture file an upsampler case runs: ``ltx2-tiny-<kind>-upsampler[-x<scale>].safetensors``,
    or the 2.5 set's upsampler of that kind (found by its header)."""
    kind = case.split("_", 1)[0]
    split = upsampler_path(reference, kind)
    if split is not None:
        return split
    scale = _SCALE_SUFFIX.search(case)
    suffix = f"-x{scale.group(1)}.{scale.group(2)}" if scale else ""
    return reference.directory / f"ltx2-tiny-{kind}-upsampler{suffix}.safetensors"


def covers(case: str) -> bool:
    if case == "video_vae_decode_diffusion":  # compared by test_diffusion_vae_parity
        return False
    return case.startswith("video_vae") or any(case.startswith(f"{k}_upsampler") for k in UPSAMPLER_KINDS)




@lru_cache(maxsize=2)
def encoder_for(path: str):
    return load_video_encoder(path)


@lru_cache(maxsize=2)
def decoder_for(path: str):
    return load_video_decoder(path)


@lru_cache(maxsize=4)
def upsampler_for(path: str):
    return load_upsampler(path)


def _input(reference: Reference, case: str, name: str) -> mx.array | None:
    key = f"{case}/in/{name}"
    return mx.array(reference[key]) if key in reference else None


def compute(reference: Reference, case: str, output: str) -> mx.array:
    checkpoint = str(video_vae_file(reference))
    if case == "video_vae_encode" and output == "latent":
        return encoder_for(checkpoint)(_input(reference, case, "pixels"))
    if case.startswith("video_vae_decode") and not decoder_for(checkpoint).config.timestep_conditioning:
        # LTX-2.3 / 2.5 conv decoder: no timestep, no noise.
        latent = _input(reference, case, "latent")
        if output == "pixels":
            return decoder_for(checkpoint)(latent)
        if output == "frames_uint8":
            return np.concatenate(list(decode_video(latent, decoder_for(checkpoint))))
    if case.startswith("video_vae_decode") and output == "pixels":
        scale = _input(reference, case, "decode_noise_scale")
        noise = _input(reference, case, "decode_noise")
        if noise is None:
            # The "nonoise" case: the decoder's noise scale is set to 0 on the instance.
            assert case.endswith("_nonoise"), f"{case}: no decode_noise input"
            scale = 0.0
        return decoder_for(checkpoint)(
            _input(reference, case, "latent"),
            timestep=_input(reference, case, "timestep"),
            noise=noise,
            noise_scale=None if scale is None else float(scale),
        )
    kind = case.split("_", 1)[0]
    if kind in UPSAMPLER_KINDS:
        upsampler = upsampler_for(str(upsampler_file(reference, case)))
        latent = _input(reference, case, "latent")
        if output == "raw":
            return upsampler(latent)
        if output == "upsample_video":
            return upsample_video(latent, load_video_statistics(checkpoint), upsampler)
    raise AssertionError(f"{case}/out/{output}: this test does not compute it; add it")


def test_video_vae_and_upsampler_parity(reference: Reference, case: str):
    outputs = reference.keys_of(case, "out")
    assert outputs, f"{case} has no outputs"
    for key in outputs:
        ours = compute(reference, case, key.rsplit("/", 1)[1])
        if key.endswith("frames_uint8"):
            check_uint8(key, ours, reference[key])
            continue
        mx.eval(ours)
        check_parity(key, ours, reference[key])


def check_uint8(key: str, frames: np.ndarray, expected: np.ndarray) -> None:
    """uint8 frames agree to +-1 (the fixture README's tolerance)."""
    assert frames.dtype == np.uint8 and frames.shape == expected.shape, (frames.dtype, frames.shape, expected.shape)
    diff = np.abs(frames.astype(np.int16) - expected.astype(np.int16))
    print(f"PARITY {key} max |diff| {diff.max()} ({int((diff > 0).sum())} of {diff.size} values differ)")
    assert diff.max() <= 1


def test_decode_video_uint8_matches_e2e(reference: Reference):
    """``decode_video``'s uint8 conversion on the e2e run's final latent (+-1 per the fixture README)."""
    latent_key, frames_key = "e2e_distilled/out/video_latent", "e2e_distilled/out/frames_uint8"
    if latent_key not in reference or frames_key not in reference:
        pytest.skip("this fixture set has no e2e decode")
    decoder = decoder_for(str(video_vae_file(reference)))
    latent, noise = mx.array(reference[latent_key]), mx.array(reference["e2e_distilled/in/decode_noise"])
    pixels = decoder(latent, noise=noise)
    check_parity("e2e_distilled/out/pixels_float", pixels, reference["e2e_distilled/out/pixels_float"])
    frames = np.concatenate(list(decode_video(latent, decoder, noise=noise)))
    check_uint8(frames_key, frames, reference[frames_key])


def test_fixture_upsampler_files_exist(reference: Reference):
    for case in reference.cases():
        if any(case.startswith(f"{kind}_upsampler") for kind in UPSAMPLER_KINDS):
            assert upsampler_file(reference, case).exists(), case
