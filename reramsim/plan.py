"""The timing plan every engine runs: ``(network, mapping, placement)`` in integer cycles.

:func:`build_plan` turns a mapped, placed network into a :class:`TimingPlan`:
every duration in integer cycles (each ns figure of the config goes through
:meth:`Config.cycles` once, here), every per-unit event count, which resource
each stage occupies, which pixels each pixel waits for. The closed-form model
(:mod:`reramsim.analytical`), the pure-Python reference (:mod:`reramsim.pyref`)
and the Cython engine (:mod:`reramsim.engine`) all run this one plan, so they
differ only in how they advance time. The semantics are written out in
``docs/timing.md``.

A stream of ``images`` inputs is one longer run: every layer handles its pixels
image after image (``images x`` its pixels), and output pixel ``p`` of image ``i``
waits for the producer pixels of image ``i`` only. A replicated weight layer
(``placement.replicas(name) = r``) is ``r`` layer *instances*: instance ``c``
handles output pixels ``c, c + r, c + 2r, ...`` of the stream on its own crossbars,
buffers and accumulator (those of its tile), and its consumers wait, per instance,
for the part of the needed prefix that instance produces.

With ``ou.skip_zero_inputs`` and activity data (:mod:`reramsim.activity`: the input
bit-steps of every OU that see a non-zero input, per stream pixel), the plan
carries each weight layer instance's active steps per (pixel, OU); the event
engines skip the other steps (``docs/timing.md``, "Zero-skipping").

A weight layer instance whose active crossbars sit on several tiles has one crossbar
*group* per tile; the groups on other tiles than its home tile send their partial sums
(``Config.psum_bits`` per crossbar and output column, per pixel) to the home tile over a
*partial-sum flow* before the accumulator starts (``docs/timing.md``, "Partial sums").
Every route is a list of links, each a mesh link or a chip link with its own
serialisation and latency (``docs/timing.md``, "Transfer").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reramsim import ReramsimError
from reramsim.config import Config
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import LayerMapping, NetworkMapping
from reramsim.ops import OPS
from reramsim.ops.base import SAME_PIXEL, WHOLE, WINDOW, pixels
from reramsim.placement import Placement

__all__ = [
    "RESOURCE_KINDS",
    "EdgePlan",
    "FlowPlan",
    "GroupPlan",
    "LayerPlan",
    "TimingError",
    "TimingPlan",
    "build_plan",
    "live_input_pixels",
]


class TimingError(ReramsimError):
    """A network, mapping or placement the timing model cannot run."""


#: Kinds of resource the engines report busy and stall cycles for (``LayerStats`` keys).
RESOURCE_KINDS: tuple[str, ...] = (
    "crossbar", "adc", "input_buffer", "output_buffer", "noc",
    "accumulator", "activation", "pooling", "eltwise", "other", "chip_link",
)

# --------------------------------------------------------------------------- the plan


@dataclass
class EdgePlan:
    """One input of a layer that another layer produces (graph inputs have no edge).

    ``need[p]`` is how many of the producer's pixels (a prefix, in the order the
    flow delivers them) must have arrived in the consumer's tile before output pixel
    ``p`` can start; it is non-decreasing and in ``[0, producer pixels]`` (0: a
    replica that produces none of the pixels ``p`` waits for).
    """

    consumer: int
    flow: int
    tensor: str
    need: np.ndarray  # (P_consumer,) int64


@dataclass
class FlowPlan:
    """The transfer of one layer's output pixels to one destination tile, or of one
    crossbar group's partial sums to its layer's home tile (``psum_group >= 0``).

    One flow per (producer layer, consumer tile); the consumer layers on that tile
    read the same copy. ``links`` are resource ids along the route (empty on the same
    tile): mesh links (``link_chip`` False) and chip links, each held ``link_serial``
    cycles per pixel, the head reaching the next router ``link_latency`` cycles after
    it enters. A partial-sum flow ends at the home tile's accumulator: no input-buffer
    write (``inwrites`` 0; ``res_inwrite`` is its layer's unit, never reserved).
    """

    index: int
    src: int  # producer layer index
    dest_tile: int
    links: list[int]  # resource ids, one per hop
    link_serial: list[int]  # cycles each link is busy per pixel
    link_latency: list[int]  # cycles from a hop's start to the head at the next router
    link_chip: list[bool]  # True: a chip link; False: a mesh link
    bits: int  # bits per pixel
    inwrites: int  # input-buffer accesses per pixel at the destination
    t_inwrite: int  # cycles: inwrites * cycles(buffers.input.access_ns)
    res_inwrite: int  # resource id of the destination's input-buffer (write) port
    edges: list[int] = field(default_factory=list)
    psum_group: int = -1  # the crossbar group whose partial sums it carries; -1: data

    @property
    def hops(self) -> int:
        """Mesh links crossed."""
        return len(self.link_chip) - sum(self.link_chip)

    @property
    def chip_hops(self) -> int:
        """Chip links crossed."""
        return sum(self.link_chip)

    @property
    def t_serial(self) -> int:
        """Cycles per pixel on the route's slowest link (0 without links)."""
        return max(self.link_serial, default=0)


@dataclass
class LayerPlan:
    """One layer's stages: fetch, [crossbars], unit, output write, transfers.

    Durations are cycles per output pixel; counts are events per output pixel. One
    plan layer is one instance of an IR layer (``layer_name``): copy ``replica`` of
    ``replicas``, handling pixels ``replica, replica + replicas, ...`` of the stream.
    """

    index: int
    name: str
    op: str
    tile: int
    n_pixels: int
    unit: str  # resource kind of the digital unit ("accumulator" for weight layers)
    unit_count_kind: str  # the EVENT_KINDS key its unit work is counted under
    n_inputs: int  # input elements fetched per pixel
    fetch_accesses: int  # input-buffer reads per pixel (weight layers: one load per PE)
    t_fetch: int  # max(fetch_accesses x access cycles, bus cycles)
    unit_ops: int  # element ops (weight layers: accumulate additions) per pixel
    t_unit: int
    out_bits: int
    out_writes: int  # output-buffer writes per pixel
    out_reads: int  # output-buffer reads per pixel per flow
    t_out: int  # (out_writes + n_flows * out_reads) * cycles(buffers.output.access_ns)
    res_fetch: int
    res_unit: int
    res_out: int
    is_weight: bool
    n_crossbars: int  # crossbars the mapping allocates (active or not)
    ir_writes: int = 0  # input values loaded into PE input registers per pixel
    bus_bits: int = 0  # bits over the tile's eDRAM-to-PE bus per pixel (ir_writes x a)
    xbar_lo: int = 0  # active crossbars: plan indices [xbar_lo, xbar_hi)
    xbar_hi: int = 0
    edges: list[int] = field(default_factory=list)
    flows: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)  # crossbar groups, one per tile, in order
    step_counts: dict[str, int] = field(default_factory=dict)  # crossbar events per pixel
    #: per crossbar of the mapping, the partial sums (outputs it holds a part of) it hands
    #: the accumulator per pixel (:func:`_output_parts`); empty for digital layers
    xbar_outputs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    layer_name: str = ""  # the IR layer (== name unless replicated)
    replica: int = 0
    replicas: int = 1

    @property
    def n_active_crossbars(self) -> int:
        return self.xbar_hi - self.xbar_lo


