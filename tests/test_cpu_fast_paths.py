"""The CPU fast paths give the values of the plain MLX formulation they replace: attention heads
and GELU over two streams bit-identically, the float32 NumPy attention and GELU to float32
rounding (with MLX's own gradients); the VAE padding matches a gather."""

import ltx_core  # noqa: F401  (OpenBLAS before mlx)

# isort: split
import mlx.core as mx
import pytest
from mlx import nn

from ltx_core.components import cpu_attention, cpu_numpy, cpu_winograd
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
    assert mx.array_equal(cpu_attention.split_heads_attention(q, k, v, 0.25, m), expected).item()


def test_split_heads_attention_bounded_groups(monkeypatch):
    monkeypatch.setattr(cpu_attention, "GROUP_SCORE_BYTES", 64 * 64 * 4)  # one head per group
    q = mx.random.normal((1, 8, 64, 16), key=mx.random.key(0))
    expected = mx.fast.scaled_dot_product_attention(q, q, q, scale=0.25)
    assert mx.array_equal(cpu_attention.split_heads_attention(q, q, q, 0.25), expected).item()


@pytest.mark.parametrize("tokens", [10, 1320, 1321])
def test_parallel_gelu_is_bit_identical(tokens):
    h = mx.random.normal((1, tokens, 64), key=mx.random.key(4)).astype(mx.bfloat16)  # the stream split
    assert mx.array_equal(parallel_gelu_approx(h), nn.gelu_approx(h)).item()


def relative_error(a: mx.array, b: mx.array) -> float:
    return (mx.abs(a - b).max() / mx.abs(b).max()).item()


@pytest.mark.parametrize(
    "batch,heads,queries,keys,mask",
    [(1, 32, 600, 600, None), (2, 4, 300, 77, "bias"), (1, 3, 5, 9, "bool"), (2, 2, 10, 10, "per_head"), (1, 1, 7, 7, None),
     (2, 8, 40, 40, "gqa")],
)  # fmt: skip
def test_numpy_attention_matches_the_fused_kernel(batch, heads, queries, keys, mask):
    q = mx.random.normal((batch, queries, heads, 128 if heads == 32 else 16), key=mx.random.key(0)).transpose(0, 2, 1, 3)
    kv_heads = 2 if mask == "gqa" else heads  # grouped-query attention (Gemma): 4 query heads per key head
    k, v = (mx.random.normal((batch, kv_heads, keys, q.shape[-1]), key=mx.random.key(i)) for i in (1, 2))
    m = {
        None: None,
        "gqa": mx.where(mx.tril(mx.ones((queries, keys))) > 0, 0.0, -1e30)[None, None],
        "bias": mx.random.normal((batch, 1, 1, keys), key=mx.random.key(3)),
        "bool": mx.random.uniform(shape=(batch, 1, queries, keys), key=mx.random.key(3)) > 0.3,
        "per_head": mx.random.normal((batch, heads, queries, keys), key=mx.random.key(3)),
    }[mask]
    expected = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=m)
    ours = cpu_attention.attention(q, k, v, 0.3, m)  # float32 on the CPU: the NumPy path
    assert ours.shape == expected.shape
    assert relative_error(ours, expected) < 1e-5

    def loss(attend):
        return lambda q, k, v: (attend(q, k, v) ** 2).sum()

    ours_grads = mx.grad(loss(lambda q, k, v: cpu_numpy.numpy_attention(q, k, v, 0.3, m)), argnums=(0, 1, 2))(q, k, v)
    fused = mx.grad(loss(lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=m)), argnums=(0, 1, 2))
    for a, b in zip(ours_grads, fused(q, k, v)):
        assert relative_error(a, b) < 1e-5


def test_numpy_gelu_matches_mlx():
    h = mx.random.normal((1, 300, 96), key=mx.random.key(4)) * 3
    assert mx.abs(parallel_gelu_approx(h) - nn.gelu_approx(h)).max().item() < 2e-6
    ours = mx.grad(lambda x: (cpu_numpy.numpy_gelu_approx(x) ** 2).sum())(h)
    assert relative_error(ours, mx.grad(lambda x: (nn.gelu_approx(x) ** 2).sum())(h)) < 1e-5


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

    q = mx.random.normal((1, 4, 300, 16), key=mx.random.key(0)).astype(mx.bfloat16)  # the stream split
    mx.eval(cpu_attention.attention(q, q, q, 0.25))  # streams made on this thread
    result = {}

    def work():
        out = cpu_attention.attention(q, q, q, 0.25)
        result["gelu"] = parallel_gelu_approx(mx.random.normal((1, 300, 8), key=mx.random.key(1)).astype(mx.bfloat16))
        mx.eval(out, result["gelu"])
        result["ok"] = mx.array_equal(out, mx.fast.scaled_dot_product_attention(q, q, q, scale=0.25)).item()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert result.get("ok")


