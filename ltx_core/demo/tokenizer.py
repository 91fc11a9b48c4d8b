"""Tokenizers for the demo Gemma, built in code (nothing is downloaded), in the ``tokenizer.json``
format transformers loads for Gemma.

- byte-level (the random demo set): one token per UTF-8 byte, so any typed prompt goes through
  the real text path;
- caption words (the trained family): the same byte-level BPE plus merges that spell every word of
  the caption grammar (``ltx_core.demo.synthetic``) as one token, with and without its leading
  space; any other text still tokenizes, byte by byte. One token per caption word gives the frozen
  random Gemma a distinct input row per word, which the trained text projection learns to read."""

from __future__ import annotations

import json
from pathlib import Path

BYTE_LEVEL_SPACE = "\u0120"  # how the byte-level alphabet writes " "
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")
# Gemma's chat layout: the system text folded into the first user turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<start_of_turn>user\n{{ m['content'] }}\n\n"
    "{% else %}{% if loop.index0 == 0 %}<start_of_turn>{{ m['role'] }}\n{% endif %}{{ m['content'] }}<end_of_turn>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def write_byte_tokenizer(folder: Path, vocab_size: int) -> None:
    _write_bpe_tokenizer(folder, vocab_size, words=())


def caption_words() -> tuple[str, ...]:
    """Every word of the caption grammar, sorted."""
    from ltx_core.demo.synthetic import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, ClipSpec

    example = ClipSpec(next(iter(COLOURS)), SHAPES[0], MOTIONS[0], next(iter(BACKGROUNDS))).caption
    phrases = [*COLOURS, *SHAPES, *MOTIONS, *BACKGROUNDS, example]
    return tuple(sorted({word for phrase in phrases for word in phrase.split()}))


def write_caption_word_tokenizer(folder: Path, vocab_size: int) -> None:
    _write_bpe_tokenizer(folder, vocab_size, words=caption_words())


def _word_merges(words: tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """Tokens and BPE merges that join each word, after its space (the byte-level "Ġ"), into one
    token, left to right. Every merge's left side starts with "Ġ", which a word holds only at its
    start, so the merges of different words never compete inside a word."""
    tokens: list[str] = []
    merges: list[tuple[str, str]] = []
    for word in words:
        prefix = BYTE_LEVEL_SPACE
        for symbol in word:
            if prefix + symbol not in tokens:
                merges.append((prefix, symbol))
                tokens.append(prefix + symbol)
            prefix += symbol
    return tokens, merges


def _write_bpe_tokenizer(folder: Path, vocab_size: int, words: tuple[str, ...]) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for symbol in sorted(ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    tokens, merges = _word_merges(words)
    for token in tokens:
        vocab[token] = len(vocab)
    if len(vocab) > vocab_size:
        raise ValueError(f"the demo Gemma's vocabulary ({vocab_size}) is smaller than the tokenizer's ({len(vocab)})")
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    if words:
        # Lowercased, split GPT-2 style with a space before every word (the first too), so a
        # grammar word is one token wherever it stands and however it is capitalised.
        tokenizer.normalizer = normalizers.Lowercase()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    bos = vocab["<bos>"]
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    write_tokenizer_config(folder, CHAT_TEMPLATE)


def write_tokenizer_config(folder: Path, chat_template: str) -> None:
    """The ``tokenizer_config.json`` that makes transformers load ``tokenizer.json`` Gemma-style."""
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
        "chat_template": chat_template,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