@dataclass
class GroupPlan:
    """A weight layer instance's active crossbars on one tile: plan crossbars ``[lo, hi)``.

    ``flow`` is the partial-sum flow to the layer's home tile, or -1 on the home tile (and
    for a group with no partial sum to send).
    """

    index: int
    layer: int
    tile: int
    lo: int
    hi: int
    flow: int = -1


@dataclass
class TimingPlan:
    """Everything an engine needs, in cycles and counts (see :func:`build_plan`).

    Crossbars and OUs are struct-of-arrays over the whole network; only crossbars
    with at least one OU appear (a crossbar without OUs does no work).
    """

    config: Config
    pipeline: str  # "pixel" or "layer"
    images: int  # inputs streamed through the pipeline, one after another
    input_steps: int  # B: DAC steps per input vector
    t_shift_add: int
    t_hop: int
    layers: list[LayerPlan]
    flows: list[FlowPlan]
    edges: list[EdgePlan]
    groups: list[GroupPlan]
    res_kind: list[str]  # resource id -> RESOURCE_KINDS entry
    res_label: list[str]  # resource id -> a readable name
    xbar_layer: np.ndarray  # (n_xbar,) int32
    xbar_local: np.ndarray  # (n_xbar,) int32 crossbar index within its layer's mapping
    xbar_adc: np.ndarray  # (n_xbar,) int32 resource id of its ADC group
    xbar_ou_lo: np.ndarray  # (n_xbar,) int64: its OUs are [lo, hi) of the ou_* arrays
    xbar_ou_hi: np.ndarray
    ou_t_first: np.ndarray  # (n_ou,) int64 cycles: read of the OU's first bit-step
    ou_t_rest: np.ndarray  # (n_ou,) int64 cycles: read of its other bit-steps
    ou_t_adc: np.ndarray  # (n_ou,) int64 cycles: converting its bit-lines on the ADC group
    ou_n_rows: np.ndarray  # (n_ou,) int64 active word-lines
    ou_n_cols: np.ndarray  # (n_ou,) int64 active bit-lines
    ou_index_reads: np.ndarray  # (n_ou,) int64 index-buffer lookups per pixel
    ou_gather: np.ndarray  # (n_ou,) int64 gathered inputs per pixel
    #: (n_ou,) int64 bit-lines converted per step (samples, conversions, shift-adds): the
    #: OU's bit-lines, 0 on the negative array of an analog-subtracting pair
    ou_n_conv: np.ndarray
    #: per plan layer, ``(n_pixels, its OUs)`` uint8 active input steps (zero-skipping), or
    #: None: every step runs. Non-empty only with ``ou.skip_zero_inputs`` and activity data.
    ou_active: list[np.ndarray | None] = field(default_factory=list)

    @property
    def skip_zero(self) -> bool:
        """True when some layer skips the input steps its activity data marks as zero."""
        return any(a is not None for a in self.ou_active)

    def ou_base(self, layer: LayerPlan) -> int:
        """Global index of the layer's first OU (its activity columns start there)."""
        return int(self.xbar_ou_lo[layer.xbar_lo]) if layer.n_active_crossbars else 0

    @property
    def n_resources(self) -> int:
        return len(self.res_kind)

    def layer_transfers(self, layer: LayerPlan) -> list[FlowPlan]:
        """The flows a layer pays for: its output flows, then its partial-sum flows."""
        return ([self.flows[f] for f in layer.flows]
                + [self.flows[self.groups[g].flow] for g in layer.groups
                   if self.groups[g].flow >= 0])

    def layer_instances(self, layer: LayerPlan) -> dict[str, int]:
        """Resource kind -> instances the layer uses (for utilisation in reports)."""
        hops = [(r, chip) for f in self.layer_transfers(layer)
                for r, chip in zip(f.links, f.link_chip)]
        inst = {"input_buffer": len({layer.res_fetch, *(self.flows[f].res_inwrite
                                                        for f in layer.flows)}),
                "output_buffer": 1, layer.unit: 1,
                "noc": len({r for r, chip in hops if not chip})}
        if any(chip for _, chip in hops):
            inst["chip_link"] = len({r for r, chip in hops if chip})
        if layer.is_weight:
            inst["crossbar"] = layer.n_crossbars
            inst["adc"] = len(np.unique(self.xbar_adc[layer.xbar_lo:layer.xbar_hi]))
        return inst

    def layer_resource_kinds(self, layer: LayerPlan) -> tuple[str, ...]:
        """The resource kinds a layer's busy/stall dicts carry (zeros included; ``chip_link``
        only when its transfers cross chips)."""
        kinds = ["input_buffer", "output_buffer", "noc", layer.unit]
        if layer.is_weight:
            kinds = ["crossbar", "adc"] + kinds
        if any(f.chip_hops for f in self.layer_transfers(layer)):
            kinds.append("chip_link")
        return tuple(k for k in RESOURCE_KINDS if k in kinds)


