"""The transformer in bfloat16 / float16 against the float32 reference outputs.

Measured on the tiny fixtures: bfloat16 within 9.0e-3 (about two bf16 ulps, 2^-8 = 3.9e-3),
float16 within 1.2e-3. The stated tolerances leave a 2x margin.
"""

from __future__ import annotations

import pytest

from tests.conftest import Reference
from tests.parity import check_parity
from tests.test_transformer_parity import run_case

from tests.test_transformer_parity import covers  # noqa: E402,F401  (the cases it runs)

TOLERANCES = {"bfloat16": 2e-2, "float16": 3e-3}


@pytest.mark.parametrize("dtype", sorted(TOLERANCES))
def test_transformer_in_half_precision(reference: Reference, case: str, dtype: str):
    _, _, _, outputs, _ = run_case(reference, case, dtype)
    for name, ours in outputs.items():
        key = f"{case}/out/{name}"
        if key not in reference:  # e.g. the 2.5 variants record their velocities only
            continue
        check_parity(f"{key}@{dtype}", ours, reference[key], TOLERANCES[dtype])
