"""Direct evaluation of the constant nodes that exporters put in front of weights.

The importer folds a node whose inputs are all constants. The ops below cover what
exporters emit on weight paths and shape arithmetic (``ConstantOfShape`` that
materialises a weight, ``Reshape``/``Transpose``/``Cast`` of a weight, ``Shape`` ->
``Gather`` -> ``Concat`` chains); they are computed here with one numpy call each,
in the dtype ONNX gives them (``ConstantOfShape`` as a read-only broadcast view of its one
value, so a weight it materialises costs no memory until something copies it). Any other
op (or a case outside the simple rules below, e.g. integer ``Div``) returns None and the
importer falls back to ONNX's reference evaluator, which is general but slow on large
tensors.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import helper, numpy_helper

Attr = Callable[[str, Any], Any]


def _axes(attr: Attr, inputs: list[np.ndarray | None], opset: int, since: int
          ) -> list[int] | None:
    """``axes`` from the attribute (before opset ``since``) or optional input 1."""
    if opset < since:
        value = attr("axes", None)
        return None if value is None else [int(a) for a in value]
    if len(inputs) > 1 and inputs[1] is not None:
        return [int(a) for a in inputs[1].reshape(-1)]
    return None


def _constant(attr: Attr) -> np.ndarray | None:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        value = attr(key, None)
        if value is None:
            continue
        if key == "value":
            return numpy_helper.to_array(value)
        dtype = np.float32 if "float" in key else np.int64
        return np.asarray(value, dtype=dtype)
    return None


def _reshape(x: np.ndarray, shape: np.ndarray, allowzero: bool) -> np.ndarray:
    target = [int(d) for d in shape.reshape(-1)]
    if not allowzero:
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return x.reshape(target)


def _elementwise(fn: Callable[..., np.ndarray], floats_only: bool = False
                 ) -> Callable[[list[np.ndarray]], np.ndarray | None]:
    def run(xs: list[np.ndarray]) -> np.ndarray | None:
        if floats_only and not all(np.issubdtype(x.dtype, np.floating) for x in xs):
            return None
        out = fn(*xs)
        return out.astype(xs[0].dtype, copy=False)
    return run


_ARITH = {"Add": _elementwise(np.add), "Sub": _elementwise(np.subtract),
          "Mul": _elementwise(np.multiply), "Div": _elementwise(np.divide, floats_only=True),
          "Sqrt": _elementwise(np.sqrt, floats_only=True), "Neg": _elementwise(np.negative)}


def fold(op: str, attr: Attr, inputs: list[np.ndarray | None], opset: int
         ) -> list[np.ndarray] | None:
    """The outputs of constant node ``op`` on ``inputs`` (None for a missing optional one).

    Returns None when the op (or this use of it) is not computed here.
    """
    x = inputs[0] if inputs else None
    if op == "Constant":
        value = _constant(attr)
        return None if value is None else [value]
    if op == "ConstantOfShape":
        fill = attr("value", None)
        value = numpy_helper.to_array(fill).reshape(-1) if fill is not None else np.zeros(
            1, np.float32)
        # A read-only broadcast view: exact, and no memory until a consumer needs a copy.
        return [np.broadcast_to(value[:1], tuple(int(d) for d in x.reshape(-1)))]
    if x is None:
        return None
    if op == "Identity":
        return [x]
    if op == "Cast":
        return [x.astype(helper.tensor_dtype_to_np_dtype(int(attr("to", 1))), copy=False)]
    if op == "Reshape" and opset >= 5:
        return [_reshape(x, inputs[1], bool(attr("allowzero", 0)))]
    if op == "Transpose":
        perm = attr("perm", None)
        return [np.ascontiguousarray(np.transpose(x, None if perm is None else list(perm)))]
    if op == "Unsqueeze":
        axes = _axes(attr, inputs, opset, 13)
        if axes is None:
            return None
        rank = x.ndim + len(axes)
        return [np.expand_dims(x, tuple(sorted(a % rank for a in axes)))]
    if op == "Squeeze":
        axes = _axes(attr, inputs, opset, 13)
        if axes is None:
            return [np.squeeze(x)]
        return [np.squeeze(x, tuple(a % x.ndim for a in axes))]
    if op == "Concat":
        return [np.concatenate([v for v in inputs if v is not None],
                               axis=int(attr("axis", 0)))]
    if op == "Gather":
        return [np.take(x, inputs[1].astype(np.int64) % x.shape[int(attr("axis", 0))],
                        axis=int(attr("axis", 0)))]
    if op in _ARITH and opset >= 7 and all(v is not None for v in inputs):
        out = _ARITH[op]([v for v in inputs if v is not None])
        return None if out is None else [out]
    return None
