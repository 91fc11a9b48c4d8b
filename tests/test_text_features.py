"""Which Gemma feature extractor a checkpoint config selects (ltx-core 1.0.0's decision table)."""

from __future__ import annotations

import pytest

from ltx_core.errors import ConfigError
from ltx_core.loader.text_features import V2_CONFIG, feature_extractor_version


def test_no_caption_projection_keys_is_v1_and_all_four_is_v2():
    assert feature_extractor_version({"caption_channels": 3840}, "x") == 1
    assert feature_extractor_version({**V2_CONFIG, "text_encoder_norm_type": "per_token_rms"}, "x") == 2


def test_a_partial_v2_config_names_the_missing_keys():
    partial = {k: v for k, v in V2_CONFIG.items() if k != "caption_proj_input_norm"}
    with pytest.raises(ConfigError, match=r"x.safetensors config: .*caption_proj_input_norm missing"):
        feature_extractor_version(partial, "x.safetensors config")


@pytest.mark.parametrize("key", sorted(V2_CONFIG))
def test_another_v2_value_is_rejected_naming_key_and_value(key):
    with pytest.raises(ConfigError, match=rf"{key} = {not V2_CONFIG[key]!r} is not supported"):
        feature_extractor_version({**V2_CONFIG, key: not V2_CONFIG[key]}, "x")
