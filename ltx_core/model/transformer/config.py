"""Transformer config, read from the checkpoint's ``config["transformer"]`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ltx_core.config_base import ConfigBase, require_positive_int
from ltx_core.errors import ConfigError

ATTENTION_TYPES = ("default", "pytorch", "xformers", "flash_attention_3")


@dataclass(frozen=True)
class TransformerConfig(ConfigBase):
    SECTION: ClassVar[str] = "transformer"
    # Values the official configurator checks; every other value is a different architecture.
    SUPPORTED_VALUES: ClassVar[dict] = {
        "dropout": (0.0,),
        "attention_bias": (True,),
        "num_vector_embeds": (None,),
        "activation_fn": ("gelu-approximate",),
        "num_embeds_ada_norm": (1000,),
        "use_linear_projection": (False,),
        "only_cross_attention": (False,),
        "cross_attention_norm": (True,),
        "double_self_attention": (False,),
        "upcast_attention": (False,),
        "standardization_norm": ("rms_norm",),
        "norm_elementwise_affine": (False,),
        "qk_norm": ("rms_norm",),
        "positional_embedding_type": ("rope",),
        "share_ff": (False,),
        "av_cross_ada_norm": (True,),
        "use_middle_indices_grid": (True,),
        "rope_type": ("interleaved", "split"),
        "attention_type": ATTENTION_TYPES,
        "frequencies_precision": ("float32", "float64", False, None),
        "ff_bias": (True, False),
        "audio_ff_bias": (True, False),
        "use_keyframes_abs_pos_embedding": (True, False),
        "use_prompt_adaln_single": (True, False),
    }

    num_attention_heads: int = 32
    attention_head_dim: int = 128
    in_channels: int = 128
    out_channels: int = 128
    num_layers: int = 48
    cross_attention_dim: int = 4096
    caption_channels: int | None = None
    norm_eps: float = 1e-6
    attention_type: str = "default"
    positional_embedding_theta: float = 10000.0
    positional_embedding_max_pos: list[int] = field(default_factory=lambda: [20, 2048, 2048])
    timestep_scale_multiplier: float = 1000
    use_middle_indices_grid: bool = True
    audio_num_attention_heads: int = 32
    audio_attention_head_dim: int = 64
    audio_in_channels: int = 128
    audio_out_channels: int = 128
    audio_cross_attention_dim: int = 2048
    audio_positional_embedding_max_pos: list[int] = field(default_factory=lambda: [20])
    # The official default is 1; the released checkpoints say 1000. A default of 1 silences the
    # audio-video cross-attention gates, so the value must come from the file.
    av_ca_timestep_scale_multiplier: float = 1
    rope_type: str = "interleaved"
    frequencies_precision: str | bool | None = False
    apply_gated_attention: bool = False
    cross_attention_adaln: bool = False
    caption_proj_before_connector: bool = False
    use_audio_video_cross_attention: bool | None = None
    # LTX-2.5: the video feed-forward has no biases (the audio one keeps them unless
    # audio_ff_bias says otherwise); a learned embedding marks single-pixel-frame tokens.
    ff_bias: bool = True
    audio_ff_bias: bool = True
    use_keyframes_abs_pos_embedding: bool = False
    # False drops the prompt-side AdaLN MLP: the cross-attention K/V modulation is the static
    # per-block table alone (timestep-independent).
    use_prompt_adaln_single: bool = True
    # Not in the file's config: the model version's (``VersionSpec.per_token_cross_modulation``),
    # set by ``loader.components.transformer_config``.
    per_token_cross_modulation: bool = False

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def audio_inner_dim(self) -> int:
        return self.audio_num_attention_heads * self.audio_attention_head_dim

    @property
    def double_precision_rope(self) -> bool:
        return self.frequencies_precision == "float64"

    @property
    def has_caption_projection(self) -> bool:
        return not self.caption_proj_before_connector

    @property
    def prompt_adaln(self) -> bool:
        """The timestep-conditioned prompt AdaLN MLP (cross-attention AdaLN only)."""
        return self.cross_attention_adaln and self.use_prompt_adaln_single

    @property
    def adaln_coefficient(self) -> int:
        """AdaLN values per block: shift/scale/gate for self-attention and feed-forward (+3 with
        cross-attention AdaLN)."""
        return 9 if self.cross_attention_adaln else 6

    def validate(self, where: str) -> None:
        for key in (
            "num_attention_heads",
            "attention_head_dim",
            "in_channels",
            "out_channels",
            "num_layers",
            "audio_num_attention_heads",
            "audio_attention_head_dim",
            "audio_in_channels",
            "audio_out_channels",
        ):
            require_positive_int(where, key, getattr(self, key))
        if len(self.positional_embedding_max_pos) != 3:
            raise ConfigError(
                f"{where}: positional_embedding_max_pos must have 3 entries (time, height, width), "
                f"got {self.positional_embedding_max_pos!r}."
            )
        if len(self.audio_positional_embedding_max_pos) != 1:
            raise ConfigError(
                f"{where}: audio_positional_embedding_max_pos must have 1 entry, "
                f"got {self.audio_positional_embedding_max_pos!r}."
            )
        if self.has_caption_projection and self.caption_channels is None:
            raise ConfigError(
                f"{where}: caption_channels is missing; it is needed to build the caption projection "
                "(this is not an LTX-2 19B transformer config)."
            )
        for dim_key, heads_key in (
            ("inner_dim", "num_attention_heads"),
            ("audio_cross_attention_dim", "audio_num_attention_heads"),
        ):
            dim = getattr(self, dim_key)
            if dim % (2 * getattr(self, heads_key)) != 0:
                raise ConfigError(f"{where}: {dim_key} = {dim} is not divisible by 2 x {heads_key}.")

    def require_audio_video(self, where: str) -> None:
        """An audio-video model needs the config to say so (LTX-Video 0.9 and others do not)."""
        if self.use_audio_video_cross_attention is not True:
            raise ConfigError(
                f"{where}: use_audio_video_cross_attention is {self.use_audio_video_cross_attention!r}, so this is "
                "not an LTX-2 audio-video transformer (an LTX-Video 0.9 checkpoint or another model?). "
                "Use an official LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
            )
