"""Small image-classification datasets for accuracy checks, without torch.

A dataset is named by a *spec* string:

- ``"digits"``: scikit-learn's bundled 8x8 handwritten digits (1,797 images,
  no download). Fixed split: 360 test images (stratified, ``random_state=0``),
  the other 1,437 for training.
- ``"mnist:DIR"``: MNIST from its IDX files in ``DIR`` (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
  each optionally gzipped as ``.gz``).
- ``"cifar10:DIR"``: CIFAR-10 "python version" batches (``data_batch_1..5``,
  ``test_batch``) in ``DIR`` or in ``DIR/cifar-10-batches-py``.
- ``"npz:FILE"``: your own data, a numpy ``.npz`` with arrays ``x`` (N, C, H, W) float
  images (values as the model expects them, not rescaled) and ``y`` (N,) integer labels
  0..K-1; optionally ``x_test`` and ``y_test`` for the test split. Without them the last
  20% of ``x``/``y`` (at least one image) is the test split, the rest the training split.

:func:`load_dataset` returns float32 images in NCHW layout with pixel values in
[0, 1] and int64 labels, adapted to the model's input shape: channels are
replicated (gray -> 3) or averaged (3 -> gray) and the spatial size is resized
with bilinear interpolation (:func:`resize_images`).
"""

from __future__ import annotations

import functools
import gzip
import math
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from reramsim import ReramsimError

SPLITS = ("train", "test")
SPEC_FORMS = ("digits", "mnist:DIR", "cifar10:DIR", "npz:FILE")

DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0

# IDX element type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8",
}
_IDX_DTYPE_NAMES: dict[int, str] = {
    0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64",
}
_MNIST_IMAGE_MAGIC = 0x00000803  # uint8, 3 dims (N, rows, cols)
_MNIST_LABEL_MAGIC = 0x00000801  # uint8, 1 dim (N,)
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_CIFAR_SUBDIR = "cifar-10-batches-py"
_CIFAR_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_CIFAR_SHAPE = (3, 32, 32)

Images = np.ndarray  # float32, (N, C, H, W), values in [0, 1]
Labels = np.ndarray  # int64, (N,)


def load_dataset(
    spec: str,
    split: str = "test",
    input_shape: tuple[int, int, int] | None = None,
    limit: int | None = None,
) -> tuple[Images, Labels]:
    """Load a split of a dataset, shaped for a model's input.

    Args:
        spec: ``"digits"``, ``"mnist:DIR"`` or ``"cifar10:DIR"`` (see the module docstring).
        split: ``"train"`` or ``"test"``.
        input_shape: (C, H, W) the model expects; C must be 1 or 3 (or the dataset's own
            channel count). ``None`` keeps the dataset's native shape (digits 1x8x8,
            MNIST 1x28x28, CIFAR-10 3x32x32).
        limit: keep only the first ``limit`` images of the split (``None``: all).

    Returns:
        ``(x, y)``: ``x`` float32 of shape (N, C, H, W) with values in [0, 1], C-contiguous;
        ``y`` int64 of shape (N,) with class indices 0..9.

    Raises:
        ReramsimError: unknown spec or split, bad ``input_shape`` or ``limit``, or a
            dataset file that is missing, truncated or not in the expected format.
    """
    if split not in SPLITS:
        raise ReramsimError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if limit is not None and limit < 0:
        raise ReramsimError(f"limit must be >= 0 or None, got {limit}")
    x, y = _resolve_loader(spec)(split, limit)
    if len(y) == 0:
        raise ReramsimError(f"{spec}: the {split} split has no images")
    if input_shape is not None:
        x = _fit_to_shape(x, tuple(input_shape))
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


def _resolve_loader(spec: str) -> Callable[[str, int | None], tuple[Images, Labels]]:
    """Turn a spec string into ``loader(split, limit)``; raise ReramsimError on a bad spec."""
    kind, sep, directory = spec.partition(":")
    if kind == "digits" and not sep:
        return _load_digits
    dir_loaders = {"mnist": _load_mnist, "cifar10": _load_cifar10, "npz": _load_npz}
    if kind in dir_loaders and directory:
        return functools.partial(dir_loaders[kind], Path(directory))
    raise ReramsimError(f"bad dataset spec {spec!r}; valid specs: {', '.join(SPEC_FORMS)}")


