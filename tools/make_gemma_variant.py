"""Write tests/data/gemma_variant/ with Hugging Face transformers 4.57.6 (the version the
official fixtures were made with): a tiny random Gemma 3 text model in the text-only
``Gemma3ForCausalLM`` layout and its hidden states and last-position logits.

The shared fixture Gemma has head_dim * heads == hidden, query_pre_attn_scalar == head_dim,
two layers and one sliding window. This variant covers what it leaves out: a projection
width different from the hidden width, a query scale different from head_dim, the layer
pattern derived from ``sliding_window_pattern`` (no ``layer_types`` in config.json), several
sliding windows per sequence, batch 2 with different padding, final-logit soft-capping, and
an ``attn_logit_softcapping`` value (which transformers' Gemma 3 stores but never applies).
Run it in a scratch environment with torch and transformers==4.57.6, never the project's:

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_gemma_variant.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=7,
        num_attention_heads=4, num_key_value_heads=2, head_dim=24, query_pre_attn_scalar=20,
        sliding_window=16, sliding_window_pattern=6, rope_theta=1e6, rope_local_base_freq=1e4,
        rope_scaling={"rope_type": "linear", "factor": 8.0}, attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0, max_position_embeddings=4096, tie_word_embeddings=True,
        pad_token_id=0, bos_token_id=2, eos_token_id=1,
    )
    config._attn_implementation = "eager"
    model = Gemma3ForCausalLM(config).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            std = 0.3 if "norm" in name else 1.5 / param.shape[-1] ** 0.5
            param.copy_(torch.randn(param.shape, generator=gen) * std)
    model.save_pretrained(out, safe_serialization=True)
    saved = json.loads((out / "config.json").read_text())
    saved.pop("layer_types", None)  # the port must derive the pattern itself
    (out / "config.json").write_text(json.dumps(saved, indent=1))
    (out / "generation_config.json").unlink(missing_ok=True)

    tokens, lengths = 128, (60, 128)
    ids = torch.zeros(len(lengths), tokens, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, tokens - n :] = torch.randint(3, 256, (n,), generator=gen)
        ids[row, tokens - n] = 2
        mask[row, tokens - n :] = 1
    with torch.no_grad():
        result = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    np.savez_compressed(
        out / "reference.npz",
        input_ids=ids.numpy(),
        attention_mask=mask.numpy(),
        hidden_states=torch.stack(result.hidden_states).numpy(),
        last_logits=result.logits[:, -1].numpy(),
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
