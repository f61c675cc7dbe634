"""A PyTorch module that runs an imported network (the IR), for fine-tuning any ONNX model.

``reramsim prune MODEL.onnx`` on a graph that is not a zoo architecture converts it
here: each weight layer becomes an ``nn.Conv2d`` / ``nn.Linear`` holding the IR's
(BatchNorm-folded) weights, so the pruners see the same matrices the crossbars hold;
the digital layers run as the differentiable torch functions of :data:`TORCH_OPS`,
which mirror the numpy kernels of :mod:`reramsim.ops` (the tests compare the two).
The pruned weights go back into the user's original graph with
:func:`reramsim.prune.writeback.write_back`. Needs torch.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reramsim import ReramsimError
from reramsim.ir import Layer, Network, WeightLayer

Kernel = Callable[[Layer, list[torch.Tensor]], torch.Tensor]


def _arith(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Kernel:
    def run(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
        operands = list(xs)
        const = layer.attrs.get("const")
        if const is not None:
            c = torch.as_tensor(np.asarray(const), dtype=xs[0].dtype)[None]
            operands.insert(0 if layer.attrs.get("const_first") else len(operands), c)
        out = operands[0]
        for x in operands[1:]:
            out = fn(out, x)
        return out.expand(xs[0].shape[0], *layer.out_shape)
    return run


def _pool(layer: Layer, x: torch.Tensor, kind: str) -> torch.Tensor:
    a = layer.attrs
    top, left, bottom, right = a["pads"]
    (kh, kw), (sy, sx) = a["kernel"], a["stride"]
    ho, wo = layer.out_shape[1:]
    h, w = x.shape[2:]
    extra_h = max(0, (ho - 1) * sy + kh - (h + top + bottom))
    extra_w = max(0, (wo - 1) * sx + kw - (w + left + right))
    if kind == "max":
        dy, dx = a.get("dilation", (1, 1))
        extra_h = max(0, (ho - 1) * sy + (kh - 1) * dy + 1 - (h + top + bottom))
        extra_w = max(0, (wo - 1) * sx + (kw - 1) * dx + 1 - (w + left + right))
        xp = F.pad(x, (left, right + extra_w, top, bottom + extra_h), value=-math.inf)
        return F.max_pool2d(xp, (kh, kw), (sy, sx), dilation=(dy, dx))[..., :ho, :wo]
    total = F.pad(x, (left, right + extra_w, top, bottom + extra_h))
    total = F.avg_pool2d(total, (kh, kw), (sy, sx))[..., :ho, :wo] * (kh * kw)
    ones = torch.ones(1, 1, h, w, dtype=x.dtype)
    if a.get("count_include_pad", False):
        ones = F.pad(ones, (left, right, top, bottom), value=1.0)
        ones = F.pad(ones, (0, extra_w, 0, extra_h))
    else:
        ones = F.pad(ones, (left, right + extra_w, top, bottom + extra_h))
    count = F.avg_pool2d(ones, (kh, kw), (sy, sx))[..., :ho, :wo] * (kh * kw)
    return total / count


def _reduce(fn: str) -> Kernel:
    def run(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
        axes = tuple(a + 1 for a in layer.attrs["axes"])
        x, keep = xs[0], layer.attrs["keepdims"]
        out = getattr(torch, fn)(x, dim=axes, keepdim=keep)
        return out.reshape(x.shape[0], *layer.out_shape)
    return run


def _resize(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    from reramsim.ops.resize import interpolation_matrix

    a, y = layer.attrs, xs[0]
    for axis, (n_in, n_out, scale) in enumerate(zip(layer.in_shapes[0], layer.out_shape,
                                                    a["scales"])):
        if n_in == n_out and scale == 1.0:
            continue
        m = torch.as_tensor(interpolation_matrix(n_out, n_in, scale, a["mode"], a["transform"],
                                                 a["rounding"]), dtype=y.dtype)
        y = torch.movedim(torch.tensordot(y, m, dims=([axis + 1], [1])), -1, axis + 1)
    return y


def _pad(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x = xs[0]
    widths = [w for pair in reversed(layer.attrs["widths"]) for w in pair]
    mode = {"constant": "constant", "edge": "replicate", "reflect": "reflect",
            "wrap": "circular"}[layer.attrs["mode"]]
    if mode == "constant":
        return F.pad(x, widths, value=float(layer.attrs["value"]))
    return F.pad(x, widths, mode=mode)


def _zero_insert(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x = xs[0]
    (sy, sx), (h, w) = layer.attrs["stride"], x.shape[2:]
    spread = x.new_zeros(*x.shape[:2], (h - 1) * sy + 1, (w - 1) * sx + 1)
    spread[:, :, ::sy, ::sx] = x
    (t, b), (lf, r) = layer.attrs["widths"]
    return F.pad(spread, (lf, r, t, b))


def _slice(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x = xs[0]
    for axis, (start, stop, step) in enumerate(layer.attrs["index"]):
        idx = torch.arange(start, stop, step)
        x = torch.index_select(x, axis + 1, idx)
    return x


def _layer_norm(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x = xs[0]
    axes = tuple(range(layer.attrs["axis"] + 1, x.dim()))
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    y = (x - mean) / torch.sqrt(var + layer.attrs["epsilon"])
    y = y * torch.as_tensor(layer.attrs["scale"], dtype=x.dtype)
    if layer.attrs["shift"] is not None:
        y = y + torch.as_tensor(layer.attrs["shift"], dtype=x.dtype)
    return y


def _lrn(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x, size = xs[0], int(layer.attrs["size"])
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = F.pad(x * x, (0, 0) * (x.dim() - 2) + (lo, hi))
    acc = sum(sq[:, j:j + x.shape[1]] for j in range(size))
    a = layer.attrs
    return x / (a["bias"] + a["alpha"] / size * acc) ** a["beta"]


def _affine(layer: Layer, xs: list[torch.Tensor]) -> torch.Tensor:
    x = xs[0]
    shape = (1, -1) + (1,) * (x.dim() - 2)
    scale = torch.as_tensor(np.asarray(layer.attrs["scale"]), dtype=x.dtype).reshape(shape)
    shift = torch.as_tensor(np.asarray(layer.attrs["shift"]), dtype=x.dtype).reshape(shape)
    return x * scale + shift


def _batch_shape(layer: Layer, x: torch.Tensor) -> tuple[int, ...]:
    return (x.shape[0], *layer.out_shape)


#: IR op -> its differentiable torch kernel (same semantics as the numpy kernel).
TORCH_OPS: dict[str, Kernel] = {
    "relu": lambda layer, xs: F.relu(xs[0]),
    "clip": lambda layer, xs: torch.clamp(xs[0], layer.attrs["min"], layer.attrs["max"]),
    "leaky_relu": lambda layer, xs: F.leaky_relu(xs[0], layer.attrs["alpha"]),
    "sigmoid": lambda layer, xs: torch.sigmoid(xs[0]),
    "hard_sigmoid": lambda layer, xs: torch.clamp(
        layer.attrs["alpha"] * xs[0] + layer.attrs["beta"], 0, 1),
    "hard_swish": lambda layer, xs: F.hardswish(xs[0]),
    "gelu": lambda layer, xs: F.gelu(xs[0], approximate=layer.attrs.get("approximate", "none")),
    "tanh": lambda layer, xs: torch.tanh(xs[0]),
    "erf": lambda layer, xs: torch.erf(xs[0]),
    "exp": lambda layer, xs: torch.exp(xs[0]),
    "log": lambda layer, xs: torch.log(xs[0]),
    "sqrt": lambda layer, xs: torch.sqrt(xs[0]),
    "reciprocal": lambda layer, xs: torch.reciprocal(xs[0]),
    "neg": lambda layer, xs: -xs[0],
    "abs": lambda layer, xs: torch.abs(xs[0]),
    "softplus": lambda layer, xs: F.softplus(xs[0]),
    "softmax": lambda layer, xs: torch.softmax(xs[0], layer.attrs["axis"] + 1),
    "maxpool": lambda layer, xs: _pool(layer, xs[0], "max"),
    "avgpool": lambda layer, xs: _pool(layer, xs[0], "avg"),
    "global_avgpool": lambda layer, xs: xs[0].mean(dim=tuple(range(2, xs[0].dim())),
                                                   keepdim=True),
    "add": _arith(torch.add), "sub": _arith(torch.sub), "mul": _arith(torch.mul),
    "div": _arith(torch.div), "pow": _arith(torch.pow),
    "matmul": lambda layer, xs: torch.matmul(xs[0], xs[1]),
    "concat": lambda layer, xs: torch.cat(xs, layer.attrs["axis"] + 1),
    "flatten": lambda layer, xs: xs[0].reshape(xs[0].shape[0], -1),
    "reshape": lambda layer, xs: xs[0].reshape(_batch_shape(layer, xs[0])),
    "transpose": lambda layer, xs: xs[0].permute(0, *(p + 1 for p in layer.attrs["perm"])),
    "reduce_mean": _reduce("mean"), "reduce_sum": _reduce("sum"),
    "reduce_max": _reduce("amax"), "reduce_min": _reduce("amin"),
    "resize": _resize, "pad": _pad, "zero_insert": _zero_insert, "slice": _slice,
    "layer_norm": _layer_norm, "lrn": _lrn, "affine": _affine,
}


def _module_name(i: int) -> str:
    return f"w{i}"


class IRModule(nn.Module):
    """The network as a torch module: ``forward(x)`` returns the first graph output.

    ``self.layer_names[module_name]`` is the IR layer (= ONNX node) of each weight module;
    ``original`` is the ONNX model the network came from, kept for the export.

    Raises:
        ReramsimError: a digital op without a torch kernel, or several graph inputs.
    """

    def __init__(self, network: Network, original: Any = None) -> None:
        super().__init__()
        #: the ONNX ModelProto the network was read from (the export writes into it)
        self.original = original
        if len(network.inputs) != 1:
            raise ReramsimError(f"{network.name}: pruning needs a single-input model, this one "
                                f"has inputs {list(network.inputs)}")
        missing = sorted({layer.op for layer in network.layers
                          if not isinstance(layer, WeightLayer) and layer.op not in TORCH_OPS})
        if missing:
            raise ReramsimError(f"{network.name}: no differentiable kernel for op(s) "
                                f"{', '.join(missing)}; it cannot be fine-tuned")
        self.network = network
        self.weights = nn.ModuleDict()
        self.layer_names: dict[str, str] = {}
        self._module_of: dict[str, str] = {}
        for i, layer in enumerate(network.weight_layers()):
            name = _module_name(i)
            self.weights[name] = self._module(layer)
            self.layer_names[f"weights.{name}"] = layer.name
            self._module_of[layer.name] = name

    @staticmethod
    def _module(layer: WeightLayer) -> nn.Module:
        has_bias = layer.bias is not None
        if layer.op == "fc":
            module: nn.Module = nn.Linear(layer.cin, layer.cout, bias=has_bias)
        else:
            module = nn.Conv2d(layer.cin, layer.cout, layer.kernel, layer.stride,
                               dilation=layer.dilation, groups=layer.groups, bias=has_bias)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight)))
            if has_bias:
                module.bias.copy_(torch.from_numpy(np.ascontiguousarray(layer.bias)))
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {next(iter(self.network.inputs)): x}
        for layer in self.network.layers:
            xs = [values[name] for name in layer.inputs]
            if isinstance(layer, WeightLayer):
                module = self.weights[self._module_of[layer.name]]
                if layer.op == "conv":
                    top, left, bottom, right = layer.pads
                    values[layer.output] = module(F.pad(xs[0], (left, right, top, bottom)))
                else:
                    values[layer.output] = module(xs[0])
            else:
                values[layer.output] = TORCH_OPS[layer.op](layer, xs)
        return values[self.network.outputs[0]]

    def pruned_weights(self) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """IR layer name -> its current ``(weight, bias)`` as float32 arrays."""
        out = {}
        for layer_name, name in self._module_of.items():
            module = self.weights[name]
            bias = None if module.bias is None else module.bias.detach().numpy().copy()
            out[layer_name] = (module.weight.detach().numpy().copy(), bias)
        return out
