"""The cycle engine's contract, declared once: its input fields and its event kinds.

Everything else follows from the tables here:

* ``setup.py`` writes ``_contract.pxi`` from :func:`cython_declarations` (the ``Model``
  struct, the ``EventKind`` enum, the field positions and ``model_bind``) before it
  compiles the engine; ``_engine.pxd`` includes it. The file is a build output, never
  edited or committed.
* :func:`reramsim.engine.flatten_plan` fills exactly the fields named here and casts each
  to its declared dtype; :func:`reramsim._core._engine.run` checks every array's dtype,
  length and range (``lo``, ``below``) from these declarations before the loop, and names
  the field on failure.
* :mod:`reramsim.pyref` and the Chrome trace writer use :class:`EventKind` and
  :data:`EVENTS` for the kinds, their priorities, components and trace names.

Adding an input: one :class:`ArrayField` or :class:`SizeField` below, the code in
``flatten_plan`` that fills it and the engine code that reads it. This module imports the
standard library only (``setup.py`` loads it without importing ``reramsim``).
"""
from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass

#: numpy dtype of each C type the engine reads (widths as in ``_types.pxd``).
DTYPES = {"time_t": "int64", "int64_t": "int64", "idx_t": "int32", "int32_t": "int32"}


@dataclass(frozen=True)
class SizeField:
    """A scalar of the model: a table size or a constant, at least ``lo``."""

    name: str
    ctype: str
    doc: str
    lo: int = 0


@dataclass(frozen=True)
class ArrayField:
    """A read-only 1-D array of the model (C-contiguous, dtype ``DTYPES[ctype]``).

    Attributes:
        length: a size name (``"n_layers"``) or a size name plus one (``"n_layers + 1"``,
            CSR pointers).
        lo: every entry is at least this (None: no bound).
        below: every entry is less than this size (an index into that table; None: no bound).
    """

    name: str
    ctype: str
    length: str
    doc: str
    lo: int | None = None
    below: str | None = None

    @property
    def dtype(self) -> str:
        return DTYPES[self.ctype]

    @property
    def length_size(self) -> str:
        """The size the length is counted in."""
        return self.length.partition(" + ")[0]

    @property
    def length_extra(self) -> int:
        """Entries beyond that size (1 for CSR pointers, else 0)."""
        return int(self.length.partition(" + ")[2] or 0)


SIZES = (
    SizeField("n_layers", "idx_t", "layers"),
    SizeField("n_xbars", "idx_t", "active crossbars (those with at least one OU)"),
    SizeField("n_ous", "int64_t", "OUs"),
    SizeField("n_flows", "idx_t", "flows (producer layer -> destination tile; crossbar group "
              "-> home tile)"),
    SizeField("n_out_flows", "idx_t", "entries of l_flows (the layers' output flows)"),
    SizeField("n_edges", "idx_t", "edges (consumer layer <- flow)"),
    SizeField("n_res", "idx_t", "resources: ADC groups, buffer ports, digital units, links"),
    SizeField("n_pixel_slots", "int64_t", "sum of the layers' output pixels"),
    SizeField("n_need", "int64_t", "entries of need"),
    SizeField("n_links", "int64_t", "entries of f_links"),
    SizeField("n_groups", "idx_t", "crossbar groups (a weight layer's active crossbars on one "
              "tile)"),
    SizeField("n_group_slots", "int64_t", "sum over groups of their layer's output pixels"),
    SizeField("input_steps", "int32_t", "B: DAC bit-steps per input vector", lo=1),
    SizeField("t_shift_add", "time_t", "cycles from a conversion's end to its shift-add result"),
    SizeField("n_act", "int64_t", "entries of act (zero-skipping data)"),
)

