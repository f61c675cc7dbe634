"""Float reference kernels of every IR op, and :func:`run_float` to execute a whole network.

Every kernel works on batched arrays: a tensor whose IR (per-sample) shape is
``(C, H, W)`` is an ``(N, C, H, W)`` array here. Results are float32 (the
dtype of the inputs) and agree with onnxruntime to float32 rounding.

The weight-layer path is split into the pieces the functional crossbar model
reuses:

* :func:`im2col_groups` / :func:`im2col` turn an input feature map into the
  vectors applied to the word-lines, one per output pixel, rows in the IR's
  ``(c, ky, kx)`` order;
* each group's matrix (:meth:`reramsim.ir.WeightLayer.matrix`) multiplies them;
* :func:`col2im_output` puts the ``(N, P, Cout)`` bit-line results back into
  ``(N, Cout, H, W)``.

:func:`weight_layer_float` chains the three in float: it is the reference that
the crossbar model replaces. Digital ops go through :func:`digital_op`, one
kernel per key of :data:`reramsim.ir.DIGITAL_OPS`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from reramsim import ReramsimError
from reramsim.ir import DIGITAL_OPS, Layer, Network, WeightLayer

__all__ = [
    "col2im_output",
    "conv_output_size",
    "digital_op",
    "im2col",
    "im2col_groups",
    "pool_output_size",
    "run_float",
    "weight_layer_float",
]

Kernel = Callable[[Layer, list[np.ndarray]], np.ndarray]
_KERNELS: dict[str, Kernel] = {}


def _register_kernel(op: str) -> Callable[[Kernel], Kernel]:
    """Register the float kernel of digital op ``op``; refuses duplicates and unknown ops."""

    def decorate(fn: Kernel) -> Kernel:
        if op not in DIGITAL_OPS:
            raise ValueError(f"{op!r} is not a digital op of the IR; known: {sorted(DIGITAL_OPS)}")
        if op in _KERNELS:
            raise ValueError(f"a float kernel for {op!r} is already registered")
        _KERNELS[op] = fn
        return fn

    return decorate


# --------------------------------------------------------------------------- output sizes


def conv_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                     dilation: int = 1) -> int:
    """Output length of a conv along one spatial axis (floor rule), in pixels.

    ``out = floor((size + pad_begin + pad_end - ((kernel-1)*dilation + 1)) / stride) + 1``.
    Example: 224 wide, kernel 11, stride 4, pads 2+2 gives ``(228 - 11)//4 + 1 = 55``.
    May be < 1 when the kernel does not fit (callers check).
    """
    extent = (kernel - 1) * dilation + 1
    return (size + pad_begin + pad_end - extent) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a pool along one spatial axis, as onnxruntime and PyTorch compute it.

    Without ``ceil_mode`` it is :func:`conv_output_size`. With it the division
    rounds up, and a last window that would *start* in the end padding is
    dropped (onnxruntime and PyTorch do this; ONNX shape inference does not).
    Example: size 5, kernel 2, stride 2, pads 1+1: ``ceil(5/2) + 1 = 4`` windows,
    but the 4th starts at padded index 6 >= 5 + 1, so the result is 3.
    """
    extent = (kernel - 1) * dilation + 1
    span = size + pad_begin + pad_end - extent
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


# --------------------------------------------------------------------------- weight layers


