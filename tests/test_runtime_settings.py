"""What is checked is what runs: the runtime settings (preset + the user's overrides) resolved once,
used by the ledger to load and by the memory check to estimate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ltx_core.memory import InsufficientMemoryError, estimate_for_runtime
from ltx_core.pipelines.blocks import check_memory
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ledger import ModelPaths, build_ledger
from ltx_core.presets import load_presets, preset_by_name, system_memory_bytes
from ltx_core.runtime import RuntimeSettings
from tests.test_pipelines import small_request


def test_auto_dtype_is_resolved_once_for_this_backend():
    balanced = preset_by_name("balanced", load_presets())
    assert balanced.compute_dtype == "auto"
    assert RuntimeSettings.from_preset(balanced).dtype == "float32"  # the CPU backend here
    assert RuntimeSettings.from_preset(balanced, dtype="bfloat16").dtype == "bfloat16"


def test_overrides_reach_the_runtime_and_demo_models_run_plain():
    balanced = preset_by_name("balanced", load_presets())
    assert RuntimeSettings.from_preset(balanced).transformer_quantization.bits == 8
    assert RuntimeSettings.from_preset(balanced, quantize="none").transformer_quantization is None
    assert RuntimeSettings.from_preset(balanced, quantize="4").transformer_quantization.bits == 4
    demo = RuntimeSettings.from_preset(preset_by_name("compact", load_presets()), demo=True)
    assert (demo.transformer_quantization, demo.block_streaming, demo.dtype) == (None, False, "float32")


def test_the_memory_check_estimates_the_overridden_settings(tmp_path: Path):
    """``--quantize none`` under 'balanced' is checked as unquantized (not as the preset's 8-bit),
    on a header-only checkpoint with the released 19B config."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    from tests.test_memory import REAL_CONFIG

    checkpoint = tmp_path / "ltx-2-19b-dev.safetensors"
    save_file({"model.diffusion_model.x": np.zeros(1, np.float32)}, str(checkpoint), {"config": json.dumps(REAL_CONFIG)})
    balanced = preset_by_name("balanced", load_presets())
    request = small_request(height=512, width=768, frames=121)
    plain = build_ledger(ModelPaths(checkpoint), balanced, quantize="none")
    quantized = build_ledger(ModelPaths(checkpoint), balanced)
    assert plain.runtime.transformer_quantization is None and quantized.runtime.transformer_quantization.bits == 8

    def peak(ledger) -> int:
        return estimate_for_runtime(
            ledger.checkpoint.config, ledger.runtime, height=512, width=768, frames=121, fps=24.0,
            stages=DistilledPipeline.descriptor.memory_stages(), text_encoder=False,
        ).peak  # fmt: skip

    unquantized_peak, quantized_peak = peak(plain), peak(quantized)
    assert unquantized_peak > quantized_peak + 10 * 2**30  # float32 vs 8-bit weights of 19B parameters
    available = (unquantized_peak + quantized_peak) // 2
    for ledger in (plain, quantized):
        ledger.runtime = replace(ledger.runtime, memory_margin=system_memory_bytes() - available)
    with pytest.raises(InsufficientMemoryError, match="not enough memory for stage"):
        check_memory(plain, DistilledPipeline.descriptor, request, text_encoder=False)
    check_memory(quantized, DistilledPipeline.descriptor, request, text_encoder=False)  # fits
    assert plain.events == [] and quantized.events == []
