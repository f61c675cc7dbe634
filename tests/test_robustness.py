"""Bad input never crashes and is never silently accepted: one clean line, exit status 2.

Every family of hostile input (YAML configs and ``--set``, ONNX semantics and sizes,
file paths, ``.npy``/``.npz`` arrays, dataset files, pruning metadata and arguments) is
driven through the CLI in-process (``reramsim.cli.main``), or through the library
boundary for the generated (hypothesis) cases.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import time

import hostile
import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import TensorProto, helper, numpy_helper

from reramsim import ReramsimError
from reramsim.cli import main
from reramsim.config import ConfigError, load_config
from reramsim.io_checks import InternalError, check_finite_figures, printable
from reramsim.onnx_import import OnnxImportError, load_onnx

LENET = str(hostile.LENET)
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def cli(argv: list[str]) -> tuple[int, str]:
    """Exit status and stderr of ``reramsim ARGV`` run in-process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse
            rc = exit_.code
    return rc, err.getvalue()


def assert_clean(argv: list[str], match: str) -> str:
    """The command fails with exit status 2 and one line matching ``match``."""
    rc, err = cli(argv)
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.search(match, err), err
    assert "\x1b" not in err
    return err


@pytest.fixture
def seed(tmp_path):
    """A writer of (mutated) copies of the small valid seed model."""

    def write(mutate=None, name="m.onnx"):
        model = hostile.seed_model()
        if mutate:
            mutate(model)
        path = tmp_path / name
        path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
        return str(path)

    return write


def _attr(node_index, name, value):
    def mutate(m):
        hostile._set_attr(m.graph.node[node_index], name, value)
    return mutate


def _drop_attr(node, name):
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)


def _init(name, array):
    def mutate(m):
        init = next(i for i in m.graph.initializer if i.name == name)
        init.CopyFrom(array if isinstance(array, onnx.TensorProto)
                      else numpy_helper.from_array(array, name))
    return mutate


def _input_dims(*dims):
    def mutate(m):
        shape = m.graph.input[0].type.tensor_type.shape.dim
        for d, v in zip(shape[1:], dims):
            d.dim_value = v
    return mutate


# --------------------------------------------------------------------------- YAML


@pytest.mark.parametrize("text, match", [
    (b"a: &a [*a]\n", r"hw.yaml:1: .*anchors \(&name\) are not supported"),
    (b"\n".join([b"a0: &a0 [x, x]"] + [b"a%d: &a%d [*a%d, *a%d]" % (i, i, i - 1, i - 1)
                                        for i in range(1, 30)]), r"are not supported"),
    (b"adc: !!python/object/apply:os.system ['true']\n", r"hw.yaml:1: adc: tag .*not allowed"),
    (b"adc:\n  energy_pj: .inf\n", r"hw.yaml:2: adc.energy_pj: expected a number in \[0, "),
    (b"sample_hold:\n  area_um2: .nan\n", r"sample_hold.area_um2: expected a number"),
    (b"crossbar:\n  read_latency_ns: 1.0e+30\n", r"read_latency_ns: expected a number in "
                                                r"\[0.001, 1e\+06\], got 1e\+30"),
    (b"clock_mhz: .inf\n", r"clock_mhz: expected a number in \[0.001, 100000\]"),
    (b"organization:\n  tiles: 99999999999999999999999\n", r"organization.tiles: expected an "
                                                          r"integer in \[0, 2,147,483,647\]"),
    (b"x: " + b"[" * 100000, r"hw.yaml:1: .*nested deeper than 16 levels"),
    (b"name: \xff\xfe\n", r"hw.yaml:1: not a YAML text file \(byte 0xff at offset 6"),
])
def test_hostile_yaml_is_one_line(tmp_path, text, match):
    """Aliases, tags, non-finite or overflowing numbers, deep nesting and non-UTF-8 bytes in a
    config are refused before anything is expanded, naming the file and line."""
    (tmp_path / "hw.yaml").write_bytes(text)
    start = time.monotonic()
    assert_clean(["simulate", LENET, "--hw", tmp_path / "hw.yaml"], match)
    assert time.monotonic() - start < 10


def test_onnx_file_as_config_is_refused():
    """--hw given a binary file (a model) says it is not YAML text."""
    assert_clean(["simulate", LENET, "--hw", LENET], r"lenet.onnx:\d+: not a YAML text file")


