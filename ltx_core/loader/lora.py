"""LoRA files for the LTX-2 transformer: reading, validation against a model, and applying.

Semantics follow ltx-core 1.0.0 (``loader/fuse_loras.py``, ``loader/sd_ops.py``):

- Keys are ``diffusion_model.<module>.lora_A.weight`` (down, ``(rank, in)``) and
  ``...lora_B.weight`` (up, ``(out, rank)``), ``<module>`` in the official transformer layout. The
  official loader strips ``diffusion_model.``; this port also accepts ``model.diffusion_model.``,
  ``transformer.`` or no prefix.
- ``delta W = strength * B @ A``, summed over LoRAs. The official fuse ignores ``alpha``
  tensors (no ``alpha / rank`` factor; ltx-trainer saves only the PEFT A/B matrices), so this
  port reads them only to skip them.
- LoRAs touch only the transformer: keys of the text embeddings connectors (stored under
  ``diffusion_model.`` like the transformer) are fused into a state dict the transformer does
  not load, i.e. ignored; this port skips them with a notice. On the video-only model, keys of
  audio modules are skipped with a notice as well. Any other key that names no linear layer of
  the model is an error (the official code silently drops such keys).

Full-precision layers get the delta fused into their weight (float32 arithmetic, cast back;
the official fuse computes the product in the LoRA file's dtype). Quantized layers keep their
weight and gain a side path ``strength * (x @ A^T) @ B^T``. ``AppliedLoras.remove()`` undoes
both: side paths exactly; fused weights by subtracting the same delta recomputed from the files
(exact up to one rounding of the weight dtype: float32 models come back within ~1e-7 relative,
bfloat16 ones may differ by one bf16 step on touched elements; reload for bit-exact weights).

On a block-streamed model (``loader/streaming.py``) the non-block layers are changed as above
and the block layers are changed as each block is streamed in: the LoRA matrices of that block
are read from the memory-mapped file, fused into its freshly loaded full-precision weights or
added as side paths to its quantized layers, and dropped with the block. The arithmetic is the
resident model's, so outputs are the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import CheckpointError, LoraError
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model.transformer.lora import (
    LowRank,
    add_side_path,
    fuse_into_linear,
    layer_features,
    remove_side_path,
)
from ltx_core.model.transformer.model import LTXModel, X0Model
from ltx_core.model.transformer.weights import CONNECTOR_PREFIXES, param_name

logger = logging.getLogger(__name__)

KEY_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")
DOWN_SUFFIX = ".lora_A.weight"
UP_SUFFIX = ".lora_B.weight"
ALPHA_SUFFIX = ".alpha"
REFERENCE_DOWNSCALE_KEY = "reference_downscale_factor"
_BLOCK_LAYER = re.compile(r"transformer_blocks\.(\d+)\.(.+)$")
_SHOWN = 5
_owners = count(1)


@dataclass(frozen=True)
class LoraSpec:
    """One LoRA file and its strength (the official ``--lora PATH STRENGTH``, default 1.0)."""

    path: str | os.PathLike
    strength: float = 1.0


def _shown(items: Sequence[str]) -> str:
    more = f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


class LoraFile:
    """A LoRA safetensors file, parsed lazily: ``modules`` maps each official module name
    (prefix stripped, e.g. ``transformer_blocks.0.attn1.to_q``) to its (A, B) tensor keys."""

    def __init__(self, path: str | os.PathLike):
        try:
            self.file = SafetensorsFile(path)
        except CheckpointError as exc:
            raise LoraError(f"cannot read LoRA: {exc}") from None
        self.modules: dict[str, tuple[str, str]] = {}
        self.alpha_keys: list[str] = []
        halves: dict[str, dict[str, str]] = {}
        foreign: list[str] = []
        for key in self.file.keys():
            short = _strip_prefix(key)
            for suffix, half in ((DOWN_SUFFIX, "A"), (UP_SUFFIX, "B")):
                if short.endswith(suffix):
                    halves.setdefault(short[: -len(suffix)], {})[half] = key
                    break
            else:
                (self.alpha_keys if short.endswith(ALPHA_SUFFIX) else foreign).append(key)
        if not halves:
            hint = ""
            if "config" in self.file.metadata:
                hint = " It is a model checkpoint (it has a 'config'); pass it as the model, not as a LoRA."
            elif any("lora_down" in k for k in foreign):
                hint = " It looks like a kohya-style LoRA (lora_down/lora_up); convert it to the LTX-2 layout."
            raise LoraError(
                f"{self.name} is not an LTX-2 LoRA: it has no '<module>.lora_A.weight' / '.lora_B.weight' tensors "
                f"(keys: {_shown(sorted(foreign)) or 'none'}).{hint} Pass a LoRA trained for LTX-2."
            )
        if foreign:
            raise LoraError(
                f"{self.name}: {len(foreign)} tensors are neither LoRA A/B matrices nor alphas: "
                f"{_shown(sorted(foreign))}. "
                "This port (like ltx-core) applies only lora_A/lora_B pairs; remove the other tensors or use a "
                "LoRA in the LTX-2 layout."
            )
        incomplete = sorted(m for m, h in halves.items() if len(h) != 2)
        if incomplete:
            raise LoraError(
                f"{self.name}: {len(incomplete)} modules have only one of lora_A/lora_B: {_shown(incomplete)}. "
                "The file is incomplete or damaged; download it again."
            )
        bad = []
        for module, pair in sorted(halves.items()):
            a, b = self.file.info(pair["A"]).shape, self.file.info(pair["B"]).shape
            if len(a) != 2 or len(b) != 2 or a[0] != b[1]:
                bad.append(f"{module} (A {a}, B {b})")
            self.modules[module] = (pair["A"], pair["B"])
        if bad:
            raise LoraError(
                f"{self.name}: {len(bad)} modules have A/B shapes that do not form a low-rank pair "
                f"(expected A (rank, in), B (out, rank)): {_shown(bad)}."
            )

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.file.metadata)

    @property
    def identity(self) -> str:
        """A fingerprint of the file's contents (size and header, not its name): how a LoRA fused
        into a converted checkpoint is recognised again, wherever the file is."""
        digest = hashlib.sha256(str(self.file.file_size).encode())
        for key in sorted(self.file.keys()):
            info = self.file.info(key)
            digest.update(f"{key}:{info.dtype}:{info.shape}:{info.start}".encode())
        return digest.hexdigest()[:16]

    @property
    def rank(self) -> int:
        return max(self.file.info(a).shape[0] for a, _ in self.modules.values())

    @property
    def reference_downscale_factor(self) -> int:
        """IC-LoRA metadata ``reference_downscale_factor`` (reference video at 1/factor of the
        target size); 1 when absent, as in ltx-pipelines ``ic_lora.py``."""
        raw = self.file.metadata.get(REFERENCE_DOWNSCALE_KEY, "1")
        try:
            factor = int(raw)
        except ValueError:
            raise LoraError(f"{self.name}: metadata '{REFERENCE_DOWNSCALE_KEY}' = {raw!r} is not an integer.") from None
        if factor < 1:
            raise LoraError(f"{self.name}: metadata '{REFERENCE_DOWNSCALE_KEY}' = {factor} must be at least 1.")
        return factor

    def pair(self, module: str) -> tuple[mx.array, mx.array]:
        """(A, B) of one module in float32."""
        a, b = self.modules[module]
        return self.file.load(a, mx.float32), self.file.load(b, mx.float32)


def lora_footprint(paths: Iterable[str | os.PathLike]):
    """What these LoRAs add to a transformer, from their headers (a ``memory.LoraFootprint``)."""
    from ltx_core.memory.estimate import LoraFootprint

    per_block: dict[int, int] = {}
    largest_layer = count = 0
    for path in paths:
        count += 1
        file = LoraFile(path)
        for module, (a_key, b_key) in file.modules.items():
            (rank, in_features), (out_features, _) = file.file.info(a_key).shape, file.file.info(b_key).shape
            largest_layer = max(largest_layer, in_features * out_features)
            match = _BLOCK_LAYER.match(module)
            if match is not None:
                index = int(match.group(1))
                per_block[index] = per_block.get(index, 0) + rank * (in_features + out_features)
        file.file.close()
    return LoraFootprint(sum(per_block.values()), max(per_block.values(), default=0), largest_layer, count)


FUSED_METADATA_KEY = "ltx_mlx_fused_loras"


@dataclass(frozen=True)
class FusedLora:
    """A LoRA that ``convert`` fused into a checkpoint's weights: file name, content identity
    (``LoraFile.identity``) and strength."""

    file: str
    identity: str
    strength: float

    def describe(self) -> dict:
        return {"file": self.file, "identity": self.identity, "strength": self.strength}


def write_fused_metadata(metadata: dict[str, str], fused: Sequence[FusedLora]) -> dict[str, str]:
    return {**metadata, FUSED_METADATA_KEY: json.dumps([lora.describe() for lora in fused])}


def fused_loras(file: SafetensorsFile) -> tuple[FusedLora, ...]:
    """The LoRAs fused into a converted checkpoint (none for other files)."""
    raw = file.metadata.get(FUSED_METADATA_KEY)
    if raw is None:
        return ()
    try:
        return tuple(FusedLora(str(e["file"]), str(e["identity"]), float(e["strength"])) for e in json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{file.name}: metadata '{FUSED_METADATA_KEY}' is malformed ({exc}); convert the checkpoint again."
        ) from None


def _strip_prefix(key: str) -> str:
    for prefix in KEY_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def reference_downscale_factor(loras: Iterable[LoraSpec | LoraFile | str | os.PathLike]) -> int:
    """The reference downscale factor shared by IC-LoRAs (1 when none sets one); LoRAs that ask for
    different factors cannot be combined (as in ltx-pipelines ``ICLoraPipeline``)."""
    factor, source = 1, ""
    for lora in loras:
        file = _open(lora)
        scale = file.reference_downscale_factor
        if scale != 1:
            if factor not in (1, scale):
                raise LoraError(
                    f"{file.name} asks for {REFERENCE_DOWNSCALE_KEY} = {scale} but {source} asks for {factor}; "
                    "LoRAs trained with different reference scales cannot be combined."
                )
            factor, source = scale, file.name
    return factor


def _open(lora: LoraSpec | LoraFile | str | os.PathLike) -> LoraFile:
    if isinstance(lora, LoraFile):
        return lora
    return LoraFile(lora.path if isinstance(lora, LoraSpec) else lora)


@dataclass
class LoraPlan:
    """Where one file's modules go in a model: ``targets`` maps module -> layer path."""

    file: LoraFile
    strength: float
    targets: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def plan_lora(file: LoraFile, strength: float, model: LTXModel) -> LoraPlan:
    """Check every module of ``file`` against ``model``; one LoraError lists what does not fit."""
    layers = {path: m for path, m in model.named_modules() if isinstance(m, (nn.Linear, nn.QuantizedLinear))}
    plan = LoraPlan(file, float(strength))
    connectors, audio, unknown, wrong = [], [], [], []
    for module in sorted(file.modules):
        if module.startswith(CONNECTOR_PREFIXES):
            connectors.append(module)
            continue
        name = param_name(f"{module}.weight", model.with_audio)
        if name is None:
            audio.append(module)
            continue
        path = name[: -len(".weight")]
        layer = layers.get(path)
        if layer is None:
            unknown.append(module)
            continue
        a, b = (file.file.info(key).shape for key in file.modules[module])
        in_features, out_features = layer_features(layer)
        if (a[1], b[0]) != (in_features, out_features):
            wrong.append(f"{module}: LoRA {a[1]}->{b[0]}, model {in_features}->{out_features}")
            continue
        plan.targets[module] = path
    problems = []
    if unknown and len(unknown) == len(file.modules):
        problems.append(
            f"none of its {len(unknown)} modules exists in this transformer (e.g. {_shown(unknown)}); "
            "it is probably a LoRA for another model family"
        )
    elif unknown:
        problems.append(
            f"{len(unknown)} of its {len(file.modules)} modules do not exist in this transformer: {_shown(unknown)}"
        )
    if wrong:
        problems.append(
            f"{len(wrong)} modules have the wrong size: {_shown(wrong)}; it was probably trained for another "
            "model size"
        )
    if problems:
        raise LoraError(
            f"{file.name} does not fit this LTX-2 transformer: " + "; ".join(problems) + ". Use a LoRA trained for "
            "the LTX-2 model this checkpoint holds."
        )
    if connectors:
        plan.notices.append(
            f"{file.name}: {len(connectors)} text-connector modules ignored (LoRAs apply to the transformer only, "
            "as in ltx-core)."
        )
    if audio:
        plan.notices.append(f"{file.name}: {len(audio)} audio modules ignored (video-only transformer).")
    if file.alpha_keys:
        plan.notices.append(
            f"{file.name}: {len(file.alpha_keys)} alpha tensors ignored (ltx-core scales LoRAs by strength only)."
        )
    return plan


