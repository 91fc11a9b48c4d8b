"""Load the LTX-2.5 diffusion video VAE decoder (``vae/ltx-2.5-*-video-vae-*.safetensors``).

Key transforms of ltx-core 1.2.0's diffusion-decoder loader, done tensor by tensor:

- keys are read under ``vae.decoder.`` or bare ``decoder.`` (statistics under
  ``vae.per_channel_statistics.`` or bare ``per_channel_statistics.``);
- fused ``...attn.qkv.{weight,bias}`` is split in thirds into ``to_q`` / ``to_k`` / ``to_v``;
- ``t_embedder.mlp.{0,2}`` are the timestep embedder's ``linear_1`` / ``linear_2``;
- static gates ``gate_msa`` / ``gate_mlp`` / ``gate_ctx`` are folded into ``attn.proj``,
  ``mlp.w_down`` and ``context_proj``: ``W' = g[:, None] * W`` and ``b' = g * b``, the product in
  float32 and rounded back to the file's dtype (as ltx-core does), then the gates are dropped;
- ``coarse_*`` preview-head weights, if a file carries them, are dropped: ltx-core drops them too
  and the decoder never uses them.

Every other key must be a decoder parameter and every parameter must come from the file.
The file's encoder (``vae.encoder.*``) is the conv VAE encoder, loaded by ``loader.video_vae``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import mlx.core as mx

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.loader.components import open_checkpoint, resolve_dtype
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.video_vae.diffusion import DIFFUSION_VAE_CLASS, DiffusionDecoderConfig, DiffusionVideoDecoder
from ltx_core.model.video_vae.weights import statistics_param

DECODER_PREFIXES = ("vae.decoder.", "decoder.")
STATISTICS_PREFIXES = ("vae.per_channel_statistics.", "per_channel_statistics.")
COARSE_PREFIX = "coarse_"
# Linear leaf -> the sibling gate folded into it.
GATE_FOLDS = (
    (".attn.proj.weight", ".gate_msa"),
    (".attn.proj.bias", ".gate_msa"),
    (".mlp.w_down.weight", ".gate_mlp"),
    (".mlp.w_down.bias", ".gate_mlp"),
    (".context_proj.weight", ".gate_ctx"),
    (".context_proj.bias", ".gate_ctx"),
)
GATE_SUFFIXES = (".gate_msa", ".gate_mlp", ".gate_ctx")
RENAMES = (("t_embedder.mlp.0.", "t_embedder.linear_1."), ("t_embedder.mlp.2.", "t_embedder.linear_2."))
_FILE_DTYPES = {"BF16": mx.bfloat16, "F16": mx.float16, "F32": mx.float32}


def is_diffusion_video_vae(checkpoint: LTXCheckpoint | str | os.PathLike) -> bool:
    """Whether the file's ``vae._class_name`` names the diffusion VAE (ltx-core's own test)."""
    checkpoint = open_checkpoint(checkpoint)
    return checkpoint.config.get("vae", {}).get("_class_name") == DIFFUSION_VAE_CLASS


def diffusion_decoder_config(checkpoint: LTXCheckpoint) -> DiffusionDecoderConfig:
    section = checkpoint.section("vae")
    name = section.get("_class_name")
    if name != DIFFUSION_VAE_CLASS:
        raise ConfigError(
            f"{checkpoint.name} config: vae._class_name = {name!r} is not {DIFFUSION_VAE_CLASS!r}; "
            "load a conv video VAE with ltx_core.loader.video_vae.load_video_decoder."
        )
    return DiffusionDecoderConfig.from_vae_section(section, source=f"{checkpoint.name} config")


def _prefix(keys: list[str], prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if any(k.startswith(prefix) for k in keys):
            return prefix
    return None


def _fold(file: SafetensorsFile, key: str, gate_key: str, dtype: mx.Dtype) -> Callable[[mx.array], mx.array]:
    stored = _FILE_DTYPES.get(file.info(key).dtype, mx.float32)

    def transform(_: mx.array) -> mx.array:
        value, gate = file.load(key, mx.float32), file.load(gate_key, mx.float32)
        folded = gate[:, None] * value if value.ndim == 2 else gate * value
        return folded.astype(stored).astype(dtype)

    return transform


def _third(index: int) -> Callable[[mx.array], mx.array]:
    def transform(value: mx.array) -> mx.array:
        if value.shape[0] % 3:
            raise CheckpointError(f"a fused qkv tensor of shape {tuple(value.shape)} does not split in thirds")
        d = value.shape[0] // 3
        return value[index * d : (index + 1) * d]

    return transform


def decoder_mapping(checkpoint: LTXCheckpoint, dtype: mx.Dtype = mx.float32) -> dict[str, TensorSource]:
    """Module parameter -> file tensor (with its transform) for the diffusion decoder."""
    keys = checkpoint.file.keys()
    prefix = _prefix(keys, DECODER_PREFIXES)
    if prefix is None:
        raise CheckpointError(
            f"{checkpoint.name} has no video VAE decoder weights (no keys under {' or '.join(DECODER_PREFIXES)})."
        )
    shorts = {k[len(prefix) :]: k for k in keys if k.startswith(prefix)}
    gates = {s: full for s, full in shorts.items() if s.endswith(GATE_SUFFIXES)}
    used_gates: set[str] = set()
    mapping: dict[str, TensorSource] = {}
    for short, full in shorts.items():
        if short.startswith(COARSE_PREFIX) or short in gates:
            continue  # coarse preview head: unused, as in ltx-core; gates: folded below
        name = short
        for old, new in RENAMES:
            if name.startswith(old):
                name = new + name[len(old) :]
        if name.endswith((".qkv.weight", ".qkv.bias")):
            base, leaf = name.rsplit(".qkv.", 1)
            for i, part in enumerate(("to_q", "to_k", "to_v")):
                mapping[f"{base}.{part}.{leaf}"] = TensorSource(full, _third(i))
            continue
        transform = None
        for leaf, gate_suffix in GATE_FOLDS:
            gate = short[: -len(leaf)] + gate_suffix if short.endswith(leaf) else None
            if gate in gates:
                transform = _fold(checkpoint.file, full, gates[gate], dtype)
                used_gates.add(gate)
                break
        mapping[name] = TensorSource(full, transform)
    for gate in set(gates) - used_gates:  # a gate with nothing to fold into: reported as unexpected
        mapping[gate] = TensorSource(gates[gate])
    stats = _prefix(keys, STATISTICS_PREFIXES)
    for key in (k for k in keys if stats and k.startswith(stats)):
        short = key[len(stats) :]
        try:
            param = statistics_param(short)
        except KeyError:
            param = short
        if param is not None:
            mapping[f"per_channel_statistics.{param}"] = TensorSource(key)
    return mapping


def load_diffusion_video_decoder(
    checkpoint: LTXCheckpoint | str | os.PathLike, dtype: mx.Dtype | str = mx.float32
) -> DiffusionVideoDecoder:
    """The LTX-2.5 diffusion video decoder with its latent statistics, weights loaded strictly."""
    checkpoint = open_checkpoint(checkpoint)
    dtype = resolve_dtype(dtype)
    model = DiffusionVideoDecoder(diffusion_decoder_config(checkpoint))
    mapping = decoder_mapping(checkpoint, dtype)
    load_module_weights(model, checkpoint.file, mapping, dtype, "diffusion video VAE decoder")
    model.eval()
    return model