@pytest.mark.parametrize("override, match", [
    ("nosuch.key=1", r"--set nosuch.key=1: nosuch: unknown key"),
    ("adc.bits=!!python/object/apply:os.system ['true']", r"--set adc.bits=.*single value"),
    ("adc.energy_pj=.inf", r"--set adc.energy_pj=.inf: adc.energy_pj: expected a number"),
    ("clock_mhz=1.0e+30", r"clock_mhz: expected a number in"),
    ("adc.bits=[&a [1], *a]", r"--set adc.bits=.*: adc.bits: expected an integer"),
])
def test_hostile_set_is_one_line(override, match):
    """--set values are parsed with the same strict loader and blamed on the --set."""
    assert_clean(["simulate", LENET, "--hw", "isaac", "--set", override], match)


_YAML_SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10 ** 30,
                                                                max_value=10 ** 30),
    st.text(max_size=20), st.booleans(), st.none(),
    st.sampled_from([".inf", "-.inf", ".nan", "1e30", "&a 1", "*a", "!!binary aGk=", "[1]"]))
_KEYS = ["clock_mhz", "crossbar.read_latency_ns", "crossbar.rows", "adc.energy_pj",
         "adc.bits", "organization.tiles", "buffers.input.size_kb", "noc.hop_latency_ns",
         "digital.pooling.lanes", "adc.sample_rate_gsps", "precision.signed_weights"]


