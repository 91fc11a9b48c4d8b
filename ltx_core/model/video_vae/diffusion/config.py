"""Config of the LTX-2.5 diffusion video VAE decoder (``_class_name: CausalDiffusionVAE``).

Read from the checkpoint's ``vae.decoder`` section (falling back to the ``vae`` section itself,
as ltx-core 1.2.0 does); ``model_output_type`` is a sibling of ``decoder`` at the ``vae`` level.
Absent keys take ltx-core's class defaults (the production "L" layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ltx_core.config_base import ConfigBase, require_positive_int
from ltx_core.errors import ConfigError

DIFFUSION_VAE_CLASS = "CausalDiffusionVAE"
# The pipeline is hard-wired to five stages: three full-volume ones, the tiled stage 4 and stage 5.
NUM_STAGES = 5


@dataclass(frozen=True)
class DiffusionDecoderConfig(ConfigBase):
    SECTION: ClassVar[str] = "vae.decoder"
    SUPPORTED_VALUES: ClassVar[dict] = {"model_output_type": ("v", "x0")}

    in_channels: int = 128
    out_channels: int = 3
    patch_size: int = 4
    head_dim: int = 64
    t_emb_dim: int = 384
    stage_channels: tuple[int, ...] = (1024, 512, 256, 256, 128)
    stage_depths: tuple[int, ...] = (4, 6, 4, 2, 8)
    stage_kernels: tuple[tuple[int, int, int], ...] = ((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5), (3, 3, 3))
    upsamples: tuple[tuple[tuple[int, int, int], int], ...] = (
        ((1, 2, 2), 2),
        ((2, 1, 1), 2),
        ((2, 2, 2), 1),
        ((2, 2, 2), 2),
    )
    stage5_kernel: tuple[int, int, int] = (3, 7, 7)
    stage5_channels: int | None = None
    default_num_inference_steps: int = 2
    timestep_scale_multiplier: float = 1.0
    model_output_type: str = "v"

    @classmethod
    def from_vae_section(cls, vae: Mapping[str, Any], source: str = "checkpoint config") -> DiffusionDecoderConfig:
        """Build from the whole ``vae`` section (nested ``decoder`` or flat)."""
        if not isinstance(vae, Mapping):
            raise ConfigError(f"{source}: section 'vae' must be a JSON object")
        decoder = vae.get("decoder", vae)
        if not isinstance(decoder, Mapping):
            raise ConfigError(f"{source}: section 'vae.decoder' must be a JSON object")
        data = dict(decoder)
        if "head_dim" not in data and "na_head_dim" in data:
            data["head_dim"] = data["na_head_dim"]
        data.pop("model_output_type", None)  # ltx-core reads it at the vae level only
        if "model_output_type" in vae:
            data["model_output_type"] = vae["model_output_type"]
        for key in ("stage_channels", "stage_depths"):
            if key in data:
                data[key] = _int_tuple(source, key, data[key])
        if "stage_kernels" in data:
            data["stage_kernels"] = tuple(
                _triple(source, "stage_kernels", k) for k in _list(source, "stage_kernels", data["stage_kernels"])
            )
        if "stage5_kernel" in data:
            data["stage5_kernel"] = _triple(source, "stage5_kernel", data["stage5_kernel"])
        if "upsamples" in data:
            data["upsamples"] = tuple(_upsample(source, u) for u in _list(source, "upsamples", data["upsamples"]))
        return cls.from_dict(data, source=source)

    @property
    def context_channels(self) -> int:
        return self.stage_channels[-1]

    @property
    def diffusion_channels(self) -> int:
        return self.stage5_channels if self.stage5_channels is not None else self.stage_channels[-1]

    @property
    def noised_pixel_channels(self) -> int:
        return self.out_channels * self.patch_size**2

    def validate(self, where: str) -> None:
        for key in (
            "in_channels",
            "out_channels",
            "patch_size",
            "head_dim",
            "t_emb_dim",
            "default_num_inference_steps",
        ):
            require_positive_int(where, key, getattr(self, key))
        if self.head_dim % 8 != 0:
            raise ConfigError(f"{where}: head_dim = {self.head_dim} is not supported (RoPE splits it; multiple of 8).")
        for key in ("stage_channels", "stage_depths", "stage_kernels"):
            if len(getattr(self, key)) != NUM_STAGES:
                raise ConfigError(f"{where}: {key} = {list(getattr(self, key))} must have {NUM_STAGES} entries.")
        if len(self.upsamples) != NUM_STAGES - 1:
            raise ConfigError(f"{where}: upsamples = {self.upsamples} must have {NUM_STAGES - 1} entries.")
        channels = [*self.stage_channels, self.diffusion_channels]
        for c in channels:
            require_positive_int(where, "stage_channels", c)
            if c % self.head_dim:
                raise ConfigError(
                    f"{where}: stage_channels = {list(channels)} must be multiples of head_dim = {self.head_dim}."
                )
        for d in self.stage_depths:
            if not isinstance(d, int) or d < 0:
                raise ConfigError(f"{where}: stage_depths = {list(self.stage_depths)} must be non-negative integers.")
        for kernel in (*self.stage_kernels, self.stage5_kernel):
            if any(k < 1 for k in kernel):
                raise ConfigError(f"{where}: kernel {list(kernel)} must be positive.")
        for i, (stride, reduction) in enumerate(self.upsamples):
            if any(s not in (1, 2) for s in stride):
                raise ConfigError(
                    f"{where}: upsamples[{i}] stride = {list(stride)} is not supported (1 or 2 per axis)."
                )
            expanded = self.stage_channels[i] * stride[0] * stride[1] * stride[2]
            if (
                reduction < 1
                or expanded % reduction
                or expanded // reduction // (stride[0] * stride[1] * stride[2]) != self.stage_channels[i + 1]
            ):
                raise ConfigError(
                    f"{where}: upsamples[{i}] = ({list(stride)}, {reduction}) does not turn "
                    f"{self.stage_channels[i]} channels into stage_channels[{i + 1}] = {self.stage_channels[i + 1]}."
                )
        scale = [1, 1, 1]
        for stride, _ in self.upsamples:
            scale = [a * b for a, b in zip(scale, stride)]
        if scale[0] != 8 or scale[1] * self.patch_size != 32 or scale[2] * self.patch_size != 32:
            raise ConfigError(
                f"{where}: upsamples = {self.upsamples} with patch_size = {self.patch_size} must scale the latent "
                "8x in time and 32x in space, as the LTX latent does."
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decoder": {k: v for k, v in super().to_dict().items() if k != "model_output_type"},
            "model_output_type": self.model_output_type,
        }


def _list(source: str, key: str, value: Any) -> list:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{source}, section 'vae.decoder': {key} = {value!r} must be a list.")
    return list(value)


def _int_tuple(source: str, key: str, value: Any) -> tuple[int, ...]:
    items = _list(source, key, value)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ConfigError(f"{source}, section 'vae.decoder': {key} = {value!r} must be a list of integers.")
    return tuple(items)


def _triple(source: str, key: str, value: Any) -> tuple[int, int, int]:
    items = _int_tuple(source, key, value)
    if len(items) != 3:
        raise ConfigError(f"{source}, section 'vae.decoder': {key} entry {value!r} must have 3 integers (t, h, w).")
    return items  # type: ignore[return-value]


def _upsample(source: str, value: Any) -> tuple[tuple[int, int, int], int]:
    items = _list(source, "upsamples", value)
    if len(items) != 2 or not isinstance(items[1], int):
        raise ConfigError(f"{source}, section 'vae.decoder': upsamples entry {value!r} must be [[t, h, w], reduction].")
    return _triple(source, "upsamples", items[0]), items[1]
