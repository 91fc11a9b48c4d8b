"""Every case of every reference set is compared by a parity test of a module that takes the
set's model version.

An unknown case name fails. A case no module compares fails, unless ``PENDING`` names it with
the issue that ports it: then it is an expected failure (strict: once covered, remove it).
"""

from __future__ import annotations

import importlib.util

import pytest

from tests import test_components_parity, test_transformer_parity
from tests.conftest import cases_of, module_versions, reference_cases, reference_sets, reference_version

# Case-name prefix -> the package that implements what the case checks.
COMPONENT_OF = (
    ("transformer", "ltx_core.model.transformer"),
    ("scheduler", "ltx_core.components.schedulers"),
    ("euler_step", "ltx_core.components.diffusion_steps"),
    ("euler_ancestral_step", "ltx_core.components.diffusion_steps"),
    ("duration_head", "ltx_core.model.duration"),
    ("video_vae_decode_diffusion", "ltx_core.model.video_vae.diffusion"),
    ("video_vae", "ltx_core.model.video_vae"),
    ("audio_vae", "ltx_core.model.audio_vae"),
    ("vocoder", "ltx_core.model.audio_vae"),
    ("audio_decode", "ltx_core.model.audio_vae"),
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
    importlib.import_module("tests.test_ltx25_components_parity"),
    importlib.import_module("tests.test_diffusion_vae_parity"),
)


def component_of(case: str) -> str | None:
    for prefix, module in COMPONENT_OF:
        if case == prefix or case.startswith(prefix + "_"):
            return module
    return None


# (version, case) -> the issue that ports it; such a case is an expected (strict) failure.
PENDING: dict[tuple[str, str], str] = {}
# The e2e case of the 2.5 set is compared whole (latents, stage-1 latents, waveform and the frames
# its diffusion video decoder gives): tests/test_pipeline_distilled_parity.py.


@pytest.mark.parametrize(
    "version, case",
    [pytest.param(reference_version(d), c, id=f"{d.name}-{c}") for d in reference_sets() for c in cases_of(d)],
)
def test_case_is_covered(version: str, case: str):
    covered = any(test.covers(case) and version in module_versions(test) for test in COVERING_TESTS)
    if (version, case) in PENDING:
        assert not covered, f"LTX-{version} {case} is compared now: remove it from PENDING"
        pytest.xfail(f"LTX-{version} {case}: not ported yet ({PENDING[version, case]})")
    module = component_of(case)
    assert module is not None, f"fixture case {case!r} maps to no component: add it to COMPONENT_OF and test it"
    assert importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None and importlib.util.find_spec(module), (
        f"{case}: {module} does not exist"
    )
    assert covered, f"LTX-{version} fixture case {case!r} is not compared by any parity test"


def test_fixtures_have_cases():
    assert reference_cases(), "no reference cases found; set LTX_REFERENCE_FIXTURES"
