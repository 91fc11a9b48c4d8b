"""Audio VAE / vocoder: bad inputs, config checks, strict loading, and waveform -> PCM16 / WAV."""

from __future__ import annotations

import copy
import json
import wave
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from ltx_core.errors import ConfigError, InputShapeError, WeightsMismatchError
from ltx_core.loader import LTXCheckpoint
from ltx_core.loader.audio_vae import load_audio_decoder, load_audio_encoder, load_vocoder
from ltx_core.model.audio_vae import (
    Audio,
    AudioVAEConfig,
    VocoderConfig,
    vocoder_config_from_section,
    waveform_to_pcm16,
    write_wav,
)
from tests.conftest import Reference
from tests.test_audio_vae_parity import component


def fixture_sections(reference: Reference) -> tuple[dict, dict]:
    config = LTXCheckpoint(reference.checkpoint).config
    return copy.deepcopy(config["audio_vae"]), copy.deepcopy(config["vocoder"])


@pytest.mark.parametrize(
    "shape",
    [
        lambda z, t, f: (1, z + 1, t, f),  # wrong channel count
        lambda z, t, f: (z, t, f),  # rank 3
        lambda z, t, f: (1, z, t, f + 1),  # wrong mel-bin count
        lambda z, t, f: (1, z, 0, f),  # no frames
    ],
    ids=["channels", "rank", "mel_bins", "empty"],
)
def test_decoder_rejects_a_wrong_latent_naming_the_expected_shape(reference: Reference, shape):
    decoder = component(str(reference.checkpoint), "decoder")
    z, bins = decoder.config.z_channels, decoder.config.latent_mel_bins
    with pytest.raises(InputShapeError, match=rf"must have shape \(batch, {z}, frames, {bins}\), got"):
        decoder(mx.zeros(shape(z, 3, bins)))


def test_encoder_and_vocoder_reject_wrong_mel_bins(reference: Reference):
    encoder = component(str(reference.checkpoint), "encoder")
    cfg = encoder.config
    wrong = cfg.mel_bins + 16
    expected = rf"\(batch, {cfg.in_channels}, frames, {cfg.mel_bins}\), got \(1, {cfg.in_channels}, 8, {wrong}\)"
    with pytest.raises(InputShapeError, match=expected):
        encoder(mx.zeros((1, cfg.in_channels, 8, wrong)))
    with pytest.raises(InputShapeError, match=rf"got \(1, {cfg.in_channels}, 0, {cfg.mel_bins}\)"):
        encoder(mx.zeros((1, cfg.in_channels, 0, cfg.mel_bins)))
    vocoder = component(str(reference.checkpoint), "vocoder")
    for bad in ((1, 2, 8, 80), (1, 1, 8, 64), (2, 8, 64)):
        with pytest.raises(InputShapeError, match=r"\(batch, 2, frames, 64\)"):
            vocoder(mx.zeros(bad))


def test_config_reads_the_fixture_and_official_defaults(reference: Reference):
    vae_section, vocoder_section = fixture_sections(reference)
    cfg = AudioVAEConfig.from_section(vae_section)
    ddconfig = vae_section["model"]["params"]["ddconfig"]
    assert (cfg.ch, cfg.ch_mult, cfg.z_channels) == (ddconfig["ch"], tuple(ddconfig["ch_mult"]), ddconfig["z_channels"])
    assert cfg.mel_bins == (ddconfig.get("mel_bins") or vae_section["preprocessing"]["mel"]["n_mel_channels"])
    for case, source, target in (("audio_vae_decode", "latent", "mel"), ("audio_vae_encode", "mel", "latent")):
        if f"{case}/in/{source}" in reference:
            frames_in = reference[f"{case}/in/{source}"].shape[2]
            frames_out = reference[f"{case}/out/{target}"].shape[2]
            sizes = cfg.decoded_frames if source == "latent" else cfg.latent_frames
            assert sizes(frames_in) == frames_out, case
    # An (almost) empty section gives the official defaults: the released 19B layout.
    default = AudioVAEConfig.from_section({"preprocessing": {"mel": {"n_mel_channels": 64}}})
    assert (default.ch, default.ch_mult, default.z_channels, default.latent_mel_bins) == (128, (1, 2, 4), 8, 16)
    assert default.mid_block_add_attention and default.causality_axis == "height"
    vocoder = vocoder_config_from_section(vocoder_section)
    inner = getattr(vocoder, "vocoder", vocoder)  # LTX-2.3: the vocoder before bandwidth extension
    assert inner.upsample_rates == vocoder_section.get("vocoder", vocoder_section)["upsample_rates"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(norm_type="batch"), r"norm_type = 'batch' is not supported"),
        (lambda d: d.update(causality_axis="depth"), r"causality_axis = 'depth' is not supported"),
        (lambda d: d.update(double_z=False), r"double_z = False is not supported"),
        (lambda d: d.update(norm_type="group", causality_axis="height"), r"'group' with causality_axis = 'height'"),
        (lambda d: d.update(ch=2 * d["ch"]), r"z_channels x latent mel bins = \d+ x \d+ = \d+ but .* ch = \d+ entries"),
        (lambda d: d.update(ch_mult=[]), r"ch_mult must be a non-empty list"),
    ],
)
def test_audio_vae_config_rejects_unsupported_values(reference: Reference, edit, message):
    section, _ = fixture_sections(reference)
    edit(section["model"]["params"]["ddconfig"])
    with pytest.raises(ConfigError, match=message):
        AudioVAEConfig.from_section(section, source="x.safetensors config")


