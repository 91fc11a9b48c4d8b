"""Trained modules back into their files, in the official key layout, through the normal loaders.

The loaders map file tensors to module parameters (key renames, conv weights to channels-last,
dropped prefixes). Rather than keep a second, inverse copy of those rules, ``ParameterIndex``
asks the loader itself: it loads a *probe* copy of the file in which every tensor element holds
its own flat position (exact in float32 below 2**24 elements), so each loaded parameter says,
element by element, which file element it came from. Writing a trained module back is then a
scatter into the file's tensors; loading the written file gives the module's values bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx import nn
from mlx.utils import tree_flatten

_EXACT_FLOAT32 = 2**24


def read_file(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    from safetensors import safe_open

    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (a safe_open handle, not a dict)
    return tensors, metadata


def write_file(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None) -> None:
    """Written beside the target and moved into place, so a stop mid-write never leaves half a file."""
    from safetensors.numpy import save_file

    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata=metadata)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@dataclass
class ParameterIndex:
    """For every parameter of one loaded component: the file key and the flat element positions
    (shaped like the parameter) its values come from."""

    sources: dict[str, tuple[str, np.ndarray]]

    @classmethod
    def probe(cls, path: Path, load: Callable[[Path], nn.Module]) -> ParameterIndex:
        tensors, metadata = read_file(path)
        keys = sorted(tensors)
        offsets = np.cumsum([0] + [tensors[k].size for k in keys])
        if offsets[-1] >= _EXACT_FLOAT32:
            raise ValueError(f"{path.name} has {offsets[-1]} elements: too many to probe exactly in float32")
        probe = {
            key: (np.arange(tensors[key].size, dtype=np.float64) + offsets[i])
            .astype(np.float32)
            .reshape(tensors[key].shape)
            for i, key in enumerate(keys)
        }
        with tempfile.TemporaryDirectory(prefix="ltx-probe-") as folder:
            probe_path = Path(folder) / path.name
            write_file(probe_path, probe, metadata)
            module = load(probe_path)
            loaded = {name: np.array(value.astype(mx.float32)) for name, value in tree_flatten(module.parameters())}
        sources = {}
        for name, values in loaded.items():
            positions = values.astype(np.int64)
            if values.size == 0 or not np.array_equal(positions, values):
                raise ValueError(f"{path.name}: the loader changes the values of {name}, so it cannot be written back")
            slot = int(np.searchsorted(offsets, positions.min(), side="right")) - 1
            key = keys[slot]
            local = positions - offsets[slot]
            if local.max() >= tensors[key].size or len(np.unique(local)) != local.size:
                raise ValueError(f"{path.name}: {name} does not come from one file tensor element by element")
            sources[name] = (key, local)
        return cls(sources)

    def scatter(self, module: nn.Module, tensors: dict[str, np.ndarray]) -> None:
        """Write ``module``'s parameters into ``tensors`` (file key -> array), in place."""
        params = dict(tree_flatten(module.parameters()))
        for name, (key, local) in self.sources.items():
            target = tensors[key]
            flat = target.reshape(-1)
            flat[local.reshape(-1)] = np.array(params[name].astype(mx.float32)).reshape(-1).astype(target.dtype)
            tensors[key] = flat.reshape(target.shape)


def save_components(path: Path, parts: list[tuple[nn.Module, ParameterIndex]]) -> None:
    """Rewrite ``path`` with the parameters of ``parts``; tensors no part owns keep their values."""
    tensors, metadata = read_file(path)
    tensors = {key: np.array(value) for key, value in tensors.items()}
    for module, index in parts:
        index.scatter(module, tensors)
    write_file(path, tensors, metadata)
