"""Test helpers for the text path: a local word-level tokenizer and a Gemma folder built from
the fixture Gemma (links to its weights) plus that tokenizer. Nothing is downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ltx_core.demo.tokenizer import write_tokenizer_config

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
WORDS = (
    "a cat dog runs on the beach at sunset in rain red ball video prompt user model system "
    "walks slowly while waves crash softly , . : idea"
).split()
# Gemma-style chat layout (system text folded into the first user turn), with spaces so the
# word-level tokenizer splits it.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<start_of_turn> user {{ m['content'] }} "
    "{% else %}{% if loop.index0 == 0 %}<start_of_turn> {{ m['role'] }} {% endif %}{{ m['content'] }} "
    "<end_of_turn> {% endif %}{% endfor %}{% if add_generation_prompt %}<start_of_turn> model {% endif %}"
)


def write_tokenizer(folder: Path, vocab_size: int) -> dict[str, int]:
    """A word-level tokenizer whose ids cover ``0..vocab_size-1`` (fillers ``w<i>``)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab: dict[str, int] = {}
    for token in SPECIALS + WORDS:
        vocab.setdefault(token, len(vocab))
    while len(vocab) < vocab_size:
        vocab[f"w{len(vocab)}"] = len(vocab)
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    write_tokenizer_config(folder, CHAT_TEMPLATE)
    return vocab


def gemma_folder_with_tokenizer(fixture_gemma: Path, folder: Path) -> Path:
    """``folder`` with links to the fixture Gemma's files and a local tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in fixture_gemma.iterdir():
        os.symlink(item, folder / item.name)
    vocab_size = json.loads((fixture_gemma / "config.json").read_text()).get("text_config", {}).get("vocab_size")
    write_tokenizer(folder, int(vocab_size or 1024))
    return folder