class _Resources:
    """Allocates resource ids: one per distinct key (a shared resource has one key)."""

    def __init__(self) -> None:
        self.kind: list[str] = []
        self.label: list[str] = []
        self._ids: dict[tuple, int] = {}

    def get(self, key: tuple, kind: str, label: str) -> int:
        rid = self._ids.get(key)
        if rid is None:
            rid = self._ids[key] = len(self.kind)
            self.kind.append(kind)
            self.label.append(label)
        return rid


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _pair(value, default: int) -> tuple[int, int]:
    if value is None:
        return default, default
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    return int(value[0]), int(value[1])


Window = tuple[tuple[int, int], tuple[int, int], tuple[int, ...], tuple[int, int]]


def _window(layer: Layer) -> Window:
    """(kernel, stride, pads (top, left, bottom, right), dilation) of a conv or pooling layer."""
    if isinstance(layer, WeightLayer):
        return layer.kernel, layer.stride, layer.pads, layer.dilation
    attrs = layer.attrs
    kernel = _pair(attrs.get("kernel"), 1)
    stride = _pair(attrs.get("stride"), 1)
    pads = tuple(int(v) for v in (attrs.get("pads") or (0, 0, 0, 0)))
    dilation = _pair(attrs.get("dilation"), 1)
    return kernel, stride, pads, dilation


def _readiness(layer: Layer) -> str:
    """The readiness rule of a layer: conv windowed, fc whole, digital ops their descriptor's."""
    if isinstance(layer, WeightLayer):
        return WINDOW if layer.op == "conv" else WHOLE
    return OPS.get(layer.op).readiness(layer)


def _need(layer: Layer, in_shape: tuple[int, ...], pipeline: str) -> np.ndarray:
    """Producer pixels (a prefix length) each output pixel of ``layer`` waits for.

    By the layer's readiness rule (:data:`reramsim.ops.base.READINESS`):

    * ``window`` (conv, maxpool, avgpool) on a (C, H, W) input: the last pixel of the
      receptive field in raster order, row ``min(H-1, oy*sy - pad_top + (kh-1)*dy)`` and
      column ``min(W-1, ox*sx - pad_left + (kw-1)*dx)`` (clipped at 0 as well);
    * ``same_pixel`` (relu, clip, sigmoid, affine, add, lrn, concat on channels):
      the same pixel (pixel 1 when the input has one pixel);
    * everything else (``whole``: fc, global pooling, flatten, reshape, transpose,
      softmax, and window or same-pixel rules whose shapes do not fit): every producer
      pixel; ``pipeline == "layer"`` applies this rule to all layers.

    The result is made non-decreasing (a running max): pixel ``p`` starts its fetch
    after pixel ``p-1`` anyway, so this changes no time.
    """
    n_out, n_in = layer.out_pixels, pixels(in_shape)
    every = np.full(n_out, n_in, np.int64)
    if pipeline == "layer":
        return every
    rule = _readiness(layer)
    if rule == WINDOW and len(in_shape) == 3 and len(layer.out_shape) == 3:
        (kh, kw), (sy, sx), pads, (dy, dx) = _window(layer)
        h, w = in_shape[1], in_shape[2]
        oy = np.arange(layer.out_shape[1], dtype=np.int64)
        ox = np.arange(layer.out_shape[2], dtype=np.int64)
        row = np.clip(oy * sy - pads[0] + (kh - 1) * dy, 0, h - 1)
        col = np.clip(ox * sx - pads[1] + (kw - 1) * dx, 0, w - 1)
        need = (row[:, None] * w + col[None, :] + 1).ravel()
        return np.maximum.accumulate(need)
    if rule == SAME_PIXEL:
        if n_in == n_out:
            return np.arange(1, n_out + 1, dtype=np.int64)
        if n_in == 1:
            return np.ones(n_out, np.int64)
    return every


def live_input_pixels(layer: Layer, in_shape: tuple[int, ...], pipeline: str) -> int:
    """The most pixels of one input that ``layer`` must hold at once (its live window).

    Output pixel ``p`` needs producer pixels up to ``need[p]`` (:func:`_need`, a raster
    prefix) and none before the first pixel of its receptive field, ``first[p]``; later
    output pixels never need an earlier one (``first`` is non-decreasing in raster
    order), so the pixels ``[first[p], need[p])`` are live and the window is the
    largest ``need[p] - first[p]``: ``(kh - 1) x W + kw`` pixels for a stride-1 conv
    without padding. A ``same_pixel`` layer holds one pixel; a ``whole`` layer (and
    every layer in ``layer`` pipelining) the whole input.
    """
    n_in = pixels(in_shape)
    if pipeline == "layer":
        return n_in
    rule = _readiness(layer)
    if rule == WINDOW and len(in_shape) == 3 and len(layer.out_shape) == 3:
        (_, _), (sy, sx), pads, _ = _window(layer)
        h, w = in_shape[1], in_shape[2]
        oy = np.arange(layer.out_shape[1], dtype=np.int64)
        ox = np.arange(layer.out_shape[2], dtype=np.int64)
        row = np.clip(oy * sy - pads[0], 0, h - 1)
        col = np.clip(ox * sx - pads[1], 0, w - 1)
        first = (row[:, None] * w + col[None, :]).ravel()
        return int((_need(layer, in_shape, pipeline) - first).max())
    if rule == SAME_PIXEL and (n_in == layer.out_pixels or n_in == 1):
        return 1
    return n_in