@FAST
@given(key=st.sampled_from(_KEYS), value=_YAML_SCALARS)
def test_any_override_gives_a_bounded_config_or_a_config_error(key, value):
    """Whatever value --set gives, the config loads with finite numbers within their
    bounds, or ConfigError names the --set."""
    text = f"{key}={value}" if isinstance(value, str) else f"{key}={json.dumps(value)}"
    try:
        cfg = load_config("isaac", [text])
    except ConfigError as err:  # blamed on the --set, or a rule relating it to another key
        assert "\n" not in str(err), err
        assert str(err).startswith(f"--set {key}=") or "must be <=" in str(err), err
        return
    from dataclasses import asdict

    def numbers(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from numbers(x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield v

    fields = asdict(cfg)
    if fields["device"]["r_off_ohm"] == float("inf"):  # the one documented limit case (ideal)
        fields["device"]["r_off_ohm"] = 1.0
    assert all(np.isfinite(x) and 0 <= x <= 1e12 for x in numbers(fields))


# --------------------------------------------------------------------------- ONNX


def _string_weights(m):
    _init("w2", helper.make_tensor("w2", TensorProto.STRING, (10, 36), [b"a"] * 360))(m)


def _no_outputs(m):
    del m.graph.node[2].output[:]


def _duplicate_producer(m):
    m.graph.node.append(m.graph.node[2])


@pytest.mark.parametrize("mutate, match", [
    (_attr(0, "strides", [0, 0]), r"node 'conv1' \(Conv\): attribute strides=\[0, 0\]: "
                                  r"expected values >= 1"),
    (lambda m: (_attr(0, "strides", [0, 0])(m), _attr(0, "auto_pad", "SAME_UPPER")(m),
                _drop_attr(m.graph.node[0], "pads")), r"strides=\[0, 0\]"),
    (_attr(0, "dilations", [0, 1]), r"'conv1' \(Conv\): attribute dilations=\[0, 1\]"),
    (_attr(0, "dilations", [-1, -1]), r"attribute dilations=\[-1, -1\]"),
    (_attr(4, "kernel_shape", [0, 0]), r"'pool1' \(MaxPool\): attribute kernel_shape"),
    (_attr(3, "size", 0), r"'lrn1' \(LRN\): attribute size=\[0\]: expected values >= 1"),
    (_attr(3, "size", -2), r"'lrn1' \(LRN\): attribute size=\[-2\]"),
    (_attr(6, "alpha", float("nan")), r"'fc' \(Gemm\): attribute alpha=\[nan\]: expected finite"),
    (_attr(0, "strides", [1.5, 1.5]), r"'conv1' \(Conv\): Mismatched attribute type"),
    (_attr(0, "group", "a"), r"'conv1' \(Conv\): .*group"),
    (_init("w1", np.full((4, 1, 3, 3), np.nan, np.float32)), r"initializer 'w1' has element "
                                                             r"nan at \(0, 0, 0, 0\)"),
    (_init("b2", np.full(10, np.inf, np.float32)), r"initializer 'b2' has element inf"),
    (_init("var", -np.ones(4, np.float32)), r"'bn1' \(BatchNormalization\): variance 'var' has "
                                             r"a negative element"),
    (_init("w1", np.ones((4, 1, 3, 3), np.int8)), r"'conv1' \(Conv\): input 1 'w1' has element "
                                                  r"type int8; expected float"),
    (_init("w1", np.ones((4, 1, 3, 3), np.float16)), r"type float16; expected float"),
    (_init("w2", np.ones((10, 36), bool)), r"'fc' \(Gemm\): input 1 'w2' has element type bool"),
    (_string_weights, r"initializer 'w2' has element type string; expected a numeric type"),
    (_no_outputs, r"node 'relu1' \(Relu\): .*output size 0"),
    (_duplicate_producer, r"tensor 'r1' is produced by node 'relu1' and by node 'relu1'"),
    (lambda m: setattr(m.opset_import[0], "version", 99), r"opset 99; expected 1\.\."),
    (lambda m: setattr(m, "ir_version", 0), r"IR version 0; expected 3\.\."),
    (lambda m: setattr(m.graph.node[0], "name", "n" * 5000), r"node name of 5000 characters"),
    (_input_dims(0), r"graph input 'x' has per-sample dims \[0, 8, 8\]; expected sizes >= 1"),
    (_input_dims(-1), r"per-sample dims \[-1, 8, 8\]"),
    (_input_dims(1, 100000, 100000), r"graph input 'x' of per-sample shape \(1, 100000, 100000\) "
                                     r"holds 10,000,000,000 elements; at most 268,435,456"),
    (_input_dims(2 ** 62), r"holds 295,147,905,179,352,825,856 elements"),
    (_init("w2", onnx.TensorProto(name="w2", data_type=TensorProto.FLOAT, dims=[2 ** 31] * 2)),
     r"initializer 'w2' of shape \(2147483648, 2147483648\) holds .* elements; at most"),
])
def test_invalid_onnx_semantics_are_one_line(seed, mutate, match):
    """Graphs onnx.checker or onnxruntime would reject, and sizes that would exhaust memory,
    are refused before import with the file, the node or tensor, and what was expected."""
    path = seed(mutate)
    assert_clean(["simulate", path, "--hw", "isaac"], re.escape(path) + ": .*" + match)


def test_invalid_utf8_and_control_characters_in_names(seed, tmp_path):
    """A name that is not UTF-8 is refused; control characters are escaped when printed."""
    model = hostile.seed_model()
    model.graph.node[0].name = "NAMEX"
    bad = tmp_path / "u.onnx"
    bad.write_bytes(model.SerializeToString().replace(b"NAMEX", b"\xff\xfeMEX"))
    assert_clean(["simulate", bad, "--hw", "isaac"], r"node name b'\\xff\\xfeMEX' is not valid")
    err = assert_clean(["simulate", tmp_path / "\x1b[2Jx.onnx", "--hw", "isaac"],
                       r"\\x1b\[2Jx.onnx: no such file")
    assert "\x1b" not in err


def test_concatenated_and_truncated_files(tmp_path):
    """Two models concatenated (protobuf merges them) and a truncated model are refused."""
    data = hostile.seed_model().SerializeToString()
    (tmp_path / "cat.onnx").write_bytes(data + data)
    assert_clean(["simulate", tmp_path / "cat.onnx", "--hw", "isaac"],
                 r"2 opset_import entries for the default domain")
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    assert_clean(["simulate", tmp_path / "cut.onnx", "--hw", "isaac"], r"cut.onnx: ")


def test_folding_a_huge_constant_is_refused_before_allocating(tmp_path):
    """A constant subgraph that would allocate 2^40 elements is refused, naming the node."""
    fill = numpy_helper.from_array(np.ones(1, np.float32))
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"], name="big", value=fill),
             helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([1, 2 ** 20, 2 ** 20], np.int64), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "c.onnx"))
    assert_clean(["simulate", tmp_path / "c.onnx", "--hw", "isaac"],
                 r"node 'big' \(ConstantOfShape, opset 13\): constant 'c' of shape "
                 r"\(1, 1048576, 1048576\) would hold 1,099,511,627,776 elements")


def test_inputs_that_overflow_the_outputs_are_refused(tmp_path):
    """Finite inputs so large that an output overflows give an error, not Inf in the file."""
    np.save(tmp_path / "x.npy", np.full((1, 1, 32, 32), 3e38, np.float32))
    assert_clean(["run", LENET, "--hw", "isaac", "--input", tmp_path / "x.npy", "--output",
                  tmp_path / "y.npy"], r"output 'logits' is not finite .* up to 3e\+38")
    assert not (tmp_path / "y.npy").exists()


