"""Audio VAE and vocoder configs, read from a checkpoint's ``audio_vae`` and ``vocoder`` sections.

Defaults are those of the official configurators (ltx-core 1.0.0), which apply when a key is
absent from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from ltx_core.config_base import ConfigBase, require_non_negative_int, require_positive_int
from ltx_core.errors import ConfigError

# Not configurable in ltx-core 1.0.0: the decoder's output length assumes 4x time compression.
LATENT_DOWNSAMPLE_FACTOR = 4
# The vocoder's first convolution takes 2 stereo channels x 64 mel bins (hard-coded officially).
VOCODER_IN_CHANNELS = 128
VOCODER_OUT_CHANNELS = 2

CAUSALITY_AXES = ("height", "width", "width-compatibility", None)


@dataclass(frozen=True)
class AudioVAEConfig(ConfigBase):
    """``audio_vae.model.params.ddconfig`` plus the sampling/STFT settings beside it."""

    SECTION: ClassVar[str] = "audio_vae"
    SUPPORTED_VALUES: ClassVar[dict] = {
        "norm_type": ("pixel", "group"),
        "causality_axis": CAUSALITY_AXES,
        "attn_type": ("vanilla", "none"),
        # False selects average pooling in the official encoder, which this port does not implement.
        "resamp_with_conv": (True,),
        # The official encoder always keeps the first half of conv_out's channels as the means.
        "double_z": (True,),
    }

    ch: int = 128
    out_ch: int = 2
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (8, 16, 32)
    resolution: int = 256
    z_channels: int = 8
    double_z: bool = True
    in_channels: int = 2
    dropout: float = 0.0  # inference only: dropout is the identity
    resamp_with_conv: bool = True
    attn_type: str = "vanilla"
    mid_block_add_attention: bool = True
    norm_type: str = "pixel"
    causality_axis: str | None = "height"
    mel_bins: int | None = None
    sample_rate: int = 16000
    mel_hop_length: int = 160
    n_fft: int = 1024
    is_causal: bool = True

    @classmethod
    def from_section(cls, section: Mapping[str, Any], source: str = "checkpoint config") -> "AudioVAEConfig":
        """Flatten the nested official section the way the official configurators read it."""
        where = f"{source}, section 'audio_vae'"
        params = _mapping(_mapping(section, "model", where), "params", where)
        ddconfig = dict(_mapping(params, "ddconfig", where))
        preprocessing = _mapping(section, "preprocessing", where)
        stft = _mapping(preprocessing, "stft", where)
        mel = _mapping(preprocessing, "mel", where)
        variables = _mapping(section, "variables", where)
        flat: dict[str, Any] = dict(ddconfig)
        for key in ("ch_mult", "attn_resolutions"):
            if key in flat and isinstance(flat[key], (list, tuple, set)):
                flat[key] = tuple(flat[key])
        flat["mel_bins"] = ddconfig.get("mel_bins") or mel.get("n_mel_channels") or variables.get("mel_bins")
        flat["sample_rate"] = params.get("sampling_rate", 16000)
        flat["mel_hop_length"] = stft.get("hop_length", 160)
        flat["n_fft"] = stft.get("filter_length", 1024)
        flat["is_causal"] = stft.get("causal", True)
        return cls.from_dict(flat, source=source)

    @property
    def num_resolutions(self) -> int:
        return len(self.ch_mult)

    @property
    def causal(self) -> bool:
        return self.causality_axis is not None

    @property
    def latent_mel_bins(self) -> int:
        """Mel bins left after the encoder's strided convolutions (16 for 64 mel bins, 3 levels)."""
        return downsampled_length(self.mel_bins, self.num_resolutions - 1, sum(self.downsample_padding[1]))

    def latent_frames(self, mel_frames: int) -> int:
        return downsampled_length(mel_frames, self.num_resolutions - 1, sum(self.downsample_padding[0]))

    def decoded_frames(self, latent_frames: int) -> int:
        """Mel frames the official decoder returns for ``latent_frames`` (4T - 3 when causal)."""
        frames = latent_frames * LATENT_DOWNSAMPLE_FACTOR
        return max(frames - (LATENT_DOWNSAMPLE_FACTOR - 1), 1) if self.causal else frames

    @property
    def downsample_padding(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(before, after) zero padding of the encoder's stride-2 convolutions: (time, mel) axes."""
        return {
            None: ((0, 1), (0, 1)),
            "width": ((0, 1), (2, 0)),
            "height": ((2, 0), (0, 1)),
            "width-compatibility": ((0, 1), (1, 0)),
        }[self.causality_axis]

    def validate(self, where: str) -> None:
        for key in ("ch", "out_ch", "resolution", "z_channels", "in_channels"):
            require_positive_int(where, key, getattr(self, key))
        require_non_negative_int(where, "num_res_blocks", self.num_res_blocks)
        if not self.ch_mult or any(not isinstance(m, int) or m <= 0 for m in self.ch_mult):
            raise ConfigError(f"{where}: ch_mult must be a non-empty list of positive integers, got {self.ch_mult!r}.")
        if self.mel_bins is None:
            raise ConfigError(
                f"{where}: mel_bins is missing (looked in ddconfig.mel_bins, preprocessing.mel.n_mel_channels "
                "and variables.mel_bins); the audio VAE needs it to size its input and output."
            )
        require_positive_int(where, "mel_bins", self.mel_bins)
        if self.norm_type == "group":
            if self.causal:
                raise ConfigError(
                    f"{where}: norm_type = 'group' with causality_axis = {self.causality_axis!r} is not supported "
                    "(the official ResnetBlock rejects causal blocks with GroupNorm)."
                )
            for mult in self.ch_mult:
                if (self.ch * mult) % 32:
                    raise ConfigError(f"{where}: norm_type 'group' needs channel counts divisible by 32; ch x {mult}.")
        features = self.z_channels * self.latent_mel_bins
        if features != self.ch:
            # The official per-channel statistics have `ch` entries and normalise z_channels x latent bins.
            raise ConfigError(
                f"{where}: z_channels x latent mel bins = {self.z_channels} x {self.latent_mel_bins} = {features} "
                f"but the per-channel statistics have ch = {self.ch} entries; this is not an LTX-2 audio VAE."
            )


def downsampled_length(length: int, times: int, padding: int) -> int:
    """Length after ``times`` stride-2, kernel-3 convolutions with ``padding`` zeros in total."""
    for _ in range(times):
        length = (length + padding - 3) // 2 + 1
    return length


@dataclass(frozen=True)
class VocoderConfig(ConfigBase):
    """A HiFi-GAN style generator: the plain LTX-2.0 vocoder (``resblock: "1"``, stereo), or a
    BigVGAN v2 generator of the LTX-2.3 vocoder (``resblock: "AMP1"``, SnakeBeta)."""

    SECTION: ClassVar[str] = "vocoder"
    SUPPORTED_VALUES: ClassVar[dict] = {"resblock": ("1", "AMP1"), "stereo": (True,)}

    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    upsample_rates: list[int] = field(default_factory=lambda: [6, 5, 2, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 15, 8, 4, 4])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    upsample_initial_channel: int = 1024
    resblock: str = "1"
    stereo: bool = True
    output_sampling_rate: int = 24000
    activation: str = "snake"
    use_tanh_at_final: bool = True
    use_bias_at_final: bool = True
    # Not a file key: ltx-core decides it (off for the bandwidth-extension generator).
    final_activation: bool = True

    @classmethod
    def from_section(cls, section: Mapping[str, Any], source: str = "checkpoint config") -> "VocoderConfig":
        """The flat (LTX-2.0) ``vocoder`` section; a nested LTX-2.3 one goes to ``vocoder_config_from_section``."""
        where = f"{source}, section 'vocoder'"
        if not isinstance(section, Mapping):
            raise ConfigError(f"{where}: must be a JSON object.")
        if "bwe" in section:
            raise ConfigError(
                f"{where}: a vocoder with bandwidth extension ('bwe', LTX-2.3 checkpoints) is read by "
                "vocoder_config_from_section, not as a plain vocoder."
            )
        return cls.generator(section, where, "1", source)

    @classmethod
    def generator(
        cls, section: Mapping[str, Any], where: str, resblock: str, source: str, **fixed: Any
    ) -> "VocoderConfig":
        """One generator section; the official configurator requires these keys with exactly these values."""
        if not isinstance(section, Mapping):
            raise ConfigError(f"{where}: must be a JSON object.")
        required: tuple[tuple[str, Any], ...] = (("resblock", resblock), ("stereo", True))
        if resblock == "AMP1":
            required += (("activation", "snakebeta"),)
        for key, expected in required:
            if section.get(key) != expected:
                raise ConfigError(
                    f"{where}: {key} = {section.get(key)!r} is not supported by this port (supported: {expected!r})."
                )
        config = cls.from_dict(section, source=source)
        return replace(config, **fixed) if fixed else config

    @property
    def is_amp(self) -> bool:
        return self.resblock == "AMP1"

    @property
    def upsample_factor(self) -> int:
        factor = 1
        for rate in self.upsample_rates:
            factor *= rate
        return factor

    def channels(self, level: int) -> int:
        return self.upsample_initial_channel // (2**level)

    def validate(self, where: str) -> None:
        require_positive_int(where, "upsample_initial_channel", self.upsample_initial_channel)
        require_positive_int(where, "output_sampling_rate", self.output_sampling_rate)
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes) or not self.upsample_rates:
            raise ConfigError(
                f"{where}: upsample_rates {self.upsample_rates!r} and upsample_kernel_sizes "
                f"{self.upsample_kernel_sizes!r} must be non-empty lists of the same length."
            )
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes):
            if not isinstance(rate, int) or not isinstance(kernel, int) or rate <= 0 or kernel < rate:
                raise ConfigError(
                    f"{where}: upsample kernel {kernel!r} with rate {rate!r} is invalid (need kernel >= rate > 0)."
                )
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes) or not self.resblock_kernel_sizes:
            raise ConfigError(
                f"{where}: resblock_kernel_sizes {self.resblock_kernel_sizes!r} and resblock_dilation_sizes "
                f"{self.resblock_dilation_sizes!r} must be non-empty lists of the same length."
            )
        for dilations in self.resblock_dilation_sizes:
            if len(dilations) != 3:
                raise ConfigError(f"{where}: resblock {self.resblock!r} uses 3 dilations per block, got {dilations!r}.")
        halvings = len(self.upsample_rates)
        if self.channels(halvings) < 1 or self.upsample_initial_channel % (2**halvings):
            raise ConfigError(
                f"{where}: upsample_initial_channel = {self.upsample_initial_channel} cannot be halved "
                f"{len(self.upsample_rates)} times."
            )


