"""Decode stages of the estimate: the conv and the diffusion video decoders (tile by tile) and
the audio decoder with its vocoder; and the untiled video encode of a source clip (retake, extend)."""

from __future__ import annotations

import math
from typing import Any

from ltx_core.memory.common import (
    AUDIO_MEL_PER_LATENT,
    DTYPE_BYTES as _BYTES,
    StageEstimate,
    audio_latent_frames,
    latent_fhw as _latent_fhw,
    parameter_bytes as _parameter_bytes,
)

# Video decoder, per tile, in units of the last level's activation (channels x voxels): the
# level's tensors plus the convolutions' unfolded (27 x channels) inputs. Measured 72-73 on the
# 19B-sized decoder at two sizes and 69 (output head included) on the fixture's; it also gives
# 56 GB for an untiled 768x512x121 bf16 decode, against ~52 GB reported on Metal.
VAE_LEVEL_COPIES = 72.0
# Diffusion video decoder (LTX-2.5): working set of a neighbourhood-attention stage in units of
# its channels x voxels (q, k, v, the SwiGLU hidden of 4x width, residuals); calibrated on the
# tiny 2.5 decoder (tests/test_memory.py, bench/memory_versions.py).
DIFFUSION_STAGE_COPIES = 12.0
DIFFUSION_VAE_CLASS = "CausalDiffusionVAE"
# Audio: the audio decoder in units of its largest level (channels x mel frames x bins there);
# the vocoder in units of the sum over its levels of channels x samples. Decoder and vocoder run
# in one graph whose peak is the larger of the two.
AUDIO_DECODER_COPIES = 60.0
VOCODER_COPIES = 20.0
# Video encoder (untiled), in units of a convolution's unfolded input (27 x channels x voxels at
# 1/patch of the size): the first convolution (3 x patch^2 channels in) and the first level's
# residual convolutions (the latent width) peak one after the other. Measured 2.4 and 5.0 (the
# tiny fixture encoder, where the first dominates, and a released-width level; float32, CPU);
# the pixels are held as float32 twice (read, normalised) and once in the compute dtype.
ENCODER_INPUT_UNFOLD_COPIES = 2.5
ENCODER_LEVEL_UNFOLD_COPIES = 5.2
# On the CPU backend in float32 the 3x3x3 convolutions run as Winograd products over bands of rows
# (``components/cpu_winograd``): no unfolded inputs, a transposed copy of the input and the output
# in NumPy beside MLX's. Decoder: 16 last-level activations (measured 20-25 on the fixture's
# decoder, whose inner levels weigh more, and 10.7 on the 19B decoder at 768x512x9, 3.27 GiB).
# Encoder: 4.5 of its widest level (measured 3.4 tiled and 4.3 untiled on the fixture).
WINOGRAD_LEVEL_COPIES = 16.0
WINOGRAD_ENCODER_COPIES = 4.5


def winograd_convolutions(backend: str, dtype: str) -> bool:
    """Whether the VAE's convolutions take the CPU's Winograd path (``cpu_winograd.supported``)."""
    return backend == "cpu" and dtype == "float32"


