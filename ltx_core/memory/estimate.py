"""Peak-memory estimate of one generation, stage by stage, and a check that refuses what won't fit.

Everything is predicted from configs: weights from the lazily built modules (shapes and dtypes
only, nothing is allocated), activations from the token / voxel counts of each stage times
coefficients calibrated on measurements (``bench/memory_estimate.py`` prints predicted vs
measured on real-width slices; ``tests/test_memory.py`` checks the fixture stages).

Stages, in the order a pipeline runs them: text encoder, the encode of a source clip (retake,
extend), stage 1 (and stage 2 of the two-stage recipes), upsample, video decode, audio decode. Each stage's peak is its resident weights plus
its largest transient working set; the ledger releases the previous stage's models first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ltx_core.components.cpu_attention import attention_memory_bytes
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.memory.common import (
    DTYPE_BYTES as _BYTES,
)
from ltx_core.memory.common import (
    GIB,
    StageEstimate,
    audio_latent_frames,
)
from ltx_core.memory.common import (
    latent_fhw as _latent_fhw,
)
from ltx_core.memory.common import (
    parameter_bytes as _parameter_bytes,
)
from ltx_core.memory.decode import (
    DIFFUSION_VAE_CLASS,
    audio_decode_stage,
    diffusion_decode_stage,
    video_decode_stage,
    video_encode_stage,
)

BACKENDS = ("cpu", "metal")
TEXT_TOKENS = 1024  # prompts are padded to 1024 Gemma tokens

# Calibrated working-set coefficients (see bench/memory_estimate.py for the measurements).
# Transformer: activation bytes per (token x width) of one forward, all streams together (the
# attention's own working set is ``cpu_attention.attention_memory_bytes``).
TOKEN_WIDTH_COPIES = 14.0
# Per-run text constants: projected contexts and the caption projection's temporaries.
CONTEXT_PROJECTION_COPIES = 3.0
# Latent upsampler: working set in units of mid_channels x output voxels.
UPSAMPLER_COPIES = 100.0


@dataclass(frozen=True)
class LoraFootprint:
    """The LoRAs of one denoising stage, from their files' headers (``loader.lora.lora_footprint``):
    A/B elements in the transformer blocks (all of them, and the largest block) and the largest
    layer a LoRA touches (out x in: the float32 delta a fuse builds)."""

    block_elements: int = 0
    largest_block_elements: int = 0
    largest_layer: int = 0
    loras: int = 0

    def side_path_bytes(self, dtype_bytes: int, streaming: bool) -> int:
        """A/B kept beside quantized layers in the compute dtype (streamed: one block's at a time)."""
        return (self.largest_block_elements if streaming else self.block_elements) * dtype_bytes

    def fuse_bytes(self) -> int:
        """The transient of fusing into a full-precision layer: float32 products, sum, old and new
        weight (measured 1.6 / 2.15 GB for 1 / 3 LoRAs on 4096x16384 layers: bench/lora_streaming.py)."""
        return (5 + self.loras) * 4 * self.largest_layer if self.loras else 0


@dataclass(frozen=True)
class DenoisePass:
    """One denoising stage of a pipeline, as the estimator needs it (the pipeline descriptor
    gives them): ``downscale`` 2 runs at half size (then the x2 upsampler; 1.5: two thirds, then
    the x1.5 one), ``guided`` uses the
    guidance passes, ``loras`` what its LoRAs add beyond those fused into the checkpoint."""

    name: str
    downscale: float = 1
    guided: bool = False
    loras: LoraFootprint = LoraFootprint()


DISTILLED_STAGES = (DenoisePass("stage 1", 2), DenoisePass("stage 2", 1))


@dataclass(frozen=True)
class MemoryEstimate:
    stages: tuple[StageEstimate, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def peak(self) -> int:
        return max(stage.peak for stage in self.stages)

    def stage(self, name: str) -> StageEstimate:
        for stage in self.stages:
            if stage.stage == name:
                return stage
        raise KeyError(name)

    def table(self) -> str:
        rows = [f"{'stage':14s} {'weights GiB':>11s} {'working GiB':>11s} {'peak GiB':>8s}"]
        for s in self.stages:
            rows.append(f"{s.stage:14s} {s.weights / GIB:11.2f} {s.activations / GIB:11.2f} {s.peak / GIB:8.2f}")
        return "\n".join(rows)


@dataclass(frozen=True)
class Guidance:
    """Transformer passes per step (cond, uncond, perturbed, modality-isolated: 1 to 4) and
    whether they run as one batch (faster, the working set times the passes) or one after another."""

    passes: int = 1
    batched: bool = False
    contexts: int = 1  # distinct prompt contexts (positive, negative): each keeps its text K/V cache

    @property
    def batch(self) -> int:
        return self.passes if self.batched else 1


# ---- weights (lazily built modules: shapes and dtypes only, nothing allocated) ----------------
@lru_cache(maxsize=16)
def transformer_weight_bytes(
    config_json: str, dtype: str, bits: int | None = None, group_size: int = 64, with_audio: bool = True
) -> tuple[int, int, int]:
    """(non-block bytes, bytes of the largest block, number of blocks) of the transformer whose
    config section is ``config_json``, in ``dtype`` and optionally quantized."""
    import json

    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_map

    from ltx_core.loader.quantization import quantize_layout
    from ltx_core.model.transformer.config import TransformerConfig
    from ltx_core.model.transformer.model import LTXModel

    model = LTXModel(TransformerConfig.from_dict(json.loads(config_json)), with_audio=with_audio)
    model.update(tree_map(lambda p: p.astype(getattr(mx, dtype)), model.parameters()))
    if bits is not None:
        quantize_layout(model, QuantizationSpec(bits, group_size))
    blocks: dict[str, int] = {}
    rest = 0
    for name, value in tree_flatten(model.parameters()):
        if name.startswith("transformer_blocks."):
            index = name.split(".", 2)[1]
            blocks[index] = blocks.get(index, 0) + value.nbytes
        else:
            rest += value.nbytes
    return rest, max(blocks.values(), default=0), len(blocks)


# ---- stages ----------------------------------------------------------------------------------
def text_encoder_stage(
    checkpoint_config: dict,
    gemma_config: Any | None,
    dtype: str,
    quantization: QuantizationSpec | None,
    prompts: int = 1,
    staged: bool = True,
    backend: str = "metal",
) -> StageEstimate:
    """Gemma 3 (2.0, 2.3: ``text_encoder.memory``) or Gemma 4 (2.5, from its own config) plus the
    embeddings processor (feature projection and the two connectors). Without a config: the 12B
    model of the checkpoint's generation (Gemma 4 when the transformer has the 2.5 keyframe
    embedding). ``prompts``: prompts encoded together (their hidden states are all kept until the
    processor runs). ``staged`` (``PromptEncoder.staged``: every unload policy but keep-loaded):
    Gemma is released before the processor loads, so the peak is the larger of the Gemma phase
    and the processor phase; otherwise both are resident. The connectors attend over all
    ``TEXT_TOKENS`` (padding replaced by their registers)."""
    from ltx_core.model.text_encoder.gemma4_config import Gemma4Config
    from ltx_core.model.text_encoder.memory import (
        estimate_encode_memory,
        estimate_gemma4_encode_memory,
        gemma4_12b_config,
        gemma_12b_config,
    )

    t = checkpoint_config.get("transformer", {})
    config = gemma_config or (gemma4_12b_config() if t.get("use_keyframes_abs_pos_embedding") else gemma_12b_config())
    mode = dtype if quantization is None else f"{quantization.bits}bit"
    if mode not in ("float32", "bfloat16", "8bit", "4bit"):
        mode = "bfloat16" if quantization is None else "8bit"
    group = quantization.group_size if quantization else 64
    gemma4 = isinstance(config, Gemma4Config)
    estimate_gemma = estimate_gemma4_encode_memory if gemma4 else estimate_encode_memory
    gemma = estimate_gemma(config, TEXT_TOKENS, mode, group, dtype, backend=backend)
    processor = processor_weight_bytes(t, config.hidden_size, config.num_states, dtype)
    states = prompts * gemma.hidden_states
    connector_attention = max(
        attention_memory_bytes(backend, _BYTES[dtype], 1, heads, TEXT_TOKENS, TEXT_TOKENS, head_dim)
        for heads, head_dim in connector_heads(t)
    )
    features = gemma.features + connector_attention
    notes = f"Gemma {4 if gemma4 else 3} {mode}"
    if not staged:
        return StageEstimate(
            "text encoder", gemma.weights + processor, states + max(gemma.layer_temporaries, features), notes
        )
    phases = {"Gemma": (gemma.weights, states + gemma.layer_temporaries), "processor": (processor, states + features)}
    peak = max(phases, key=lambda name: sum(phases[name]))
    return StageEstimate("text encoder", *phases[peak], f"{notes}, staged (peak: {peak} phase)")


def connector_heads(transformer: dict) -> tuple[tuple[int, int], tuple[int, int]]:
    """(heads, head width) of the video and the audio embedding connectors."""
    t = transformer
    video = (t.get("connector_num_attention_heads", 30), t.get("connector_attention_head_dim", 128))
    audio = (t.get("audio_connector_num_attention_heads", video[0]), t.get("audio_connector_attention_head_dim", video[1]))
    return video, audio


def processor_weight_bytes(transformer: dict, gemma_width: int, num_states: int, dtype: str) -> int:
    """The embeddings processor in the compute dtype: the feature projection (V1: all states ->
    the Gemma width; V2: -> the video and the audio widths, with bias) and both connectors
    (attention 4 d^2 + feed-forward 8 d^2 per layer)."""
    t = transformer
    video_width, audio_width = (heads * head_dim for heads, head_dim in connector_heads(t))
    connector = t.get("connector_num_layers", 2) * 12 * (video_width**2 + audio_width**2)
    if t.get("caption_proj_before_connector"):  # FeatureExtractorV2: all states -> video and audio widths
        widths = t.get("cross_attention_dim", 4096) + t.get("audio_cross_attention_dim", 2048)
        projection = (gemma_width * num_states + 1) * widths
    else:
        projection = gemma_width * num_states * gemma_width
    return (projection + connector) * _BYTES[dtype]


def prompt_embedding_bytes(
    transformer: dict, guidance: Guidance, audio: bool, dtype: str, text_tokens: int = TEXT_TOKENS
) -> int:
    """The encoded prompts (video and audio contexts) kept through the denoising stages, plus the
    batched copies of batched guidance."""
    sets = guidance.contexts + (guidance.batch if guidance.batched else 0)
    return sets * (2 if audio else 1) * text_tokens * transformer.get("caption_channels", 3840) * _BYTES[dtype]


def denoise_stage(
    name: str,
    transformer: dict,
    frames: int,
    height: int,
    width: int,
    fps: float,
    audio: bool,
    guidance: Guidance,
    dtype: str,
    quantization: QuantizationSpec | None,
    streaming: bool,
    backend: str,
    text_tokens: int = TEXT_TOKENS,
    loras: LoraFootprint = LoraFootprint(),
) -> StageEstimate:
    """Transformer weights (all blocks, or the non-block layers and one block when streaming) plus
    one forward's working set and the per-run constants (text K/V per block, RoPE tables).
    LoRAs: side paths on quantized layers hold A/B in the compute dtype (streamed: one block's);
    full-precision layers have them fused, which costs only a transient delta."""
    import json

    b = _BYTES[dtype]
    rest, block, blocks = transformer_weight_bytes(
        json.dumps(transformer, sort_keys=True), dtype, quantization.bits if quantization else None,
        quantization.group_size if quantization else 64, True,  # the ledger loads the audio-video model
    )  # fmt: skip
    side_path = loras.side_path_bytes(b, streaming) if quantization is not None else 0
    weights = rest + (block if streaming else block * blocks) + side_path
    f, h, w = _latent_fhw(frames, height, width)
    tv = f * h * w
    ta = audio_latent_frames(frames, fps) if audio else 0
    heads, head_dim = transformer.get("num_attention_heads", 32), transformer.get("attention_head_dim", 128)
    a_heads = transformer.get("audio_num_attention_heads", 32)
    a_head_dim = transformer.get("audio_attention_head_dim", 64)
    dv, da = heads * head_dim, (a_heads * a_head_dim if audio else 0)
    width_tokens = tv * dv + ta * da
    batch = guidance.batch
    forward = batch * b * TOKEN_WIDTH_COPIES * width_tokens
    s = text_tokens  # the largest (queries, keys) of each modality's self- and cross-attentions
    scores = max(
        attention_memory_bytes(backend, b, batch, heads, tv, max(tv, s, ta), head_dim),
        attention_memory_bytes(backend, b, batch, a_heads, ta, max(ta, s, tv), a_head_dim) if ta else 0,
    )
    kv_sets = batch if guidance.batched else guidance.contexts
    text_kv = kv_sets * (blocks * 2 + CONTEXT_PROJECTION_COPIES) * text_tokens * (dv + da) * b
    embeddings = prompt_embedding_bytes(transformer, guidance, audio, dtype, text_tokens)
    rope = 3 * width_tokens * b
    channels = tv * transformer.get("in_channels", 128) + ta * transformer.get("audio_in_channels", 128)
    latents = (guidance.passes + 4) * channels * 4  # float32 latents, noise, guidance outputs
    notes = f"{tv} video + {ta} audio tokens, batch {batch}" + (", streamed" if streaming else "")
    working = int(forward + scores + text_kv + embeddings + rope + latents + loras.fuse_bytes())
    return StageEstimate(name, weights, working, notes, side_path)


def upsample_stage(
    upsampler: Any | None, frames: int, height: int, width: int, dtype: str, resident: int
) -> StageEstimate:
    """The spatial upsampler on the stage-1 latent (``height``/``width`` are stage 1's; a rational
    x num/den resampler works at num x num before it blurs down);
    ``resident`` is what stays loaded beside it (the transformer between the two stages)."""
    from ltx_core.model.upsampler.config import RATIONAL_SCALES, UpsamplerConfig
    from ltx_core.model.upsampler.model import LatentUpsampler

    config = upsampler
    if not isinstance(config, UpsamplerConfig):
        config = UpsamplerConfig.from_dict(upsampler or {}, source="upsampler config")
    b = _BYTES[dtype]
    weights = _parameter_bytes(LatentUpsampler(config), b)
    f, h, w = _latent_fhw(frames, height, width)
    num = RATIONAL_SCALES[float(config.spatial_scale)][0] if config.rational_resampler else 2
    voxels_out = f * h * w * num * num
    working = UPSAMPLER_COPIES * config.mid_channels * voxels_out * b
    return StageEstimate("upsample", weights + resident, int(working), "transformer kept loaded" if resident else "")


# ---- the whole generation ----------------------------------------------------------------------
def estimate_memory(
    checkpoint_config: dict,
    height: int,
    width: int,
    frames: int,
    fps: float = 24.0,
    audio: bool = True,
    stages: tuple[DenoisePass, ...] = DISTILLED_STAGES,
    guidance: Guidance | None = None,
    compute_dtype: str = "bfloat16",
    quantization: QuantizationSpec | None = None,
    text_encoder_quantization: QuantizationSpec | None = None,
    tiling: Any | None = None,
    streaming: bool = False,
    gemma_config: Any | None = None,
    upsampler_config: dict | None = None,
    backend: str = "metal",
    keep_loaded: bool = False,
    text_tokens: int = TEXT_TOKENS,
    text_encoder: bool = True,
    encode_frames: int = 0,
    encode_tiled: bool = False,
) -> MemoryEstimate:
    """Predicted peak bytes of every stage of one generation.

    ``checkpoint_config``: the checkpoint's JSON config (``transformer``, ``vae``, ``audio_vae``,
    ``vocoder`` sections). ``stages``: the pipeline's denoising stages (its descriptor's
    ``memory_stages()``); a half-size stage is followed by the ×2 upsampler. ``guidance``: the
    passes of the guided stages; other stages run one pass. ``tiling``: the preset's ``VaeTiling`` (None: untiled decode). ``backend``: "cpu"
    materialises attention scores, "metal" (fused attention) does not. ``keep_loaded``: models are
    kept between stages (the "keep_loaded" unload policy) instead of released. ``text_encoder``
    False: the prompt contexts are given (pre-computed embeddings), no text encoder loads.
    ``encode_frames``: pixel frames of a source clip encoded at the full size before denoising (a
    retake's whole clip, an extension's overlap; 0: none), tile by tile with ``tiling`` when
    ``encode_tiled`` (a retake's), else at once.
    """
    if not stages:
        raise ValueError("a generation has at least one denoising stage")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if compute_dtype not in _BYTES:
        raise ValueError(f"compute_dtype must be one of {tuple(_BYTES)}, got {compute_dtype!r}")
    guidance = guidance or Guidance()
    single = Guidance(1, False, 1)
    transformer = checkpoint_config["transformer"]
    common = dict(fps=fps, audio=audio, dtype=compute_dtype, quantization=quantization, streaming=streaming,
                  backend=backend, text_tokens=text_tokens)  # fmt: skip
    estimates = []
    if text_encoder:
        estimates.append(
            text_encoder_stage(
                checkpoint_config, gemma_config, compute_dtype, text_encoder_quantization,
                prompts=guidance.contexts, staged=not keep_loaded, backend=backend,
            )
        )  # fmt: skip
    if encode_frames:
        encode_tiling = tiling if encode_tiled else None
        estimates.append(video_encode_stage(checkpoint_config["vae"], encode_frames, height, width, compute_dtype,
                                            encode_tiling, backend))  # fmt: skip
    for index, stage in enumerate(stages):
        h, w = round(height / stage.downscale), round(width / stage.downscale)
        passes = guidance if stage.guided else single
        estimates.append(denoise_stage(stage.name, transformer, frames, h, w, guidance=passes, loras=stage.loras, **common))
        if stage.downscale > 1 and index + 1 < len(stages):
            carried = estimates[-1].weights + prompt_embedding_bytes(transformer, guidance, audio, compute_dtype, text_tokens)
            estimates.append(upsample_stage(upsampler_config, frames, h, w, compute_dtype, carried))
    vae = checkpoint_config["vae"]
    if vae.get("_class_name") == DIFFUSION_VAE_CLASS:
        estimates.append(diffusion_decode_stage(vae, frames, height, width, compute_dtype, tiling))
    else:
        estimates.append(video_decode_stage(vae, frames, height, width, compute_dtype, tiling, backend))
    if audio:
        sections = checkpoint_config["audio_vae"], checkpoint_config["vocoder"]
        estimates.append(audio_decode_stage(*sections, frames, fps, compute_dtype))
    denoising = {stage.name for stage in stages}
    if keep_loaded:
        estimates = _keep_loaded(estimates, denoising)
    settings = dict(
        checkpoint_config=checkpoint_config, height=height, width=width, frames=frames, fps=fps, audio=audio,
        stages=stages, guidance=guidance, compute_dtype=compute_dtype, quantization=quantization,
        text_encoder_quantization=text_encoder_quantization, tiling=tiling, streaming=streaming,
        gemma_config=gemma_config, upsampler_config=upsampler_config, backend=backend, keep_loaded=keep_loaded,
        text_tokens=text_tokens, text_encoder=text_encoder, encode_frames=encode_frames,
        encode_tiled=encode_tiled,
    )  # fmt: skip
    return MemoryEstimate(tuple(estimates), settings)


def _keep_loaded(stages: list[StageEstimate], denoising: set[str]) -> list[StageEstimate]:
    """Under "keep_loaded" every model stays: each stage also holds the weights of the earlier ones
    (the transformer counted once although two stages use it)."""
    out, kept, transformer = [], 0, 0
    for stage in stages:
        if stage.stage in denoising:
            transformer = stage.weights
            out.append(StageEstimate(stage.stage, stage.weights + kept, stage.activations, stage.notes, stage.lora_side_path))
            continue
        own = stage.weights - (transformer if stage.stage == "upsample" else 0)
        out.append(StageEstimate(stage.stage, own + kept + transformer, stage.activations, stage.notes))
        kept += own
    return out


def estimate_for_runtime(checkpoint_config: dict, runtime: Any, backend: str | None = None, **request: Any) -> MemoryEstimate:
    """``estimate_memory`` with what a ``RuntimeSettings`` runs: dtype, quantization, tiling,
    streaming, unload policy; ``request`` gives height, width, frames, fps, audio, stages, guidance..."""
    from ltx_core.backend import backend_name

    backend = backend or ("cpu" if backend_name() == "cpu" else "metal")
    return estimate_memory(
        checkpoint_config,
        compute_dtype=runtime.dtype,
        quantization=runtime.transformer_quantization,
        text_encoder_quantization=runtime.text_encoder_quantization,
        tiling=runtime.vae_tiling,
        streaming=runtime.block_streaming,
        keep_loaded=runtime.keep_loaded,
        backend=backend,
        **request,
    )


def estimate_for_preset(
    checkpoint_config: dict, preset: Any, backend: str | None = None, **request: Any
) -> MemoryEstimate:
    """``estimate_for_runtime`` with a preset as it runs on ``backend`` ("auto" dtype: float32 on
    the CPU backend, bfloat16 on GPUs)."""
    from ltx_core.backend import backend_name
    from ltx_core.runtime import RuntimeSettings

    backend = backend or ("cpu" if backend_name() == "cpu" else "metal")
    dtype = preset.compute_dtype if preset.compute_dtype != "auto" else ("float32" if backend == "cpu" else "bfloat16")
    runtime = RuntimeSettings.from_preset(preset, dtype=dtype)
    return estimate_for_runtime(checkpoint_config, runtime, backend=backend, **request)
