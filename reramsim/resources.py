"""The files reramsim ships: hardware configs and the small trained models, found by name.

In a source checkout they are the repository's top-level ``hw_configs/*.yaml`` and
``models/*.onnx``. An installed package (a wheel, ``pip install .``) carries copies as
package data under ``reramsim/_data/`` (``setup.py`` puts them there at build time), read
through :mod:`importlib.resources`. The package data wins when both exist.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["KINDS", "shipped_dir", "shipped_file", "shipped_names"]

#: Kind of shipped file -> its file suffix.
KINDS: dict[str, str] = {"hw_configs": ".yaml", "models": ".onnx"}

_REPO = Path(__file__).resolve().parents[1]


def shipped_dir(kind: str) -> Path:
    """The folder holding the shipped files of ``kind`` (a key of :data:`KINDS`)."""
    if kind not in KINDS:
        raise KeyError(f"unknown kind of shipped file {kind!r}; expected one of {list(KINDS)}")
    data = resources.files("reramsim") / "_data" / kind
    if data.is_dir():
        return Path(str(data))
    return _REPO / kind


def shipped_names(kind: str) -> list[str]:
    """Names (file stems) of the shipped files of ``kind``, sorted."""
    return sorted(p.stem for p in shipped_dir(kind).glob(f"*{KINDS[kind]}"))


def shipped_file(kind: str, name: str) -> Path | None:
    """The shipped file ``name`` (with or without its suffix) of ``kind``, or None."""
    folder = shipped_dir(kind)
    for candidate in (folder / name, folder / f"{name}{KINDS[kind]}"):
        if candidate.is_file() and candidate.suffix == KINDS[kind]:
            return candidate
    return None
