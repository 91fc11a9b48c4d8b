"""Load the text side: the Gemma 3 folder -> ``GemmaTextModel``; the LTX checkpoint ->
feature extractor + video/audio embeddings connectors.

Gemma is read decoder layer by decoder layer (and quantized layer by layer when asked), so
loading peaks near the final model size plus one layer in the source precision.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_core.errors import CheckpointError, ConfigError, WeightsMismatchError
from ltx_core.loader.checkpoint import (
    AUDIO_CONNECTOR_PREFIX,
    VIDEO_CONNECTOR_PREFIX,
    LTXCheckpoint,
)
from ltx_core.loader.components import open_checkpoint, resolve_dtype
from ltx_core.loader.safetensors_file import SafetensorsFile, TensorInfo
from ltx_core.loader.text_features import feature_projection
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.text_encoder.connector import (
    ConnectorConfig,
    EmbeddingsConnector,
    EmbeddingsProcessor,
)
from ltx_core.model.text_encoder.gemma import GemmaTextModel
from ltx_core.model.text_encoder.gemma_config import GemmaConfig

GEMMA_REPO = "google/gemma-3-12b-it"
GEMMA_DIR_ENV = "LTX_GEMMA_DIR"
DEFAULT_GEMMA_DIR = Path("models") / "gemma-3-12b-it"  # relative to the working directory
INDEX_FILE = "model.safetensors.index.json"
# Where the text model's tensors live, per Hugging Face layout (multimodal 4.x, multimodal
# 5.x, text-only); the first prefix that has the embeddings wins.
TEXT_PREFIXES = ("language_model.model.", "model.language_model.", "model.", "")
LM_HEAD_KEYS = ("language_model.lm_head.weight", "lm_head.weight")
IGNORED_PREFIXES = (
    "vision_tower.",
    "multi_modal_projector.",
    "model.vision_tower.",
    "model.multi_modal_projector.",
)
QUANTIZE_BITS = (4, 8)
GROUP_SIZES = (32, 64, 128)


class ShardedSafetensors:
    """Several safetensors shards seen as one source (``info``/``load``/``keys`` by key)."""

    def __init__(self, files: list[SafetensorsFile], name: str):
        self.files = files
        self.name = name
        self._owner: dict[str, SafetensorsFile] = {}
        for file in files:
            for key in file.keys():
                self._owner[key] = file

    def keys(self) -> list[str]:
        return list(self._owner)

    def __contains__(self, key: str) -> bool:
        return key in self._owner

    def info(self, key: str) -> TensorInfo:
        try:
            return self._owner[key].info(key)
        except KeyError:
            raise CheckpointError(f"{self.name} has no tensor '{key}'.") from None

    def load(self, key: str, dtype: mx.Dtype | None = None) -> mx.array:
        return self._owner[key].load(key, dtype)

    def close(self) -> None:
        for file in self.files:
            file.close()


def missing_gemma_message(where: str) -> str:
    return (
        f"{where}. LTX-2 encodes prompts with Gemma 3 12B: download the Hugging Face repository "
        f"{GEMMA_REPO} (accept its licence on huggingface.co first), e.g. "
        f"`huggingface-cli download {GEMMA_REPO} --local-dir {DEFAULT_GEMMA_DIR}`, into {DEFAULT_GEMMA_DIR} "
        f"(the default) or any folder you name with the environment variable {GEMMA_DIR_ENV} or pass as the "
        f"Gemma folder. It must hold config.json, the model-*.safetensors shards with {INDEX_FILE}, and "
        "tokenizer.json / tokenizer.model."
    )


def gemma_folder(path: str | os.PathLike | None) -> Path:
    """Validate a Gemma folder: it exists and has config.json and the weight files.

    Without ``path``: ``$LTX_GEMMA_DIR``, else ``models/gemma-3-12b-it`` if that folder exists."""
    if path is None or str(path) == "":
        path = os.environ.get(GEMMA_DIR_ENV) or (DEFAULT_GEMMA_DIR if DEFAULT_GEMMA_DIR.is_dir() else None)
    if path is None:
        raise CheckpointError(missing_gemma_message("No Gemma text-encoder folder is configured"))
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise CheckpointError(missing_gemma_message(f"The Gemma folder {folder} does not exist or is not a folder"))
    if not (folder / "config.json").is_file():
        raise CheckpointError(missing_gemma_message(f"The Gemma folder {folder} has no config.json"))
    gemma_shards(folder)
    return folder


def gemma_shards(folder: Path) -> list[Path]:
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise CheckpointError(f"{index} is not a valid safetensors index (no 'weight_map').") from None
        names = sorted(set(weight_map.values()))
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise CheckpointError(
                f"The Gemma folder {folder} is incomplete: {len(missing)} of {len(names)} weight shards are "
                f"missing ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}). "
                f"Download {GEMMA_REPO} again."
            )
        return [folder / name for name in names]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    raise CheckpointError(
        missing_gemma_message(f"The Gemma folder {folder} has neither {INDEX_FILE} nor model.safetensors")
    )


def gemma_config(folder: str | os.PathLike) -> GemmaConfig:
    return GemmaConfig.from_file(gemma_folder(folder) / "config.json")


def gemma_identity(folder: str | os.PathLike) -> str:
    """A fingerprint of the Gemma weights (config, shard names, sizes and headers' tensor list)."""
    folder = gemma_folder(folder)
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for shard in gemma_shards(folder):
        digest.update(f"{shard.name}:{shard.stat().st_size}".encode())
        with open(shard, "rb") as handle:
            digest.update(handle.read(min(shard.stat().st_size, 1 << 16)))
    return digest.hexdigest()[:16]


def load_gemma(
    folder: str | os.PathLike | None,
    dtype: mx.Dtype | str = mx.float32,
    quantize_bits: int | None = None,
    group_size: int = 64,
) -> GemmaTextModel:
    """Gemma 3 text model from a Hugging Face folder; optionally quantized at load (4/8 bits)."""
    folder = gemma_folder(folder)
    dtype = resolve_dtype(dtype)
    if quantize_bits is not None and quantize_bits not in QUANTIZE_BITS:
        raise ValueError(f"quantize_bits must be one of {QUANTIZE_BITS} or None, got {quantize_bits}")
    if quantize_bits is not None and group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be one of {GROUP_SIZES}, got {group_size}")
    config = GemmaConfig.from_file(folder / "config.json")
    source = ShardedSafetensors([SafetensorsFile(p) for p in gemma_shards(folder)], f"Gemma folder {folder}")
    try:
        model = GemmaTextModel(config)
        _load_gemma_weights(model, config, source, dtype, quantize_bits, group_size)
    finally:
        source.close()
    model.eval()
    return model


def _load_gemma_weights(
    model: GemmaTextModel,
    config: GemmaConfig,
    source: ShardedSafetensors,
    dtype: mx.Dtype,
    bits: int | None,
    group_size: int,
) -> None:
    keys = source.keys()
    prefix = next((p for p in TEXT_PREFIXES if f"{p}embed_tokens.weight" in source), None)
    if prefix is None:
        raise WeightsMismatchError(
            f"{source.name}: no Gemma text embeddings (embed_tokens.weight) found; this is not a Gemma 3 folder."
        )
    text_keys = {k[len(prefix) :]: k for k in keys if k.startswith(prefix) and not k.startswith(IGNORED_PREFIXES)}
    head = next((k for k in LM_HEAD_KEYS if k in source), None)
    if head is not None:
        text_keys.pop(head[len(prefix) :] if head.startswith(prefix) else "", None)
        if not config.tie_word_embeddings:
            text_keys["lm_head.weight"] = head
    leftovers = sorted(
        k for k in keys if not k.startswith(prefix) and not k.startswith(IGNORED_PREFIXES) and k != head
    )
    if leftovers:
        raise WeightsMismatchError(
            f"{source.name}: {len(leftovers)} tensors belong to no known Gemma 3 part: {', '.join(leftovers[:8])}."
        )
    expected = {name for name, _ in tree_flatten(model.parameters())}
    extra = sorted(text_keys[name] for name in set(text_keys) - expected)
    if extra:
        raise WeightsMismatchError(
            f"{source.name}: the Gemma weights do not match config.json: {len(extra)} unexpected tensors "
            f"({', '.join(extra[:8])}). Check that config.json belongs to these weights."
        )
    expected_embed = (config.vocab_size, config.hidden_size)
    found_embed = source.info(text_keys["embed_tokens.weight"]).shape
    if found_embed != expected_embed:
        raise WeightsMismatchError(
            f"{source.name}: embed_tokens is {found_embed} but config.json says {expected_embed}; "
            "config.json and the weights belong to different models."
        )
    # One part at a time: the embeddings, each layer, the final norm (and an untied head).
    parts: list[tuple[str, nn.Module]] = [("embed_tokens", model.embed_tokens)]
    parts += [(f"layers.{i}", layer) for i, layer in enumerate(model.layers)]
    parts.append(("norm", model.norm))
    if "lm_head" in model:
        parts.append(("lm_head", model.lm_head))
    for name, module in parts:
        sub = {k[len(name) + 1 :]: TensorSource(v) for k, v in text_keys.items() if k.startswith(name + ".")}
        load_module_weights(module, source, sub, dtype, f"Gemma {name}")  # type: ignore[arg-type]
        if bits is not None:
            if isinstance(module, (nn.Linear, nn.Embedding)):  # a leaf: swap it on the parent
                module = module.to_quantized(group_size=group_size, bits=bits)
                setattr(model, name, module)
            else:
                quantize_model(module, bits, group_size)
        mx.eval(module.parameters())


def quantize_model(model: nn.Module, bits: int, group_size: int = 64) -> nn.Module:
    """Quantize the Linear layers and embeddings of ``model`` in place (those whose input
    width is a multiple of ``group_size``; the others stay in full precision)."""
    if bits not in QUANTIZE_BITS:
        raise ValueError(f"bits must be one of {QUANTIZE_BITS}, got {bits}")
    if group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be one of {GROUP_SIZES}, got {group_size}")

    def eligible(_path: str, layer: nn.Module) -> bool:
        return isinstance(layer, (nn.Linear, nn.Embedding)) and layer.weight.shape[-1] % group_size == 0

    nn.quantize(model, group_size=group_size, bits=bits, class_predicate=eligible)
    mx.eval(model.parameters())
    return model


def _connector_param(key: str) -> str:
    return key.replace(".to_out.0.", ".to_out.").replace(".ff.net.0.proj.", ".ff.proj_in.").replace(
        ".ff.net.2.", ".ff.proj_out."
    )


def load_embeddings_processor(
    checkpoint: LTXCheckpoint | str | os.PathLike,
    dtype: mx.Dtype | str = mx.float32,
    gemma=None,
    projection_file: SafetensorsFile | None = None,
) -> EmbeddingsProcessor:
    """The feature extractor and both connectors from an LTX-2 checkpoint, loaded strictly.

    With ``gemma`` given (a Gemma 3 or 4 config), the feature projection's input is checked
    against that Gemma's width and layer count (a Gemma of another size is reported before
    anything runs). ``projection_file``: where ``text_embedding_projection.*`` lives when it is
    not the checkpoint (LTX-2.5: the text-encoder file; config and connectors stay in the
    transformer file).
    """
    checkpoint = open_checkpoint(checkpoint)
    processor, mapping = _embeddings_processor_layout(checkpoint, gemma, projection_file)
    source = checkpoint.file
    if projection_file is not None:
        source = ShardedSafetensors([checkpoint.file, projection_file], f"{checkpoint.name} + {projection_file.name}")
    load_module_weights(processor, source, mapping, resolve_dtype(dtype), "text embeddings processor")
    processor.eval()
    return processor


def check_embeddings_processor(
    checkpoint: LTXCheckpoint | str | os.PathLike, gemma=None, projection_file: SafetensorsFile | None = None
) -> None:
    """What ``load_embeddings_processor`` checks (config, tensor shapes, the Gemma's width and
    layer count), from the headers alone: run before Gemma loads, so that a Gemma of another
    size is refused before either model takes memory."""
    _embeddings_processor_layout(open_checkpoint(checkpoint), gemma, projection_file)


def _embeddings_processor_layout(
    checkpoint: LTXCheckpoint, gemma, projection_file: SafetensorsFile | None
) -> tuple[EmbeddingsProcessor, dict[str, TensorSource]]:
    """The processor module (lazily initialised: nothing allocated) and its tensor mapping."""
    section = checkpoint.section("transformer")
    where = f"{checkpoint.name} config, section 'transformer'"
    projection_source = projection_file if projection_file is not None else checkpoint.file
    projection = feature_projection(projection_source, section, where, gemma)
    video_config = ConnectorConfig.from_transformer_section(section, False, where)
    audio_config = ConnectorConfig.from_transformer_section(section, True, where)
    audio_keys = checkpoint.keys_under(AUDIO_CONNECTOR_PREFIX)
    widths = (("video", video_config, projection.video_width), ("audio", audio_config, projection.audio_width))
    for label, config, width in widths:
        if label == "audio" and not audio_keys:
            continue
        if config.inner_dim != width:
            raise ConfigError(
                f"{where}: the {label} connector width ({config.heads} heads x {config.head_dim}) differs from the "
                f"{label} text feature width {width}."
            )
    processor = EmbeddingsProcessor(
        projection.module,
        EmbeddingsConnector(video_config),
        EmbeddingsConnector(audio_config) if audio_keys else None,
    )
    mapping = dict(projection.mapping)
    for name, prefix in (("video_connector", VIDEO_CONNECTOR_PREFIX), ("audio_connector", AUDIO_CONNECTOR_PREFIX)):
        for short, full in checkpoint.keys_under(prefix).items():
            mapping[f"{name}.{_connector_param('.' + short)[1:]}"] = TensorSource(full)
    return processor, mapping


class GemmaFolderSource:
    """The text encoder of LTX-2.0 / 2.3: a Hugging Face Gemma 3 folder, plus the feature
    projection and connectors stored in the LTX checkpoint."""

    def __init__(self, folder: str | os.PathLike | None, checkpoint: LTXCheckpoint | str | os.PathLike):
        self.folder = gemma_folder(folder)
        self.checkpoint = open_checkpoint(checkpoint)

    def tokenizer(self, max_length: int):
        from ltx_core.model.text_encoder.tokenizer import PromptTokenizer

        return PromptTokenizer(self.folder, max_length)

    def gemma(self, dtype: mx.Dtype, quantize_bits: int | None, group_size: int) -> GemmaTextModel:
        return load_gemma(self.folder, dtype, quantize_bits, group_size)

    def processor(self, dtype: mx.Dtype):
        return load_embeddings_processor(self.checkpoint, dtype, gemma_config(self.folder))

    def check_sizes(self) -> None:
        check_embeddings_processor(self.checkpoint, gemma_config(self.folder))

    def identity(self) -> str:
        return f"{gemma_identity(self.folder)}:{self.checkpoint.identity()}"


def load_prompt_encoder(
    gemma: str | os.PathLike | None,
    checkpoint: LTXCheckpoint | str | os.PathLike,
    dtype: mx.Dtype | str = mx.float32,
    quantization=None,
    max_length: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    staged: bool = True,
):
    """A ``PromptEncoder`` over a Gemma folder and a checkpoint; each part loads on first use.
    ``quantization``: a ``QuantizationSpec`` for Gemma (None: the compute dtype)."""
    return prompt_encoder_over(GemmaFolderSource(gemma, checkpoint), dtype, quantization, max_length, cache_dir, staged)


def prompt_encoder_over(
    source,
    dtype: mx.Dtype | str,
    quantization=None,
    max_length: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    staged: bool = True,
):
    """A ``PromptEncoder`` over any ``TextEncoderSource`` (a Gemma folder, an LTX-2.5 text-encoder file)."""
    from ltx_core.model.text_encoder.prompt_encoder import PromptEncoder
    from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS

    return PromptEncoder(
        source,
        resolve_dtype(dtype),
        quantize_bits=quantization.bits if quantization is not None else None,
        group_size=quantization.group_size if quantization is not None else 64,
        max_length=max_length or MAX_PROMPT_TOKENS,
        cache_dir=cache_dir,
        staged=staged,
    )