@FAST
@given(case=st.integers(0, 2 ** 32 - 1))
def test_mutated_models_import_cleanly_or_raise(case):
    """Any single mutation of the seed model either imports into a network whose report
    has finite, non-negative figures, or raises a ReramsimError."""
    from reramsim.pipeline import simulate
    from reramsim.report import build_report

    model = hostile.mutate_model(hostile.seed_model(), np.random.default_rng(case))
    if isinstance(model, bytes):
        model = onnx.ModelProto.FromString(model)
    try:
        network = load_onnx(model, source="mutant.onnx")
        build_report(simulate(network, "isaac", engine="analytical"))
    except ReramsimError:
        return


# --------------------------------------------------------------------------- paths


def test_unwritable_outputs_are_refused_before_the_job(tmp_path, monkeypatch):
    """Outputs into a missing folder, under a file or onto a folder fail before any work."""
    (tmp_path / "afile").write_text("x")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 1, 32, 32), np.float32))
    run = ["run", LENET, "--hw", "isaac", "--input", x, "--output"]
    assert_clean(run + [tmp_path / "no" / "y.npy"], r"--output .*/no/y.npy: folder .*/no does "
                                                    r"not exist")
    assert_clean(run + [tmp_path / "afile" / "y.npy"], r"afile is a file, not a folder")
    (tmp_path / "d.npy").mkdir()
    assert_clean(run + [tmp_path / "d.npy"], r"--output .*d.npy: is a folder")
    assert_clean(["simulate", LENET, "--hw", "isaac", "--trace", tmp_path / "no" / "t.json"],
                 r"--trace .*: folder .* does not exist")

    import reramsim.datasets

    def never(*args, **kwargs):
        raise AssertionError("the evaluation started before the output was checked")

    monkeypatch.setattr(reramsim.datasets, "load_dataset", never)
    assert_clean(["accuracy", LENET, "--hw", "isaac", "--data", "digits",
                  "--json", tmp_path / "no" / "a.json"], r"--json .*: folder .* does not exist")
    assert_clean(["prune", "lenet", "-o", tmp_path, "--data", "digits"],
                 r"-o/--output .*: is a folder")


def test_special_input_paths_are_named(tmp_path):
    """Folders, /dev/null, FIFOs and empty paths are reported as what they are."""
    fifo = tmp_path / "f.onnx"
    os.mkfifo(fifo)
    assert_clean(["simulate", tmp_path, "--hw", "isaac"], r"is a folder; expected a file")
    assert_clean(["simulate", "/dev/null", "--hw", "isaac"], r"/dev/null: is a device")
    assert_clean(["simulate", fifo, "--hw", "isaac"], r"f.onnx: is a FIFO, not a regular file")
    assert_clean(["simulate", "", "--hw", "isaac"], r"error: path: empty path")
    assert_clean(["simulate", LENET, "--hw", ""], r"--hw: empty path")
    assert_clean(["simulate", LENET, "--hw", tmp_path], r"is a folder")


# --------------------------------------------------------------------------- arrays


def _npy_header(shape) -> bytes:
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return head.getvalue()


@pytest.mark.parametrize("name, write, match", [
    ("e.npy", lambda p: p.write_bytes(b""), r"not a .npy or .npz file"),
    ("c.npz", lambda p: p.write_bytes(b"PK\x03\x04garbage"), r"not a readable .npz file"),
    ("h.npy", lambda p: p.write_bytes(_npy_header((10 ** 12, 1, 32, 32)) + b"\0" * 64),
     r"shape \(1000000000000, 1, 32, 32\) holds 1,024,000,000,000,000 elements"),
    ("o.npz", lambda p: np.savez(p, input=np.array([None, 1], object)),
     r"array 'input': object dtype"),
    ("s.npy", lambda p: np.save(p, np.array(["a"])), r"string dtype <U1"),
    ("r.npy", lambda p: np.save(p, np.zeros(2, [("a", "f4")])), r"structured/void dtype"),
    ("z.npy", lambda p: np.save(p, np.zeros((1, 1, 32, 32), np.complex64)), r"complex dtype"),
    ("t.npy", lambda p: np.save(p, np.zeros((1, 1, 32, 32), "datetime64[s]")),
     r"datetime dtype"),
    ("0.npy", lambda p: np.save(p, np.zeros((0, 1, 32, 32), np.float32)),
     r"empty array of shape \(0, 1, 32, 32\)"),
    ("n.npy", lambda p: np.save(p, np.full((2, 1, 32, 32), np.nan, np.float32)),
     r"element \(0, 0, 0, 0\) is nan; expected finite"),
    ("i.npy", lambda p: np.save(p, np.full((2, 1, 32, 32), 1e300)),
     r"element \(0, 0, 0, 0\) is inf"),
])
@pytest.mark.parametrize("flag", ["--input", "--calib"])
def test_hostile_arrays_are_one_line(tmp_path, name, write, match, flag):
    """Empty, corrupt, huge-header, non-numeric, sample-less and non-finite arrays are
    refused naming the flag, the file and the array."""
    write(tmp_path / name)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((1, 1, 32, 32), np.float32))
    given_ = ["--input", tmp_path / name] if flag == "--input" else \
        ["--input", good, "--calib", tmp_path / name]
    assert_clean(["run", LENET, "--hw", "isaac", "--output", tmp_path / "y.npy", *given_],
                 f"{flag} .*{re.escape(name)}: " + match)