def video_decode_stage(
    vae: dict, frames: int, height: int, width: int, dtype: str, tiling: Any | None, backend: str = "metal"
) -> StageEstimate:
    """The video decoder, tile by tile: its last level (``decoder_base_channels`` wide at 1/patch of
    the output size) dominates; tiled decoding also keeps two temporal groups of output."""
    from ltx_core.model.video_vae.config import VideoVAEConfig
    from ltx_core.model.video_vae.decoder import VideoDecoder
    from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig, decoder_tiles

    config = VideoVAEConfig.from_dict(vae, source="checkpoint config")
    b = _BYTES[dtype]
    decoder = VideoDecoder(config)
    weights = _parameter_bytes(decoder, b)
    last_channels = decoder.conv_out.conv.weight.shape[-1]
    latent = _latent_fhw(frames, height, width)
    scale = config.decoder_scale()
    if tiling is None:
        tile_out = (frames, height, width)
        outputs = 3 * frames * height * width * (b + 4)  # float pixels + the uint8 conversion's float temp
    else:
        cfg = TilingConfig(
            SpatialTilingConfig(tiling.spatial_tile, tiling.spatial_overlap),
            TemporalTilingConfig(tiling.temporal_tile, tiling.temporal_overlap),
        )
        tiles = decoder_tiles(latent, cfg, scale)
        tile_in = max(
            (tuple(s.stop - s.start for s in tile.inputs) for tile in tiles), key=lambda fhw: fhw[0] * fhw[1] * fhw[2]
        )
        tile_out = ((tile_in[0] - 1) * scale[0] + 1, tile_in[1] * scale[1], tile_in[2] * scale[2])
        group_frames = max(tile.outputs[0].stop - tile.outputs[0].start for tile in tiles)
        outputs = 2 * 4 * group_frames * height * width * b + 3 * group_frames * height * width * 4
    p = config.patch_size
    voxels = tile_out[0] * (tile_out[1] // p) * (tile_out[2] // p)
    latent_and_noise = 2 * config.latent_channels * math.prod(latent) * b
    copies = WINOGRAD_LEVEL_COPIES if winograd_convolutions(backend, dtype) else VAE_LEVEL_COPIES
    working = copies * last_channels * voxels * b + outputs + latent_and_noise
    note = "untiled" if tiling is None else f"tile {tile_out[2]}x{tile_out[1]}x{tile_out[0]}"
    return StageEstimate("video decode", weights, int(working), note)


def diffusion_decode_stage(
    vae: dict, frames: int, height: int, width: int, dtype: str, tiling: Any | None
) -> StageEstimate:
    """The LTX-2.5 diffusion video decoder: stages 1-3 on the whole latent (their widest level's
    working set), the stage-4 input kept for the tiles, then per tile stage 4 and the two-step
    pixel diffusion (its tokens and neighbourhood-attention windows), plus the whole-video decoder
    noise and the blended output of two temporal groups. ``tiling`` (the preset's conv VAE tiling)
    is fitted to the decoder as the pipelines fit it."""
    from ltx_core.model.video_vae.diffusion import DiffusionDecoderConfig, DiffusionVideoDecoder

    config = DiffusionDecoderConfig.from_vae_section(vae, source="video VAE config")
    decoder = DiffusionVideoDecoder(config)
    b = _BYTES[dtype]
    weights = _parameter_bytes(decoder, b)
    f, h, w = (max(n, m) for n, m in zip(_latent_fhw(frames, height, width), decoder.min_latent))
    out_f, out_h, out_w = (f - 1) * 8 + 1, h * 32, w * 32
    levels, volume = [], (f + decoder.trailing_pad, h, w)
    for i, (stride, _) in enumerate(config.upsamples):
        levels.append(config.stage_channels[i] * math.prod(volume))
        volume = tuple(v * s for v, s in zip(volume, stride))
    s4 = decoder._stage4_thw((f, h, w))
    fitted = decoder.fit_tiling(tiling)
    tile_px = [out_f, out_h, out_w]
    if fitted is not None:
        for axis, spec in enumerate((fitted.frames, fitted.height, fitted.width)):
            if spec.tile_size:
                tile_px[axis] = min(tile_px[axis], spec.tile_size)
    tile_s4 = [max(1, t * s4[a] // full) for a, (t, full) in enumerate(zip(tile_px, (out_f, out_h, out_w)))]
    p = config.patch_size
    tokens5 = tile_px[0] * (tile_px[1] // p) * (tile_px[2] // p)
    heads5 = max(1, config.diffusion_channels // config.head_dim)
    window = math.prod(config.stage5_kernel)
    stage4 = DIFFUSION_STAGE_COPIES * config.stage_channels[3] * math.prod(tile_s4)
    stage5 = DIFFUSION_STAGE_COPIES * (config.diffusion_channels + config.context_channels) * tokens5
    scores = 2 * heads5 * tokens5 * window * 4 // b  # float32 window scores, counted in compute-dtype units
    whole = DIFFUSION_STAGE_COPIES * max(levels[:3]) + config.stage_channels[3] * math.prod(s4)
    group = tile_px[0] if fitted is not None and fitted.frames.tile_size else out_f
    outputs = 3 * out_f * out_h * out_w * b + 3 * 3 * group * out_h * out_w * 4  # noise; group, stub, uint8 temp
    working = max(whole, config.stage_channels[3] * math.prod(s4) + stage4 + stage5 + scores) * b + outputs
    note = "untiled" if fitted is None else f"diffusion tile {tile_px[2]}x{tile_px[1]}x{tile_px[0]}"
    return StageEstimate("video decode", weights, int(working), note)


def audio_decode_stage(audio_vae: dict, vocoder: dict, frames: int, fps: float, dtype: str) -> StageEstimate:
    from ltx_core.model.audio_vae.bwe import VocoderWithBWE
    from ltx_core.model.audio_vae.config import AudioVAEConfig, VocoderWithBWEConfig, vocoder_config_from_section
    from ltx_core.model.audio_vae.vae import AudioDecoder
    from ltx_core.model.audio_vae.vocoder import Vocoder

    vae_config = AudioVAEConfig.from_section(audio_vae)
    voc_config = vocoder_config_from_section(vocoder)
    b = _BYTES[dtype]
    model = VocoderWithBWE(voc_config) if isinstance(voc_config, VocoderWithBWEConfig) else Vocoder(voc_config)
    weights = _parameter_bytes(AudioDecoder(vae_config), b) + _parameter_bytes(model, b)
    mel_frames = AUDIO_MEL_PER_LATENT * audio_latent_frames(frames, fps) - 3
    widest = max(
        vae_config.ch * mult * math.ceil(mel_frames / 2**level) * math.ceil(vae_config.mel_bins / 2**level)
        for level, mult in enumerate(vae_config.ch_mult)
    )

    def generator_levels(config, length: int) -> tuple[int, int]:
        channels = config.upsample_initial_channel
        levels = channels * length
        for rate in config.upsample_rates:
            length, channels = length * rate, channels // 2
            levels += channels * length
        return levels, length

    levels, length = generator_levels(voc_config if isinstance(model, Vocoder) else voc_config.vocoder, mel_frames)
    if isinstance(voc_config, VocoderWithBWEConfig):  # then the extension, on the inner waveform's mel frames
        bwe_levels, length = generator_levels(voc_config.bwe_generator, -(-length // voc_config.bwe.hop_length))
        levels = max(levels, bwe_levels)
    working = max(AUDIO_DECODER_COPIES * widest, VOCODER_COPIES * levels) * b
    return StageEstimate("audio decode", weights, int(working), f"{length} samples")


def video_encode_stage(
    vae: dict, frames: int, height: int, width: int, dtype: str, tiling: Any | None = None, backend: str = "metal"
) -> StageEstimate:
    """The video encoder on ``frames`` pixel frames (an edit's source): its weights and, for the
    largest tile (``tiling``: the preset's ``VaeTiling`` as ``tiled_encode`` cuts it; None: the whole
    clip at once), the larger of the first convolution's and the first level's working sets; plus
    the whole clip's pixels and, tiled, the latent sums."""
    from ltx_core.errors import ConfigError
    from ltx_core.model.video_vae.config import VideoVAEConfig
    from ltx_core.model.video_vae.encoder import VideoEncoder
    from ltx_core.model.video_vae.tiling import encoder_tiles

    config = VideoVAEConfig.from_dict(vae, source="checkpoint config")
    b = _BYTES[dtype]
    weights = _parameter_bytes(VideoEncoder(config), b)
    tile, sums = (frames, height, width), 0
    if tiling is not None:
        try:
            tiles = encoder_tiles((frames, height, width), tiling.config(), config.encoder_scale())
        except ConfigError:  # sizes the tiled encode refuses: the run says so; count the whole clip
            tiles = []
        if tiles:
            spans = [tuple(s.stop - s.start for s in t.inputs) for t in tiles]
            tile = max(spans, key=lambda fhw: fhw[0] * fhw[1] * fhw[2])
            sums = 2 * config.latent_channels * math.prod(_latent_fhw(frames, height, width)) * b
    p = config.patch_size
    voxels = tile[0] * (tile[1] // p) * (tile[2] // p)
    if winograd_convolutions(backend, dtype):
        unfolded = WINOGRAD_ENCODER_COPIES * voxels * max(config.in_channels * p * p, config.latent_channels)
    else:
        unfolded = 27 * voxels * max(ENCODER_INPUT_UNFOLD_COPIES * config.in_channels * p * p,
                                     ENCODER_LEVEL_UNFOLD_COPIES * config.latent_channels)  # fmt: skip
    pixels = config.in_channels * frames * height * width * (2 * 4 + b)
    note = "untiled" if tile == (frames, height, width) else f"tile {tile[2]}x{tile[1]}x{tile[0]}"
    return StageEstimate("encode", weights, int(unfolded * b + pixels + sums), f"{note}, {frames} frames")