def _mapping(section: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a JSON object, got {type(section).__name__}.")
    value = section.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: '{key}' must be a JSON object, got {type(value).__name__}.")
    return value


@dataclass(frozen=True)
class BandwidthExtensionConfig(ConfigBase):
    """The STFT / rate settings of the LTX-2.3 bandwidth extension (``vocoder.bwe``); ltx-core
    reads them without defaults, and uses ``n_fft`` as the window length (``win_size`` unread)."""

    SECTION: ClassVar[str] = "vocoder.bwe"
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "n_fft",
        "hop_length",
        "num_mels",
        "input_sampling_rate",
        "output_sampling_rate",
    )

    n_fft: int = 0
    hop_length: int = 0
    num_mels: int = 0
    input_sampling_rate: int = 0
    output_sampling_rate: int = 0

    @property
    def ratio(self) -> int:
        return self.output_sampling_rate // self.input_sampling_rate

    def validate(self, where: str) -> None:
        for key in self.REQUIRED:
            require_positive_int(where, key, getattr(self, key))
        if self.output_sampling_rate % self.input_sampling_rate:
            raise ConfigError(
                f"{where}: output_sampling_rate {self.output_sampling_rate} is not a multiple of input_sampling_rate "
                f"{self.input_sampling_rate}."
            )
        if self.hop_length > self.n_fft:
            raise ConfigError(f"{where}: hop_length {self.hop_length} is larger than n_fft {self.n_fft}.")