_L, _X, _O, _E, _F, _G = "n_layers", "n_xbars", "n_ous", "n_edges", "n_flows", "n_groups"
ARRAYS = (
    # layers
    ArrayField("l_pixels", "int64_t", _L, "output pixels P (raster order)", lo=1),
    ArrayField("l_pix_off", "int64_t", _L, "index of the layer's pixel 0 in per-pixel state",
               lo=0),
    ArrayField("l_t_fetch", "time_t", _L, "cycles per pixel on the input-buffer port", lo=0),
    ArrayField("l_t_unit", "time_t", _L, "cycles per pixel on the digital unit", lo=0),
    ArrayField("l_t_out", "time_t", _L, "cycles per pixel on the output-buffer port", lo=0),
    ArrayField("l_res_fetch", "idx_t", _L, "resource id: input-buffer (read) port",
               lo=0, below="n_res"),
    ArrayField("l_res_unit", "idx_t", _L, "resource id: digital unit", lo=0, below="n_res"),
    ArrayField("l_res_out", "idx_t", _L, "resource id: output-buffer port", lo=0, below="n_res"),
    ArrayField("l_unit_rkind", "int32_t", _L, "ResourceKind column of the unit", lo=0),
    ArrayField("l_unit_ckind", "int32_t", _L, "CountKind column its unit work is counted in",
               lo=0),
    ArrayField("l_fetch_acc", "int64_t", _L, "input-buffer reads per pixel (accesses)", lo=0),
    ArrayField("l_ir_writes", "int64_t", _L, "input values loaded into PE input registers per "
               "pixel", lo=0),
    ArrayField("l_bus_bits", "int64_t", _L, "bits over the eDRAM-to-PE bus per pixel", lo=0),
    ArrayField("l_unit_ops", "int64_t", _L, "element ops (accumulate additions) per pixel", lo=0),
    ArrayField("l_out_writes", "int64_t", _L, "output-buffer writes per pixel", lo=0),
    ArrayField("l_out_reads", "int64_t", _L, "output-buffer reads per pixel, all flows", lo=0),
    ArrayField("l_xb_lo", "idx_t", _L, "active crossbars of the layer: [lo, hi)", lo=0),
    ArrayField("l_xb_hi", "idx_t", _L, "end of the layer's active crossbars", lo=0),
    ArrayField("l_act_off", "int64_t", _L, "zero-skipping: index of the layer's row of pixel 0 "
               "in act (rows of l_act_cols entries, one per pixel), -1: every step runs",
               lo=-1),
    ArrayField("l_act_cols", "int64_t", _L, "zero-skipping: entries per pixel row of act "
               "(the layer's OUs)", lo=0),
    ArrayField("l_edge_ptr", "idx_t", _L + " + 1", "CSR into l_edges: the layer's input edges"),
    ArrayField("l_edges", "idx_t", _E, "edge ids, by consumer layer", lo=0, below=_E),
    ArrayField("l_flow_ptr", "idx_t", _L + " + 1", "CSR into l_flows: the layer's output flows"),
    ArrayField("l_flows", "idx_t", "n_out_flows", "output flow ids, by producer layer", lo=0,
               below=_F),
    ArrayField("l_n_groups", "int64_t", _L, "crossbar groups of the layer (0 without active "
               "crossbars)", lo=0),
    # crossbars
    ArrayField("x_layer", "idx_t", _X, "layer index", lo=0, below=_L),
    ArrayField("x_adc", "idx_t", _X, "resource id of its ADC group", lo=0, below="n_res"),
    ArrayField("x_group", "idx_t", _X, "its crossbar group", lo=0, below=_G),
    ArrayField("x_ou_lo", "int64_t", _X, "its OUs: [lo, hi) of the o_* arrays, execution order",
               lo=0),
    ArrayField("x_ou_hi", "int64_t", _X, "end of its OUs", lo=0),
    # OUs
    ArrayField("o_t_first", "time_t", _O, "cycles: read of the first bit-step (index lookup "
               "included)", lo=0),
    ArrayField("o_t_rest", "time_t", _O, "cycles: read of the other bit-steps", lo=0),
    ArrayField("o_t_adc", "time_t", _O, "cycles: converting its bit-lines on the ADC group",
               lo=0),
    ArrayField("o_rows", "int64_t", _O, "active word-lines (DAC conversions per step)", lo=0),
    ArrayField("o_cols", "int64_t", _O, "bit-lines converted per step (samples, conversions, "
               "shift-adds; 0 on the negative array of an analog-subtracting pair)", lo=0),
    ArrayField("o_cells", "int64_t", _O, "rows * cols (cell reads per step)", lo=0),
    ArrayField("o_index", "int64_t", _O, "index-buffer lookups per pixel", lo=0),
    ArrayField("o_gather", "int64_t", _O, "gathered inputs per pixel", lo=0),
    ArrayField("o_act_col", "int64_t", _O, "zero-skipping: the OU's column in its layer's act "
               "rows", lo=0),
    ArrayField("act", "int32_t", "n_act", "zero-skipping: input steps each (pixel, OU) runs",
               lo=0),
    # edges
    ArrayField("e_consumer", "idx_t", _E, "layer that waits", lo=0, below=_L),
    ArrayField("e_flow", "idx_t", _E, "flow that brings the producer's pixels", lo=0, below=_F),
    ArrayField("e_need_off", "int64_t", _E, "index of the edge's need[0] in need", lo=0),
    ArrayField("need", "int64_t", "n_need", "producer pixels (prefix length) each consumer "
               "pixel waits for (0: none of this flow's, e.g. from another copy of a layer)",
               lo=0),
    # flows
    ArrayField("f_src", "idx_t", _F, "producer layer", lo=0, below=_L),
    ArrayField("f_link_ptr", "int64_t", _F + " + 1", "CSR into f_links; hops = ptr[f+1] - ptr[f]"),
    ArrayField("f_links", "idx_t", "n_links", "resource ids of the route's links, in order",
               lo=0, below="n_res"),
    ArrayField("f_link_ser", "time_t", "n_links", "cycles the link is held per pixel", lo=0),
    ArrayField("f_link_lat", "time_t", "n_links", "cycles from the hop's start to the head at "
               "the next router", lo=0),
    ArrayField("f_link_ck", "int32_t", "n_links", "CountKind column its bits are counted in "
               "(noc_bit_hop or chip_link_bit)", lo=0),
    ArrayField("f_group", "idx_t", _F, "partial-sum flow: the crossbar group it completes at "
               "the home accumulator; -1: a data flow", lo=-1, below=_G),
    ArrayField("f_t_inwrite", "time_t", _F, "cycles per pixel on the destination input-buffer "
               "port", lo=0),
    ArrayField("f_res_inwrite", "idx_t", _F, "resource id of that port", lo=0, below="n_res"),
    ArrayField("f_bits", "int64_t", _F, "bits per pixel", lo=0),
    ArrayField("f_inwrites", "int64_t", _F, "input-buffer writes per pixel (accesses)", lo=0),
    ArrayField("f_edge_ptr", "idx_t", _F + " + 1", "CSR into f_edges: edges fed by the flow"),
    ArrayField("f_edges", "idx_t", _E, "edge ids, by flow", lo=0, below=_E),
    # crossbar groups
    ArrayField("g_layer", "idx_t", _G, "layer", lo=0, below=_L),
    ArrayField("g_n_xbars", "int64_t", _G, "active crossbars in the group", lo=1),
    ArrayField("g_pix_off", "int64_t", _G, "index of the group's pixel 0 in per-group-pixel "
               "state", lo=0),
    ArrayField("g_flow", "idx_t", _G, "its partial-sum flow to the home tile; -1: on the home "
               "tile", lo=-1, below=_F),
    # resources
    ArrayField("r_kind", "int32_t", "n_res", "ResourceKind column", lo=0),
)