def test_wrong_shape_calib_names_calib(tmp_path):
    """A wrong-shape --calib file is described as --calib."""
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 32), np.float32))
    np.save(tmp_path / "c.npy", np.zeros((1, 3), np.float32))
    assert_clean(["run", LENET, "--hw", "isaac", "--input", tmp_path / "x.npy", "--output",
                  tmp_path / "y.npy", "--calib", tmp_path / "c.npy"],
                 r"--calib .*c.npy: array 'input' must be \(N, 1, 32, 32\), got \(1, 3\)")


@FAST
@given(array=hnp.arrays(
    dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
                    hnp.complex_number_dtypes(), hnp.datetime64_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3)))
def test_any_array_reads_as_finite_float32_or_raises(tmp_path_factory, array):
    """read_inputs returns finite float32 arrays of the graph's shape or raises ReramsimError."""
    from reramsim.ir import Network
    from reramsim.pipeline import read_inputs

    path = tmp_path_factory.mktemp("a") / "x.npy"
    np.save(path, array)
    network = Network(name="n", inputs={"x": (1, 2)}, outputs=[], layers=[])
    try:
        arrays = read_inputs(path, network)
    except ReramsimError:
        return
    assert arrays["x"].dtype == np.float32 and arrays["x"].shape[1:] == (1, 2)
    assert np.isfinite(arrays["x"]).all() and len(arrays["x"]) >= 1


# --------------------------------------------------------------------------- datasets


def _mnist(folder, images: bytes, labels: bytes):
    folder.mkdir(exist_ok=True)
    for split in ("t10k", "train"):
        (folder / f"{split}-images-idx3-ubyte").write_bytes(images)
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(labels)
    return f"mnist:{folder}"


def _cifar(folder, batch=None, data: bytes | None = None):
    folder.mkdir(exist_ok=True)
    for name in ("test_batch", "data_batch_1"):
        (folder / name).write_bytes(data if data is not None else pickle.dumps(batch, 2))
    return f"cifar10:{folder}"


class _HugeArray:
    """Pickles as numpy's _reconstruct of a 10^12-element array."""

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return _reconstruct, (np.ndarray, (10 ** 12,), b"b")


def test_hostile_dataset_files_are_one_line(tmp_path):
    """IDX dims that overflow, CIFAR labels of the wrong type, a pickle that would allocate
    10^12 elements and a split with 0 images are refused naming the file."""
    acc = ["accuracy", LENET, "--hw", "isaac", "--limit", "4", "--calib", "0", "--no-progress",
           "--data"]
    huge = b"\x00\x00\x08\x03" + np.array([2 ** 32 - 1] * 3, ">u4").tobytes()
    spec = _mnist(tmp_path / "m1", huge, b"\x00\x00\x08\x01\x00\x00\x00\x00")
    assert_clean(acc + [spec], r"t10k-images-idx3-ubyte: truncated, header says "
                               r"4294967295x4294967295x4294967295")
    empty = _mnist(tmp_path / "m0", b"\x00\x00\x08\x03" + np.array([0, 28, 28], ">u4").tobytes(),
                   b"\x00\x00\x08\x01\x00\x00\x00\x00")
    assert_clean(acc + [empty], r"the test split has no images")
    images = np.zeros((3, 3072), np.uint8)
    for labels, kind in ((["a", "b", "c"], "str"), ([None, 1, 2], "NoneType, int"),
                         ([1.5, 2.0, 3.0], "float"), ([True, False, True], "bool")):
        spec = _cifar(tmp_path / kind.replace(", ", ""), {b"data": images, b"labels": labels})
        assert_clean(acc + [spec], rf"test_batch: b'labels' must be a list of integers, got a "
                                   rf"list of {kind}")
    spec = _cifar(tmp_path / "huge", {b"data": _HugeArray(), b"labels": [1]})
    assert_clean(acc + [spec], r"test_batch: not a CIFAR-10 python batch.*10\^12|"
                               r"holds 1,000,000,000,000 elements")
    spec = _cifar(tmp_path / "evil", data=b"cos\nsystem\n(S'true'\ntR.")
    assert_clean(acc + [spec], r"refusing to load os.system")


