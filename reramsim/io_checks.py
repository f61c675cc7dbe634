"""Checks on files and arrays where they enter: paths to read, paths to write, .npy/.npz.

Every check raises a one-line :class:`InputError` naming what was given (the flag or
the file), the place in it (array name, element) and what was expected. Nothing here
allocates more than a header before the sizes have been checked against
:data:`MAX_ARRAY_ELEMENTS`.

* :func:`check_input_file`: the path names a readable regular file (not empty, not a
  folder, not ``/dev/null``, a FIFO or a device).
* :func:`check_output_file`: the path can be created or overwritten (its folder
  exists and is a folder, the path is not a folder), checked before a long job.
* :func:`load_arrays`: the arrays of a ``.npy``/``.npz`` file, headers checked before
  loading, real numeric dtypes only, at least one sample, finite values.
* :func:`printable`: a name with terminal control characters escaped.
"""
from __future__ import annotations

import math
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from reramsim import ReramsimError

__all__ = ["MAX_ARRAY_ELEMENTS", "InputError", "InternalError", "check_finite_figures",
           "check_input_file", "check_output_file", "load_arrays", "printable"]

#: The most elements one input array may hold (2^28: 1 GiB of float32), checked from its
#: header before any data is read.
MAX_ARRAY_ELEMENTS = 2 ** 28

#: dtype kinds accepted as input data: bool, signed and unsigned integers, floats.
_NUMERIC_KINDS = "biuf"
_KIND_NAMES = {"O": "object", "U": "string", "S": "bytes", "V": "structured/void",
               "c": "complex", "M": "datetime", "m": "timedelta"}


class InputError(ReramsimError):
    """A file or array given on the command line (or to the library) that cannot be used."""