@dataclass(frozen=True)
class EventSpec:
    """One event kind: ``a`` indexes a ``component`` (layer, crossbar or flow), ``b`` a pixel."""

    name: str
    component: str
    trace_name: str | None
    doc: str


#: Queued kinds in priority order (lower value fires first within one cycle).
EVENTS = (
    EventSpec("ARRIVE", "flow", "arrive", "the pixel is in the destination's input buffer"),
    EventSpec("INWRITE", "flow", "input buffer write", "request the destination input-buffer "
              "port (a partial-sum flow: its group is done at the home accumulator)"),
    EventSpec("HOP", "flow", "link", "request the hop's mesh or chip link (c: hop)"),
    EventSpec("OUT", "layer", "output buffer", "request the output-buffer port"),
    EventSpec("UNIT", "layer", "unit", "request the digital unit / accumulator"),
    EventSpec("XSTEP", "crossbar", "adc convert", "a read is done, request the ADC group"),
    EventSpec("FETCHED", "layer", None, "the input vector is in the DAC registers"),
    EventSpec("FETCH", "layer", "input fetch", "ready; request the input-buffer port"),
)
#: Kinds that only label trace records (never queued), numbered after the queued ones.
TRACE_ONLY_EVENTS = (
    EventSpec("READ", "crossbar", "crossbar read", "trace records only: a crossbar read"),
)
ALL_EVENTS = EVENTS + TRACE_ONLY_EVENTS

