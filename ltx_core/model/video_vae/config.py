"""Video VAE config, read from the checkpoint's ``config["vae"]`` section.

Defaults are those ltx-core 1.0.0 uses for absent keys.

Padding: ltx-core 1.0.0 reads one key, ``spatial_padding_mode``, for both halves, with
different defaults (encoder ``zeros``, decoder ``reflect``). Some copies of the LTX-2.3 config
spell it per half instead (``encoder_spatial_padding_mode`` / ``decoder_spatial_padding_mode``),
which ltx-core 1.0.0 ignores; this port honours both spellings, the per-half key winning, and
``padding_source`` says which key decided each half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ltx_core.config_base import ConfigBase, require_non_negative_int, require_positive_int
from ltx_core.errors import ConfigError

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
NORM_LAYERS = ("pixel_norm", "group_norm")

# Block name -> stride (time, height, width) of the resampling it does.
ENCODER_BLOCKS: dict[str, tuple[int, int, int]] = {
    "res_x": (1, 1, 1),
    "res_x_y": (1, 1, 1),
    "compress_time": (2, 1, 1),
    "compress_space": (1, 2, 2),
    "compress_all": (2, 2, 2),
    "compress_all_x_y": (2, 2, 2),
    "compress_all_res": (2, 2, 2),
    "compress_space_res": (1, 2, 2),
    "compress_time_res": (2, 1, 1),
}
DECODER_BLOCKS: dict[str, tuple[int, int, int]] = {
    "res_x": (1, 1, 1),
    "res_x_y": (1, 1, 1),
    "compress_time": (2, 1, 1),
    "compress_space": (1, 2, 2),
    "compress_all": (2, 2, 2),
}


def block_params(params: Any) -> dict[str, Any]:
    """A block's parameters as a dict (the config may give a bare ``num_layers`` int)."""
    return {"num_layers": params} if isinstance(params, int) else dict(params)


@dataclass(frozen=True)
class VideoVAEConfig(ConfigBase):
    SECTION: ClassVar[str] = "vae"
    # dims 2 and (2, 1) build 2-D / dual convolutions that the LTX-2 VAE never uses; "none"
    # log-variance halves the mean channels in ltx-core and then fails on the statistics.
    SUPPORTED_VALUES: ClassVar[dict] = {
        "dims": (3,),
        "norm_layer": NORM_LAYERS,
        "latent_log_var": ("uniform", "per_channel", "constant"),
        "spatial_padding_mode": PADDING_MODES,
        "encoder_spatial_padding_mode": PADDING_MODES,
        "decoder_spatial_padding_mode": PADDING_MODES,
        "causal_decoder": (True, False),
        "timestep_conditioning": (True, False),
    }

    dims: int = 3
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 128
    encoder_blocks: list = field(default_factory=list)
    decoder_blocks: list = field(default_factory=list)
    patch_size: int = 4
    norm_layer: str = "pixel_norm"
    latent_log_var: str = "uniform"
    spatial_padding_mode: str | None = None
    encoder_spatial_padding_mode: str | None = None
    decoder_spatial_padding_mode: str | None = None
    causal_decoder: bool = False
    timestep_conditioning: bool = True
    decoder_base_channels: int = 128

    @property
    def encoder_padding_mode(self) -> str:
        return self.encoder_spatial_padding_mode or self.spatial_padding_mode or "zeros"

    @property
    def decoder_padding_mode(self) -> str:
        return self.decoder_spatial_padding_mode or self.spatial_padding_mode or "reflect"

    def padding_source(self, half: str) -> str:
        """The config key that set ``half``'s ("encoder"/"decoder") padding, or "default"."""
        if half not in ("encoder", "decoder"):
            raise ValueError(f"half must be 'encoder' or 'decoder', got {half!r}")
        for key in (f"{half}_spatial_padding_mode", "spatial_padding_mode"):
            if getattr(self, key) is not None:
                return key
        return "default"

    def encoder_scale(self) -> tuple[int, int, int]:
        """(time, height, width) compression of the encoder: patchify, then its blocks."""
        return _total_scale(self.encoder_blocks, ENCODER_BLOCKS, self.patch_size)

    def decoder_scale(self) -> tuple[int, int, int]:
        return _total_scale(self.decoder_blocks, DECODER_BLOCKS, self.patch_size)

    def validate(self, where: str) -> None:
        for key in ("in_channels", "out_channels", "latent_channels", "patch_size", "decoder_base_channels"):
            require_positive_int(where, key, getattr(self, key))
        for key, known in (("encoder_blocks", ENCODER_BLOCKS), ("decoder_blocks", DECODER_BLOCKS)):
            blocks = getattr(self, key)
            if not isinstance(blocks, (list, tuple)):
                raise ConfigError(f"{where}: {key} must be a list of [name, params] pairs, got {blocks!r}.")
            for index, entry in enumerate(blocks):
                if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                    raise ConfigError(f"{where}: {key}[{index}] = {entry!r} is not a [name, params] pair.")
                name, params = entry
                if name not in known:
                    raise ConfigError(
                        f"{where}: {key}[{index}] = {name!r} is not supported by this port "
                        f"(supported: {', '.join(known)})."
                    )
                if not isinstance(params, (int, dict)):
                    raise ConfigError(
                        f"{where}: {key}[{index}] parameters must be an int or an object, got {params!r}."
                    )
                params = block_params(params)
                if name == "res_x":  # 0 layers is an identity stage (ltx-core builds an empty block)
                    require_non_negative_int(where, f"{key}[{index}].num_layers", params.get("num_layers"))
                if "multiplier" in params:
                    require_positive_int(where, f"{key}[{index}].multiplier", params["multiplier"])


def _total_scale(blocks: list, known: dict[str, tuple[int, int, int]], patch_size: int) -> tuple[int, int, int]:
    strides = [known[name] for name, _ in blocks]
    return (
        math.prod(s[0] for s in strides),
        patch_size * math.prod(s[1] for s in strides),
        patch_size * math.prod(s[2] for s in strides),
    )