# --- shape adaptation -------------------------------------------------------------------------


def resize_images(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a batch of images with bilinear interpolation.

    Uses half-pixel centres (``align_corners=False``) without antialiasing, the
    same as ``torch.nn.functional.interpolate(mode="bilinear")``; deterministic.

    Args:
        x: images of shape (N, C, h, w), any float dtype.
        size: output (H, W) in pixels.

    Returns:
        float32 array of shape (N, C, H, W).
    """
    height, width = size
    rows = _interpolation_matrix(height, x.shape[2])
    cols = _interpolation_matrix(width, x.shape[3])
    return (rows @ x.astype(np.float32) @ cols.T).astype(np.float32)


def _interpolation_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) float32 matrix of 1-D linear-interpolation weights, half-pixel centres.

    Output pixel i samples the input at ``(i + 0.5) * n_in / n_out - 0.5``, clamped
    to [0, n_in - 1]. Example: 2 -> 4 gives rows [1, 0], [.75, .25], [.25, .75], [0, 1].
    """
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(weights, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(weights, (np.arange(n_out), hi), frac)
    return weights.astype(np.float32)


def _fit_to_shape(x: Images, input_shape: tuple[int, ...]) -> Images:
    """Convert (N, c, h, w) images to (N, C, H, W): gray <-> RGB, then bilinear resize."""
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ReramsimError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape}")
    channels, height, width = input_shape
    if channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = np.repeat(x, 3, axis=1)
        elif channels == 1 and x.shape[1] == 3:
            x = x.mean(axis=1, keepdims=True)
        else:
            raise ReramsimError(
                f"cannot convert {x.shape[1]}-channel images to {channels} channels "
                "(only gray <-> RGB)"
            )
    if x.shape[2:] != (height, width):
        x = resize_images(x, (height, width))
    return x


# --- digits (scikit-learn) --------------------------------------------------------------------


def _load_digits(split: str, limit: int | None) -> tuple[Images, Labels]:
    """scikit-learn digits as (N, 1, 8, 8) in [0, 1]; 360 stratified test images, seed 0.

    scikit-learn is imported here, not at module level: it is an optional dependency.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    pixels, labels = load_digits(return_X_y=True)  # pixels 0..16, (1797, 64)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, labels, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, stratify=labels
    )
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    x, y = x[:limit], y[:limit]
    return (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), y


# --- your own data (.npz) ---------------------------------------------------------------------


def _load_npz(path: Path, split: str, limit: int | None) -> tuple[Images, Labels]:
    """``x``/``y`` (and ``x_test``/``y_test``) of an .npz file; see the module docstring."""
    if not path.is_file():
        raise ReramsimError(f"npz:{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as e:
        raise ReramsimError(f"npz:{path}: not a readable .npz file ({e})") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise ReramsimError(f"npz:{path}: array {key!r} is missing; expected x (N, C, H, W) "
                                f"and y (N,), found {sorted(arrays)}")
    if "x_test" in arrays and "y_test" in arrays:
        x, y = (arrays["x"], arrays["y"]) if split == "train" else (arrays["x_test"],
                                                                   arrays["y_test"])
    else:
        n_test = max(1, len(arrays["x"]) // 5)
        cut = len(arrays["x"]) - n_test
        x, y = ((arrays["x"][:cut], arrays["y"][:cut]) if split == "train"
                else (arrays["x"][cut:], arrays["y"][cut:]))
    if x.ndim != 4 or y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ReramsimError(f"npz:{path}: expected x (N, C, H, W) and integer y (N,), got x "
                            f"{x.shape} and y {y.shape} {y.dtype}")
    if len(x) == 0 or y.min() < 0:
        raise ReramsimError(f"npz:{path}: the {split} split is empty or has negative labels")
    return x[:limit].astype(np.float32), y[:limit]


# --- MNIST (IDX files) ------------------------------------------------------------------------


def _load_mnist(directory: Path, split: str, limit: int | None) -> tuple[Images, Labels]:
    """MNIST images as (N, 1, rows, cols) in [0, 1] and labels, from the IDX files of ``split``."""
    image_name, label_name = _MNIST_FILES[split]
    image_path = _find_maybe_gzipped(directory / image_name)
    label_path = _find_maybe_gzipped(directory / label_name)
    images = read_idx(image_path, expected_magic=_MNIST_IMAGE_MAGIC, what="mnist")
    labels = read_idx(label_path, expected_magic=_MNIST_LABEL_MAGIC, what="mnist")
    if len(images) != len(labels):
        raise ReramsimError(
            f"mnist: {label_path}: {len(labels)} labels, expected {len(images)} "
            f"(one per image in {image_path.name})"
        )
    _check_labels(labels, label_path, "mnist")
    images, labels = images[:limit], labels[:limit]
    return (images[:, None].astype(np.float32) / 255.0), labels


def _find_maybe_gzipped(path: Path) -> Path:
    """``path`` if it exists, else ``path.gz``; ReramsimError naming both if neither exists."""
    if path.is_file():
        return path
    gzipped = path.with_name(path.name + ".gz")
    if gzipped.is_file():
        return gzipped
    raise ReramsimError(f"mnist: {path}: missing (no {gzipped.name} either)")


def read_idx(path: Path, expected_magic: int, what: str = "idx") -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped if its name ends in ``.gz``.

    Layout: a big-endian uint32 magic ``0x0000TTDD`` (TT element type code, DD
    number of dims), DD big-endian uint32 dim sizes, then the elements, big-endian,
    row-major.

    Args:
        path: the file.
        expected_magic: the magic number the caller needs, e.g. 0x00000803 for a
            uint8 (N, rows, cols) image file.
        what: dataset name prefixed to error messages.

    Returns:
        array of the header's shape in native byte order.

    Raises:
        ReramsimError: unreadable file, wrong magic number, or fewer data bytes than
            the header's dims require.
    """
    data = _read_bytes(path, what)
    if len(data) < 4:
        raise ReramsimError(f"{what}: {path}: truncated, {len(data)} bytes, no IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ReramsimError(
            f"{what}: {path}: bad magic 0x{magic:08X}, expected 0x{expected_magic:08X} "
            f"({_describe_magic(expected_magic)})"
        )
    n_dims = magic & 0xFF
    header_bytes = 4 + 4 * n_dims
    if len(data) < header_bytes:
        raise ReramsimError(f"{what}: {path}: truncated IDX header, {len(data)} bytes, "
                            f"expected {header_bytes} for {n_dims} dims")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=n_dims, offset=4))
    dtype = np.dtype(_IDX_DTYPES[(magic >> 8) & 0xFF])
    expected_bytes = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if len(data) - header_bytes < expected_bytes:
        raise ReramsimError(
            f"{what}: {path}: truncated, header says {'x'.join(map(str, dims))} "
            f"= {expected_bytes} data bytes, file has {len(data) - header_bytes}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected_bytes // dtype.itemsize,
                          offset=header_bytes)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def _describe_magic(magic: int) -> str:
    """Human form of an IDX magic number, e.g. 'IDX uint8, 3 dims'."""
    return f"IDX {_IDX_DTYPE_NAMES.get((magic >> 8) & 0xFF, '?')}, {magic & 0xFF} dims"