def _spatial_windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                     dilation: tuple[int, int], out_hw: tuple[int, int]
                     ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(ky, kx, view)`` with ``view[..., i, j] = xp[..., i*sy + ky*dy, j*sx + kx*dx]``.

    ``xp`` is an already padded ``(..., Hp, Wp)`` array large enough for ``out_hw``.
    """
    (kh, kw), (sy, sx), (dy, dx), (ho, wo) = kernel, stride, dilation, out_hw
    for ky in range(kh):
        y0 = ky * dy
        for kx in range(kw):
            x0 = kx * dx
            yield ky, kx, xp[..., y0:y0 + (ho - 1) * sy + 1:sy, x0:x0 + (wo - 1) * sx + 1:sx]


def im2col_groups(x: np.ndarray, layer: WeightLayer) -> np.ndarray:
    """Word-line input vectors of every output pixel and group: ``(N, P, groups, rows)``.

    ``x`` is the layer input, ``(N, Cin, H, W)`` for conv or ``(N, Cin)`` for fc.
    ``P`` is the number of output pixels in raster order (``Ho*Wo``; 1 for fc) and
    ``rows = Cin/groups * kh * kw`` in the IR order ``(c, ky, kx)``, with zeros where
    the window covers padding. Row ``r`` of group ``g`` at pixel ``p = i*Wo + j`` is
    ``x[n, g*Cin/groups + c, i*sy + ky*dy - top, j*sx + kx*dx - left]`` with
    ``r = (c*kh + ky)*kw + kx``.

    Example: a 3x3 conv 3->8 on a 5x5 input with pads 1 gives ``(N, 25, 1, 27)``.
    """
    n = x.shape[0]
    if layer.op == "fc":
        return x.reshape(n, 1, 1, -1)
    _, cin, h, w = x.shape
    ho, wo = layer.out_shape[1:]
    kh, kw = layer.kernel
    top, left, bottom, right = layer.pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(layer.pads) else x
    cols = np.empty((n, ho, wo, cin, kh, kw), dtype=x.dtype)
    for ky, kx, view in _spatial_windows(xp, layer.kernel, layer.stride, layer.dilation, (ho, wo)):
        cols[:, :, :, :, ky, kx] = view.transpose(0, 2, 3, 1)
    return cols.reshape(n, ho * wo, layer.groups, layer.rows)


def im2col(x: np.ndarray, layer: WeightLayer, group: int = 0) -> np.ndarray:
    """Word-line input vectors of one group: ``(N, P, rows)``; see :func:`im2col_groups`.

    ``im2col(x, layer, g) @ layer.matrix(g)`` is group ``g``'s output, ``(N, P, cols)``.
    Raises IndexError for a group outside ``range(layer.groups)``.
    """
    if not 0 <= group < layer.groups:
        raise IndexError(f"{layer.name}: group {group} out of range(0, {layer.groups})")
    return im2col_groups(x, layer)[:, :, group, :]


def col2im_output(y: np.ndarray, layer: WeightLayer) -> np.ndarray:
    """Put per-pixel outputs ``(N, P, Cout)`` back into the layer's output layout.

    Conv gives ``(N, Cout, Ho, Wo)`` (pixel ``p = i*Wo + j``), fc gives ``(N, Cout)``.
    Column ``g*cols + j`` is bit-line ``j`` of group ``g``.
    """
    n = y.shape[0]
    if layer.op == "fc":
        return y.reshape(n, layer.cout)
    ho, wo = layer.out_shape[1:]
    return y.reshape(n, ho, wo, layer.cout).transpose(0, 3, 1, 2)


def weight_layer_float(x: np.ndarray, layer: WeightLayer) -> np.ndarray:
    """Float output of a conv or fc layer: ``im2col @ matrix + bias`` for every group.

    ``x``: ``(N, Cin, H, W)`` or ``(N, Cin)``; returns ``(N, Cout, Ho, Wo)`` or ``(N, Cout)``
    in the dtype of ``x`` (float32 weights are promoted to it).
    """
    cols = im2col_groups(x, layer)  # (N, P, G, R)
    n, p, groups, rows = cols.shape
    weight = layer.weight.astype(x.dtype, copy=False)
    if groups == 1:
        y = cols.reshape(n * p, rows) @ weight.reshape(layer.cout, rows).T
    else:
        mats = weight.reshape(groups, layer.cols, rows).transpose(0, 2, 1)  # (G, R, cols)
        y = np.matmul(cols.reshape(n * p, groups, rows).transpose(1, 0, 2), mats)
        y = y.transpose(1, 0, 2).reshape(n * p, layer.cout)
    if layer.bias is not None:
        y += layer.bias.astype(x.dtype, copy=False)
    return np.ascontiguousarray(col2im_output(y.reshape(n, p, layer.cout), layer))


# --------------------------------------------------------------------------- digital ops


def digital_op(layer: Layer, inputs: list[np.ndarray]) -> np.ndarray:
    """Float output of a digital (non-crossbar) layer on batched inputs.

    ``inputs`` are ``(N, *in_shape)`` arrays in the order of ``layer.inputs``; the result
    is ``(N, *layer.out_shape)``. Raises ReramsimError for an op without a kernel.
    """
    kernel = _KERNELS.get(layer.op)
    if kernel is None:
        raise ReramsimError(f"layer {layer.name!r}: no float kernel for op {layer.op!r}; "
                            f"known: {', '.join(sorted(_KERNELS))}")
    return kernel(layer, inputs)


@_register_kernel("relu")
def _relu(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return np.maximum(xs[0], 0)


@_register_kernel("clip")
def _clip(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return np.clip(x, x.dtype.type(layer.attrs["min"]), x.dtype.type(layer.attrs["max"]))


@_register_kernel("leaky_relu")
def _leaky_relu(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return np.where(x >= 0, x, x * x.dtype.type(layer.attrs["alpha"]))


@_register_kernel("sigmoid")
def _sigmoid(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _pool_padded(x: np.ndarray, layer: Layer, fill: float) -> np.ndarray:
    """``x`` padded with the explicit pads plus the end margin ceil_mode windows reach into."""
    top, left, bottom, right = layer.attrs["pads"]
    (kh, kw), (sy, sx) = layer.attrs["kernel"], layer.attrs["stride"]
    dy, dx = layer.attrs.get("dilation", (1, 1))
    ho, wo = layer.out_shape[1:]
    h, w = x.shape[-2:]
    extra_h = max(0, (ho - 1) * sy + (kh - 1) * dy + 1 - (h + top + bottom))
    extra_w = max(0, (wo - 1) * sx + (kw - 1) * dx + 1 - (w + left + right))
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom + extra_h), (left, right + extra_w)]
    return np.pad(x, widths, constant_values=fill)


def _pool_sum(xp: np.ndarray, layer: Layer, reduce: Callable[..., Any]) -> np.ndarray:
    out: np.ndarray | None = None
    for _, _, view in _spatial_windows(xp, layer.attrs["kernel"], layer.attrs["stride"],
                                       layer.attrs.get("dilation", (1, 1)), layer.out_shape[1:]):
        out = view.copy() if out is None else reduce(out, view, out=out)
    assert out is not None
    return out


@_register_kernel("maxpool")
def _maxpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return _pool_sum(_pool_padded(xs[0], layer, -np.inf), layer, np.maximum)


@_register_kernel("avgpool")
def _avgpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Window mean; the divisor counts input pixels, plus explicit pads if count_include_pad.

    Positions a ceil_mode window reaches beyond the explicit pads never count.
    """
    x = xs[0]
    top, left, bottom, right = layer.attrs["pads"]
    total = _pool_sum(_pool_padded(x, layer, 0.0), layer, np.add)
    h, w = x.shape[-2:]
    if layer.attrs.get("count_include_pad", False):
        ones = np.ones((h + top + bottom, w + left + right), x.dtype)
        shape_layer = Layer(layer.name, layer.op, (), "", (), layer.out_shape,
                            {**layer.attrs, "pads": (0, 0, 0, 0)})
        count = _pool_sum(_pool_padded(ones, shape_layer, 0.0), layer, np.add)
    else:
        count = _pool_sum(_pool_padded(np.ones((h, w), x.dtype), layer, 0.0), layer, np.add)
    return total / count


