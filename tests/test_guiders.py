"""Guiders against outputs of the official ltx-core 1.0.0 guiders (tests/data/guider_reference.npz,
made by tools/make_guider_reference.py; the shared fixtures have no guider case)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from tests.parity import check_parity

DATA = np.load(Path(__file__).parent / "data" / "guider_reference.npz")
INPUTS = {name: mx.array(DATA[f"in/{name}"]) for name in ("cond", "uncond", "perturbed", "modality")}
PARAM_SETS = {
    "cfg_only": dict(cfg_scale=3.0),
    "dev_video": dict(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(29,), rescale_scale=0.7, modality_scale=3.0),
    "dev_audio": dict(cfg_scale=7.0, stg_scale=1.0, stg_blocks=(29,), rescale_scale=0.7, modality_scale=3.0),
    "stg_modality": dict(cfg_scale=1.0, stg_scale=2.5, modality_scale=2.0),
}


@pytest.mark.parametrize("name", sorted(PARAM_SETS))
def test_multimodal_guider(name: str):
    guider = MultiModalGuider(MultiModalGuiderParams(**PARAM_SETS[name]))
    ours = guider.calculate(INPUTS["cond"], INPUTS["uncond"], INPUTS["perturbed"], INPUTS["modality"])
    check_parity(f"guiders/multimodal/{name}", ours, DATA[f"multimodal/{name}"])


def test_guider_switches():
    dev = MultiModalGuider(MultiModalGuiderParams(**PARAM_SETS["dev_video"]))
    assert dev.do_unconditional_generation() and dev.do_perturbed_generation() and dev.do_isolated_modality_generation()
    plain = MultiModalGuider(MultiModalGuiderParams())
    assert not (plain.do_unconditional_generation() or plain.do_perturbed_generation() or plain.do_isolated_modality_generation())


def test_skip_steps():
    skip = MultiModalGuider(MultiModalGuiderParams(skip_step=2))
    assert [skip.should_skip_step(i) for i in range(8)] == DATA["skip_step2/should_skip"].tolist()
