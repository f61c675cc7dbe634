"""The pruning metadata of an exported ONNX file, and how the simulator reads it back.

A pruned model carries one JSON entry in the ONNX ``metadata_props`` under
:data:`METADATA_KEY`::

    {"format": 1, "scheme": "segprune", "reconstruction": true,
     "params": {"segment_height": 16, "max_shapes": 8, ...},
     "target_ratio": 8.0, "pruning_ratio": 8.01, "dense_weights": 61470, "kept_weights": 7672,
     "layers": [{"index": 0, "layer": "/0/0/Conv", "module": "0.0",
                 "rows": 25, "cols": 6, "groups": 1, "kept": 19, "tables": {...}}, ...]}

``layers[i]`` describes the ``i``-th weight layer of the imported IR (topological
order). ``layer`` is the IR layer name, ``rows``/``cols``/``groups`` let the reader
check that it matches. ``tables`` is scheme-specific; SegPrune's is
``{"segment_height": h, "groups": [layout, ...]}`` with one layout per conv group::

    {"shapes": ["0f3a", ...] per row-block: hex masks, bit i = row i of the block,
     "assign": "0120..." per row-block: one base-36 digit per column (0 = empty shape),
               or a list of ints when a block has more than 35 shapes}

:func:`scheme_from_metadata` turns the entry into ``(scheme, per-layer options)`` for
:func:`reramsim.mapping.map_network`; a file without the entry maps as ``"dense"``.
This module is numpy-only, so the simulator can read pruned files without torch.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

from reramsim import ReramsimError
from reramsim.ir import Network
from reramsim.mapping.segprune import SegmentLayout, block_bounds

METADATA_KEY = "reramsim.pruning"
FORMAT_VERSION = 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class PruningMetadataError(ReramsimError):
    """The pruning metadata of a model is malformed or does not match its layers."""


# --------------------------------------------------------------------------- SegPrune tables


def encode_layout(layout: SegmentLayout) -> dict[str, Any]:
    """JSON form of one conv group's :class:`SegmentLayout` (format in the module doc)."""
    shapes = [[_mask_to_hex(row) for row in table] for table in layout.shapes]
    assign: list[Any] = []
    for ids, table in zip(layout.assign, layout.shapes):
        if len(table) < len(_DIGITS):
            assign.append("".join(_DIGITS[i] for i in ids))
        else:
            assign.append([int(i) for i in ids])
    return {"shapes": shapes, "assign": assign}


def decode_layout(data: dict[str, Any], rows: int, cols: int, segment_height: int
                  ) -> SegmentLayout:
    """Inverse of :func:`encode_layout` for a ``rows x cols`` matrix.

    Raises:
        PruningMetadataError: missing keys, wrong block or column counts, bad digits.
    """
    bounds = block_bounds(rows, segment_height)
    try:
        shapes_in, assign_in = data["shapes"], data["assign"]
    except (KeyError, TypeError):
        raise PruningMetadataError("segprune layout needs 'shapes' and 'assign'") from None
    if len(shapes_in) != len(bounds) or len(assign_in) != len(bounds):
        raise PruningMetadataError(f"segprune layout has {len(shapes_in)} shape tables and "
                                   f"{len(assign_in)} assignments for {len(bounds)} row-blocks")
    shapes, assign = [], np.zeros((len(bounds), cols), np.int32)
    for b, ((start, stop), table, ids) in enumerate(zip(bounds, shapes_in, assign_in)):
        shapes.append(np.array([_hex_to_mask(x, stop - start) for x in table], bool)
                      .reshape(len(table), stop - start))
        if isinstance(ids, str):
            try:
                values = [_DIGITS.index(ch) for ch in ids]
            except ValueError:
                raise PruningMetadataError(f"row-block {b}: bad shape id in {ids!r}") from None
        else:
            values = [int(i) for i in ids]
        if len(values) != cols:
            raise PruningMetadataError(f"row-block {b}: {len(values)} shape ids for {cols} columns")
        assign[b] = values
    return SegmentLayout(segment_height, shapes, assign)


def _mask_to_hex(mask: np.ndarray) -> str:
    value = 0
    for i in np.flatnonzero(mask):
        value |= 1 << int(i)
    return format(value, "x")


