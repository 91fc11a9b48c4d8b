"""Backend set-up, seeded noise and the minimal studio page."""

from __future__ import annotations

import os
import sys

import mlx.core as mx
import numpy as np

from ltx_core.backend import OPENBLAS_CANDIDATES, default_compute_dtype, loaded_blas
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.types import LatentState
from tests.conftest import Reference


def test_openblas_is_loaded_before_mlx_on_linux():
    if sys.platform.startswith("linux") and any(os.path.exists(p) for p in OPENBLAS_CANDIDATES):
        assert loaded_blas() is not None


def test_cpu_backend_computes_in_float32():
    if mx.default_device().type == mx.DeviceType.cpu:
        assert default_compute_dtype() == mx.float32


def test_noise_is_reproducible_from_the_seed():
    first = [np.array(GaussianNoiser(7).draw((4, 5))) for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])
    noiser = GaussianNoiser(7)
    a, b = np.array(noiser.draw((4, 5))), np.array(noiser.draw((4, 5)))
    np.testing.assert_array_equal(a, first[0])
    assert not np.allclose(a, b)
    assert not np.allclose(np.array(GaussianNoiser(8).draw((4, 5))), a)
    big = np.array(GaussianNoiser(0).draw((200_000,)))
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01


def test_noiser_respects_the_denoise_mask():
    latent = mx.full((1, 4, 3), 2.0)
    mask = mx.array([[[1.0], [0.0], [0.5], [1.0]]])
    state = LatentState(latent=latent, denoise_mask=mask, positions=mx.zeros((1, 3, 4, 2)), clean_latent=latent)
    noise = mx.full((1, 4, 3), -1.0)
    out = np.array(GaussianNoiser(0)(state, noise_scale=0.5, noise=noise).latent)
    # scaled mask per token: 0.5, 0, 0.25, 0.5 -> noise*m + 2*(1-m)
    np.testing.assert_allclose(out[0, :, 0], [0.5, 2.0, 1.25, 0.5])


def test_studio_inspector_reports_good_and_bad_files(reference: Reference, tmp_path):
    from ltx_ui.studio import build_studio, inspect_checkpoint

    status, details = inspect_checkpoint(str(reference.checkpoint))
    from ltx_core.loader import LTXCheckpoint

    layers = LTXCheckpoint(reference.checkpoint).config["transformer"]["num_layers"]
    assert f"{layers} transformer blocks" in status
    assert '"transformer"' in details
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    status, details = inspect_checkpoint(str(bad))
    assert status.startswith("**Cannot use this file.**") and "not a safetensors file" in status and details == ""
    assert "Enter the path" in inspect_checkpoint("  ")[0]
    assert build_studio() is not None
