"""The settings a job actually runs with: a memory preset, the user's overrides (dtype,
quantization) and the demo rule, resolved once. The ledger loads models with them and the memory
check estimates with them, so what is checked is what runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.presets import MemoryPreset, VaeTiling

QUANTIZE_CHOICES = ("none", "8", "4")
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
KEEP_LOADED = "keep_loaded"


def resolve_compute_dtype(name: str) -> str:
    """"auto" is bfloat16 on GPU backends and float32 on the CPU backend (where bf16 matmuls are slow)."""
    if name not in DTYPE_CHOICES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {name!r}.")
    if name != "auto":
        return name
    from ltx_core.backend import default_compute_dtype

    return str(default_compute_dtype()).rsplit(".", 1)[-1]


def quantization_choice(choice: str | None, fallback: QuantizationSpec | None) -> QuantizationSpec | None:
    """A ``--quantize``-style choice ("none", "8", "4"; None keeps ``fallback``)."""
    if choice is None:
        return fallback
    if choice not in QUANTIZE_CHOICES:
        raise ConfigError(f"quantization must be one of {', '.join(QUANTIZE_CHOICES)}, got {choice!r}.")
    return None if choice == "none" else QuantizationSpec(int(choice), 64)


@dataclass(frozen=True)
class RuntimeSettings:
    name: str  # the preset's name ("demo" for the built-in models)
    dtype: str  # resolved: never "auto"
    transformer_quantization: QuantizationSpec | None = None
    text_encoder_quantization: QuantizationSpec | None = None
    vae_tiling: VaeTiling | None = None
    batch_guidance_passes: bool = True  # guidance passes as one batch (faster) or one by one (less memory)
    block_streaming: bool = False
    unload_policy: str = "release_each_stage"
    memory_margin: int | None = None  # bytes left to the system (default: ltx_core.memory's)

    @staticmethod
    def from_preset(
        preset: MemoryPreset,
        dtype: str | None = None,
        quantize: str | None = None,
        text_quantize: str | None = None,
        demo: bool = False,
    ) -> "RuntimeSettings":
        """The preset with the user's overrides. The demo models are tiny: they run resident and
        unquantized (quantized kernels only pay off on Metal) unless the user asks otherwise."""
        settings = RuntimeSettings(
            name=preset.name,
            dtype=resolve_compute_dtype(dtype or preset.compute_dtype),
            transformer_quantization=quantization_choice(quantize, None if demo else preset.transformer_quantization),
            text_encoder_quantization=quantization_choice(
                text_quantize, None if demo else preset.text_encoder_quantization
            ),
            vae_tiling=preset.vae_tiling,
            batch_guidance_passes=preset.batch_guidance_passes,
            block_streaming=preset.block_streaming and not demo,
            unload_policy=preset.unload_policy,
        )
        if demo and dtype is None:
            settings = replace(settings, dtype="float32", name="demo")
        return settings

    @staticmethod
    def plain(dtype: str = "float32", **changes: Any) -> "RuntimeSettings":
        """Everything resident, unquantized, untiled: tests, tools and the parity runs."""
        return RuntimeSettings(name="plain", dtype=resolve_compute_dtype(dtype), **changes)

    @property
    def keep_loaded(self) -> bool:
        return self.unload_policy == KEEP_LOADED

    def tiling_config(self):
        """The video VAE's TilingConfig for this runtime (None: untiled)."""
        return self.vae_tiling.config() if self.vae_tiling is not None else None

    def describe(self) -> dict[str, Any]:
        """For the output's sidecar."""

        def quantization(spec: QuantizationSpec | None):
            return None if spec is None else {"bits": spec.bits, "group_size": spec.group_size}

        return {
            "preset": self.name,
            "dtype": self.dtype,
            "transformer_quantization": quantization(self.transformer_quantization),
            "text_encoder_quantization": quantization(self.text_encoder_quantization),
            "block_streaming": self.block_streaming,
            "batch_guidance_passes": self.batch_guidance_passes,
        }