def _read_bytes(path: Path, what: str) -> bytes:
    """All bytes of ``path``, gunzipped when its name ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:
        raise ReramsimError(f"{what}: {path}: cannot read ({err})") from err


def _check_labels(labels: np.ndarray, path: Path, what: str) -> None:
    """Raise ReramsimError unless every label is a class index 0..9."""
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ReramsimError(
            f"{what}: {path}: labels range {labels.min()}..{labels.max()}, expected 0..9"
        )


# --- CIFAR-10 (python pickles) ----------------------------------------------------------------


def _load_cifar10(directory: Path, split: str, limit: int | None) -> tuple[Images, Labels]:
    """CIFAR-10 as (N, 3, 32, 32) in [0, 1] and labels; reads only the batches ``limit`` needs."""
    batch_dir = _find_cifar_dir(directory)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    n_loaded = 0
    for name in _CIFAR_BATCHES[split]:
        if limit is not None and n_loaded >= limit:
            break
        batch_images, batch_labels = _read_cifar_batch(batch_dir / name)
        images.append(batch_images)
        labels.append(batch_labels)
        n_loaded += len(batch_labels)
    x = np.concatenate(images)[:limit].reshape(-1, *_CIFAR_SHAPE)
    return x.astype(np.float32) / 255.0, np.concatenate(labels)[:limit]


def _find_cifar_dir(directory: Path) -> Path:
    """The folder holding the CIFAR-10 batches: ``directory`` or its ``cifar-10-batches-py``."""
    for candidate in (directory, directory / _CIFAR_SUBDIR):
        if (candidate / "test_batch").is_file() or (candidate / "data_batch_1").is_file():
            return candidate
    raise ReramsimError(
        f"cifar10: {directory}: missing CIFAR-10 batches, expected test_batch or data_batch_1 "
        f"in it or in {_CIFAR_SUBDIR}/"
    )


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that builds only plain containers and numpy arrays.

    CIFAR-10 batches are pickles; refusing every other global keeps a hostile
    file from running code when it is loaded.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }

    def find_class(self, module: str, name: str) -> object:
        """Resolve ``module.name`` only for numpy's array reconstruction, with the array's
        size and dtype checked before it is allocated."""
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        found = super().find_class(module, name)
        if name == "_reconstruct":
            return _bounded(found, 1)
        if name == "_frombuffer":
            return _bounded(found, 2)
        if name == "dtype":
            return _plain_dtype
        return found


#: The most elements one array of a CIFAR-10 pickle may have (a batch has 30,720,000).
MAX_PICKLED_ELEMENTS = 2 ** 28


def _bounded(fn: Callable, shape_arg: int) -> Callable:
    """``fn`` (an array constructor) refusing a shape over :data:`MAX_PICKLED_ELEMENTS`."""

    def build(*args: object) -> object:
        shape = args[shape_arg] if len(args) > shape_arg else ()
        dims = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of sizes")
        size = 1
        for d in dims:
            size *= d
        if size > MAX_PICKLED_ELEMENTS:
            raise pickle.UnpicklingError(f"array of shape {shape} holds {size:,} elements; "
                                         f"at most {MAX_PICKLED_ELEMENTS:,} are accepted")
        return fn(*args)

    return build


def _plain_dtype(spec: object, *args: object) -> np.dtype:
    """``numpy.dtype(spec)`` for a real numeric dtype only (no object or structured arrays)."""
    dtype = np.dtype(spec, *args)  # type: ignore[call-overload]
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise pickle.UnpicklingError(f"refusing an array of dtype {dtype}")
    return dtype


def _describe_value(value: object) -> str:
    """A short description of a decoded value: its type, and for a list its element types."""
    if isinstance(value, list):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a list of {', '.join(kinds) or 'nothing'}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3072) and labels (N,) of one CIFAR-10 batch file."""
    if not path.is_file():
        raise ReramsimError(f"cifar10: {path}: missing")
    try:
        with path.open("rb") as stream:
            batch = _BatchUnpickler(stream, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ReramsimError(
            f"cifar10: {path}: not a CIFAR-10 python batch, truncated or corrupt ({err})"
        ) from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ReramsimError(f"cifar10: {path}: expected a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    labels = batch[b"labels"]
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        labels = labels.astype(np.int64)
    elif isinstance(labels, list) and all(type(v) is int for v in labels):
        labels = np.array(labels, dtype=np.int64)
    else:
        raise ReramsimError(f"cifar10: {path}: b'labels' must be a list of integers, got "
                            f"{_describe_value(labels)}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != np.prod(_CIFAR_SHAPE):
        raise ReramsimError(
            f"cifar10: {path}: b'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072)"
        )
    if labels.shape != (len(data),):
        raise ReramsimError(
            f"cifar10: {path}: {labels.size} labels, expected {len(data)} (one per image)"
        )
    _check_labels(labels, path, "cifar10")
    return data, labels
