"""Tests for reramsim.datasets: digits split, MNIST IDX and CIFAR-10 pickle parsing, resizing."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reramsim import ReramsimError
from reramsim.datasets import load_dataset, read_idx, resize_images

MNIST_SHAPE = (28, 28)


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """Write a uint8 array as an IDX file (magic 0x000008DD, big-endian dims), maybe gzipped."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def make_mnist(directory: Path, n: int = 5, gz: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Write tiny train and test MNIST IDX files; return the test (images, labels)."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, *MNIST_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(directory / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return images, labels


def write_cifar_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    """Write one CIFAR-10 python batch: a pickled dict with b'data' (N, 3072) and b'labels'."""
    with path.open("wb") as stream:
        pickle.dump({b"batch_label": b"test", b"data": data, b"labels": labels}, stream, protocol=2)


def make_cifar(directory: Path, n_per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Write five tiny training batches and a test batch; return name -> (data, labels)."""
    rng = np.random.default_rng(2)
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        write_cifar_batch(directory / name, data, labels)
        batches[name] = (data, labels)
    return batches


# --- digits ---------------------------------------------------------------------------------


def test_digits_split_sizes():
    """The digits test split has 360 images, the train split the other 1,437; 10 classes each."""
    x_test, y_test = load_dataset("digits", "test")
    x_train, y_train = load_dataset("digits", "train")
    assert x_test.shape == (360, 1, 8, 8) and y_test.shape == (360,)
    assert x_train.shape == (1437, 1, 8, 8)
    assert set(y_test.tolist()) == set(y_train.tolist()) == set(range(10))


def test_digits_deterministic_and_disjoint():
    """Loading digits twice gives identical arrays, and no test image appears in the train split."""
    x1, y1 = load_dataset("digits", "test", (3, 32, 32))
    x2, y2 = load_dataset("digits", "test", (3, 32, 32))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    train = {row.tobytes() for row in load_dataset("digits", "train")[0].reshape(1437, -1)}
    test = [row.tobytes() for row in load_dataset("digits", "test")[0].reshape(360, -1)]
    assert not any(row in train for row in test)


def test_digits_dtypes_range_and_channels():
    """Images are float32 NCHW in [0, 1]; gray is replicated to 3 equal channels."""
    x, y = load_dataset("digits", "test", (3, 32, 32), limit=10)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (10, 3, 32, 32) and x.flags.c_contiguous
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x[:, 0], x[:, 2])


def test_limit_keeps_first_images():
    """``limit`` keeps the first images of the split, in order."""
    x_all, y_all = load_dataset("digits", "test")
    x, y = load_dataset("digits", "test", limit=7)
    np.testing.assert_array_equal(x, x_all[:7])
    np.testing.assert_array_equal(y, y_all[:7])


# --- MNIST ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_round_trip(tmp_path, gz):
    """MNIST IDX files (plain or .gz) load as pixels/255 with the same labels."""
    images, labels = make_mnist(tmp_path, gz=gz)
    x, y = load_dataset(f"mnist:{tmp_path}", "test")
    assert x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_mnist_resized_to_three_channels(tmp_path):
    """MNIST resized to a 3x32x32 model input has 3 equal channels and stays in [0, 1]."""
    make_mnist(tmp_path)
    x, _ = load_dataset(f"mnist:{tmp_path}", "train", (3, 32, 32), limit=3)
    assert x.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(x[:, 0], x[:, 1])
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_mnist_missing_file(tmp_path):
    """A missing IDX file names the file and the .gz alternative."""
    with pytest.raises(ReramsimError, match=r"t10k-images-idx3-ubyte: missing \(no .*\.gz"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_mnist_bad_magic(tmp_path):
    """An image file with the wrong magic number names the file, the magic and what was expected."""
    make_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes(4) + path.read_bytes()[4:])
    with pytest.raises(ReramsimError, match=r"t10k-images-idx3-ubyte: bad magic 0x00000000, "
                                            r"expected 0x00000803 \(IDX uint8, 3 dims\)"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_mnist_truncated(tmp_path):
    """An IDX file with fewer data bytes than its header promises is reported as truncated."""
    make_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ReramsimError, match=r"truncated, header says 5x28x28 = 3920 data bytes"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_mnist_label_count_mismatch(tmp_path):
    """A label file with a different count than the image file is rejected."""
    make_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ReramsimError, match=r"3 labels, expected 5"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_mnist_corrupt_gzip(tmp_path):
    """A .gz file that is not valid gzip is reported as unreadable, naming the file."""
    make_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ReramsimError, match=r"t10k-images-idx3-ubyte\.gz: cannot read"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_read_idx_other_dtypes(tmp_path):
    """read_idx honours the element type code: big-endian int32 reads back in native order."""
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "x.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
                     + values.tobytes())
    np.testing.assert_array_equal(read_idx(path, expected_magic=0x00000C02), values)


# --- CIFAR-10 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-py"])
def test_cifar_round_trip(tmp_path, subdir):
    """CIFAR-10 batches load from DIR or DIR/cifar-10-batches-py as (N, 3, 32, 32) pixels/255."""
    batches = make_cifar(tmp_path / subdir if subdir else tmp_path)
    x, y = load_dataset(f"cifar10:{tmp_path}", "test")
    data, labels = batches["test_batch"]
    assert x.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(x, data.reshape(4, 3, 32, 32) / 255.0, rtol=1e-6)
    assert y.tolist() == labels


def test_cifar_train_concatenates_batches(tmp_path):
    """The train split is data_batch_1..5 in order; limit stops after the batches it needs."""
    batches = make_cifar(tmp_path)
    _, y = load_dataset(f"cifar10:{tmp_path}", "train")
    assert y.tolist() == sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    (tmp_path / "data_batch_5").unlink()
    _, y6 = load_dataset(f"cifar10:{tmp_path}", "train", limit=6)
    assert y6.tolist() == y[:6].tolist()


def test_cifar_to_gray_is_channel_mean(tmp_path):
    """CIFAR-10 for a 1-channel model is the mean of R, G and B."""
    make_cifar(tmp_path)
    rgb, _ = load_dataset(f"cifar10:{tmp_path}", "test")
    gray, _ = load_dataset(f"cifar10:{tmp_path}", "test", (1, 32, 32))
    np.testing.assert_allclose(gray[:, 0], rgb.mean(axis=1), rtol=1e-6)


def test_cifar_missing_dir(tmp_path):
    """A folder without CIFAR-10 batches names the folder and the expected files."""
    with pytest.raises(ReramsimError, match=r"missing CIFAR-10 batches, expected test_batch"):
        load_dataset(f"cifar10:{tmp_path}", "test")


def test_cifar_missing_batch(tmp_path):
    """A missing training batch names the batch file."""
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ReramsimError, match=r"data_batch_3: missing"):
        load_dataset(f"cifar10:{tmp_path}", "train")


def test_cifar_truncated(tmp_path):
    """A truncated batch pickle is reported as corrupt, naming the file."""
    make_cifar(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ReramsimError, match=r"test_batch: not a CIFAR-10 python batch"):
        load_dataset(f"cifar10:{tmp_path}", "test")


def test_cifar_wrong_layout(tmp_path):
    """A batch whose b'data' is not uint8 (N, 3072) is rejected with the shape found."""
    write_cifar_batch(tmp_path / "test_batch", np.zeros((2, 100), dtype=np.uint8), [0, 1])
    with pytest.raises(ReramsimError, match=r"b'data' is uint8 \(2, 100\), expected uint8"):
        load_dataset(f"cifar10:{tmp_path}", "test")


def test_cifar_refuses_foreign_pickle(tmp_path):
    """A pickle that would build anything but containers and numpy arrays is refused unloaded."""
    (tmp_path / "test_batch").write_bytes(pickle.dumps(Path("/")))
    with pytest.raises(ReramsimError, match=r"refusing to load pathlib"):
        load_dataset(f"cifar10:{tmp_path}", "test")


# --- specs, splits, shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["imagenet", "mnist", "mnist:", "digits:/x", "cifar10"])
def test_bad_spec_lists_valid_ones(spec):
    """An unknown or incomplete spec lists the valid spec forms."""
    with pytest.raises(ReramsimError, match=r"valid specs: digits, mnist:DIR, cifar10:DIR"):
        load_dataset(spec)


def test_bad_split():
    """A split other than train/test is rejected, listing the valid splits."""
    with pytest.raises(ReramsimError, match=r"valid splits: train, test"):
        load_dataset("digits", "val")


def test_bad_channel_count():
    """Only gray <-> RGB channel conversions are allowed."""
    with pytest.raises(ReramsimError, match=r"cannot convert 1-channel images to 4 channels"):
        load_dataset("digits", "test", (4, 8, 8))


def test_resize_matches_torch_bilinear():
    """resize_images equals torch's bilinear interpolate with align_corners=False."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    for size in [(32, 32), (28, 28), (5, 11)]:
        expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=size,
                                                   mode="bilinear", align_corners=False)
        np.testing.assert_allclose(resize_images(x, size), expected.numpy(), atol=1e-6)


def test_resize_keeps_constant_images():
    """Bilinear resizing keeps a constant image constant (weights per output pixel sum to 1)."""
    x = np.full((1, 1, 8, 8), 0.25, dtype=np.float32)
    np.testing.assert_allclose(resize_images(x, (28, 13)), 0.25, rtol=1e-6)


def test_module_does_not_import_torch():
    """reramsim.datasets works without torch: importing it does not import torch."""
    code = "import sys, reramsim.datasets; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_npz_dataset_splits_and_resizes(tmp_path):
    """npz:FILE: the last 20% is the test split unless x_test/y_test are given; images resize."""
    x = np.arange(10 * 4, dtype=np.float32).reshape(10, 1, 2, 2)
    y = np.arange(10) % 3
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y)
    xt, yt = load_dataset(f"npz:{path}", "test")
    xr, yr = load_dataset(f"npz:{path}", "train")
    np.testing.assert_array_equal(xt, x[8:])
    np.testing.assert_array_equal(yr, y[:8])
    assert load_dataset(f"npz:{path}", "test", (1, 4, 4))[0].shape == (2, 1, 4, 4)
    np.savez(path, x=x, y=y, x_test=x[:3], y_test=y[:3])
    np.testing.assert_array_equal(load_dataset(f"npz:{path}", "test")[1], y[:3])


def test_npz_dataset_errors(tmp_path):
    """A missing file, a missing array or misshapen arrays: one-line errors naming the file."""
    with pytest.raises(ReramsimError, match="npz:.*nope.npz: no such file"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 1, 2, 2), np.float32))
    with pytest.raises(ReramsimError, match="array 'y' is missing"):
        load_dataset(f"npz:{path}")
    np.savez(path, x=np.zeros((4, 2, 2), np.float32), y=np.zeros(4, np.int64))
    with pytest.raises(ReramsimError, match=r"expected x \(N, C, H, W\)"):
        load_dataset(f"npz:{path}")