def test_audio_vae_config_needs_mel_bins(reference: Reference):
    section, _ = fixture_sections(reference)
    del section["model"]["params"]["ddconfig"]["mel_bins"]
    del section["preprocessing"]["mel"]
    with pytest.raises(ConfigError, match="mel_bins is missing"):
        AudioVAEConfig.from_section(section)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda v: v.update(resblock="AMP1"), r"section 'vocoder': resblock = 'AMP1' is not supported"),
        (lambda v: v.update(stereo=False), r"stereo = False is not supported"),
        (lambda v: v.pop("stereo"), r"stereo = None is not supported"),
        (lambda v: v.update(bwe={"resblock": "AMP1"}), r"bandwidth extension \('bwe'"),
        (lambda v: v.update(upsample_rates=v["upsample_rates"][:-1]), r"upsample_rates \[.*\] and upsample_kernel"),
        (
            lambda v: v.update(resblock_dilation_sizes=[[1, 3]] * len(v["resblock_kernel_sizes"])),
            r"3 dilations per block, got \[1, 3\]",
        ),
        (lambda v: v.update(upsample_initial_channel=3 * 2 ** (len(v["upsample_rates"]) - 1)), r"cannot be halved"),
    ],
)
def test_vocoder_config_rejects_unsupported_values(reference: Reference, edit, message):
    _, section = fixture_sections(reference)
    if "bwe" in section:
        pytest.skip("a nested LTX-2.3 vocoder section: tests/test_vocoder_bwe_config.py checks it")
    edit(section)
    with pytest.raises(ConfigError, match=message):
        VocoderConfig.from_section(section)


def rewritten(reference: Reference, tmp_path: Path, name: str, edit) -> Path:
    checkpoint = LTXCheckpoint(reference.checkpoint)
    tensors = load_file(str(reference.checkpoint))
    tensors = {k: v for k, v in tensors.items() if k.startswith(("audio_vae.", "vocoder."))}
    edit(tensors)
    path = tmp_path / name
    save_file(tensors, str(path), metadata={"config": json.dumps(checkpoint.config)})
    return path


def test_missing_and_unexpected_keys_are_listed(reference: Reference, tmp_path: Path):
    # The first upsampling conv: of the vocoder, or of the inner vocoder of an LTX-2.3 file.
    nested = "bwe" in LTXCheckpoint(reference.checkpoint).config["vocoder"]
    ups = "vocoder.vocoder.ups.0.weight" if nested else "vocoder.ups.0.weight"

    def edit(tensors):
        del tensors["audio_vae.decoder.conv_in.conv.weight"]
        del tensors["audio_vae.per_channel_statistics.std-of-means"]
        del tensors[ups]
        tensors["audio_vae.decoder.extra.weight"] = np.zeros((2, 2), np.float32)
        tensors["vocoder.extra.bias"] = np.zeros((2,), np.float32)

    path = rewritten(reference, tmp_path, "edited.safetensors", edit)
    with pytest.raises(WeightsMismatchError) as info:
        load_audio_decoder(path)
    message = str(info.value)
    assert "edited.safetensors" in message and "audio VAE decoder" in message
    assert "2 missing from the file: conv_in.conv.weight, per_channel_statistics.std_of_means" in message
    assert "1 unexpected in the file: audio_vae.decoder.extra.weight" in message
    missing = ups.removeprefix("vocoder.").replace(".", r"\.")
    vocoder_message = rf"1 missing from the file: {missing}\. 1 unexpected .*vocoder.extra.bias"
    with pytest.raises(WeightsMismatchError, match=vocoder_message):
        load_vocoder(path)
    with pytest.raises(WeightsMismatchError, match=r"missing from the file: per_channel_statistics.std_of_means"):
        load_audio_encoder(path)