def _hex_to_mask(text: str, height: int) -> np.ndarray:
    try:
        value = int(text, 16)
    except (TypeError, ValueError):
        raise PruningMetadataError(f"bad shape mask {text!r} (hex expected)") from None
    if value >> height:
        raise PruningMetadataError(f"shape mask {text!r} has bits beyond the block's {height} rows")
    return np.array([(value >> i) & 1 for i in range(height)], bool)


#: scheme -> decoder ``fn(tables, ir_layer) -> mapper options``; each scheme's pruner module
#: adds its own with :func:`register_table_decoder` (SegPrune's: :mod:`reramsim.prune.segprune`).
TABLE_DECODERS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {}


def register_table_decoder(scheme: str) -> Callable:
    """Register how a scheme's per-layer ``tables`` become its mapper's options."""

    def decorate(fn: Callable[[Any, Any], dict[str, Any]]) -> Callable:
        if scheme in TABLE_DECODERS:
            raise ValueError(f"table decoder for {scheme!r} registered twice")
        TABLE_DECODERS[scheme] = fn
        return fn

    return decorate


# --------------------------------------------------------------------------- reading


def read_metadata(network: Network) -> dict[str, Any] | None:
    """The parsed pruning entry of ``network`` (None when the file has none)."""
    text = network.metadata.get(METADATA_KEY)
    if text is None:
        return None
    where = network.source or network.name
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise PruningMetadataError(
            f"{where}: metadata {METADATA_KEY!r} is not JSON ({err})") from None
    if not isinstance(data, dict) or "scheme" not in data or "layers" not in data:
        raise PruningMetadataError(
            f"{where}: metadata {METADATA_KEY!r} needs 'scheme' and 'layers'")
    return data


def scheme_from_metadata(network: Network) -> tuple[str, dict[str, dict[str, Any]]]:
    """The mapping scheme and per-layer mapper options a (pruned) network asks for.

    Returns:
        ``(scheme, options)``: ``("dense", {})`` without pruning metadata; otherwise the
        scheme named in the metadata and ``{ir_layer_name: options}`` for
        :func:`reramsim.mapping.map_network`. A layer the metadata does not describe
        gets ``{}`` (its mapper then recovers what it can from the zeros).

    Raises:
        PruningMetadataError: malformed metadata, or an entry whose rows, cols or groups
            do not match the layer it names (e.g. the weights were edited after export).
    """
    data = read_metadata(network)
    if data is None:
        return "dense", {}
    scheme = str(data["scheme"])
    where = network.source or network.name
    decoder = TABLE_DECODERS.get(scheme)
    layers = network.weight_layers()
    by_name = {entry.get("layer"): entry for entry in data["layers"] if isinstance(entry, dict)}
    options: dict[str, dict[str, Any]] = {}
    for index, layer in enumerate(layers):
        entry = by_name.get(layer.name)
        if entry is None:
            entry = next((e for e in data["layers"] if e.get("index") == index), None)
        if entry is None:
            continue
        got = (entry.get("rows"), entry.get("cols"), entry.get("groups", 1))
        if got != (layer.rows, layer.cols, layer.groups):
            raise PruningMetadataError(
                f"{where}: metadata entry {entry.get('index')} ({entry.get('layer')!r}) is "
                f"{got[0]}x{got[1]} in {got[2]} group(s) but layer {layer.name!r} is "
                f"{layer.rows}x{layer.cols} in {layer.groups}")
        if decoder is None or not entry.get("tables"):
            options[layer.name] = {}
            continue
        try:
            options[layer.name] = decoder(entry["tables"], layer)
        except (PruningMetadataError, KeyError, TypeError, ValueError) as err:
            raise PruningMetadataError(f"{where}: layer {layer.name!r}: {err}") from None
    return scheme, options


def resolve_scheme(network: Network, requested: str | None = None
                   ) -> tuple[str, dict[str, dict[str, Any]] | None]:
    """The mapping scheme and per-layer mapper options to run ``network`` with.

    ``requested=None`` takes the scheme the metadata names (``"dense"`` without
    metadata); the metadata's options go with it whenever the scheme is the one the
    metadata names, so ``--scheme dense`` on a pruned file maps its zeros densely.

    Raises:
        PruningMetadataError: malformed metadata.
    """
    meta_scheme, meta_options = scheme_from_metadata(network)
    scheme = requested or meta_scheme
    return scheme, (meta_options if scheme == meta_scheme else None)