@dataclass(frozen=True)
class VocoderWithBWEConfig:
    """LTX-2.3 ``vocoder: {vocoder: {...}, bwe: {...}}``: a 16 kHz BigVGAN v2 vocoder, then a
    bandwidth-extension generator (same class, no final activation) to the output rate."""

    vocoder: VocoderConfig
    bwe_generator: VocoderConfig
    bwe: BandwidthExtensionConfig

    @property
    def output_sampling_rate(self) -> int:
        return self.bwe.output_sampling_rate


def vocoder_config_from_section(
    section: Mapping[str, Any], source: str = "checkpoint config"
) -> VocoderConfig | VocoderWithBWEConfig:
    """The ``vocoder`` section as ltx-core 1.0.0 reads it: ``"bwe"`` in it selects VocoderWithBWE."""
    where = f"{source}, section 'vocoder'"
    if not isinstance(section, Mapping) or "bwe" not in section:
        return VocoderConfig.from_section(section, source)
    bwe_section = _mapping(section, "bwe", where)
    missing = [key for key in BandwidthExtensionConfig.REQUIRED if key not in bwe_section]
    if missing:
        raise ConfigError(f"{where}: 'bwe' lacks {', '.join(missing)}, which the bandwidth extension needs.")
    bwe = BandwidthExtensionConfig.from_dict(bwe_section, source=source)
    inner = VocoderConfig.generator(
        _mapping(section, "vocoder", where),
        f"{source}, section 'vocoder.vocoder'",
        "AMP1",
        source,
        output_sampling_rate=bwe.input_sampling_rate,
    )
    generator = VocoderConfig.generator(
        bwe_section,
        f"{source}, section 'vocoder.bwe'",
        "AMP1",
        source,
        output_sampling_rate=bwe.output_sampling_rate,
        final_activation=False,
    )
    if generator.upsample_factor != bwe.ratio * bwe.hop_length:
        raise ConfigError(
            f"{source}, section 'vocoder.bwe': upsample_rates multiply to {generator.upsample_factor}, but one mel frame of hop "
            f"{bwe.hop_length} at x{bwe.ratio} needs {bwe.ratio * bwe.hop_length}."
        )
    return VocoderWithBWEConfig(inner, generator, bwe)