def test_wrong_shape_is_reported(reference: Reference, tmp_path: Path):
    def edit(tensors):
        tensors["audio_vae.decoder.conv_out.conv.weight"] = np.zeros((2, 32, 3, 5), np.float32)

    path = rewritten(reference, tmp_path, "shape.safetensors", edit)
    with pytest.raises(WeightsMismatchError, match=r"shape.safetensors.*conv_out.conv.weight"):
        load_audio_decoder(path)


def test_bfloat16_weights_run(reference: Reference):
    decoder = load_audio_decoder(reference.checkpoint, dtype="bfloat16")
    assert decoder.conv_in.conv.weight.dtype == mx.bfloat16
    cfg = decoder.config
    mel = decoder(mx.ones((1, cfg.z_channels, 3, cfg.latent_mel_bins)))
    assert mel.dtype == mx.bfloat16 and bool(mx.all(mx.isfinite(mel)))


def test_pcm16_rounding_and_clipping():
    left = np.array([-1.5, -1.0, -0.5, 0.0, 0.49999, 0.99999, 1.0, 2.0, np.nan], np.float32)
    waveform = np.stack([left, -left])
    pcm = waveform_to_pcm16(waveform)
    assert pcm.dtype == np.int16 and pcm.shape == (9, 2) and pcm.flags.c_contiguous
    # clip to [-1, 1], x 32767, truncate toward zero (as the official media_io); NaN -> 0
    assert pcm[:, 0].tolist() == [-32767, -32767, -16383, 0, 16383, 32766, 32767, 32767, 0]
    assert pcm[:, 1].tolist() == [32767, 32767, 16383, 0, -16383, -32766, -32767, -32767, 0]
    assert np.frombuffer(pcm.tobytes(), np.int16)[:4].tolist() == [-32767, 32767, -32767, 32767]


def test_pcm16_chunks_batches_and_mlx_input():
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1.2, 1.2, (3, 2, 1001)).astype(np.float32)
    whole = waveform_to_pcm16(batch)
    assert whole.shape == (3, 1001, 2)
    assert np.array_equal(waveform_to_pcm16(batch, chunk_samples=7), whole)
    assert np.array_equal(waveform_to_pcm16(mx.array(batch), chunk_samples=100), whole)
    assert np.array_equal(waveform_to_pcm16(mx.array(batch[1]))[None], whole[1:2])
    expected = np.trunc(np.clip(batch, -1, 1) * 32767).astype(np.int16).transpose(0, 2, 1)
    assert np.array_equal(whole, expected)
    with pytest.raises(InputShapeError, match=r"\(channels, samples\) or \(batch, channels, samples\)"):
        waveform_to_pcm16(np.zeros(10, np.float32))


def test_write_wav(tmp_path: Path):
    waveform = np.sin(np.linspace(0, 50, 2 * 5000, dtype=np.float32)).reshape(2, 5000) * 0.8
    path = tmp_path / "out.wav"
    write_wav(path, Audio(mx.array(waveform), 24000), chunk_samples=999)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (2, 2, 24000, 5000)
        data = np.frombuffer(wav.readframes(5000), "<i2").reshape(5000, 2)
    assert np.array_equal(data, waveform_to_pcm16(waveform))
    with pytest.raises(InputShapeError):
        write_wav(path, Audio(mx.zeros((1, 2, 10)), 24000))


def test_attn_type_none_only_affects_the_encoder(reference: Reference):
    """As officially: the encoder reads ``attn_type``; the decoder always builds vanilla attention."""
    from mlx.utils import tree_flatten

    from ltx_core.model.audio_vae import AudioDecoder, AudioEncoder

    section, _ = fixture_sections(reference)
    ddconfig = section["model"]["params"]["ddconfig"]
    ddconfig.update(attn_type="none", mid_block_add_attention=True, attn_resolutions=[256])
    cfg = AudioVAEConfig.from_section(section)
    encoder_names = [name for name, _ in tree_flatten(AudioEncoder(cfg).parameters())]
    decoder_names = [name for name, _ in tree_flatten(AudioDecoder(cfg).parameters())]
    assert not any("attn" in name for name in encoder_names)
    assert "mid.attn_1.q.weight" in decoder_names and "up.0.attn.0.proj_out.weight" in decoder_names
