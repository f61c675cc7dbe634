"""Weight layers (conv, fc): their float math and their ONNX conversions.

Weight layers run on crossbars, not on a digital unit, so they have no
:class:`~reramsim.ops.base.OpDef`; the mappers, the timing plan and the functional
model treat them on their own path. Their float math is split into the pieces the
functional crossbar model reuses:

* :func:`im2col_groups` / :func:`im2col` turn an input feature map into the
  vectors applied to the word-lines, one per output pixel, rows in the IR's
  ``(c, ky, kx)`` order;
* each group's matrix (:meth:`reramsim.ir.WeightLayer.matrix`) multiplies them;
* :func:`col2im_output` puts the ``(N, P, Cout)`` bit-line results back into
  ``(N, Cout, H, W)``.

:func:`weight_layer_float` chains the three in float: it is the reference that
the crossbar model replaces. The ONNX converters here emit ``conv`` (Conv) and
``fc`` (Gemm, MatMul with a constant weight); :func:`fold_bias` folds a constant
added to a weight layer's output into its bias (used by Add and BatchNormalization).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import WeightLayer
from reramsim.ops.base import register_op
from reramsim.ops.onnx_attrs import Shape, pair, require_rank, resolve_pads

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node

def conv_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                     dilation: int = 1) -> int:
    """Output length of a conv along one spatial axis (floor rule), in pixels.

    ``out = floor((size + pad_begin + pad_end - ((kernel-1)*dilation + 1)) / stride) + 1``.
    Example: 224 wide, kernel 11, stride 4, pads 2+2 gives ``(228 - 11)//4 + 1 = 55``.
    May be < 1 when the kernel does not fit (callers check).
    """
    extent = (kernel - 1) * dilation + 1
    return (size + pad_begin + pad_end - extent) // stride + 1


def spatial_windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
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
    for ky, kx, view in spatial_windows(xp, layer.kernel, layer.stride, layer.dilation, (ho, wo)):
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


# --------------------------------------------------------------------------- ONNX


def per_channel(imp: Importer, node: Node, value: np.ndarray, shape: Shape,
                legacy_axis: int | None = None) -> np.ndarray:
    """A constant that broadcasts to ``(1, *shape)`` and is constant per channel, as ``(C,)``."""
    full = (1, *shape)
    if legacy_axis is not None:  # opset < 7 broadcast=1 with axis: align at that axis
        tail = len(full) - legacy_axis - value.ndim
        if tail < 0:
            raise imp.error(node, f"constant of shape {value.shape} does not fit at axis "
                                  f"{legacy_axis} of {full}")
        value = value.reshape((1,) * legacy_axis + value.shape + (1,) * tail)
    try:
        if np.broadcast_shapes(value.shape, full) != full:
            raise ValueError
        b = np.broadcast_to(value, full)[0].reshape(shape[0], -1)
    except ValueError:
        raise imp.error(node, f"constant of shape {value.shape} does not broadcast to the "
                              f"activation (N, {', '.join(map(str, shape))})") from None
    if not np.all(b == b[:, :1]):
        raise imp.error(node, f"constant of shape {value.shape} is not constant per channel; "
                              "only a per-channel bias can be folded")
    return b[:, 0].astype(np.float64)


def fold_bias(imp: Importer, node: Node, act_raw: str, const_name: str,
              legacy_axis: int | None) -> bool:
    """Fold ``act + const`` into the bias of the weight layer writing ``act``; False if none."""
    layer = imp.foldable_producer(act_raw)
    if layer is None:
        return False
    value = imp.consts[imp.resolve(const_name)]
    vec = per_channel(imp, node, value, layer.out_shape, legacy_axis)
    bias = layer.bias.astype(np.float64) if layer.bias is not None else 0.0
    layer.bias = (bias + vec).astype(np.float32)
    imp.rename_tensor(act_raw, node.outputs[0])
    return True


@register_op("Conv", emits=("conv",))
def _onnx_conv(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    require_rank(imp, node, xs, 3, "(N, C, H, W)")
    weight = imp.const(node, 1, "weight W")
    bias = imp.opt_const(node, 2, "bias B")
    groups = int(node.attr("group", 1))
    if weight.ndim != 4:
        raise imp.error(node, f"weight of shape {weight.shape}: expected (Cout, Cin/group, kh, kw)")
    cout, cin_g, kh, kw = weight.shape
    if groups < 1 or xs[0] != cin_g * groups or cout % groups:
        raise imp.error(node, f"weight {weight.shape} with group={groups} does not fit "
                              f"{xs[0]} input channels")
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is not None and tuple(kernel_attr) != (kh, kw):
        raise imp.error(node, f"kernel_shape={list(kernel_attr)} disagrees with weight "
                              f"{weight.shape}")
    if bias is not None and bias.size != cout:
        raise imp.error(node, f"bias of shape {bias.shape}: expected ({cout},)")
    stride, dilation = pair(imp, node, "strides", 1), pair(imp, node, "dilations", 1)
    pads = resolve_pads(imp, node, xs[1:], (kh, kw), stride, dilation)
    out_hw = tuple(conv_output_size(xs[1 + a], (kh, kw)[a], stride[a], pads[a], pads[a + 2],
                                    dilation[a]) for a in (0, 1))
    if min(out_hw) < 1:
        raise imp.error(node, f"the kernel does not fit the (padded) input {xs}")
    imp.emit(node, WeightLayer(
        name=node.name, op="conv", inputs=(x,), output=node.outputs[0], in_shapes=(xs,),
        out_shape=(cout, *out_hw), weight=weight.astype(np.float32),
        bias=None if bias is None else bias.reshape(cout).astype(np.float32), groups=groups,
        kernel=(kh, kw), stride=stride, pads=pads, dilation=dilation))


def _emit_fc(imp: Importer, node: Node, x: str, xs: Shape, weight: np.ndarray,
             bias: np.ndarray | None) -> None:
    """An fc layer ``y = x @ weight.T + bias`` with ``weight`` (Cout, Cin) in float64."""
    imp.emit(node, WeightLayer(
        name=node.name, op="fc", inputs=(x,), output=node.outputs[0], in_shapes=(xs,),
        out_shape=(weight.shape[0],), weight=weight.astype(np.float32),
        bias=None if bias is None else bias.astype(np.float32)))


def _weight_operand(imp: Importer, node: Node) -> tuple[str, Shape, np.ndarray]:
    """Activation A (input 0) and constant weight B (input 1) of Gemm / MatMul."""
    if imp.is_const(node.inputs[0]) and not imp.is_const(node.inputs[1]):
        raise imp.error(node, "the activation must be input A (0) and the weight input B (1) "
                              "a constant; here A is the constant")
    weight = imp.const(node, 1, "weight B")
    x, xs = imp.act(node, 0, "activation A")
    if len(xs) != 1:
        raise imp.error(node, "expected a 2-D (N, K) activation, got "
                              f"(N, {', '.join(map(str, xs))})")
    if weight.ndim != 2:
        raise imp.error(node, f"weight B of shape {weight.shape}: expected a 2-D matrix")
    return x, xs, weight


@register_op("Gemm", emits=("fc",))
def _onnx_gemm(imp: Importer, node: Node) -> None:
    x, xs, b = _weight_operand(imp, node)
    if node.attr("transA", 0):
        raise imp.error(node, "transA=1 would transpose the batch axis; only transA=0 is supported")
    b = b.T if node.attr("transB", 0) else b  # (K, M)
    if b.shape[0] != xs[0]:
        raise imp.error(node, f"weight B {b.shape} (after transB) does not fit K={xs[0]}")
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    weight = alpha * b.T.astype(np.float64)
    m = weight.shape[0]
    bias = None
    c = imp.opt_const(node, 2, "bias C")
    if c is not None:
        vec = c[0] if c.ndim == 2 and c.shape[0] == 1 else c
        try:
            if vec.ndim > 1:
                raise ValueError
            bias = beta * np.broadcast_to(vec, (m,)).astype(np.float64)
        except ValueError:
            raise imp.error(node, f"bias C of shape {c.shape} does not broadcast to ({m},); "
                                  "a per-sample bias is not supported") from None
    _emit_fc(imp, node, x, xs, weight, bias)


@register_op("MatMul", emits=("fc",))
def _onnx_matmul(imp: Importer, node: Node) -> None:
    x, xs, b = _weight_operand(imp, node)
    if b.shape[0] != xs[0]:
        raise imp.error(node, f"weight B {b.shape} does not fit K={xs[0]}")
    _emit_fc(imp, node, x, xs, b.T.astype(np.float64), None)

