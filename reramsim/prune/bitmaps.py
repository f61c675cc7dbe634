"""Bitmaps and id strings in JSON: the compact forms the baselines' metadata tables use.

A bitmap of ``n`` bools is written as hex of its bytes, bit ``i`` in byte ``i // 8``
at position ``i % 8`` (least significant first): ``[1, 0, 1]`` -> ``"05"``. Small ids
(``< 36``) are one base-36 digit each: ``[0, 3, 11]`` -> ``"03b"``.
"""
from __future__ import annotations

import numpy as np

from reramsim.prune.metadata import PruningMetadataError

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def mask_to_hex(mask: np.ndarray) -> str:
    """Hex of a 1-D bool array (module doc)."""
    return np.packbits(np.asarray(mask, bool), bitorder="little").tobytes().hex()


def hex_to_mask(text: str, n: int) -> np.ndarray:
    """Inverse of :func:`mask_to_hex` for ``n`` bits.

    Raises:
        PruningMetadataError: not hex, wrong length, or bits set beyond ``n``.
    """
    try:
        raw = bytes.fromhex(text)
    except (TypeError, ValueError):
        raise PruningMetadataError(f"bad bitmap {str(text)[:20]!r} (hex expected)") from None
    if len(raw) != -(-n // 8):
        raise PruningMetadataError(f"bitmap of {len(raw) * 8} bits for {n} entries")
    bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little").astype(bool)
    if bits[n:].any():
        raise PruningMetadataError(f"bitmap has bits set beyond its {n} entries")
    return bits[:n]


def ids_to_text(ids: np.ndarray) -> str:
    """One base-36 digit per id (ids in ``[0, 36)``)."""
    table = np.frombuffer(DIGITS.encode(), np.uint8)
    return table[np.asarray(ids, np.int64).ravel()].tobytes().decode()


def text_to_ids(text: str, n: int, high: int) -> np.ndarray:
    """Inverse of :func:`ids_to_text`: ``n`` ids, each in ``[0, high]``.

    Raises:
        PruningMetadataError: a bad digit, the wrong count, or an id above ``high``.
    """
    lookup = np.full(256, -1, np.int32)
    lookup[np.frombuffer(DIGITS.encode(), np.uint8)] = np.arange(len(DIGITS))
    try:
        ids = lookup[np.frombuffer(str(text).encode("ascii"), np.uint8)]
    except UnicodeEncodeError:
        ids = np.array([-1], np.int32)
    if np.any(ids < 0):
        raise PruningMetadataError(f"bad id digit in {str(text)[:20]!r}")
    if len(ids) != n:
        raise PruningMetadataError(f"{len(ids)} ids for {n} entries")
    if len(ids) and ids.max() > high:
        raise PruningMetadataError(f"id {int(ids.max())} beyond the {high} defined")
    return ids