#: Event kinds by value (``EV_<NAME>`` in Cython).
EventKind = enum.IntEnum("EventKind", [(e.name, i) for i, e in enumerate(ALL_EVENTS)])


def cython_declarations() -> str:
    """The text of ``_contract.pxi``: enums, the ``Model`` struct and ``model_bind``.

    Its last line is ``CONTRACT_CRC``, a checksum of the rest (:func:`contract_crc`), by
    which the built engine tells whether it was compiled from these tables.
    """
    body = _declarations()
    return body + f"\n\ncdef enum:\n    CONTRACT_CRC = {zlib.crc32(body.encode()) & 0x7FFFFFFF}\n"


def contract_crc() -> int:
    """Checksum of the declarations the tables generate (``CONTRACT_CRC`` of the build)."""
    return zlib.crc32(_declarations().encode()) & 0x7FFFFFFF


def _declarations() -> str:
    out = ["# Generated by setup.py from reramsim/_core/contract.py: edit that file, not this.",
           "", "cdef enum:  # EventKind; the value is also the priority within one cycle"]
    out += [f"    EV_{e.name} = {i}  # a: {e.component}, b: pixel: {e.doc}"
            for i, e in enumerate(ALL_EVENTS)]
    out += [f"    N_QUEUED_KINDS = {len(EVENTS)}", "",
            "cdef enum:  # ModelField: position in contract.ARRAYS (error reports)"]
    out += [f"    F_{f.name.upper()} = {i}" for i, f in enumerate(ARRAYS)]
    out += [f"    N_MODEL_ARRAYS = {len(ARRAYS)}", f"    N_MODEL_SIZES = {len(SIZES)}", "",
            "cdef struct Model:",
            "    # Read-only inputs; the arrays point into numpy arrays owned by the caller."]
    out += [f"    {f.ctype} {f.name}  # {f.doc}" for f in SIZES]
    out += [f"    const {f.ctype}* {f.name}  # ({f.length}) {f.doc}" for f in ARRAYS]
    out += ["", "", "cdef inline void model_bind(Model* m, const int64_t* sizes, "
            "const void** arrays) noexcept nogil:",
            "    # Fill m from the sizes and array pointers, in contract order."]
    out += [f"    m.{f.name} = <{f.ctype}> sizes[{i}]" for i, f in enumerate(SIZES)]
    out += [f"    m.{f.name} = <const {f.ctype}*> arrays[{i}]" for i, f in enumerate(ARRAYS)]
    return "\n".join(out) + "\n"


def _check_tables() -> None:
    """Every array's length and bound name a declared size; kinds fit the queue's bitmap."""
    sizes = {s.name for s in SIZES}
    for f in ARRAYS:
        if f.length_size not in sizes or (f.below is not None and f.below not in sizes):
            raise ValueError(f"engine contract: array {f.name} refers to an undeclared size")
        if f.ctype not in DTYPES:
            raise ValueError(f"engine contract: array {f.name} has C type {f.ctype}, "
                             f"expected one of {sorted(DTYPES)}")
    if len(EVENTS) > 8:
        raise ValueError("engine contract: at most 8 queued event kinds (the queue keeps one "
                         "FIFO per kind and an 8-bit occupancy mask per cycle)")


_check_tables()
