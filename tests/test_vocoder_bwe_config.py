"""The LTX-2.3 nested vocoder section: VocoderWithBWE settings, the checks ltx-core makes."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ltx_core.errors import ConfigError
from ltx_core.loader import LTXCheckpoint
from ltx_core.model.audio_vae import VocoderConfig, VocoderWithBWEConfig, vocoder_config_from_section
from ltx_core.model.audio_vae.bwe import hann_sinc_taps
from tests.conftest import REFERENCE_ROOT

SET_23 = REFERENCE_ROOT / "ltx-2.3" / "ltx2-tiny.safetensors"


@pytest.fixture
def section() -> dict:
    if not SET_23.is_file():
        pytest.skip("no LTX-2.3 reference set in the repository")
    return copy.deepcopy(LTXCheckpoint(SET_23).config["vocoder"])


def test_nested_section_builds_the_bandwidth_extension(section: dict):
    config = vocoder_config_from_section(section)
    assert isinstance(config, VocoderWithBWEConfig)
    bwe = section["bwe"]
    assert config.output_sampling_rate == bwe["output_sampling_rate"]
    assert config.vocoder.output_sampling_rate == bwe["input_sampling_rate"]
    assert config.vocoder.is_amp and config.vocoder.final_activation
    assert config.bwe_generator.is_amp and not config.bwe_generator.final_activation
    assert config.bwe.ratio * config.bwe.input_sampling_rate == config.bwe.output_sampling_rate


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s["bwe"].update(activation="snake"), r"section 'vocoder.bwe': activation = 'snake' is not supported"),
        (lambda s: s["vocoder"].update(resblock="1"), r"section 'vocoder.vocoder': resblock = '1' is not supported"),
        (lambda s: s["bwe"].pop("n_fft"), r"'bwe' lacks n_fft"),
        (lambda s: s["bwe"].update(output_sampling_rate=44100), r"not a multiple of input_sampling_rate"),
        (lambda s: s["bwe"].update(upsample_rates=[2] * 5), r"upsample_rates multiply to 32"),
    ],
)
def test_unsupported_bwe_values_are_rejected(section: dict, edit, message):
    edit(section)
    with pytest.raises(ConfigError, match=message):
        vocoder_config_from_section(section, source="x.safetensors config")


def test_flat_reader_sends_nested_sections_elsewhere(section: dict):
    with pytest.raises(ConfigError, match=r"bandwidth extension \('bwe'"):
        VocoderConfig.from_section(section)


def test_resampler_taps_are_torchaudios_hann_sinc():
    """x3: 43 taps (width 7 at rolloff 0.99), symmetric, peak rolloff / ratio at the centre."""
    taps = hann_sinc_taps(3)
    assert taps.shape == (43,) and taps.dtype == np.float32
    np.testing.assert_allclose(taps, taps[::-1], atol=1e-7)
    assert abs(taps[21] - 0.99 / 3) < 1e-7 and taps.argmax() == 21
