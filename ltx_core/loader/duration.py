"""Load the LTX-2.5 duration head (``model_patches/ltx-2.5-*-duration-head-*.safetensors``).

Its tensors sit under ``duration_head.`` (PyTorch ``nn.MultiheadAttention`` names kept); the
config is the JSON ``config`` metadata (``transformer`` and ``duration_head`` sections). The
real file's metadata is not verified (the fixture README marks it as guessed): absent sections
or keys take ltx-core's defaults, and sizes that then disagree with the tensors are reported
by the strict loader, naming the file.
"""

from __future__ import annotations

import json
import os

import mlx.core as mx

from ltx_core.errors import CheckpointError
from ltx_core.loader.components import resolve_dtype
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.duration import DurationHead, DurationHeadConfig, DurationPredictor

DURATION_HEAD_PREFIX = "duration_head."


def has_duration_head(path: str | os.PathLike | SafetensorsFile) -> bool:
    file = path if isinstance(path, SafetensorsFile) else SafetensorsFile(path)
    try:
        return any(k.startswith(DURATION_HEAD_PREFIX) for k in file.keys())
    finally:
        if file is not path:
            file.close()


def duration_head_config(file: SafetensorsFile) -> DurationHeadConfig:
    raw = file.metadata.get("config")
    try:
        config = json.loads(raw) if raw is not None else {}
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file.name}: its metadata 'config' is not valid JSON ({exc}).") from None
    return DurationHeadConfig.from_metadata(config, source=f"{file.name} config")


def load_duration_head(path: str | os.PathLike | SafetensorsFile, dtype: mx.Dtype | str = mx.float32) -> DurationHead:
    """The duration head, built from the file's config, weights loaded strictly (other keys of the
    file are ignored, so the head may also sit inside a larger checkpoint)."""
    file = path if isinstance(path, SafetensorsFile) else SafetensorsFile(path)
    try:
        keys = {k[len(DURATION_HEAD_PREFIX) :]: k for k in file.keys() if k.startswith(DURATION_HEAD_PREFIX)}
        if not keys:
            raise CheckpointError(
                f"{file.name} has no duration-head weights ({DURATION_HEAD_PREFIX}*): automatic duration needs the "
                "LTX-2.5 duration-head file (model_patches/ltx-2.5-*-duration-head-*.safetensors)."
            )
        head = DurationHead(duration_head_config(file))
        mapping = {name: TensorSource(key) for name, key in keys.items()}
        load_module_weights(head, file, mapping, resolve_dtype(dtype), "duration head")
    finally:
        if file is not path:
            file.close()
    head.eval()
    return head


def load_duration_predictor(
    path: str | os.PathLike | None, dtype: mx.Dtype | str = mx.float32
) -> DurationPredictor | None:
    """A predictor, or None without a file or when the file has no duration head (as the official
    ``DurationPredictor.from_checkpoint``: checkpoints before LTX-2.5 have none)."""
    if path is None or not has_duration_head(path):
        return None
    return DurationPredictor(load_duration_head(path, dtype))