@_register_kernel("global_avgpool")
def _global_avgpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)


@_register_kernel("add")
def _add(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    out = xs[0].copy()
    for x in xs[1:]:
        out += x
    return out


@_register_kernel("concat")
def _concat(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(xs, axis=layer.attrs["axis"] + 1)


@_register_kernel("flatten")
def _flatten(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return xs[0].reshape(xs[0].shape[0], -1)


@_register_kernel("reshape")
def _reshape(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return xs[0].reshape((xs[0].shape[0], *layer.attrs["shape"]))


@_register_kernel("transpose")
def _transpose(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(xs[0].transpose((0, *(p + 1 for p in layer.attrs["perm"]))))


@_register_kernel("lrn")
def _lrn(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Cross-channel LRN: ``x / (bias + alpha/size * sum of x^2 over the size neighbours)^beta``.

    Channel ``c`` sums channels ``c - floor((size-1)/2)`` .. ``c + ceil((size-1)/2)``
    that exist (ONNX's definition).
    """
    x = xs[0]
    size = int(layer.attrs["size"])
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.square(x)
    widths = [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2)
    sqp = np.pad(sq, widths)
    channels = x.shape[1]
    acc = np.zeros_like(sq)
    for j in range(size):
        acc += sqp[:, j:j + channels]
    alpha, beta, bias = (x.dtype.type(v) for v in (layer.attrs["alpha"] / size,
                                                   layer.attrs["beta"], layer.attrs["bias"]))
    return x / np.power(bias + alpha * acc, beta)


@_register_kernel("softmax")
def _softmax(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    axis = layer.attrs["axis"] + 1
    x = xs[0]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@_register_kernel("affine")
def _affine(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Per-channel ``x*scale + shift``; the channel axis is per-sample axis 0."""
    x = xs[0]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = np.asarray(layer.attrs["scale"], x.dtype).reshape(shape)
    shift = np.asarray(layer.attrs["shift"], x.dtype).reshape(shape)
    return x * scale + shift


_missing = set(DIGITAL_OPS) - set(_KERNELS)
assert not _missing, f"digital ops without a float kernel: {sorted(_missing)}"


# --------------------------------------------------------------------------- whole network


def _check_inputs(network: Network, inputs: Mapping[str, np.ndarray] | np.ndarray,
                  dtype: np.dtype) -> dict[str, np.ndarray]:
    if isinstance(inputs, np.ndarray):
        if len(network.inputs) != 1:
            raise ReramsimError(f"{network.name}: has inputs {list(network.inputs)}; "
                                "pass a dict name -> array")
        inputs = {next(iter(network.inputs)): inputs}
    unknown = set(inputs) - set(network.inputs)
    missing = set(network.inputs) - set(inputs)
    if unknown or missing:
        raise ReramsimError(f"{network.name}: inputs must be exactly {sorted(network.inputs)}; "
                            f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    feeds: dict[str, np.ndarray] = {}
    batch = None
    for name, shape in network.inputs.items():
        arr = np.asarray(inputs[name])
        if arr.shape[1:] != tuple(shape) or arr.ndim != len(shape) + 1:
            raise ReramsimError(f"{network.name}: input {name!r} must be (N, *{tuple(shape)}), "
                                f"got {arr.shape}")
        if batch is not None and arr.shape[0] != batch:
            raise ReramsimError(f"{network.name}: inputs have different batch sizes")
        batch = arr.shape[0]
        feeds[name] = np.ascontiguousarray(arr, dtype=dtype)
    return feeds


def run_float(network: Network, inputs: Mapping[str, np.ndarray] | np.ndarray, *,
              keep_all: bool = False, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """Execute the network in float, layer by layer in its topological order.

    Args:
        network: the IR network.
        inputs: graph input name -> ``(N, *per_sample_shape)`` array, or one array when the
            network has a single input.
        keep_all: also return every intermediate tensor (and the inputs), not just outputs.
        dtype: compute dtype (float32 by default, float64 for a tighter reference).

    Returns:
        tensor name -> ``(N, *shape)`` array: the graph outputs in order, or every tensor.

    Raises:
        ReramsimError: inputs missing, unknown, or of the wrong shape.
    """
    values = _check_inputs(network, inputs, np.dtype(dtype))
    last_use: dict[str, int] = {}
    for i, layer in enumerate(network.layers):
        for name in layer.inputs:
            last_use[name] = i
    keep = set(network.outputs)
    for i, layer in enumerate(network.layers):
        xs = [values[name] for name in layer.inputs]
        if isinstance(layer, WeightLayer):
            values[layer.output] = weight_layer_float(xs[0], layer)
        else:
            values[layer.output] = digital_op(layer, xs)
        if not keep_all:
            for name in set(layer.inputs):
                if last_use[name] == i and name not in keep:
                    del values[name]
    if keep_all:
        return values
    return {name: values[name] for name in network.outputs}
