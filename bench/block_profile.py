"""Where one real-width transformer block spends its time, op group by op group.

    python -m bench.block_profile [--size 704x480x25] [--repeats 2]

Builds a 1-block slice at the released widths (random weights, float32), prepares its inputs
as the model does, then runs the block's pieces one at a time with an ``mx.eval`` barrier
after each and prints each group's seconds, its kind (GEMM: BLAS matmuls, multi-threaded on
the CPU backend; elementwise: MLX's own kernels, norms, softmax, RoPE, copies) and share. The
pieces are the block's own modules and functions, so the sum is close to one block's time
(evaluating the pieces separately forgoes overlap between them).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import ltx_core  # noqa: F401  (OpenBLAS before mlx)
import mlx.core as mx

from bench.flops import parse_sizes
from bench.real_width import real_inputs, real_width_model
from ltx_core.model.transformer.attention import Attention
from ltx_core.model.transformer.block import TransformerBlock, parallel_gelu_approx, rms
from ltx_core.components.cpu_attention import attention


class Timer:
    def __init__(self, repeats: int):
        self.repeats = repeats
        self.rows: dict[str, list] = defaultdict(lambda: [0.0, ""])

    def __call__(self, name: str, kind: str, fn, *inputs):
        mx.eval([a for a in inputs if isinstance(a, mx.array)])
        best = float("inf")
        for _ in range(self.repeats):
            start = time.perf_counter()
            out = fn(*inputs)
            mx.eval(out)
            best = min(best, time.perf_counter() - start)
        self.rows[name][0] += best
        self.rows[name][1] = kind
        return out


def profile_attention(t: Timer, prefix: str, attn: Attention, x, context, rope, k_rope, kv=None, mask=None):
    batch = x.shape[0]
    q = t(f"{prefix} q projection", "GEMM", attn.to_q, x)
    q = t(f"{prefix} q/k RMSNorm", "elementwise", attn.q_norm, q)
    if kv is None:
        k = t(f"{prefix} k/v projections", "GEMM", lambda c: attn.to_k(c), context)
        v = t(f"{prefix} k/v projections", "GEMM", lambda c: attn.to_v(c), context)
        k = t(f"{prefix} q/k RMSNorm", "elementwise", attn.k_norm, k)
        k = t(
            f"{prefix} heads + RoPE", "elementwise", lambda a: attn._heads(a, k_rope if k_rope is not None else rope), k
        )
        v = t(f"{prefix} heads + RoPE", "elementwise", lambda a: attn._heads(a, None), v)
    else:
        k, v = kv
    q = t(f"{prefix} heads + RoPE", "elementwise", lambda a: attn._heads(a, rope), q)
    out = t(
        f"{prefix} attention (QK, softmax, PV)",
        "attention",
        lambda a, b, c: attention(a, b, c, attn.scale, mask),
        q,
        k,
        v,
    )
    out = t(
        f"{prefix} merge heads (copy)", "elementwise",
        lambda o: mx.contiguous(o.transpose(0, 2, 1, 3).reshape(batch, -1, attn.heads * attn.dim_head)), out,
    )  # fmt: skip
    if "to_gate_logits" in attn:
        raise NotImplementedError("gated attention is not profiled")
    return t(f"{prefix} out projection", "GEMM", attn.to_out, out)


def modulate(a: mx.array, scale: mx.array, shift: mx.array) -> mx.array:
    return a * (1 + scale) + shift


def modulate_norm(a: mx.array, scale: mx.array, shift: mx.array, eps: float) -> mx.array:
    return modulate(rms(a, eps), scale, shift)


def gated_residual(x: mx.array, out: mx.array, gate: mx.array) -> mx.array:
    return x + out * gate


def profile_block(block: TransformerBlock, video, audio, t: Timer) -> None:
    eps = block.norm_eps
    for name, st, attn1, attn2, ff, table in (
        ("video", video, block.attn1, block.attn2, block.ff, block.scale_shift_table),
        ("audio", audio, block.audio_attn1, block.audio_attn2, block.audio_ff, block.audio_scale_shift_table),
    ):
        x = st.x
        shift, scale, gate = t(f"{name} AdaLN values", "elementwise", lambda: block._ada(table, st, range(3)))  # noqa: B023
        normed = t(f"{name} RMSNorm + modulate", "elementwise", modulate_norm, x, scale, shift, eps)
        out = profile_attention(t, f"{name} self", attn1, normed, normed, st.rope, None)
        x = t(f"{name} gate + residual", "elementwise", gated_residual, x, out, gate)
        kv = attn2.context_kv(st.context)
        normed = t(f"{name} RMSNorm + modulate", "elementwise", lambda a: rms(a, eps), x)
        out = profile_attention(t, f"{name} text", attn2, normed, st.context, None, None, kv=kv, mask=st.context_mask)
        x = t(f"{name} gate + residual", "elementwise", lambda a, o: a + o, x, out)
        st.__dict__["_x"] = x
    vx, ax = video.__dict__.pop("_x"), audio.__dict__.pop("_x")
    vn = t("AV RMSNorm + modulate", "elementwise", lambda a: rms(a, eps), vx)
    an = t("AV RMSNorm + modulate", "elementwise", lambda a: rms(a, eps), ax)
    for label, attn, (qn, qt, qs), (kn, kt, ks), first in (
        ("a2v", block.audio_to_video_attn, (vn, block.scale_shift_table_a2v_ca_video, video),
         (an, block.scale_shift_table_a2v_ca_audio, audio), 0),
        ("v2a", block.video_to_audio_attn, (an, block.scale_shift_table_a2v_ca_audio, audio),
         (vn, block.scale_shift_table_a2v_ca_video, video), 2),
    ):  # fmt: skip
        q_scale, q_shift, q_gate = block._av_values(qt, qs, first)
        k_scale, k_shift, _ = block._av_values(kt, ks, first)
        qm = t("AV RMSNorm + modulate", "elementwise", modulate, qn, q_scale, q_shift)
        km = t("AV RMSNorm + modulate", "elementwise", modulate, kn, k_scale, k_shift)
        out = profile_attention(t, f"AV {label}", attn, qm, km, qs.cross_rope, ks.cross_rope)
        t("AV gate + residual", "elementwise", mx.multiply, out, q_gate)
    for name, st, ff, table, x in (
        ("video", video, block.ff, block.scale_shift_table, vx),
        ("audio", audio, block.audio_ff, block.audio_scale_shift_table, ax),
    ):
        shift, scale, gate = block._ada(table, st, range(3, 6))
        normed = t(f"{name} RMSNorm + modulate", "elementwise", modulate_norm, x, scale, shift, eps)
        h = t(f"{name} FFN matmuls", "GEMM", ff.proj_in, normed)
        h = t(f"{name} FFN GELU", "elementwise", parallel_gelu_approx, h)
        h = t(f"{name} FFN matmuls", "GEMM", ff.proj_out, h)
        t(f"{name} gate + residual", "elementwise", gated_residual, x, h, gate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="704x480x25")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    width, height, frames = parse_sizes(args.size)[0]
    model = real_width_model(1, mx.float32)
    video_in, audio_in = real_inputs(height, width, frames)
    start = time.perf_counter()
    mx.eval(model(video_in, audio_in))
    start = time.perf_counter()
    mx.eval(model(video_in, audio_in))
    whole = time.perf_counter() - start
    video = model.prepare(video_in, audio_in, "video")
    audio = model.prepare(audio_in, video_in, "audio")
    mx.eval(video.x, audio.x, video.rope.cos, audio.rope.cos, video.cross_rope.cos, audio.cross_rope.cos)
    timer = Timer(args.repeats)
    profile_block(model.transformer_blocks[0], video, audio, timer)
    total = sum(v[0] for v in timer.rows.values())
    print(f"size {args.size}: {video.x.shape[1]} video / {audio.x.shape[1]} audio tokens; "
          f"whole 1-block forward {whole:.3f} s, sum of pieces {total:.3f} s\n")  # fmt: skip
    print("| op group | kind | seconds | share |\n|---|---|---|---|")
    for name, (sec, kind) in sorted(timer.rows.items(), key=lambda kv: -kv[1][0]):
        print(f"| {name} | {kind} | {sec:.4f} | {sec / total:.1%} |")
    by_kind: dict[str, float] = defaultdict(float)
    for sec, kind in timer.rows.values():
        by_kind[kind] += sec
    print("\n| kind | seconds | share |\n|---|---|---|")
    for kind, sec in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {sec:.3f} | {sec / total:.1%} |")


if __name__ == "__main__":
    main()
