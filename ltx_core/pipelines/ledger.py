"""The model ledger: each model is loaded when a stage needs it and released as soon as it is
not, so peak memory is one big model at a time. Every load, release and stage is recorded with
its peak memory, for progress events and the output's sidecar. What it loads and how (dtype,
quantization, streaming, unload policy) comes from one ``RuntimeSettings``."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.model_compat import check_lora_version, check_upsampler_version
from ltx_core.model_paths import SUPPORTED_VIDEO_DECODERS, MissingModelError, ModelPaths, video_vae_class
from ltx_core.model_spec import Recognised, Role, VersionSpec, require_role
from ltx_core.pipelines.ledger_text import TextModels
from ltx_core.runtime import RuntimeSettings


class Component(str, Enum):
    """The models a ledger holds."""

    PROMPT_ENCODER = "prompt_encoder"
    TRANSFORMER = "transformer"
    VIDEO_ENCODER = "video_encoder"
    VIDEO_DECODER = "video_decoder"
    VIDEO_STATISTICS = "video_statistics"
    AUDIO_ENCODER = "audio_encoder"
    AUDIO_DECODER = "audio_decoder"
    VOCODER = "vocoder"
    SPATIAL_UPSAMPLER = "spatial_upsampler"
    TEMPORAL_UPSAMPLER = "temporal_upsampler"
    DURATION_PREDICTOR = "duration_predictor"
    PROMPT_ENHANCER = "prompt_enhancer"  # a separate Gemma 3 that rewrites prompts (ModelPaths.enhancer)


# The command-line option that gives each companion file (named in "missing file" messages).
OPTION_OF = {
    Role.SPATIAL_UPSAMPLER: "--spatial-upscaler-weights",
    Role.TEMPORAL_UPSAMPLER: "--temporal-upscaler-weights",
    Role.DISTILLED_LORA: "--distilled-lora",
    Role.GEMMA: "--gemma-path",
    Role.TEXT_ENCODER: "--text-encoder",
    Role.VIDEO_VAE: "--video-vae",
    Role.AUDIO_VAE: "--audio-vae",
    Role.DURATION_HEAD: "--duration-head",
}
__all__ = ["Component", "MissingModelError", "ModelLedger", "ModelPaths", "StageRecord", "build_ledger"]


@dataclass(frozen=True)
class StageRecord:
    stage: str
    seconds: float
    peak_bytes: int
    loaded: tuple[str, ...]


@dataclass
class ModelLedger(TextModels):
    paths: ModelPaths
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings.plain)
    events: list[str] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)
    _models: dict[Component, Any] = field(default_factory=dict)
    _checkpoint: LTXCheckpoint | None = None
    _component_files: dict = field(default_factory=dict)
    _stage_loads: list[str] = field(default_factory=list)
    _applied_loras: Any = None
    _lora_key: tuple = ()
    _spatial_upscale: float = 2.0  # the scale of the spatial upsampler loaded (or to load)
    # Set by the run protocol for a job's duration: (component, model) -> what callers get
    # (VAE passes that report each tile, a transformer that checks for cancel after each block).
    model_hook: Callable[[Component, Any], Any] | None = None

    # -- what the files are ----------------------------------------------------------------
    @property
    def checkpoint(self) -> LTXCheckpoint:
        if self._checkpoint is None:
            self._checkpoint = LTXCheckpoint(self.paths.checkpoint)
        return self._checkpoint

    def component_file(self, path: Path) -> LTXCheckpoint:
        """A per-component file (video / audio VAE) opened once; the checkpoint itself when it is one."""
        if Path(path) == Path(self.paths.checkpoint):
            return self.checkpoint
        key = str(path)
        if key not in self._component_files:
            self._component_files[key] = LTXCheckpoint(path)
        return self._component_files[key]

    @property
    def video_file(self) -> LTXCheckpoint:
        return self.component_file(self.paths.video_vae_file)

    @property
    def audio_file(self) -> LTXCheckpoint:
        return self.component_file(self.paths.audio_vae_file)

    @property
    def model_config(self) -> dict:
        """The config sections of every model file (transformer, vae, audio_vae, vocoder), merged:
        what the memory estimator reads."""
        config = dict(self.checkpoint.config)
        if self.paths.split:
            config["vae"] = self.video_file.section("vae")
            config["audio_vae"] = self.audio_file.section("audio_vae")
            config["vocoder"] = self.audio_file.section("vocoder")
        return config

    @cached_property
    def model(self) -> Recognised:
        """The checkpoint's (or split transformer's) role, version and variant, from its header."""
        roles = (Role.TRANSFORMER,) if self.paths.split else (Role.CHECKPOINT,)
        return require_role(self.paths.checkpoint, *roles, what="model checkpoint" if not self.paths.split else "transformer")

    @property
    def text_encoder_role(self) -> Role:
        """Gemma 3 folder (2.0, 2.3) or one-file text encoder (2.5)."""
        return Role.TEXT_ENCODER if self.paths.split else Role.GEMMA

    @property
    def version(self) -> VersionSpec:
        return self.model.version

    @property
    def dtype(self) -> mx.Dtype:
        from ltx_core.loader.components import resolve_dtype

        return resolve_dtype(self.runtime.dtype)

    def check_files(self, *roles: Role) -> None:
        """Before anything loads: the checkpoint is a model this port runs, and every companion
        file a job needs is present and of the right kind."""
        model = self.model
        if not model.version.supported:
            raise MissingModelError(
                f"{Path(self.paths.checkpoint).name} is an {model.version.title} checkpoint, which this version of the "
                f"studio cannot run yet (it runs {', '.join(_supported_titles())}): use one of those checkpoints."
            )
        if self.paths.split:
            for role in (Role.VIDEO_VAE, Role.AUDIO_VAE):
                self.require(role)
            self._check_video_decoder()
        for role in roles:
            self.require(role)

    def _check_video_decoder(self) -> None:
        found = require_role(self.paths.video_vae, Role.VIDEO_VAE, what="video VAE")
        kind = video_vae_class(found)
        if kind not in SUPPORTED_VIDEO_DECODERS:
            raise MissingModelError(
                f"{Path(self.paths.video_vae).name} is a {kind} video VAE, whose decoder this version of the studio "
                f"cannot run (it runs {', '.join(SUPPORTED_VIDEO_DECODERS)}): give the diffusion or the conv "
                f"video VAE file (vae/*-video-vae-*.safetensors) instead."
            )

    @cached_property
    def diffusion_decoder(self) -> bool:
        """Whether the video VAE file decodes with the diffusion decoder (``CausalDiffusionVAE``);
        the file was chosen by ``model_paths.choose_video_vae``."""
        from ltx_core.loader.diffusion_vae import is_diffusion_video_vae

        return is_diffusion_video_vae(self.video_file)

    def require(self, role: Role, spatial_upscale: float = 2.0) -> Path:
        """The configured file for ``role``; MissingModelError (what to download, which option)
        when it is absent, WrongFileError when it is another kind of file. ``spatial_upscale``:
        which spatial upsampler (2.0 or 1.5)."""
        path = self.paths.path_for(role)
        if role == Role.SPATIAL_UPSAMPLER:
            path = self.paths.spatial_upsampler_for(spatial_upscale)
            if path is None and spatial_upscale != 2.0:
                raise MissingModelError(
                    f"the x{spatial_upscale:g} spatial upsampler is not configured: add the {self.version.title} x1.5 "
                    f"upscaler (e.g. ltx-2.3-spatial-upscaler-x1.5-1.0.safetensors from {self.version.repo}) to the "
                    f"weights folder or pass it with {OPTION_OF[role]}, or choose the x2 upscale."
                )
        if role == Role.GEMMA:  # the loader's own check: $LTX_GEMMA_DIR or the default folder when unset
            from ltx_core.loader.text_encoder import gemma_folder

            return gemma_folder(path)
        if path is None or not Path(path).exists():
            companion = self.version.file_for(role)
            name = companion.file if companion else role.label
            repo = (companion.repo if companion and companion.repo else self.version.repo)
            state = "is not configured" if path is None else f"was not found at {path}"
            raise MissingModelError(
                f"this pipeline needs {name} (the {role.label}), which {state}: download it from the Hugging Face "
                f"repository {repo} and pass it with {OPTION_OF.get(role, '--weights')} (or set it in Models & Settings)."
            )
        accepted = (Role.LORA, Role.DISTILLED_LORA) if role == Role.DISTILLED_LORA else (role,)
        require_role(path, *accepted, what=role.label)
        if role in (Role.SPATIAL_UPSAMPLER, Role.TEMPORAL_UPSAMPLER):
            check_upsampler_version(path, self.paths.checkpoint, role)
        elif role == Role.DISTILLED_LORA:
            check_lora_version(path, self.paths.checkpoint, "distilled LoRA")
        return Path(path)

    def upsampler_config(self, spatial_upscale: float = 2.0):
        path = self.paths.spatial_upsampler_for(spatial_upscale)
        if path is None or not Path(path).exists():
            return None
        from ltx_core.loader.safetensors_file import SafetensorsFile
        from ltx_core.loader.upsampler import upsampler_config

        return upsampler_config(SafetensorsFile(path))

    @cached_property
    def video_latent_channels(self) -> int:
        from ltx_core.loader.video_vae import video_vae_config

        return video_vae_config(self.video_file).latent_channels

    @cached_property
    def audio_latent_channels(self) -> int:
        from ltx_core.loader.audio_vae import audio_vae_config

        return audio_vae_config(self.audio_file).z_channels

    # -- models ------------------------------------------------------------------------------
    def get(self, component: Component) -> Any:
        """The model ``component``, loaded now if it is not in memory."""
        component = Component(component)
        if component not in self._models:
            self._models[component] = self._loaders()[component]()
            self.events.append(f"load {component.value}")
            self._stage_loads.append(component.value)
        model = self._models[component]
        return self.model_hook(component, model) if self.model_hook is not None else model

    def prompt_encoder(self):
        return self.get(Component.PROMPT_ENCODER)

    def video_encoder(self):
        return self.get(Component.VIDEO_ENCODER)

    def video_decoder(self):
        return self.get(Component.VIDEO_DECODER)

    def video_statistics(self):
        return self.get(Component.VIDEO_STATISTICS)

    def audio_encoder(self):
        return self.get(Component.AUDIO_ENCODER)

    def audio_decoder(self):
        return self.get(Component.AUDIO_DECODER)

    def vocoder(self):
        return self.get(Component.VOCODER)

    def spatial_upsampler(self, spatial_upscale: float = 2.0):
        """The x2 (or x1.5) spatial upsampler; one of the other scale still loaded is released first."""
        if self._spatial_upscale != spatial_upscale:
            self.release(Component.SPATIAL_UPSAMPLER, force=True)
            self._spatial_upscale = spatial_upscale
        return self.get(Component.SPATIAL_UPSAMPLER)

    def temporal_upsampler(self):
        return self.get(Component.TEMPORAL_UPSAMPLER)

    @cached_property
    def fused_loras(self) -> tuple:
        """The LoRAs ``convert --lora`` fused into the checkpoint (``FusedLora``s; none for others)."""
        from ltx_core.loader.lora import fused_loras

        return fused_loras(self.checkpoint.file)

    def net_loras(self, loras: tuple = ()) -> tuple[tuple[str, float], ...]:
        """(path, strength) to apply for ``loras`` (LoraChoice): each at its strength minus what the
        checkpoint already has fused of it (recognised by content, not name); zero strengths dropped."""
        from ltx_core.loader.lora import LoraFile

        fused = {lora.identity: lora.strength for lora in self.fused_loras}
        net = []
        for lora in loras:
            strength = float(lora.strength)
            if fused and Path(lora.path).is_file():
                strength -= fused.get(LoraFile(lora.path).identity, 0.0)
            if strength != 0.0:
                net.append((str(lora.path), strength))
        return tuple(net)

    def transformer(self, loras: tuple = ()) -> Any:
        """The X0 transformer with exactly ``loras`` (LoraChoice) applied, beyond those fused into
        the checkpoint (a LoRA at strength 0 takes a fused one out)."""
        model = self.get(Component.TRANSFORMER)
        key = self.net_loras(loras)
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

    def loaded(self) -> list[str]:
        return [component.value for component in self._models]

    def release(self, *components: Component, force: bool = False) -> None:
        """Free models (no-op under the keep-loaded policy unless ``force``)."""
        if self.runtime.keep_loaded and not force:
            return
        for component in components:
            model = self._models.pop(Component(component), None)
            if model is None:
                continue
            if component == Component.TRANSFORMER:
                self._applied_loras, self._lora_key = None, ()
            if hasattr(model, "release"):
                model.release()
            del model
            self.events.append(f"release {Component(component).value}")
        gc.collect()
        mx.clear_cache()

    def release_all(self, force: bool = True) -> None:
        self.release(*list(self._models), force=force)

    def finish_job(self) -> None:
        """After a job: everything released unless the runtime keeps models loaded."""
        self.release_all(force=not self.runtime.keep_loaded)
        mx.clear_cache()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Record the stage's duration, peak memory and the models it loaded. The peak is MLX's plus
        the largest NumPy working set of the CPU attention and GELU (``cpu_numpy``), which MLX's
        counter cannot see (an upper bound: the two need not coincide)."""
        from ltx_core.components import cpu_numpy

        mx.reset_peak_memory()
        cpu_numpy.reset_scratch_peak()
        self._stage_loads = []
        started = time.monotonic()
        try:
            yield
        finally:
            peak = mx.get_peak_memory() + cpu_numpy.scratch_peak()
            record = StageRecord(name, time.monotonic() - started, peak, tuple(self._stage_loads))
            self.stages.append(record)
            self.events.append(f"stage {name}: {record.peak_bytes / 2**20:.1f} MiB peak")

    # -- loaders ---------------------------------------------------------------------------
    def _loaders(self) -> dict[Component, Callable[[], Any]]:
        from ltx_core.loader import audio_vae, video_vae

        dtype = self.dtype
        return {
            Component.PROMPT_ENCODER: self._prompt_encoder,
            Component.PROMPT_ENHANCER: self._prompt_enhancer,
            Component.TRANSFORMER: self._transformer,
            Component.VIDEO_ENCODER: lambda: video_vae.load_video_encoder(self.video_file, dtype),
            Component.VIDEO_DECODER: self._video_decoder,
            Component.VIDEO_STATISTICS: lambda: video_vae.load_video_statistics(self.video_file),
            Component.AUDIO_ENCODER: lambda: audio_vae.load_audio_encoder(self.audio_file, dtype),
            Component.AUDIO_DECODER: lambda: audio_vae.load_audio_decoder(self.audio_file, dtype),
            Component.VOCODER: lambda: audio_vae.load_vocoder(self.audio_file, dtype),
            Component.SPATIAL_UPSAMPLER: lambda: self._upsampler(Role.SPATIAL_UPSAMPLER, self._spatial_upscale),
            Component.TEMPORAL_UPSAMPLER: lambda: self._upsampler(Role.TEMPORAL_UPSAMPLER),
            Component.DURATION_PREDICTOR: self._duration_predictor,
        }

    def _transformer(self):
        from ltx_core.loader.components import load_transformer
        from ltx_core.model.transformer import X0Model

        # the text encoder (and enhancer) never share memory with it
        self.release(Component.PROMPT_ENCODER, Component.PROMPT_ENHANCER, Component.VIDEO_ENCODER)
        runtime = self.runtime
        return X0Model(
            load_transformer(
                self.checkpoint, self.dtype, quantization=runtime.transformer_quantization, streaming=runtime.block_streaming
            )
        )

    def _video_decoder(self):
        from ltx_core.loader import video_vae

        if self.diffusion_decoder:
            from ltx_core.loader.diffusion_vae import load_diffusion_video_decoder

            return load_diffusion_video_decoder(self.video_file, self.dtype)
        return video_vae.load_video_decoder(self.video_file, self.dtype)

    def _upsampler(self, role: Role, spatial_upscale: float = 2.0):
        from ltx_core.loader.upsampler import load_upsampler

        upsampler = load_upsampler(self.require(role, spatial_upscale), self.dtype)
        if role == Role.SPATIAL_UPSAMPLER and float(upsampler.config.spatial_scale) != spatial_upscale:
            raise MissingModelError(
                f"{Path(self.require(role, spatial_upscale)).name} is a x{upsampler.config.spatial_scale:g} spatial "
                f"upsampler, but the job asks for x{spatial_upscale:g}: choose x{upsampler.config.spatial_scale:g} or "
                "give the matching file."
            )
        return upsampler


def _supported_titles() -> list[str]:
    from ltx_core.model_spec import VERSIONS

    return [spec.title for spec in VERSIONS.values() if spec.supported]


def build_ledger(
    paths: ModelPaths,
    preset,
    *,
    demo: bool = False,
    dtype: str | None = None,
    quantize: str | None = None,
    text_quantize: str | None = None,
) -> ModelLedger:
    """The ledger the CLI and the studio run jobs on: ``preset`` (a MemoryPreset) with the user's
    overrides, resolved once into the ledger's ``RuntimeSettings``."""
    return ModelLedger(paths, RuntimeSettings.from_preset(preset, dtype, quantize, text_quantize, demo))