def printable(text: object) -> str:
    """``text`` with control characters (C0, DEL, C1) and lone surrogates escaped, so that a
    hostile name cannot move the cursor or rewrite the terminal when printed."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000:
            out.append(repr(ch)[1:-1] if code != 0x5C else ch)
        else:
            out.append(ch)
    return "".join(out)


def _label(path: str | os.PathLike[str], what: str | None) -> str:
    name = printable(os.fspath(path))
    return f"{what} {name}" if what else name


def check_input_file(path: str | os.PathLike[str], what: str | None = None,
                     noun: str = "file") -> Path:
    """``path`` as a Path once it names a readable regular file.

    Args:
        path: the file given.
        what: the flag or argument it came from (``"--input"``) for the message.
        noun: what the file is, for the message (``"no such input file"``).

    Raises:
        InputError: empty path, missing file, a folder, a FIFO/device (such as /dev/null),
            or no permission to read.
    """
    if not os.fspath(path):
        raise InputError(f"{what or 'path'}: empty path; expected a file name")
    p = Path(path)
    label = _label(path, what)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{label}: no such {noun}") from None
    except NotADirectoryError:
        raise InputError(f"{label}: no such {noun} (a part of the path is not a folder)"
                         ) from None
    except OSError as err:
        raise InputError(f"{label}: cannot read: {err.strerror}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{label}: is a folder; expected a file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if (
            stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "a socket or special file"
        raise InputError(f"{label}: is {kind}, not a regular file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{label}: cannot read: permission denied")
    return p


def check_output_file(path: str | os.PathLike[str], what: str | None = None) -> Path:
    """``path`` as a Path once it can be written: checked before a long job starts.

    Raises:
        InputError: empty path, a missing folder, a parent that is a file, a path that is a
            folder, or no permission to write there.
    """
    if not os.fspath(path):
        raise InputError(f"{what or 'output'}: empty path; expected a file name")
    try:
        return _check_output_file(Path(path), _label(path, what))
    except OSError as err:  # e.g. a name too long for the file system
        raise InputError(f"{_label(path, what)}: cannot write: {err.strerror}") from None


def _check_output_file(p: Path, label: str) -> Path:
    if p.is_dir():
        raise InputError(f"{label}: is a folder; expected a file name")
    parent = p.parent
    if not parent.exists():
        for ancestor in parent.parents:
            if ancestor.exists() and not ancestor.is_dir():
                raise InputError(f"{label}: {printable(ancestor)} is a file, not a folder")
        raise InputError(f"{label}: folder {printable(parent)} does not exist")
    if not parent.is_dir():
        raise InputError(f"{label}: {printable(parent)} is a file, not a folder")
    if p.exists() and not p.is_file():  # a device, FIFO...: writers replace files whole
        raise InputError(f"{label}: exists and is not a regular file")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{label}: cannot write: permission denied")
    try:  # a real probe: writers replace the file through a temporary one next to it
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".reramsim-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{label}: cannot write in {printable(parent)}: "
                         f"{err.strerror}") from None
    return p


# --------------------------------------------------------------------------- arrays


def _check_header(label: str, name: str | None, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    where = f"{label}: array {name!r}" if name is not None else label
    kind = dtype.kind
    if kind not in _NUMERIC_KINDS or dtype.fields is not None:
        got = _KIND_NAMES.get(kind, str(dtype))
        raise InputError(f"{where}: {got} dtype {dtype}; expected real numbers "
                         "(float, int or bool)")
    size = math.prod(shape)
    if size > MAX_ARRAY_ELEMENTS:
        raise InputError(f"{where}: shape {shape} holds {size:,} elements; at most "
                         f"{MAX_ARRAY_ELEMENTS:,} are accepted")


def _npy_header(stream, label: str, name: str | None) -> None:
    """Read and check the header of a .npy stream (not its data)."""
    where = f"{label}: array {name!r}" if name is not None else label
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream, max_header_size=10000)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise InputError(f"{where}: not a .npy array ({printable(str(err).splitlines()[0])})"
                         ) from None
    _check_header(label, name, dtype, tuple(shape))


def load_arrays(path: str | os.PathLike[str], what: str | None = None
                ) -> dict[str | None, np.ndarray]:
    """The arrays of a ``.npy`` file (key ``None``) or a ``.npz`` file (member name -> array),
    each checked from its header (real numeric dtype, at most :data:`MAX_ARRAY_ELEMENTS`)
    before it is loaded, then for finite values, as float32.

    Raises:
        InputError: unreadable or corrupt file, bad dtype, too large, empty, or a NaN/Inf
            element (its index is named).
    """
    p = check_input_file(path, what, "input file")
    label = _label(path, what)
    with p.open("rb") as f:
        head = f.read(6)
    arrays: dict[str | None, np.ndarray] = {}
    try:
        if head.startswith(b"PK"):
            try:
                archive = zipfile.ZipFile(p)
            except zipfile.BadZipFile as err:
                raise InputError(f"{label}: not a readable .npz file ({err})") from None
            with archive:
                names = [n for n in archive.namelist()]
                if not names:
                    raise InputError(f"{label}: the .npz file holds no arrays")
                for member in names:
                    name = member[:-4] if member.endswith(".npy") else member
                    with archive.open(member) as stream:
                        _npy_header(stream, label, name)
                    with archive.open(member) as stream:
                        arrays[name] = np.lib.format.read_array(stream, allow_pickle=False)
        elif head == b"\x93NUMPY":
            with p.open("rb") as stream:
                _npy_header(stream, label, None)
            with p.open("rb") as stream:
                arrays[None] = np.lib.format.read_array(stream, allow_pickle=False)
        else:
            raise InputError(f"{label}: not a .npy or .npz file (no NumPy or zip signature)")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as err:
        reason = printable(str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise InputError(f"{label}: truncated or corrupt array file ({reason})") from None
    for name, array in arrays.items():
        where = f"{label}: array {name!r}" if name is not None else label
        if array.size == 0:
            raise InputError(f"{where}: empty array of shape {array.shape}; expected at least "
                             "one sample")
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            array = array.astype(np.float32) if array.dtype != np.float32 else array
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{where}: element {index} is {array[index]}; expected finite "
                             "values (or a float32 overflow of a float64 value)")
        arrays[name] = array
    return arrays


def check_finite_figures(figures: object, where: str = "report") -> None:
    """Refuse a report with a non-finite or negative figure: an internal error, since the
    inputs were validated where they entered.

    Raises:
        InternalError: naming the key path of the first bad figure.
    """
    stack: list[tuple[str, object]] = [(where, figures)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                value, bool):
            if not math.isfinite(value) or value < 0:
                raise InternalError(f"{printable(path)} = {value}: a figure must be finite and "
                                    ">= 0; this is a bug in reramsim, please report it")


class InternalError(RuntimeError):
    """A result that cannot be right (a bug, not bad input); the CLI exits with status 70."""

