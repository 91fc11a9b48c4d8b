"""The released-size memory estimate per version (``bench/memory_versions.py``'s header-only
configs): every preset fits its smallest machine for a 768x512x121 distilled job, the compact
preset on a 16 GB Mac included, because the text stage runs Gemma and the embeddings processor
one after the other (``PromptEncoder.staged``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.memory_versions import version_configs
from ltx_core.memory import GIB, default_margin, estimate_for_preset, estimate_for_runtime
from ltx_core.pipelines.registry import PIPELINES
from ltx_core.presets import load_presets, preset_by_name
from ltx_core.runtime import KEEP_LOADED, RuntimeSettings

JOB = {"height": 512, "width": 768, "frames": 121, "fps": 24.0}


@pytest.mark.parametrize("version", ["2.0 (19B)", "2.3 (22B)", "2.5"])
def test_every_preset_fits_its_smallest_machine(version: str):
    config, gemma = version_configs()[version]
    stages = PIPELINES["distilled"].memory_stages()
    for preset in load_presets():
        estimate = estimate_for_preset(config, preset, backend="metal", stages=stages, gemma_config=gemma, **JOB)
        ram = int(preset.min_ram_gb * GIB)
        print(f"MEMORY {version} {preset.name}: peak {estimate.peak / GIB:.2f} GiB of {(ram - default_margin(ram)) / GIB:.2f}")
        assert estimate.peak <= ram - default_margin(ram), (version, preset.name, estimate.table())


@pytest.mark.parametrize("version", ["2.3 (22B)", "2.5"])
def test_compact_text_stage_is_the_larger_phase_not_both_models(version: str):
    """Staged: the Gemma phase (4-bit Gemma + states) is the peak; both models together would not fit."""
    config, gemma = version_configs()[version]
    compact = preset_by_name("compact", load_presets())
    staged = estimate_for_preset(config, compact, backend="metal", gemma_config=gemma, **JOB).stage("text encoder")
    runtime = replace(RuntimeSettings.from_preset(compact, dtype="bfloat16"), unload_policy=KEEP_LOADED)
    together = estimate_for_runtime(config, runtime, backend="metal", gemma_config=gemma, **JOB)
    assert "staged (peak: Gemma phase)" in staged.notes
    sixteen = 16 * GIB - default_margin(16 * GIB)
    assert staged.peak < sixteen < together.stage("text encoder").peak
