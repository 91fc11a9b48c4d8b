"""Video VAE and upsampler: config handling, strict loading, wrong files and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from safetensors.numpy import load_file, save_file

from ltx_core.errors import CheckpointError, ConfigError, InputShapeError, LTXError, WeightsMismatchError
from ltx_core.loader import LTXCheckpoint
from ltx_core.loader.upsampler import load_upsampler
from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder, load_video_statistics
from ltx_core.model.upsampler import upsample_video
from ltx_core.model.video_vae import VideoDecoder, VideoEncoder, VideoVAEConfig
from ltx_core.model.video_vae.ops import pad_axis
from tests.conftest import Reference
from tests.parity import check_parity


def spatial_upsampler(reference: Reference) -> Path:
    return reference.directory / "ltx2-tiny-spatial-upsampler.safetensors"


def vae_only_copy(reference: Reference, tmp_path: Path, edit_config=None, edit_tensors=None) -> Path:
    """The fixture's ``vae.*`` tensors and config in a new file, optionally edited."""
    config = json.loads(json.dumps(LTXCheckpoint(reference.checkpoint).config))
    tensors = {k: v for k, v in load_file(str(reference.checkpoint)).items() if k.startswith("vae.")}
    if edit_config:
        edit_config(config)
    if edit_tensors:
        edit_tensors(tensors)
    path = tmp_path / "vae-edited.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(config)})
    return path


def test_config_defaults_padding_per_half_and_reads_sizes(reference: Reference):
    raw = LTXCheckpoint(reference.checkpoint).section("vae")
    config = VideoVAEConfig.from_dict(raw)
    assert config.encoder_scale() == (8, 32, 32) == config.decoder_scale()
    plain = {k: v for k, v in raw.items() if not k.endswith("spatial_padding_mode")}
    default = VideoVAEConfig.from_dict(plain)
    assert (default.encoder_padding_mode, default.decoder_padding_mode) == ("zeros", "reflect")
    assert default.padding_source("encoder") == default.padding_source("decoder") == "default"
    both = VideoVAEConfig.from_dict({**plain, "spatial_padding_mode": "replicate"})
    assert (both.encoder_padding_mode, both.decoder_padding_mode) == ("replicate", "replicate")
    assert both.padding_source("decoder") == "spatial_padding_mode"


@pytest.mark.parametrize(
    "keys, encoder, decoder",
    [
        (
            {"decoder_spatial_padding_mode": "reflect"},
            ("zeros", "default"),
            ("reflect", "decoder_spatial_padding_mode"),
        ),
        (
            {"encoder_spatial_padding_mode": "zeros", "decoder_spatial_padding_mode": "reflect"},
            ("zeros", "encoder_spatial_padding_mode"),
            ("reflect", "decoder_spatial_padding_mode"),
        ),
        (
            {"spatial_padding_mode": "zeros", "decoder_spatial_padding_mode": "reflect"},
            ("zeros", "spatial_padding_mode"),
            ("reflect", "decoder_spatial_padding_mode"),
        ),
        (
            {"spatial_padding_mode": "replicate", "encoder_spatial_padding_mode": "zeros"},
            ("zeros", "encoder_spatial_padding_mode"),
            ("replicate", "spatial_padding_mode"),
        ),
    ],
)
def test_per_half_padding_spellings_win_over_the_shared_key(reference: Reference, keys, encoder, decoder):
    """ltx-core 1.0.0 reads only ``spatial_padding_mode``; some LTX-2.3 configs spell the
    padding per half: both spellings are honoured, the per-half key first."""
    raw = LTXCheckpoint(reference.checkpoint).section("vae")
    plain = {k: v for k, v in raw.items() if not k.endswith("spatial_padding_mode")}
    config = VideoVAEConfig.from_dict({**plain, **keys})
    assert (config.encoder_padding_mode, config.padding_source("encoder")) == encoder
    assert (config.decoder_padding_mode, config.padding_source("decoder")) == decoder
    with pytest.raises(ConfigError, match=r"decoder_spatial_padding_mode = 'mirror'"):
        VideoVAEConfig.from_dict({**plain, "decoder_spatial_padding_mode": "mirror"})


