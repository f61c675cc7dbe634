"""The op descriptor, its two registries, and the checks that run when they load.

A digital (non-crossbar) IR op is one :class:`OpDef`, registered by decorating its
float kernel with :func:`define_op`: its attributes, its kernel (the functional model
and the float reference run it), the digital unit that executes it, its readiness
rule (which producer pixels an output pixel waits for, :data:`READINESS`) and its
work formula (input elements fetched and element ops per output pixel). The timing
plan, the energy and area models, the functional model and the importer all read
:data:`OPS`; nothing else lists the ops.

An ONNX op type is converted by a function registered with :func:`register_op` under
its type and the first opset it serves, in :data:`ONNX_OPS`; it declares the IR ops
it may emit. An op's descriptor and its converters live in one module of this
package; :func:`check_registry` (run when :mod:`reramsim.ops` loads) refuses a
descriptor no converter emits and a converter that emits an op nobody defined.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reramsim import ReramsimError
from reramsim.ir import WEIGHT_KINDS, Layer
from reramsim.registry import Registry, VersionedRegistry

__all__ = [
    "ONNX_OPS",
    "OPS",
    "READINESS",
    "SAME_PIXEL",
    "UNITS",
    "WHOLE",
    "WINDOW",
    "Converter",
    "OpDef",
    "OpError",
    "check_registry",
    "define_op",
    "digital_op",
    "layout_work",
    "out_per_pixel",
    "per_pixel",
    "pixel_inputs",
    "pixels",
    "pointwise_work",
    "register_op",
    "spread_inputs",
    "supported_ops",
    "unary",
]


class OpError(ReramsimError):
    """A lookup of an op that is not registered (or not at this opset)."""


#: Readiness rules: output pixel p waits for producer pixel p (``same_pixel``), for the
#: last pixel of its receptive field (``window``: kernel/stride/pads/dilation attributes),
#: or for the whole input (``whole``). ``docs/timing.md`` gives the formulas.
SAME_PIXEL, WINDOW, WHOLE = "same_pixel", "window", "whole"
READINESS: tuple[str, ...] = (SAME_PIXEL, WINDOW, WHOLE)

#: The digital units (``config.digital.<unit>``) a digital op may run on.
UNITS: tuple[str, ...] = ("activation", "pooling", "eltwise", "other")

Kernel = Callable[[Layer, list[np.ndarray]], np.ndarray]
Work = Callable[[Layer], tuple[int, int]]


@dataclass(frozen=True)
class OpDef:
    """Everything reramsim knows about one digital IR op.

    Attributes:
        name: the IR op key (``Layer.op``).
        attrs: the attribute keys its layers carry (``Layer.attrs``).
        unit: the digital unit that runs it, one of :data:`UNITS`.
        ready: one of :data:`READINESS`, or a function of the layer returning one
            (an op whose rule depends on its attributes, e.g. concat's axis).
        work: layer -> (input elements fetched, element ops) per output pixel.
        kernel: the float kernel, ``(layer, [(N, *in_shape) arrays]) -> (N, *out_shape)``.
    """

    name: str
    attrs: tuple[str, ...]
    unit: str
    ready: str | Callable[[Layer], str]
    work: Work
    kernel: Kernel

    def readiness(self, layer: Layer) -> str:
        """The readiness rule of ``layer`` (one of :data:`READINESS`)."""
        return self.ready(layer) if callable(self.ready) else self.ready


@dataclass(frozen=True)
class Converter:
    """One ONNX op type's conversion for opsets from ``since`` on.

    ``convert(importer, node)`` emits at most one IR layer through the importer
    (``importer.digital`` / ``importer.emit``), folds the node into an earlier layer,
    or aliases its input. ``emits`` names every IR op it may produce.
    """

    op_type: str
    since: int
    emits: tuple[str, ...]
    convert: Callable[[Any, Any], None]


#: IR op name -> its descriptor.
OPS: Registry[OpDef] = Registry("digital op", OpError)

#: ONNX op type -> (since opset -> converter).
ONNX_OPS: VersionedRegistry[Converter] = VersionedRegistry("op", OpError, "opset")


def define_op(name: str, *, unit: str, ready: str | Callable[[Layer], str], work: Work,
              attrs: tuple[str, ...] = ()) -> Callable[[Kernel], Kernel]:
    """Register the float kernel it decorates as digital IR op ``name`` with its other pieces.

    Raises:
        ValueError: ``name`` already defined or a weight kind, an unknown unit or readiness
            rule, a ``work`` that is not callable, or attributes that are not names.
    """

    def decorate(kernel: Kernel) -> Kernel:
        where = f"digital op {name!r}"
        if name in WEIGHT_KINDS:
            raise ValueError(f"{where}: {name!r} is a weight layer kind")
        if unit not in UNITS:
            raise ValueError(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
        if not callable(ready) and ready not in READINESS:
            raise ValueError(f"{where}: readiness {ready!r} is not one of {', '.join(READINESS)} "
                             "or a function of the layer")
        if not callable(work) or not callable(kernel):
            raise ValueError(f"{where}: the work formula and the kernel must be functions")
        if not isinstance(attrs, tuple) or not all(isinstance(a, str) for a in attrs):
            raise ValueError(f"{where}: attrs must be a tuple of attribute names")
        OPS.register(name)(OpDef(name, attrs, unit, ready, work, kernel))
        return kernel

    return decorate


def register_op(op_type: str, since: int = 1, *, emits: tuple[str, ...] = ()
                ) -> Callable[[Callable[[Any, Any], None]], Callable[[Any, Any], None]]:
    """Register the converter it decorates for ONNX op ``op_type`` at opsets ``>= since``.

    The converter used for a model is the one with the largest ``since`` not above the
    model's opset. Raises ValueError when ``(op_type, since)`` is already registered.
    """

    def decorate(fn: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        ONNX_OPS.register(op_type, since)(Converter(op_type, since, tuple(emits), fn))
        return fn

    return decorate


def supported_ops() -> list[str]:
    """Names of the ONNX ops with a registered converter, sorted."""
    return ONNX_OPS.names()


def check_registry() -> None:
    """Every digital op is emitted by some converter and every emitted op is defined.

    Raises:
        ValueError: naming the op(s) and converter(s) that do not fit together.
    """
    emitted: set[str] = set()
    for op_type in ONNX_OPS.names():
        for since, conv in ONNX_OPS.versions(op_type).items():
            unknown = [op for op in conv.emits if op not in OPS and op not in WEIGHT_KINDS]
            if unknown:
                raise ValueError(f"converter of ONNX {op_type} (since opset {since}) emits "
                                 f"undefined IR op(s) {unknown}")
            emitted.update(conv.emits)
    orphans = [op for op in OPS.names() if op not in emitted]
    if orphans:
        raise ValueError(f"digital op(s) {orphans} have no ONNX converter (register_op(..., "
                         "emits=...))")


def digital_op(layer: Layer, inputs: list[np.ndarray]) -> np.ndarray:
    """Float output of a digital (non-crossbar) layer on batched inputs.

    ``inputs`` are ``(N, *in_shape)`` arrays in the order of ``layer.inputs``; the result
    is ``(N, *layer.out_shape)``. Raises ReramsimError for an op without a kernel.
    """
    if layer.op not in OPS:
        raise OpError(f"layer {layer.name!r}: no float kernel for op {layer.op!r}; "
                      f"known: {', '.join(OPS.names())}")
    return OPS.get(layer.op).kernel(layer, inputs)


# --------------------------------------------------------------------------- work formulas


def pixels(shape: tuple[int, ...]) -> int:
    """Raster positions of a per-sample tensor: H*W for (C, H, W), else 1."""
    return int(shape[1] * shape[2]) if len(shape) == 3 else 1


def per_pixel(shape: tuple[int, ...]) -> int:
    """Elements of one raster position: C for (C, H, W), all elements otherwise."""
    return int(np.prod(shape)) // pixels(shape)


def out_per_pixel(layer: Layer) -> int:
    """Output elements of one output pixel."""
    return layer.out_elements // layer.out_pixels


def pixel_inputs(layer: Layer) -> int:
    """Input elements at one pixel position, summed over the inputs."""
    return sum(per_pixel(s) for s in layer.in_shapes)


def spread_inputs(layer: Layer) -> int:
    """All input elements spread over the output pixels, rounded up."""
    total = sum(int(np.prod(s)) for s in layer.in_shapes)
    return -(-total // layer.out_pixels)


def pointwise_work(layer: Layer) -> tuple[int, int]:
    """Element-wise ops: the pixel's inputs fetched, one op per output element."""
    return pixel_inputs(layer), out_per_pixel(layer)


def layout_work(layer: Layer) -> tuple[int, int]:
    """Ops that only move data (reshape, transpose...): every input fetched, no arithmetic."""
    return spread_inputs(layer), 0


def unary(op: str, **defaults: float) -> Callable[[Any, Any], None]:
    """A converter for a one-input ONNX op that becomes IR op ``op`` of the same shape.

    Each keyword is a float attribute copied from the node (its value the ONNX default),
    e.g. ``unary("leaky_relu", alpha=0.01)``.
    """

    def convert(imp: Any, node: Any) -> None:
        x, xs = imp.act(node, 0)
        values = {k: float(node.attr(k, default)) for k, default in defaults.items()}
        imp.digital(node, op, [x], xs, **values)

    convert.__name__ = f"_{op}"
    return convert