def _check_mapping(name: str, m: LayerMapping) -> None:
    """The parts of a layer mapping the timing model indexes with, checked once."""
    n_ou = m.n_ous
    ou_xbar = np.asarray(m.ou_xbar, np.int64)
    if n_ou and (ou_xbar.min() < 0 or ou_xbar.max() >= m.n_crossbars
                 or np.any(np.diff(ou_xbar) < 0)):
        raise TimingError(f"layer {name}: OUs must refer to crossbars in [0, {m.n_crossbars}) "
                          f"in non-decreasing order")
    for ptr_name, ptr, items in (("ou_row_ptr", m.ou_row_ptr, m.ou_rows),
                                 ("ou_col_ptr", m.ou_col_ptr, m.ou_cols)):
        ptr = np.asarray(ptr)
        if (len(ptr) != n_ou + 1 or (n_ou and (ptr[0] != 0 or np.any(np.diff(ptr) < 0)))
                or (len(ptr) and ptr[-1] != len(items))):
            raise TimingError(f"layer {name}: {ptr_name} is not a CSR pointer over {n_ou} OUs")
    for arr_name in ("ou_index_reads", "ou_gather_inputs"):
        arr = np.asarray(getattr(m, arr_name))
        if arr.shape != (n_ou,) or (n_ou and arr.min() < 0):
            raise TimingError(f"layer {name}: {arr_name} must hold {n_ou} non-negative counts")
    if len(m.xbar_group) != m.n_crossbars or len(m.xbar_polarity) != m.n_crossbars:
        raise TimingError(f"layer {name}: xbar_group/xbar_polarity must have one entry "
                          f"per crossbar")


def analog_pairs(config: Config) -> bool:
    """True when differential pairs subtract their bit-line currents before one conversion
    (``crossbar.subtract: analog``; the loader allows it with differential weights only)."""
    return config.crossbar.subtract == "analog" and config.polarities == 2


def _converted_cols(name: str, lmap: LayerMapping, config: Config) -> np.ndarray:
    """Bit-lines each OU hands to the ADC group per step: all of them, except on the
    negative array of an analog-subtracting pair (its currents join the positive array's
    conversions). Raises TimingError when the pair's arrays do not mirror each other."""
    n_cols = np.asarray(lmap.ou_n_cols, np.int64)
    if not analog_pairs(config):
        return n_cols
    negative = np.asarray(lmap.xbar_polarity)[np.asarray(lmap.ou_xbar, np.int64)] < 0
    if n_cols[negative].sum() != n_cols[~negative].sum():
        raise TimingError(f"layer {name}: analog subtraction needs the negative arrays to "
                          f"mirror the positive ones, got {int(n_cols[~negative].sum())} "
                          f"positive and {int(n_cols[negative].sum())} negative bit-lines")
    return np.where(negative, 0, n_cols)