def test_non_classifier_output_is_refused(tmp_path):
    """accuracy on a model whose output is not (N, classes) is refused, not scored."""
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "r.onnx"))
    assert_clean(["accuracy", tmp_path / "r.onnx", "--hw", "isaac", "--data", "digits",
                  "--limit", "4", "--calib", "0", "--no-progress"],
                 r"r.onnx: output of shape \(4, 1, 8, 8\) \(onnxruntime\); a classifier")


# --------------------------------------------------------------------------- pruning


def _with_metadata(tmp_path, edit, raw: str | None = None) -> str:
    model = onnx.load(str(hostile.LENET_SEG))
    entry = next(p for p in model.metadata_props if p.key == "reramsim.pruning")
    data = json.loads(entry.value)
    edit(data)
    entry.value = raw if raw is not None else json.dumps(data)
    path = tmp_path / "seg.onnx"
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("edit, raw, match", [
    (lambda d: d.update(layers={"a": 1}), None, r"field 'layers': expected a list, got dict"),
    (lambda d: d.update(layers=[3]), None, r"layers\[0\]: expected an object, got int"),
    (lambda d: d["layers"][1].update(rows="x"), None, r"layers\[1\].rows: expected an integer"),
    (lambda d: None, "[" * 100000 + "]", r"JSON nested 100000 levels deep; expected at most"),
    (lambda d: d.update(scheme="nosuch"), None,
     r"seg.onnx: metadata 'reramsim.pruning' field 'scheme': unknown scheme 'nosuch'; known"),
    (lambda d: d["layers"][0]["tables"].update(segment_height=0), None,
     r"seg.onnx: layer '/0/0.0/Conv': tables.segment_height: expected an integer >= 1, got 0"),
    (lambda d: d["layers"][0]["tables"]["groups"][0].update(assign=[[None] * 6] * 2), None,
     r"layer '/0/0.0/Conv': row-block 0: assign: expected a string"),
])
def test_hostile_metadata_names_file_and_field(tmp_path, edit, raw, match):
    """Malformed pruning metadata names the file, the field or layer, and what was expected."""
    assert_clean(["simulate", _with_metadata(tmp_path, edit, raw), "--hw", "isaac"], match)


@pytest.mark.parametrize("flag, value, match", [
    ("--target-ratio", "0", r"--target-ratio 0: expected a finite ratio >= 1"),
    ("--target-ratio", "nan", r"--target-ratio nan: expected a finite ratio"),
    ("--target-ratio", "-2", r"--target-ratio -2: expected"),
    ("--limit", "0", r"--limit 0: expected an integer >= 1"),
    ("--epochs", "-1", r"--epochs -1: expected an integer >= 0"),
])
def test_prune_arguments_are_checked_before_training(tmp_path, flag, value, match):
    """Out-of-range prune flags fail at once, before any data or model is loaded."""
    assert_clean(["prune", "lenet", "-o", tmp_path / "o.onnx", flag, value], match)


# --------------------------------------------------------------------------- guards


def test_report_guard_refuses_non_finite_and_negative_figures():
    """The report's last guard raises InternalError for NaN, Inf or a negative figure."""
    check_finite_figures({"totals": {"energy_pj": 1.0, "n": [0, 2]}})
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InternalError, match=r"report.totals.energy_pj = .*finite and >= 0"):
            check_finite_figures({"totals": {"energy_pj": bad}})


def test_printable_escapes_control_characters():
    """Control characters (C0, DEL, C1) and lone surrogates are escaped; text is kept."""
    assert printable("a\x1b[2Jb\x7f\x9b\udcff é") == "a\\x1b[2Jb\\x7f\\x9b\\udcff é"


def test_verbose_shows_the_traceback(tmp_path):
    """-v re-raises the error (the traceback) instead of the one line."""
    with pytest.raises(OnnxImportError):
        main(["-v", "simulate", str(tmp_path / "missing.onnx"), "--hw", "isaac"])
