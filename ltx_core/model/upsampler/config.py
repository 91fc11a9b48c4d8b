"""Latent upsampler config: the flat JSON ``config`` of an upsampler file's safetensors metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ltx_core.config_base import ConfigBase, require_positive_int
from ltx_core.errors import ConfigError

# SpatialRationalResampler's scale -> (up, down) factors.
RATIONAL_SCALES = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}


@dataclass(frozen=True)
class UpsamplerConfig(ConfigBase):
    SUPPORTED_VALUES: ClassVar[dict] = {
        "dims": (2, 3),
        "spatial_upsample": (True, False),
        "temporal_upsample": (True, False),
        "rational_resampler": (True, False),
    }

    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False
    spatial_scale: float = 2.0
    rational_resampler: bool = False

    @property
    def kind(self) -> str:
        if self.spatial_upsample and self.temporal_upsample:
            return "spatiotemporal"
        return "spatial" if self.spatial_upsample else "temporal"

    def validate(self, where: str) -> None:
        for key in ("in_channels", "mid_channels"):
            require_positive_int(where, key, getattr(self, key))
        if not isinstance(self.num_blocks_per_stage, int) or self.num_blocks_per_stage < 0:
            raise ConfigError(
                f"{where}: num_blocks_per_stage must be a non-negative integer, got {self.num_blocks_per_stage!r}."
            )
        if not (self.spatial_upsample or self.temporal_upsample):
            raise ConfigError(f"{where}: spatial_upsample and temporal_upsample are both false; one must be true.")
        if self.mid_channels % 32 != 0:
            raise ConfigError(
                f"{where}: mid_channels = {self.mid_channels} must be a multiple of 32 (GroupNorm groups)."
            )
        if self.dims == 2 and (self.temporal_upsample or self.rational_resampler):
            # ltx-core's 2-D path feeds 4-D tensors to these 3-D-only modules and fails.
            raise ConfigError(
                f"{where}: dims = 2 cannot be combined with temporal_upsample or rational_resampler "
                "(ltx-core fails on it too)."
            )
        if self.rational_resampler and self.spatial_upsample and not self.temporal_upsample:
            if float(self.spatial_scale) not in RATIONAL_SCALES:
                supported = ", ".join(str(s) for s in RATIONAL_SCALES)
                raise ConfigError(
                    f"{where}: spatial_scale = {self.spatial_scale!r} is not supported (supported: {supported})."
                )