def test_decoder_padding_spelled_per_half_reproduces_the_reference(reference: Reference, tmp_path: Path):
    """The set's decoder, its padding given only by ``decoder_spatial_padding_mode`` (and a
    different shared key), still gives the reference pixels."""
    case = "video_vae_decode"
    if f"{case}/out/pixels" not in reference:
        pytest.skip("no video_vae_decode case")
    config = VideoVAEConfig.from_dict(LTXCheckpoint(reference.checkpoint).section("vae"))
    decoder_mode, encoder_mode = config.decoder_padding_mode, config.encoder_padding_mode
    other = next(m for m in ("replicate", "zeros") if m != decoder_mode)

    def edit(full):
        full["vae"] = {k: v for k, v in full["vae"].items() if not k.endswith("spatial_padding_mode")}
        full["vae"].update(
            spatial_padding_mode=other,
            encoder_spatial_padding_mode=encoder_mode,
            decoder_spatial_padding_mode=decoder_mode,
        )

    decoder = load_video_decoder(vae_only_copy(reference, tmp_path, edit_config=edit))
    def get(name: str) -> mx.array | None:
        key = f"{case}/in/{name}"
        return mx.array(reference[key]) if key in reference else None

    scale = get("decode_noise_scale")
    noise_scale = None if scale is None else float(scale)
    pixels = decoder(get("latent"), timestep=get("timestep"), noise=get("decode_noise"), noise_scale=noise_scale)
    check_parity(f"{case}/out/pixels (per-half padding keys)", pixels, reference[f"{case}/out/pixels"])


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("dims", 2, r"dims = 2"),
        ("latent_log_var", "none", r"latent_log_var = 'none'"),
        ("norm_layer", "layer_norm", r"norm_layer = 'layer_norm'"),
        ("spatial_padding_mode", "mirror", r"spatial_padding_mode = 'mirror'"),
        ("decoder_blocks", [["attn_res_x", {"num_layers": 1}]], r"decoder_blocks\[0\] = 'attn_res_x'"),
        ("encoder_blocks", [["res_x", {"num_layers": -1}]], r"encoder_blocks\[0\]\.num_layers"),  # 0 is an identity stage
    ],
)
def test_config_rejects_unsupported_values(key, value, message):
    with pytest.raises(ConfigError, match=message):
        VideoVAEConfig.from_dict({key: value}, source="x.safetensors config")


def test_real_size_vae_builds_from_its_config_lazily():
    """A 19B-sized VAE (128 latent channels, base 128, several layers per stage) builds from its
    config alone; no fixture shape is hard-coded."""
    res = ["res_x", {"num_layers": 4}]
    down = [["compress_space_res", {"multiplier": 2}], ["compress_time_res", {"multiplier": 2}]]
    down += [["compress_all_res", {"multiplier": 2}]] * 2
    up_res = ["res_x", {"num_layers": 5, "inject_noise": False}]
    up = ["compress_all", {"residual": True, "multiplier": 2}]
    config = VideoVAEConfig.from_dict(
        {
            "latent_channels": 128,
            "decoder_base_channels": 128,
            "encoder_blocks": [res, down[0], res, down[1], res, down[2], res, down[3], res],
            "decoder_blocks": [up_res, up, up_res, up, up_res, up, up_res],
        }
    )
    decoder, encoder = VideoDecoder(config), VideoEncoder(config)
    dec = dict(tree_flatten(decoder.parameters()))
    enc = dict(tree_flatten(encoder.parameters()))
    assert dec["conv_in.conv.weight"].shape == (1024, 3, 3, 3, 128)
    assert dec["up_blocks.1.conv.conv.weight"].shape == (4096, 3, 3, 3, 1024)
    assert dec["conv_out.conv.weight"].shape == (48, 3, 3, 3, 128)
    assert dec["last_scale_shift_table"].shape == (2, 128)
    assert enc["conv_in.conv.weight"].shape == (128, 3, 3, 3, 48)
    assert enc["conv_out.conv.weight"].shape == (129, 3, 3, 3, 2048)
    # 5 layers x (conv1 weight/bias, conv2 weight/bias, scale_shift_table)
    assert sum(1 for k in dec if k.startswith("up_blocks.0.res_blocks.")) == 5 * 5
    assert config.encoder_scale() == (8, 32, 32)


