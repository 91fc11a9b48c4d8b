"""Every case of the reference fixtures is compared once the component it tests exists.

A case whose component is not written yet is skipped with the reason; once the component's
package exists, a case no parity test covers fails. An unknown case name fails too.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests import test_components_parity, test_transformer_parity
from tests.conftest import cases_of, reference_cases, reference_sets

# Case-name prefix -> the package that implements what the case checks.
COMPONENT_OF = (
    ("transformer", "ltx_core.model.transformer"),
    ("scheduler", "ltx_core.components.schedulers"),
    ("euler_step", "ltx_core.components.diffusion_steps"),
    ("video_vae", "ltx_core.model.video_vae"),
    ("audio_vae", "ltx_core.model.audio_vae"),
    ("vocoder", "ltx_core.model.audio_vae"),
    ("spatial_upsampler", "ltx_core.model.upsampler"),
    ("temporal_upsampler", "ltx_core.model.upsampler"),
    ("text", "ltx_core.model.text_encoder"),
    ("e2e_distilled", "ltx_core.pipelines.distilled"),
)
COVERING_TESTS = (
    test_transformer_parity,
    test_components_parity,
    importlib.import_module("tests.test_audio_vae_parity"),
    importlib.import_module("tests.test_text_encoder_parity"),
    importlib.import_module("tests.test_vae_parity"),
    importlib.import_module("tests.test_pipeline_distilled_parity"),
)


def component_of(case: str) -> str | None:
    for prefix, module in COMPONENT_OF:
        if case == prefix or case.startswith(prefix + "_"):
            return module
    return None


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{d.name}-{c}") for d in reference_sets() for c in cases_of(d)]
)
def test_case_is_covered(case: str):
    module = component_of(case)
    assert module is not None, f"fixture case {case!r} maps to no component: add it to COMPONENT_OF and test it"
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or importlib.util.find_spec(module) is None:
        pytest.skip(f"{case}: {module} is not implemented yet")
    assert any(test.covers(case) for test in COVERING_TESTS), (
        f"fixture case {case!r} is not compared by any parity test although {module} exists"
    )


def test_fixtures_have_cases():
    assert reference_cases(), "no reference cases found; set LTX_REFERENCE_FIXTURES"
