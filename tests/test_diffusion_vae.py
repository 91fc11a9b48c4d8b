"""Unit tests of the LTX-2.5 diffusion video VAE decoder: neighbourhood attention against a brute
force, tiny in-memory decoders, config refusals and the loader's key transforms and refusals."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_map

from ltx_core.errors import ConfigError, WeightsMismatchError
from ltx_core.loader.diffusion_vae import load_diffusion_video_decoder
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model.video_vae.diffusion import (
    AxisTiling,
    DiffusionDecoderConfig,
    DiffusionTilingConfig,
    DiffusionVideoDecoder,
    attention,
)
from ltx_core.model.video_vae.diffusion.tiling import split_by_size, trapezoid_mask
from tests.ltx25_helpers import ltx25_directory, rewrite_safetensors

TINY = {
    "_class_name": "CausalDiffusionVAE",
    "model_output_type": "v",
    "decoder": {
        "in_channels": 16,
        "out_channels": 3,
        "patch_size": 4,
        "head_dim": 8,
        "t_emb_dim": 16,
        "stage_channels": [32, 16, 8, 8, 8],
        "stage_depths": [1, 1, 0, 1, 1],
        "stage_kernels": [[3, 3, 3]] * 5,
        "upsamples": [[[1, 2, 2], 2], [[2, 1, 1], 2], [[2, 2, 2], 1], [[2, 2, 2], 1]],
        "stage5_kernel": [3, 3, 3],
        "stage5_channels": 16,
    },
}


def brute_na(q: np.ndarray, k: np.ndarray, v: np.ndarray, kernel: tuple[int, int, int]) -> np.ndarray:
    b, t, h, w, n, d = q.shape
    kernels = [min(kk, dd) for kk, dd in zip(kernel, (t, h, w))]
    starts = [attention.window_starts(dd, kk) for dd, kk in zip((t, h, w), kernels)]
    out = np.zeros_like(v)
    for i in range(t):
        for j in range(h):
            for m in range(w):
                sl = tuple(slice(s[p], s[p] + kk) for s, p, kk in zip(starts, (i, j, m), kernels))
                keys = k[:, sl[0], sl[1], sl[2]].reshape(b, -1, n, d)
                vals = v[:, sl[0], sl[1], sl[2]].reshape(b, -1, n, d)
                scores = np.einsum("bnd,bknd->bnk", q[:, i, j, m], keys)
                p = np.exp(scores - scores.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                out[:, i, j, m] = np.einsum("bnk,bknd->bnd", p, vals)
    return out


@pytest.mark.parametrize("dims, kernel", [((4, 5, 6), (3, 3, 3)), ((3, 6, 5), (3, 5, 7)), ((5, 2, 9), (1, 3, 5))])
@pytest.mark.parametrize("budget", [None, 40])
def test_na3d_matches_brute_force(monkeypatch, dims, kernel, budget):
    if budget is not None:  # many tiles, several groups per axis, chunked calls
        monkeypatch.setattr(attention, "_TILE_SCORE_BUDGET", budget)
        monkeypatch.setattr(attention, "_CALL_SCORE_BUDGET", 200)
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, *dims, 2, 8)).astype(np.float32) for _ in range(3))
    ours = np.array(attention.na3d(mx.array(q), mx.array(k), mx.array(v), kernel))
    np.testing.assert_allclose(ours, brute_na(q, k, v, kernel), atol=2e-5)


def test_window_starts_shift_inward():
    assert attention.window_starts(6, 3).tolist() == [0, 0, 1, 2, 3, 3]
    assert attention.rope_split(16) == (4, 6, 6) and attention.rope_split(64) == (16, 24, 24)


def test_tiling_masks_and_split():
    assert [(i.start, i.end) for i in split_by_size(9, 8, 4, 3)] == [(0, 8), (4, 9)]
    a, b = trapezoid_mask(6, 0, 3), trapezoid_mask(6, 3, 0)
    np.testing.assert_allclose(a[3:] + b[:3], 1.0)


def tiny_decoder(seed: int = 0, **overrides) -> DiffusionVideoDecoder:
    section = {**TINY, "decoder": {**TINY["decoder"], **overrides}}
    model = DiffusionVideoDecoder(DiffusionDecoderConfig.from_vae_section(section))
    mx.random.seed(seed)
    model.update(tree_map(lambda p: mx.random.normal(p.shape) * 0.2, model.parameters()))
    return model


def test_tiny_decoder_shapes_seeded_noise_and_tiling():
    model = tiny_decoder()
    latent = mx.random.normal((1, 16, 2, 2, 3), key=mx.random.key(1))
    assert model.noise_shape(latent.shape) == (1, 3, 17, 96, 96)  # padded to the stages' minimum (3, 3, 3)
    first = model(latent, key=mx.random.key(5))
    assert first.shape == (1, 3, 9, 64, 96)
    assert np.array_equal(np.array(first), np.array(model(latent, key=mx.random.key(5))))
    assert not np.array_equal(np.array(first), np.array(model(latent, key=mx.random.key(6))))
    noise = mx.random.normal(model.noise_shape(latent.shape), key=mx.random.key(5))
    assert np.array_equal(np.array(first), np.array(model(latent, noise=noise)))
    tiling = DiffusionTilingConfig(AxisTiling(16, 8), AxisTiling(64, 32), AxisTiling(64, 32))
    chunks = list(model.decode(latent, tiling, noise=noise))
    assert sum(c.shape[2] for c in chunks) == 9 and all(c.shape[3:] == (64, 96) for c in chunks)
    with pytest.raises(ConfigError, match="overlap"):
        list(model.decode(latent, DiffusionTilingConfig(height=AxisTiling(64, 0)), noise=noise))


def test_x0_output_type_runs():
    section = {**TINY, "model_output_type": "x0"}
    model = DiffusionVideoDecoder(DiffusionDecoderConfig.from_vae_section(section))
    assert model(mx.zeros((1, 16, 3, 3, 3)), key=mx.random.key(0)).shape == (1, 3, 17, 96, 96)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"model_output_type": "eps"}, ["model_output_type", "'eps'"]),
        ({"decoder": {**TINY["decoder"], "head_dim": 12}}, ["head_dim", "12"]),
        ({"decoder": {**TINY["decoder"], "stage_channels": [32, 16, 8, 8, 12]}}, ["stage_channels", "12"]),
        ({"decoder": {**TINY["decoder"], "stage_depths": [1, 1, 1]}}, ["stage_depths", "[1, 1, 1]"]),
        (
            {
                "decoder": {
                    **TINY["decoder"],
                    "upsamples": [[[1, 2, 2], 2], [[2, 1, 1], 2], [[2, 2, 2], 1], [[3, 2, 2], 1]],
                }
            },
            ["upsamples", "[3, 2, 2]"],
        ),
    ],
)
def test_config_refusals_name_key_and_value(change, words):
    with pytest.raises(ConfigError) as info:
        DiffusionDecoderConfig.from_vae_section({**TINY, **change})
    for word in words:
        assert word in str(info.value)


def test_config_defaults_and_unknown_keys():
    config = DiffusionDecoderConfig.from_vae_section({"decoder": {"na_head_dim": 32, "future_key": 1}})
    assert (
        config.head_dim == 32
        and config.stage_channels == (1024, 512, 256, 256, 128)
        and config.model_output_type == "v"
    )


# -- loader ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_file() -> Path:
    directory = ltx25_directory()
    if directory is None:
        pytest.skip("no LTX-2.5 reference set")
    return directory / "vae" / "ltx-2.5-tiny-video-vae-bf16.safetensors"


def params(model) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in tree_flatten(model.parameters())}


def test_gate_fold_rounds_to_file_dtype(vae_file: Path):
    model = load_diffusion_video_decoder(vae_file)
    raw = SafetensorsFile(vae_file)
    for target, gate in (
        ("det_stages.0.0.attn.proj.weight", "det_stages.0.0.gate_msa"),
        ("diff_blocks.1.context_proj.bias", "diff_blocks.1.gate_ctx"),
        ("diff_blocks.0.mlp.w_down.weight", "diff_blocks.0.gate_mlp"),
    ):
        w = np.array(raw.load(f"vae.decoder.{target}", mx.float32))
        g = np.array(raw.load(f"vae.decoder.{gate}", mx.float32))
        product = g[:, None] * w if w.ndim == 2 else g * w
        expected = np.array(mx.array(product).astype(mx.bfloat16).astype(mx.float32))
        assert np.array_equal(params(model)[target], expected)
    qkv = np.array(raw.load("vae.decoder.diff_blocks.0.attn.qkv.weight", mx.float32))
    assert np.array_equal(params(model)["diff_blocks.0.attn.to_k.weight"], qkv[32:64])
    assert "t_embedder.linear_1.weight" in params(model)


def test_bare_keys_and_coarse_weights_load_the_same(vae_file: Path, tmp_path: Path):
    keys = SafetensorsFile(vae_file).keys()
    alias = {k[len("vae.") :]: k for k in keys if k.startswith(("vae.decoder.", "vae.per_channel"))}
    alias["coarse_head.weight"] = "vae.decoder.conv_out.weight"
    both = rewrite_safetensors(vae_file, tmp_path / "both.safetensors", alias=alias)
    bare = rewrite_safetensors(both, tmp_path / "bare.safetensors", drop=[k for k in keys if k.startswith("vae.")])
    a, b = params(load_diffusion_video_decoder(vae_file)), params(load_diffusion_video_decoder(bare))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "edit, words",
    [
        ({"drop": ["vae.decoder.norm_out.weight"]}, ["missing", "norm_out.weight"]),
        (
            {"alias": {"vae.decoder.extra.weight": "vae.decoder.norm_out.weight"}},
            ["unexpected", "vae.decoder.extra.weight"],
        ),
        ({"alias": {"vae.decoder.norm_out.gate_mlp": "vae.decoder.norm_out.weight"}}, ["unexpected", "gate_mlp"]),
    ],
)
def test_missing_or_unexpected_keys_name_the_file(vae_file: Path, tmp_path: Path, edit, words):
    broken = rewrite_safetensors(vae_file, tmp_path / "broken.safetensors", **edit)
    with pytest.raises(WeightsMismatchError) as info:
        load_diffusion_video_decoder(broken)
    assert "broken.safetensors" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_conv_vae_file_is_refused(vae_file: Path):
    with pytest.raises(ConfigError, match="CausalDiffusionVAE"):
        load_diffusion_video_decoder(vae_file.parent / "ltx-2.5-tiny-video-vae-conv-bf16.safetensors")