@pytest.mark.parametrize(
    "batch,frames,height,width,channels,out_channels",
    [(1, 3, 40, 24, 32, 16), (2, 2, 7, 9, 8, 5), (1, 1, 16, 10, 64, 96), (1, 4, 18, 6, 16, 3)],
)  # several bands; odd sizes and batch 2; one band (output channels split); fewer outputs than workers
def test_winograd_conv3d_matches_mlx(batch, frames, height, width, channels, out_channels):
    x = mx.random.normal((batch, frames, height, width, channels), key=mx.random.key(0))
    w = mx.random.normal((out_channels, 3, 3, 3, channels), key=mx.random.key(1)) * 0.1
    b = mx.random.normal((out_channels,), key=mx.random.key(2))
    assert cpu_winograd.supported(x, w, (1, 1, 1))
    padding = cpu_winograd.Padding(1, 1, "zeros", "zeros")

    def pad(t):
        return mx.pad(t, [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)])

    def winograd(x, w, b):
        return cpu_winograd.padded_conv3d(x, w, b, padding, pad)

    def direct(x, w, b):
        return mx.conv3d(pad(x), w) + b

    expected = direct(x, w, b)
    ours = winograd(x, w, b)
    assert ours.shape == expected.shape == (batch, frames, height, width, out_channels)
    assert relative_error(ours, expected) < 2e-6

    def loss(conv):
        return lambda x, w, b: (conv(x, w, b) ** 2).sum()

    grads = mx.grad(loss(winograd), argnums=(0, 1, 2))(x, w, b)
    reference = mx.grad(loss(direct), argnums=(0, 1, 2))(x, w, b)
    for a, r in zip(grads, reference):
        assert relative_error(a, r) < 1e-5


@pytest.mark.parametrize("modulated", [False, True])
def test_pixel_norm_silu_matches_mlx_alone_and_inside_the_convolution(modulated):
    """The VAE's norm and SiLU (with the timestep's scale and shift) by NumPy, alone and done in
    the Winograd convolution's input copy: values and gradients are MLX's."""
    x = mx.random.normal((2, 3, 16, 16, 48), key=mx.random.key(0)) * 3
    w = mx.random.normal((16, 3, 3, 3, 48), key=mx.random.key(1)) * 0.1
    b = mx.random.normal((16,), key=mx.random.key(2))
    scale = mx.random.normal((2, 1, 1, 1, 48), key=mx.random.key(3)) * 0.3 if modulated else None
    shift = mx.random.normal((2, 1, 1, 1, 48), key=mx.random.key(4)) if modulated else None
    step = cpu_numpy.PixelNormSilu(1e-8, scale, shift)
    arrays = step.arrays()
    assert cpu_numpy.fast_elementwise(x)
    assert relative_error(cpu_numpy.pixel_norm_silu(x, 1e-8, scale, shift), step.reference(x, *arrays)) < 1e-6
    padding = cpu_winograd.Padding(2, 0, "replicate", "zeros")

    def pad(t):
        t = mx.concatenate([t[:, :1], t[:, :1], t], axis=1)
        return mx.pad(t, [(0, 0), (0, 0), (1, 1), (1, 1), (0, 0)])

    def fused(x, w, b, *arrays):
        return cpu_winograd.padded_conv3d(x, w, b, padding, pad, cpu_numpy.PixelNormSilu(1e-8, *arrays))

    def reference(x, w, b, *arrays):
        return mx.conv3d(pad(step.reference(x, *arrays)), w) + b

    inputs = (x, w, b, *arrays)
    assert relative_error(fused(*inputs), reference(*inputs)) < 2e-6
    argnums = tuple(range(len(inputs)))
    grads = mx.grad(lambda *a: (fused(*a) ** 2).sum(), argnums=argnums)(*inputs)
    expected = mx.grad(lambda *a: (reference(*a) ** 2).sum(), argnums=argnums)(*inputs)
    for got, want in zip(grads, expected):
        assert relative_error(got, want) < 1e-5


def test_winograd_is_only_taken_where_it_applies():
    x = mx.zeros((1, 5, 6, 6, 4))
    assert not cpu_winograd.supported(x, mx.zeros((4, 1, 1, 1, 4)), (1, 1, 1))  # 1x1x1: a matmul
    assert not cpu_winograd.supported(x, mx.zeros((4, 3, 3, 3, 4)), (1, 2, 2))  # strided
    assert not cpu_winograd.supported(x.astype(mx.bfloat16), mx.zeros((4, 3, 3, 3, 4), mx.bfloat16), (1, 1, 1))


def test_numpy_silu_matches_mlx():
    h = mx.random.normal((3, 70000), key=mx.random.key(5)) * 6
    h = mx.concatenate([h, mx.broadcast_to(mx.array([-200.0, 200.0, 0.0]), (3, 3))], axis=1)  # exp overflows to inf
    ours = cpu_numpy.silu(h)
    assert relative_error(ours, nn.silu(h)) < 2e-6 and not mx.isnan(ours).any().item()
    grad = mx.grad(lambda x: (cpu_numpy.numpy_silu(x) ** 2).sum())(h)
    assert relative_error(grad, mx.grad(lambda x: (nn.silu(x) ** 2).sum())(h)) < 1e-5


@pytest.mark.parametrize("space_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("causal", [True, False])
def test_winograd_pads_as_the_vae_convolution_does(space_mode, causal):
    """The VAE's convolution (time padding by edge frames, space by the mode) with the padding done
    in the Winograd copy equals MLX's conv3d of the MLX-padded input, values and gradients."""
    from ltx_core.model.video_vae.ops import CausalConv3d

    conv = CausalConv3d(6, 5, padding_mode=space_mode)
    conv.update({"conv": {"weight": mx.random.normal((5, 3, 3, 3, 6), key=mx.random.key(1)) * 0.2,
                          "bias": mx.random.normal((5,), key=mx.random.key(2))}})  # fmt: skip
    x = mx.random.normal((2, 3, 7, 10, 6), key=mx.random.key(0))
    expected = mx.conv3d(conv.pad(x, causal), conv.conv.weight) + conv.conv.bias
    assert relative_error(conv(x, causal), expected) < 2e-6
    ours = mx.grad(lambda x: (conv(x, causal) ** 2).sum())(x)
    reference = mx.grad(lambda x: ((mx.conv3d(conv.pad(x, causal), conv.conv.weight) + conv.conv.bias) ** 2).sum())(x)
    assert relative_error(ours, reference) < 1e-5