class AppliedLoras:
    """LoRAs applied to a transformer; ``remove()`` (or leaving a ``with`` block) undoes them."""

    def __init__(self, model: LTXModel, plans: list[LoraPlan]):
        self.model = model
        self.plans = plans
        self.owner = next(_owners)
        self.fused_layers: list[str] = []
        self.side_path_layers: list[str] = []
        self.active = False
        # Block layers of a streamed model: {block index: {layer path inside the block: targets}},
        # applied by the streamer each time the block is loaded.
        self.streamed: dict[int, dict[str, list[tuple[LoraPlan, str]]]] = {}
        self._streamer = None

    @property
    def notices(self) -> list[str]:
        return [notice for plan in self.plans for notice in plan.notices]

    @property
    def files(self) -> list[LoraFile]:
        return [plan.file for plan in self.plans]

    def _targets_by_layer(self) -> dict[str, list[tuple[LoraPlan, str]]]:
        grouped: dict[str, list[tuple[LoraPlan, str]]] = {}
        for plan in self.plans:
            if plan.strength != 0:
                for module, path in plan.targets.items():
                    grouped.setdefault(path, []).append((plan, module))
        return grouped

    @staticmethod
    def _parts(targets: list[tuple[LoraPlan, str]]) -> list[LowRank]:
        # Read per layer so that only one layer's LoRA matrices are in memory at a time.
        return [LowRank(*plan.file.pair(module), plan.strength) for plan, module in targets]

    def _apply(self) -> None:
        from ltx_core.loader.streaming import BlockStreamer

        layers = dict(self.model.named_modules())
        streamer = self.model.block_hook if isinstance(self.model.block_hook, BlockStreamer) else None
        for path, targets in self._targets_by_layer().items():
            match = _BLOCK_LAYER.match(path) if streamer is not None else None
            if match is not None:
                self.streamed.setdefault(int(match.group(1)), {})[match.group(2)] = targets
                continue
            layer = layers[path]
            if isinstance(layer, nn.QuantizedLinear):
                add_side_path(layer, self.owner, self._parts(targets))
                self.side_path_layers.append(path)
            else:
                fuse_into_linear(layer, self._parts(targets))
                self.fused_layers.append(path)
        if streamer is not None and self.streamed:
            streamer.loras.append(self)
            self._streamer = streamer
        self.active = True
        self.model.clear_run_cache()

    def apply_to_block(self, block: nn.Module) -> None:
        """Streaming: put these LoRAs into ``block`` right after its weights were loaded."""
        layers = dict(block.named_modules())
        for path, targets in self.streamed.get(block.index, {}).items():
            layer = layers[path]
            if isinstance(layer, nn.QuantizedLinear):
                add_side_path(layer, self.owner, self._parts(targets))
            else:
                fuse_into_linear(layer, self._parts(targets))

    def remove_from_block(self, block: nn.Module) -> None:
        """Streaming: before ``block`` is released (fused weights go with its weights)."""
        layers = dict(block.named_modules())
        for path in self.streamed.get(block.index, {}):
            remove_side_path(layers[path], self.owner)

    def remove(self) -> None:
        """Take these LoRAs out of the model (a no-op the second time)."""
        if not self.active:
            return
        layers = dict(self.model.named_modules())
        fused = set(self.fused_layers)
        for path, targets in self._targets_by_layer().items():
            if path in fused:
                fuse_into_linear(layers[path], self._parts(targets), sign=-1.0)
        for path in self.side_path_layers:
            remove_side_path(layers[path], self.owner)
        if self._streamer is not None:
            self._streamer.loras.remove(self)
            self._streamer = None
        self.fused_layers, self.side_path_layers, self.streamed = [], [], {}
        self.active = False
        self.model.clear_run_cache()

    def __enter__(self) -> "AppliedLoras":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def apply_loras(
    model: LTXModel | X0Model, loras: Sequence[LoraSpec | tuple[str | os.PathLike, float] | str | os.PathLike]
) -> AppliedLoras:
    """Apply LoRAs (each a ``LoraSpec``, a ``(path, strength)`` pair or a path at strength 1.0).

    Every file is validated against the model before any weight changes. Strength 0 leaves the
    model untouched. Notices (ignored connector/audio modules, alphas) are logged and kept in
    ``AppliedLoras.notices``. Use as ``with apply_loras(model, specs): ...`` to remove on exit.
    """
    transformer = model.velocity_model if isinstance(model, X0Model) else model
    specs = [lora_spec(lora) for lora in loras]
    plans = [plan_lora(LoraFile(spec.path), spec.strength, transformer) for spec in specs]
    applied = AppliedLoras(transformer, plans)
    for notice in applied.notices:
        logger.warning(notice)
    applied._apply()
    return applied


def lora_spec(lora: LoraSpec | tuple[str | os.PathLike, float] | str | os.PathLike) -> LoraSpec:
    if isinstance(lora, tuple):
        lora = LoraSpec(*lora)
    elif isinstance(lora, (str, os.PathLike)):
        lora = LoraSpec(lora)
    elif not isinstance(lora, LoraSpec):
        raise TypeError(f"expected a LoraSpec, a (path, strength) pair or a path; got {type(lora).__name__}")
    try:
        strength = float(lora.strength)
    except (TypeError, ValueError):
        strength = math.nan
    if not math.isfinite(strength):
        raise LoraError(f"{Path(lora.path).name}: LoRA strength {lora.strength!r} is not a finite number.")
    return LoraSpec(lora.path, strength)
