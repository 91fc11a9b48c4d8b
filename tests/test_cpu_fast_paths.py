"""The CPU fast paths (attention heads over two streams, GELU over two streams) give the same
values as the plain MLX formulation they replace; the VAE padding matches a gather."""

import ltx_core  # noqa: F401
import mlx.core as mx
import mlx.nn as nn
import pytest

from ltx_core.model.transformer import cpu_attention
from ltx_core.model.transformer.block import parallel_gelu_approx
from ltx_core.model.video_vae.ops import pad_axis


@pytest.mark.parametrize("heads,queries,keys,mask", [(32, 300, 300, None), (6, 64, 40, "bias"), (4, 50, 50, "per_head"), (1, 8, 8, None)])
def test_split_heads_attention_is_bit_identical(heads, queries, keys, mask):
    q = mx.random.normal((2, heads, queries, 16), key=mx.random.key(0))
    k = mx.random.normal((2, heads, keys, 16), key=mx.random.key(1))
    v = mx.random.normal((2, heads, keys, 16), key=mx.random.key(2))
    m = None
    if mask == "bias":
        m = mx.random.normal((2, 1, queries, keys), key=mx.random.key(3))
    elif mask == "per_head":
        m = mx.random.normal((2, heads, queries, keys), key=mx.random.key(3))
    expected = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.25, mask=m)
    assert mx.array_equal(cpu_attention.attention(q, k, v, 0.25, m), expected).item()


def test_split_heads_attention_bounded_groups(monkeypatch):
    monkeypatch.setattr(cpu_attention, "GROUP_SCORE_BYTES", 64 * 64 * 4)  # one head per group
    q = mx.random.normal((1, 8, 64, 16), key=mx.random.key(0))
    expected = mx.fast.scaled_dot_product_attention(q, q, q, scale=0.25)
    assert mx.array_equal(cpu_attention.split_heads_attention(q, q, q, 0.25), expected).item()


@pytest.mark.parametrize("tokens", [10, 1320, 1321])
def test_parallel_gelu_is_bit_identical(tokens):
    h = mx.random.normal((1, tokens, 64), key=mx.random.key(4))
    assert mx.array_equal(parallel_gelu_approx(h), nn.gelu_approx(h)).item()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("axis,pad", [(1, 1), (2, 1), (3, 2), (-2, 1)])
def test_pad_axis_matches_gather(mode, axis, pad):
    x = mx.random.normal((1, 3, 5, 6, 4), key=mx.random.key(5))
    n = x.shape[axis]
    before, after = {
        "reflect": (list(range(pad, 0, -1)), list(range(n - 2, n - 2 - pad, -1))),
        "replicate": ([0] * pad, [n - 1] * pad),
        "circular": (list(range(n - pad, n)), list(range(pad))),
    }[mode]
    expected = mx.take(x, mx.array(before + list(range(n)) + after), axis=axis)
    assert mx.array_equal(pad_axis(x, axis, pad, mode), expected).item()


def test_streams_work_from_another_thread():
    """MLX streams are per thread: a job on a worker thread must get its own."""
    import threading

    q = mx.random.normal((1, 4, 300, 16), key=mx.random.key(0))
    mx.eval(cpu_attention.attention(q, q, q, 0.25))  # streams made on this thread
    result = {}

    def work():
        out = cpu_attention.attention(q, q, q, 0.25)
        result["gelu"] = parallel_gelu_approx(mx.random.normal((1, 300, 8), key=mx.random.key(1)))
        mx.eval(out, result["gelu"])
        result["ok"] = mx.array_equal(out, mx.fast.scaled_dot_product_attention(q, q, q, scale=0.25)).item()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert result.get("ok")