@pytest.mark.parametrize(
    "mode, numpy_mode", [("zeros", "constant"), ("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_padding_modes_match_numpy(mode, numpy_mode):
    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    for pad in (1, 2):
        ours = np.array(pad_axis(mx.array(x), 1, pad, mode))
        np.testing.assert_array_equal(ours, np.pad(x, ((0, 0), (pad, pad), (0, 0)), mode=numpy_mode))


def test_loader_accepts_and_skips_unused_statistics(reference: Reference):
    keys = LTXCheckpoint(reference.checkpoint).keys_under("vae.per_channel_statistics.")
    assert {"mean-of-stds", "channel"} <= set(keys)
    decoder = load_video_decoder(reference.checkpoint)
    stats = dict(tree_flatten(decoder.per_channel_statistics.parameters()))
    assert set(stats) == {"mean_of_means", "std_of_means"}
    std = np.array(LTXCheckpoint(reference.checkpoint).file.load("vae.per_channel_statistics.std-of-means", mx.float32))
    np.testing.assert_array_equal(np.array(load_video_statistics(reference.checkpoint).std_of_means), std)
    if decoder.timestep_conditioning:  # LTX-2.3 decoders have no timestep parameters
        assert float(decoder.timestep_scale_multiplier) == 1000.0 and decoder.timestep_scale_multiplier.ndim == 0


def test_loader_lists_missing_and_unexpected_keys_naming_the_file(reference: Reference, tmp_path: Path):
    def edit(tensors):
        del tensors["vae.decoder.conv_in.conv.bias"]
        tensors["vae.decoder.extra.weight"] = np.zeros(3, np.float32)
        tensors["vae.per_channel_statistics.mystery"] = np.zeros(3, np.float32)

    path = vae_only_copy(reference, tmp_path, edit_tensors=edit)
    with pytest.raises(WeightsMismatchError) as info:
        load_video_decoder(path)
    message = str(info.value)
    assert path.name in message and "conv_in.conv.bias" in message
    assert "vae.decoder.extra.weight" in message and "vae.per_channel_statistics.mystery" in message
    load_video_encoder(vae_only_copy(reference, tmp_path))  # the unedited copy loads


def test_config_that_does_not_match_the_weights_fails_clearly(reference: Reference, tmp_path: Path):
    path = vae_only_copy(reference, tmp_path, edit_config=lambda c: c["vae"].update(decoder_base_channels=8))
    with pytest.raises(WeightsMismatchError, match="wrong shape"):
        load_video_decoder(path)


def test_upsampler_file_given_as_checkpoint_is_named(reference: Reference):
    for load in (load_video_decoder, load_video_encoder):
        with pytest.raises(LTXError, match=r"ltx2-tiny-spatial-upsampler\.safetensors is a latent upsampler file"):
            load(spatial_upsampler(reference))


def test_checkpoint_given_as_upsampler_is_named(reference: Reference):
    with pytest.raises(CheckpointError, match=r"ltx2-tiny\.safetensors is an LTX-2 model checkpoint, not a latent"):
        load_upsampler(reference.checkpoint)


def test_file_without_config_given_as_upsampler(tmp_path: Path):
    path = tmp_path / "plain.safetensors"
    save_file({"initial_conv.weight": np.zeros((2, 2), np.float32)}, str(path))
    with pytest.raises(CheckpointError, match=r"plain\.safetensors has no 'config'.*latent upsampler file"):
        load_upsampler(path)


def test_decoder_rejects_wrong_latents(reference: Reference):
    decoder = load_video_decoder(reference.checkpoint)
    c = decoder.latent_channels
    expected = rf"expected a latent of shape \(B, {c}, F', H', W'\), got \(1, {c + 1}, 2,"
    with pytest.raises(InputShapeError, match=expected):
        decoder(mx.zeros((1, c + 1, 2, 2, 2)))
    with pytest.raises(InputShapeError, match=rf"\(B, {c}, F', H', W'\), got \(1, {c}, 2, 2\)"):
        decoder(mx.zeros((1, c, 2, 2)))
    if decoder.timestep_conditioning:  # a decoder without it draws and reads no noise
        with pytest.raises(InputShapeError, match="noise must have the latent's shape"):
            decoder(mx.zeros((1, c, 2, 2, 2)), noise=mx.zeros((1, c, 2, 2, 3)))


def test_encoder_rejects_bad_frame_counts_and_sizes(reference: Reference):
    encoder = load_video_encoder(reference.checkpoint)
    with pytest.raises(InputShapeError, match=r"F = 8k\+1.*got \(1, 3, 10, 64, 64\).*e\.g\. 9 or 17"):
        encoder(mx.zeros((1, 3, 10, 64, 64)))
    with pytest.raises(InputShapeError, match=r"multiples of 32"):
        encoder(mx.zeros((1, 3, 9, 48, 64)))
    with pytest.raises(InputShapeError, match=r"\(B, 3, F, H, W\)"):
        encoder(mx.zeros((1, 4, 9, 64, 64)))


def test_upsampler_rejects_wrong_latents_and_checks_config(reference: Reference, tmp_path: Path):
    upsampler = load_upsampler(spatial_upsampler(reference))
    c = upsampler.config.in_channels
    with pytest.raises(InputShapeError, match=rf"expected a latent of shape \(B, {c}, F, H, W\)"):
        upsampler(mx.zeros((1, c + 1, 2, 3, 4)))
    stats = load_video_statistics(reference.checkpoint)
    assert upsample_video(mx.zeros((1, c, 2, 3, 4)), stats, upsampler).shape == (1, c, 2, 6, 8)
    tensors = load_file(str(spatial_upsampler(reference)))
    path = tmp_path / "bad-upsampler.safetensors"
    config = {"spatial_upsample": False, "temporal_upsample": False}
    save_file(tensors, str(path), metadata={"config": json.dumps(config)})
    with pytest.raises(ConfigError, match="bad-upsampler.safetensors config.*both false"):
        load_upsampler(path)