def _column_outputs(layer: WeightLayer, lmap: LayerMapping, config: Config
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(crossbar, output ``group * cols + column``) of every bit-line whose partial sum reaches
    the accumulator: all of them, except on the negative array of an analog-subtracting pair
    (its currents join the positive array's conversions)."""
    xbar_of_col = np.repeat(lmap.ou_xbar.astype(np.int64), lmap.ou_n_cols)
    cols = lmap.ou_cols.astype(np.int64)
    if analog_pairs(config):
        keep = lmap.xbar_polarity[xbar_of_col] > 0
        xbar_of_col, cols = xbar_of_col[keep], cols[keep]
    return xbar_of_col, lmap.xbar_group.astype(np.int64)[xbar_of_col] * layer.cols + cols


def _output_parts(layer: WeightLayer, lmap: LayerMapping, config: Config) -> np.ndarray:
    """Per crossbar of the mapping, the outputs (group, column) whose partial sum it hands to
    the accumulator per pixel (:func:`_column_outputs`)."""
    if not lmap.n_ous:
        return np.zeros(lmap.n_crossbars, np.int64)
    n_xbar = max(lmap.n_crossbars, 1)
    xbar_of_col, output = _column_outputs(layer, lmap, config)
    pairs = np.unique(output * n_xbar + xbar_of_col)
    return np.bincount(pairs % n_xbar, minlength=lmap.n_crossbars).astype(np.int64)


def _accumulate_ops(layer: WeightLayer, lmap: LayerMapping, config: Config,
                    parts: np.ndarray) -> int:
    """Additions per output pixel on the accumulator unit (``parts``: :func:`_output_parts`).

    * merging crossbars: an output (group g, column c) whose bit-lines lie on ``n``
      crossbars needs ``n - 1`` additions (each crossbar's shift-and-add has already
      merged its own bit-slices and input bit-steps); the negative array of a
      differential pair is one of the ``n`` (its sum is subtracted), unless the pair
      subtracts in analog (``crossbar.subtract: analog``): then the positive array's
      conversions already hold the difference and the negative array is no part. In all,
      the partial sums of all crossbars less one per output;
    * offset correction (``signed_weights: offset``): one subtraction per output of
      ``2^(b-1) * sum(x)`` plus ``rows - 1`` additions per group for ``sum(x)``;
    * bias: one addition per output when the layer has a bias.
    """
    ops = 0
    if lmap.n_ous:
        _, output = _column_outputs(layer, lmap, config)
        ops += int(parts.sum()) - int(np.count_nonzero(np.bincount(output)))
    if config.precision.signed_weights == "offset":
        ops += layer.cout + layer.groups * max(layer.rows - 1, 0)
    if layer.bias is not None:
        ops += layer.cout
    return ops


#: Names of the mesh link directions, indexed as :func:`_xy_route` numbers them.
LINK_DIRECTIONS = ("+x", "-x", "+y", "-y")


def _xy_route(a: tuple[int, int], b: tuple[int, int], cols: int) -> list[tuple[int, int]]:
    """Directed mesh links (node, direction) from position ``a`` to ``b`` of a mesh ``cols``
    wide, X first then Y. Directions index :data:`LINK_DIRECTIONS`: 0 = +x, 1 = -x, 2 = +y,
    3 = -y."""
    (x, y), (dx, dy) = a, b
    links = []
    while x != dx:
        step = 1 if dx > x else -1
        links.append((y * cols + x, 0 if step > 0 else 1))
        x += step
    while y != dy:
        step = 1 if dy > y else -1
        links.append((y * cols + x, 2 if step > 0 else 3))
        y += step
    return links


def route(placement: Placement, src: int, dst: int) -> list[tuple[int, int, int, bool]]:
    """The links from tile ``src`` to tile ``dst``: ``(chip, node, direction, is_chip_link)``.

    On one chip, the XY route between the tiles (``node`` a router of that chip's mesh).
    Between chips: the XY route to the source chip's tile 0, the XY route over the chip
    mesh (``node`` a chip, ``chip`` the chip it leaves), then the XY route from the
    destination chip's tile 0.
    """
    ca, cb = placement.chip_of(src), placement.chip_of(dst)
    cols = placement.mesh_cols
    if ca == cb:
        return [(ca, n, d, False) for n, d in _xy_route(placement.tile_xy(src),
                                                         placement.tile_xy(dst), cols)]
    out = [(ca, n, d, False) for n, d in _xy_route(placement.tile_xy(src), (0, 0), cols)]
    ccols = placement.chip_mesh_cols
    out += [(n, n, d, True) for n, d in _xy_route(placement.chip_xy(ca), placement.chip_xy(cb),
                                                  ccols)]
    out += [(cb, n, d, False) for n, d in _xy_route((0, 0), placement.tile_xy(dst), cols)]
    return out


def _route_links(placement: Placement, cfg: Config, res: _Resources, src: int, dst: int,
                 bits: int, fi: int) -> dict:
    """Resource ids, serialisation and latency of each link from tile ``src`` to ``dst`` for
    ``bits`` per pixel (flow ``fi``; private links per flow unless ``noc.shared_links``).

    A mesh link holds ``ceil(bits / noc.link_width_bits)`` cycles, its head takes
    ``cycles(noc.hop_latency_ns)``; a chip link holds ``cycles(bits / (8 x
    chip_link.bandwidth_gb_per_s))`` cycles, its head takes ``cycles(chip_link.latency_ns)``.
    """
    mesh_ser = _ceil_div(bits, cfg.noc.link_width_bits)
    chip_ser = cfg.cycles(bits / (8.0 * cfg.chip_link.bandwidth_gb_per_s))
    mesh_lat, chip_lat = cfg.cycles(cfg.noc.hop_latency_ns), cfg.cycles(cfg.chip_link.latency_ns)
    links, ser, lat, chip = [], [], [], []
    for h, (c, node, d, is_chip) in enumerate(route(placement, src, dst)):
        kind = "chip_link" if is_chip else "noc"
        where = f"chip{c}." if (is_chip or c) else ""
        if cfg.noc.shared_links:
            links.append(res.get((kind, c, node, d), kind,
                                 f"{where}link{'' if is_chip else node}{LINK_DIRECTIONS[d]}"))
        else:
            links.append(res.get(("flow-link", fi, h), kind, f"flow{fi}.hop{h}"))
        ser.append(chip_ser if is_chip else mesh_ser)
        lat.append(chip_lat if is_chip else mesh_lat)
        chip.append(is_chip)
    return {"links": links, "link_serial": ser, "link_latency": lat, "link_chip": chip}


def _cycles_of(config: Config, values_ns: np.ndarray) -> np.ndarray:
    """:meth:`Config.cycles` of every value (computed once per distinct value)."""
    uniq, inverse = np.unique(values_ns, return_inverse=True)
    return np.array([config.cycles(float(v)) for v in uniq], np.int64)[inverse.reshape(-1)]


def build_plan(network: Network, mapping: NetworkMapping, placement: Placement,
               images: int = 1, activity: dict[str, np.ndarray] | None = None) -> TimingPlan:
    """Derive every duration, count, resource and dependency of a run (``docs/timing.md``).

    Args:
        network: the IR, layers in topological order.
        mapping: every weight layer's crossbars and OUs (its ``config`` is the hardware).
        placement: tiles of layers and crossbars, ADC groups, mesh, copies of layers.
        images: inputs streamed through the pipeline (>= 1).
        activity: per weight layer, ``(>= images * pixels, n_ou)`` active input steps
            (:func:`reramsim.activity.ou_activity`); used when ``ou.skip_zero_inputs``.

    Raises:
        TimingError: a layer without mapping or tile, an input no layer produces, an op
            without a timing rule, a mapping whose OU arrays are inconsistent.
    """
    cfg = mapping.config
    if len({layer.name for layer in network.layers}) != len(network.layers):
        raise TimingError(f"{network.name}: layer names are not unique")
    if int(images) < 1:
        raise TimingError(f"{network.name}: images must be >= 1, got {images}")
    for layer in network.layers:
        if layer.name not in placement.layer_tile:
            raise TimingError(f"{network.name}: layer {layer.name} has no tile in the placement")
    res = _Resources()
    layers, ir_layers = [], []
    for layer in network.layers:
        r = placement.replicas(layer.name)
        stream = layer.out_pixels * int(images)
        if r > stream:
            raise TimingError(f"layer {layer.name}: {r} copies for {stream} output pixels")
        tiles = placement.replica_tile.get(layer.name) or [int(placement.layer_tile[layer.name])]
        for c in range(r):
            name = layer.name if r == 1 else f"{layer.name}#{c}"
            lp = _plan_layer(len(layers), layer, network, mapping, res, name, int(tiles[c]),
                             len(range(c, stream, r)), placement, c)
            lp.layer_name, lp.replica, lp.replicas = layer.name, c, r
            layers.append(lp)
            ir_layers.append(layer)
    flows = _plan_flows(layers, ir_layers, network, placement, cfg, res)
    edges = _plan_edges(layers, ir_layers, flows, network, cfg, int(images))
    xbars, ous = _plan_crossbars(layers, ir_layers, mapping, placement, res)
    groups = _plan_groups(layers, ir_layers, mapping, placement, res, flows)
    active = (_plan_activity(layers, ir_layers, mapping, activity, int(images))
              if cfg.ou.skip_zero_inputs and activity is not None else [None] * len(layers))
    return TimingPlan(
        config=cfg, pipeline=cfg.pipeline.mode, images=int(images), input_steps=cfg.input_steps,
        t_shift_add=cfg.cycles(cfg.shift_add.latency_ns), t_hop=cfg.cycles(cfg.noc.hop_latency_ns),
        layers=layers, flows=flows, edges=edges, groups=groups, res_kind=res.kind,
        res_label=res.label,
        xbar_layer=xbars[0], xbar_local=xbars[1], xbar_adc=xbars[2], xbar_ou_lo=xbars[3],
        xbar_ou_hi=xbars[4], ou_t_first=ous[0], ou_t_rest=ous[1], ou_t_adc=ous[2],
        ou_n_rows=ous[3], ou_n_cols=ous[4], ou_index_reads=ous[5], ou_gather=ous[6],
        ou_n_conv=ous[7], ou_active=active,
    )


def _plan_activity(layers: list[LayerPlan], ir_layers: list[Layer], mapping: NetworkMapping,
                   activity: dict[str, np.ndarray], images: int) -> list[np.ndarray | None]:
    """Each weight layer instance's rows of its layer's activity data (checked here); the
    instance's step counts gain the zero checks: every step of every OU, every pixel."""
    steps = mapping.config.input_steps
    out: list[np.ndarray | None] = []
    for lp, layer in zip(layers, ir_layers):
        if not lp.is_weight:
            out.append(None)
            continue
        data = activity.get(layer.name)
        n_ou = mapping.layers[layer.name].n_ous
        need = images * layer.out_pixels
        if data is None or data.ndim != 2 or data.shape[0] < need or data.shape[1] != n_ou:
            got = "none" if data is None else f"shape {getattr(data, 'shape', '?')}"
            raise TimingError(f"layer {layer.name}: zero-skipping needs ({need}, {n_ou}) "
                              f"active steps (images x pixels, OUs); got {got}")
        data = np.asarray(data)
        if data.size and int(data.max()) > steps:
            raise TimingError(f"layer {layer.name}: activity counts exceed the {steps} input "
                              f"steps")
        # Columns follow the mapping's OU order; the plan keeps OUs of active crossbars only,
        # which are all OUs (a crossbar without OUs contributes none).
        out.append(np.ascontiguousarray(data[:need][lp.replica::lp.replicas], np.uint8))
        lp.step_counts["zero_check"] = steps * n_ou
    return out


def _register_loads(lmap: LayerMapping, placement: Placement, name: str,
                    replica: int) -> np.ndarray:
    """Input values each PE of a layer copy loads into its input register per pixel.

    A PE loads every distinct (conv group, matrix row) its crossbars' active word-lines
    take, once: its crossbars that share rows share the register's copy of them, and
    two PEs that need the same rows load them twice (``docs/timing.md``, "Fetch").
    """
    n_xbar = lmap.n_crossbars
    pes = np.asarray(placement.xbar_pe.get(name, ()), np.int64)
    if len(pes) != n_xbar * placement.replicas(name):
        raise TimingError(f"layer {name}: placement has {len(pes)} crossbars, mapping "
                          f"{n_xbar} x {placement.replicas(name)} copies")
    pes = pes[replica * n_xbar:(replica + 1) * n_xbar]
    xbar = np.repeat(np.asarray(lmap.ou_xbar, np.int64),
                     np.diff(np.asarray(lmap.ou_row_ptr, np.int64)))
    rows = np.asarray(lmap.ou_rows, np.int64)
    if not len(rows):
        return np.zeros(0, np.int64)
    groups = np.asarray(lmap.xbar_group, np.int64)[xbar]
    pe = pes[xbar] - pes.min()
    n_rows, n_groups = int(rows.max()) + 1, int(groups.max()) + 1
    keys = np.sort((pe * n_groups + groups) * n_rows + rows)  # one key per (pe, group, row)
    loaded_pe = keys[np.r_[True, keys[1:] != keys[:-1]]] // (n_groups * n_rows)
    counts = np.bincount(loaded_pe)
    return counts[counts > 0]


def _plan_layer(i: int, layer: Layer, network: Network, mapping: NetworkMapping,
                res: _Resources, name: str, tile: int, n_pixels: int,
                placement: Placement, replica: int) -> LayerPlan:
    """Stage durations, counts and resources of one layer instance ``name`` on ``tile``
    handling ``n_pixels`` output pixels (flows and t_out come later).

    A weight layer's fetch is its PEs' register loads (:func:`_register_loads`): each
    reads ``ceil(values x a / buffers.input.width_bits)`` input-buffer accesses and moves
    ``values x a`` bits over the bus; a digital layer reads its ``n_inputs`` directly."""
    cfg = mapping.config
    bits, in_buf, out_buf = cfg.precision.input_bits, cfg.buffers.input, cfg.buffers.output
    share_buf, share_dig = cfg.buffers.shared_per_tile, cfg.digital.shared_per_tile
    if isinstance(layer, WeightLayer):
        if layer.name not in mapping.layers:
            raise TimingError(f"{network.name}: weight layer {layer.name} is not in the mapping")
        lmap = mapping.layers[layer.name]
        _check_mapping(layer.name, lmap)
        loads = _register_loads(lmap, placement, layer.name, replica)
        unit, count_kind, n_xbar = "accumulator", "accumulate", lmap.n_crossbars
        parts = _output_parts(layer, lmap, cfg)
        n_inputs, unit_ops = layer.rows * layer.groups, _accumulate_ops(layer, lmap, cfg, parts)
    else:
        if layer.op not in OPS:
            raise TimingError(f"layer {layer.name}: op {layer.op!r} has no timing rule; known: "
                              f"conv, fc, {', '.join(OPS.names())}")
        op = OPS.get(layer.op)
        unit, n_xbar, parts = op.unit, 0, np.zeros(0, np.int64)
        count_kind = f"{unit}_op"
        n_inputs, unit_ops = op.work(layer)
        loads = None
    unit_cfg = getattr(cfg.digital, unit)
    lanes = unit_cfg.lanes * (unit_cfg.per_tile if share_dig else 1)
    if loads is not None:
        ir_writes = int(loads.sum())
        fetch_accesses = sum(_ceil_div(int(v) * bits, in_buf.width_bits) for v in loads)
    else:
        ir_writes, fetch_accesses = 0, _ceil_div(n_inputs * bits, in_buf.width_bits)
    bus_bits = ir_writes * bits
    out_bits = (layer.out_elements // layer.out_pixels) * bits
    own = "" if share_buf else f"[{name}]"
    return LayerPlan(
        index=i, name=name, op=layer.op, tile=tile, n_pixels=n_pixels, unit=unit,
        unit_count_kind=count_kind, n_inputs=n_inputs, fetch_accesses=fetch_accesses,
        t_fetch=max(fetch_accesses * cfg.cycles(in_buf.access_ns),
                    _ceil_div(bus_bits, cfg.bus.width_bits)),
        ir_writes=ir_writes, bus_bits=bus_bits, unit_ops=unit_ops,
        t_unit=(cfg.cycles(_ceil_div(unit_ops, lanes) * unit_cfg.latency_ns)
                if unit_ops else 0),
        out_bits=out_bits, out_writes=_ceil_div(out_bits, out_buf.width_bits),
        out_reads=_ceil_div(out_bits, out_buf.width_bits), t_out=0,
        res_fetch=res.get(("in", tile) if share_buf else ("in-read", name), "input_buffer",
                          f"tile{tile}.input_buffer{own}"),
        res_unit=res.get(("unit", tile, unit) if share_dig else ("unit", name), unit,
                         f"tile{tile}.{unit}" + ("" if share_dig else f"[{name}]")),
        res_out=res.get(("out", tile) if share_buf else ("out", name), "output_buffer",
                        f"tile{tile}.output_buffer{own}"),
        is_weight=isinstance(layer, WeightLayer), n_crossbars=n_xbar, xbar_outputs=parts,
    )


def _plan_flows(layers: list[LayerPlan], ir_layers: list[Layer], network: Network,
                placement: Placement, cfg: Config, res: _Resources) -> list[FlowPlan]:
    """One flow per (producer instance, consumer tile); sets each layer's flows and ``t_out``.

    A consumer with copies on several tiles gets a flow to each of those tiles: the
    producer's pixels are broadcast to every copy (each copy needs its inputs).
    """
    flows: list[FlowPlan] = []
    consumers = network.consumers()
    tiles_of = {name: placement.replica_tile.get(name) or [tile]
                for name, tile in placement.layer_tile.items()}
    t_in_access = cfg.cycles(cfg.buffers.input.access_ns)
    for lp, layer in zip(layers, ir_layers):
        dests = dict.fromkeys(int(t) for r in consumers.get(layer.output, [])
                              for t in tiles_of[r.name])
        for dest in dests:
            fi = len(flows)
            inwrites = _ceil_div(lp.out_bits, cfg.buffers.input.width_bits)
            shared = cfg.buffers.shared_per_tile
            flows.append(FlowPlan(
                index=fi, src=lp.index, dest_tile=dest,
                **_route_links(placement, cfg, res, lp.tile, dest, lp.out_bits, fi),
                bits=lp.out_bits, inwrites=inwrites, t_inwrite=inwrites * t_in_access,
                res_inwrite=res.get(("in", dest) if shared else ("in-write", fi), "input_buffer",
                                    f"tile{dest}.input_buffer"
                                    + ("" if shared else f"[flow{fi}]"))))
            lp.flows.append(fi)
        lp.t_out = (lp.out_writes + len(lp.flows) * lp.out_reads) * cfg.cycles(
            cfg.buffers.output.access_ns)
    return flows


def _plan_groups(layers: list[LayerPlan], ir_layers: list[Layer], mapping: NetworkMapping,
                 placement: Placement, res: _Resources, flows: list[FlowPlan]
                 ) -> list[GroupPlan]:
    """One crossbar group per (weight layer instance, tile of its active crossbars); a group
    off the home tile gets a partial-sum flow to it, appended to ``flows``.

    A crossbar of a remote group sends ``psum_bits`` per output it holds a part of, per
    pixel (``LayerPlan.xbar_outputs``); the home accumulator adds them (its ``accumulate`` count
    is unchanged). A group with no sum to send (the negative arrays of analog-subtracting
    pairs) has no flow. A placement fills tiles in crossbar order, so each tile's active
    crossbars are a contiguous range of the plan's, and groups follow crossbar order.
    """
    cfg = mapping.config
    groups: list[GroupPlan] = []
    for lp, layer in zip(layers, ir_layers):
        if not lp.n_active_crossbars:
            continue
        m = mapping.layers[layer.name]
        local = _active_locals(m)
        tiles = np.asarray(placement.xbar_tile[layer.name])[lp.replica * m.n_crossbars + local]
        outputs = lp.xbar_outputs[local]
        cuts = np.flatnonzero(np.diff(tiles)) + 1
        for run in np.split(np.arange(len(local)), cuts):
            tile = int(tiles[run[0]])
            g = GroupPlan(len(groups), lp.index, tile, lp.xbar_lo + int(run[0]),
                          lp.xbar_lo + int(run[-1]) + 1)
            bits = cfg.psum_bits * int(outputs[run].sum())
            if tile != lp.tile and bits:
                g.flow = fi = len(flows)
                flows.append(FlowPlan(
                    index=fi, src=lp.index, dest_tile=lp.tile,
                    **_route_links(placement, cfg, res, tile, lp.tile, bits, fi),
                    bits=bits, inwrites=0, t_inwrite=0, res_inwrite=lp.res_unit,
                    psum_group=g.index))
            groups.append(g)
            lp.groups.append(g.index)
    return groups


def _active_locals(m: LayerMapping) -> np.ndarray:
    """Local indices of a mapping's crossbars with at least one OU, in order."""
    return np.flatnonzero(np.bincount(np.asarray(m.ou_xbar, np.int64), minlength=m.n_crossbars))


def _plan_edges(layers: list[LayerPlan], ir_layers: list[Layer], flows: list[FlowPlan],
                network: Network, cfg: Config, images: int) -> list[EdgePlan]:
    """Which flows feed each layer instance, and the producer pixels each pixel needs.

    Over a stream, pixel ``p`` of image ``i`` needs ``i * P_src + need[p]`` producer
    pixels. Instance ``c`` of ``r`` takes every ``r``-th of those rows; producer
    instance ``c'`` of ``r'`` delivers the pixels ``q = c' (mod r')``, so a prefix of
    ``n`` stream pixels holds ``max(0, ceil((n - c') / r'))`` of them.
    """
    instances: dict[str, list[LayerPlan]] = {}
    for lp in layers:
        instances.setdefault(lp.layer_name, []).append(lp)
    flow_of = {(f.src, f.dest_tile): f.index for f in flows}
    producer = network.producer()
    edges: list[EdgePlan] = []
    for lp, layer in zip(layers, ir_layers):
        for tensor, shape in dict(zip(layer.inputs, layer.in_shapes)).items():
            if tensor in producer:
                need = _need(layer, shape, cfg.pipeline.mode)
                p_src = int(producer[tensor].out_pixels)
                stream = (np.arange(images, dtype=np.int64)[:, None] * p_src
                          + need[None, :]).ravel()[lp.replica::lp.replicas]
                for src in instances[producer[tensor].name]:
                    fi = flow_of[(src.index, lp.tile)]
                    share = np.maximum(0, -(-(stream - src.replica) // src.replicas))
                    edges.append(EdgePlan(lp.index, fi, tensor, share))
                    lp.edges.append(len(edges) - 1)
                    flows[fi].edges.append(len(edges) - 1)
            elif tensor not in network.inputs:
                raise TimingError(f"layer {layer.name}: input {tensor!r} is neither a graph input "
                                  f"nor the output of a layer")
    return edges


def _plan_crossbars(layers: list[LayerPlan], ir_layers: list[Layer], mapping: NetworkMapping,
                    placement: Placement, res: _Resources
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Active crossbars (layer, local index, ADC resource, OU range) and OU constants."""
    cfg = mapping.config
    t_read, t_gather = cfg.cycles(cfg.crossbar.read_latency_ns), cfg.cycles(
        cfg.input_gather.latency_ns)
    t_index, steps = cfg.cycles(cfg.index_buffer.access_ns), cfg.input_steps
    xb_parts: list[tuple[np.ndarray, ...]] = []
    ou_parts: list[tuple[np.ndarray, ...]] = []
    n_ou_total = n_xbar_total = 0
    for lp, layer in zip(layers, ir_layers):
        if not lp.is_weight:
            continue
        m = mapping.layers[layer.name]
        groups = np.asarray(placement.xbar_adc_group[layer.name])
        if len(groups) != m.n_crossbars * lp.replicas:
            raise TimingError(f"layer {layer.name}: placement has {len(groups)} crossbars, "
                              f"mapping {m.n_crossbars} x {lp.replicas} copies")
        groups = groups[lp.replica * m.n_crossbars:(lp.replica + 1) * m.n_crossbars]
        per_xbar = np.bincount(np.asarray(m.ou_xbar, np.int64), minlength=m.n_crossbars)
        active = _active_locals(m)
        ends = n_ou_total + np.cumsum(per_xbar)
        adc = np.array([res.get(("adc", int(g)), "adc", f"adc_group{int(g)}")
                        for g in groups[active]], np.int32)
        xb_parts.append((np.full(len(active), lp.index), active, adc,
                         ends[active] - per_xbar[active], ends[active]))
        lp.xbar_lo, lp.xbar_hi = n_xbar_total, n_xbar_total + len(active)
        n_xbar_total += len(active)
        n_ou_total += m.n_ous
        n_rows, n_cols = np.asarray(m.ou_n_rows, np.int64), np.asarray(m.ou_n_cols, np.int64)
        n_conv = _converted_cols(layer.name, m, cfg)
        idx = np.asarray(m.ou_index_reads, np.int64)
        gat = np.asarray(m.ou_gather_inputs, np.int64)
        adc_ns = np.ceil(n_conv / cfg.adc.count) / cfg.adc.sample_rate_gsps
        t_adc = _cycles_of(cfg, adc_ns) if m.n_ous else np.zeros(0, np.int64)
        t_rest = t_read + np.where(gat > 0, t_gather, 0)
        ou_parts.append((t_rest + idx * t_index, t_rest, t_adc, n_rows, n_cols, idx, gat,
                         n_conv))
        lp.step_counts = {
            "ou_step": steps * m.n_ous, "cell_read": steps * int(np.dot(n_rows, n_cols)),
            "dac_conversion": steps * int(n_rows.sum()), "sample_hold": steps * int(n_conv.sum()),
            "adc_conversion": steps * int(n_conv.sum()), "shift_add": steps * int(n_conv.sum()),
            "index_read": int(idx.sum()), "gather_input": int(gat.sum()),
            "input_register_read": steps * int(n_rows.sum()),
            "output_register_update": steps * int(n_conv.sum()),
        }

    def cat(parts: list[tuple[np.ndarray, ...]], j: int, dtype) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype)
        return np.ascontiguousarray(np.concatenate([p[j] for p in parts]).astype(dtype))

    xbars = [cat(xb_parts, j, dt) for j, dt in
             enumerate((np.int32, np.int32, np.int32, np.int64, np.int64))]
    return xbars, [cat(ou_parts, j, np.int64) for j in range(8)]
