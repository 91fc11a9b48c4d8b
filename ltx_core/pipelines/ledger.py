"""The model ledger: each model is loaded when a stage needs it and released as soon as it is
not, so peak memory is one big model at a time. Every load, release and stage is recorded with
its peak memory, for progress events and the output's sidecar."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_core.errors import LTXError
from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.loader.quantization import QuantizationSpec

KEEP_LOADED = "keep_loaded"


class MissingModelError(LTXError):
    """A pipeline needs a model file that is not configured."""


@dataclass(frozen=True)
class ModelPaths:
    checkpoint: Path
    gemma: Path | None = None
    spatial_upsampler: Path | None = None
    temporal_upsampler: Path | None = None
    distilled_lora: Path | None = None
    embeddings_cache: Path | None = None


@dataclass(frozen=True)
class StageRecord:
    stage: str
    seconds: float
    peak_bytes: int
    loaded: tuple[str, ...]


@dataclass
class ModelLedger:
    paths: ModelPaths
    dtype: mx.Dtype = mx.float32
    transformer_quantization: QuantizationSpec | None = None
    text_encoder_quantization: QuantizationSpec | None = None
    unload_policy: str = "release_each_stage"
    block_streaming: bool = False
    batch_guidance_passes: bool = True  # guided denoising: all passes in one forward, or one by one
    preset: Any = None  # the MemoryPreset in use: enables the memory check before a run
    memory_margin: int | None = None  # bytes left to the system (default: ltx_core.memory's)
    events: list[str] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)
    _models: dict[str, Any] = field(default_factory=dict)
    _checkpoint: LTXCheckpoint | None = None
    _stage_loads: list[str] = field(default_factory=list)
    _applied_loras: Any = None
    _lora_key: tuple = ()

    @property
    def checkpoint(self) -> LTXCheckpoint:
        if self._checkpoint is None:
            self._checkpoint = LTXCheckpoint(self.paths.checkpoint)
        return self._checkpoint

    def get(self, name: str) -> Any:
        """The model ``name``, loaded now if it is not in memory."""
        if name not in self._models:
            loader = self._loaders().get(name)
            if loader is None:
                raise ValueError(f"unknown model {name!r}")
            self._models[name] = loader()
            self.events.append(f"load {name}")
            self._stage_loads.append(name)
        return self._models[name]

    def transformer(self, loras: tuple = ()) -> Any:
        """The X0 transformer with exactly ``loras`` (LoraChoice) applied."""
        model = self.get("transformer")
        key = tuple((str(l.path), float(l.strength)) for l in loras)
        if key != self._lora_key:
            from ltx_core.loader.lora import LoraSpec, apply_loras

            if self._applied_loras is not None:
                self._applied_loras.remove()
                self._applied_loras = None
            if key:
                self._applied_loras = apply_loras(model.velocity_model, [LoraSpec(path, strength) for path, strength in key])
            model.velocity_model.clear_run_cache()
            self._lora_key = key
            self.events.append(f"loras {[Path(p).name for p, _ in key]}")
        return model

    def require(self, name: str) -> None:
        """Raise MissingModelError now if the file a later stage needs is not configured."""
        advice = {
            "spatial_upsampler": ("ltx-2-spatial-upscaler-x2-1.0.safetensors", "--spatial-upscaler-weights"),
            "temporal_upsampler": ("ltx-2-temporal-upscaler-x2-1.0.safetensors", "--temporal-upscaler-weights"),
            "distilled_lora": ("ltx-2-19b-distilled-lora-384.safetensors", "--distilled-lora"),
        }
        path = getattr(self.paths, name)
        file, flag = advice[name]
        if path is None or not Path(path).exists():
            state = "is not configured" if path is None else f"was not found at {path}"
            raise MissingModelError(
                f"this pipeline needs {file} (the {name.replace('_', ' ')}), which {state}: download it from the "
                f"Hugging Face repository Lightricks/LTX-2 and pass it with {flag} (or set it in Models & Settings)."
            )

    def gemma_config(self):
        """The Gemma folder's config, or None when it is not configured (pre-computed embeddings)."""
        if self.paths.gemma is None or not Path(self.paths.gemma).exists():
            return None
        from ltx_core.loader.text_encoder import gemma_config

        return gemma_config(self.paths.gemma)

    def upsampler_config(self) -> dict | None:
        if self.paths.spatial_upsampler is None or not Path(self.paths.spatial_upsampler).exists():
            return None
        import json

        from ltx_core.loader.safetensors_file import SafetensorsFile

        raw = SafetensorsFile(self.paths.spatial_upsampler).metadata.get("config")
        return json.loads(raw) if raw else None

    def loaded(self) -> list[str]:
        return list(self._models)

    def release(self, *names: str, force: bool = False) -> None:
        """Free models (no-op under the keep-loaded policy unless ``force``)."""
        if self.unload_policy == KEEP_LOADED and not force:
            return
        for name in names:
            model = self._models.pop(name, None)
            if model is None:
                continue
            if name == "transformer":
                self._applied_loras, self._lora_key = None, ()
            if hasattr(model, "release"):
                model.release()
            del model
            self.events.append(f"release {name}")
        gc.collect()
        mx.clear_cache()

    def release_all(self, force: bool = True) -> None:
        self.release(*list(self._models), force=force)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Record the stage's duration, peak memory and the models it loaded."""
        mx.reset_peak_memory()
        self._stage_loads = []
        started = time.monotonic()
        try:
            yield
        finally:
            record = StageRecord(name, time.monotonic() - started, mx.get_peak_memory(), tuple(self._stage_loads))
            self.stages.append(record)
            self.events.append(f"stage {name}: {record.peak_bytes / 2**20:.1f} MiB peak")

    # -- loaders ---------------------------------------------------------------------------
    def _loaders(self) -> dict[str, Callable[[], Any]]:
        return {
            "prompt_encoder": self._prompt_encoder,
            "transformer": self._transformer,
            "video_encoder": lambda: _video_vae("load_video_encoder", self.checkpoint, self.dtype),
            "video_decoder": lambda: _video_vae("load_video_decoder", self.checkpoint, self.dtype),
            "video_statistics": lambda: _video_vae("load_video_statistics", self.checkpoint),
            "audio_decoder": lambda: _audio("load_audio_decoder", self.checkpoint, self.dtype),
            "vocoder": lambda: _audio("load_vocoder", self.checkpoint, self.dtype),
            "spatial_upsampler": lambda: self._upsampler(self.paths.spatial_upsampler, "spatial"),
            "temporal_upsampler": lambda: self._upsampler(self.paths.temporal_upsampler, "temporal"),
        }

    def _prompt_encoder(self):
        from ltx_core.model.text_encoder.prompt_encoder import PromptEncoder

        bits = self.text_encoder_quantization.bits if self.text_encoder_quantization else None
        group = self.text_encoder_quantization.group_size if self.text_encoder_quantization else 64
        return PromptEncoder(
            self.paths.gemma, self.checkpoint, dtype=self.dtype, quantize_bits=bits, group_size=group,
            cache_dir=self.paths.embeddings_cache,
        )  # fmt: skip

    def _transformer(self):
        from ltx_core.loader.components import load_transformer
        from ltx_core.model.transformer import X0Model

        self.release("prompt_encoder", "video_encoder")  # the text encoder never shares memory with it
        return X0Model(
            load_transformer(
                self.checkpoint, self.dtype, quantization=self.transformer_quantization, streaming=self.block_streaming
            )
        )

    def _upsampler(self, path: Path | None, kind: str):
        from ltx_core.loader.upsampler import load_upsampler

        self.require(f"{kind}_upsampler")
        return load_upsampler(path, self.dtype)


def _video_vae(function: str, *args):
    from ltx_core.loader import video_vae

    return getattr(video_vae, function)(*args)


def _audio(function: str, *args):
    from ltx_core.loader import audio_vae

    return getattr(audio_vae, function)(*args)
