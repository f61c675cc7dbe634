"""Hostile inputs for the robustness tests and the fuzz campaign (``tests/fuzz_cli.py``).

Each family has a generator ``case(rng, tmp) -> argv`` that writes the files it needs
under ``tmp`` and returns a ``reramsim`` command line whose input is bad (mutated at
random from a valid one, so a few cases are valid again). :data:`FAMILIES` lists them.
Everything is seeded by the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "models" / "lenet.onnx"
LENET_SEG = ROOT / "models" / "lenet_segprune.onnx"
ISAAC = ROOT / "hw_configs" / "isaac.yaml"

Case = Callable[[np.random.Generator, Path], list[str]]


# --------------------------------------------------------------------------- a seed model


def seed_model() -> onnx.ModelProto:
    """A small valid net on (N, 1, 8, 8): Conv, BatchNorm, Relu, LRN, MaxPool, Flatten, Gemm."""
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32) * 0.3

    inits = {"w1": w(4, 1, 3, 3), "b1": w(4), "scale": np.ones(4, np.float32),
             "bias": np.zeros(4, np.float32), "mean": np.zeros(4, np.float32),
             "var": np.ones(4, np.float32), "w2": w(10, 36), "b2": w(10)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", strides=[1, 1],
                         pads=[1, 1, 1, 1], dilations=[1, 1], kernel_shape=[3, 3], group=1),
        helper.make_node("BatchNormalization", ["c1", "scale", "bias", "mean", "var"], ["bn"],
                         name="bn1", epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("LRN", ["r1"], ["l1"], name="lrn1", size=3, alpha=1e-4, beta=0.75),
        helper.make_node("MaxPool", ["l1"], ["p1"], name="pool1", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[0, 0, 0, 0]),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flat", axis=1),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["y"], name="fc", alpha=1.0, beta=1.0,
                         transB=1),
    ]
    graph = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


_HOSTILE_INTS = [[0], [0, 0], [-1, -1], [2 ** 40, 2 ** 40], [1], [1, 0], [3, 3, 3]]


def _set_attr(node: onnx.NodeProto, name: str, value) -> None:
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.append(helper.make_attribute(name, value))


def mutate_model(model: onnx.ModelProto, rng: np.random.Generator) -> onnx.ModelProto | bytes:
    """One semantic mutation (attribute, initializer, input dims, structure, versions, names);
    bytes where the mutation cannot be expressed as a valid protobuf."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    kind = rng.integers(0, 9)
    if kind == 0:  # an attribute
        node = g.node[rng.integers(len(g.node))]
        names = [a.name for a in node.attribute] + ["strides", "dilations", "size", "group"]
        name = names[rng.integers(len(names))]
        choice = rng.integers(0, 6)
        value = (_HOSTILE_INTS[rng.integers(len(_HOSTILE_INTS))] if choice < 2 else
                 int(rng.choice([0, -1, -5, 2 ** 62])) if choice == 2 else
                 float(rng.choice([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e30])) if choice == 3 else
                 [1.5, 2.5] if choice == 4 else "SAME_UPPER")
        if name == "auto_pad" or (choice == 5 and node.op_type in ("Conv", "MaxPool")):
            _set_attr(node, "auto_pad", str(rng.choice(["SAME_UPPER", "VALID", "BOGUS"])))
            if rng.random() < 0.5:
                _set_attr(node, "strides", [0, 0])
        else:
            _set_attr(node, name, value)
    elif kind == 1:  # an initializer's values
        init = g.initializer[rng.integers(len(g.initializer))]
        array = numpy_helper.to_array(init).copy()
        array.flat[rng.integers(array.size)] = rng.choice([np.nan, np.inf, -np.inf, -1.0, 1e38])
        init.CopyFrom(numpy_helper.from_array(array, init.name))
    elif kind == 2:  # an initializer's type or dims
        init = g.initializer[rng.integers(len(g.initializer))]
        array = numpy_helper.to_array(init)
        dtype = rng.choice(["int8", "float16", "bool", "float64", "int64", "uint8", "string",
                            "dims0", "dims_neg", "dims_huge", "complex64"])
        if dtype == "string":
            init.CopyFrom(helper.make_tensor(init.name, TensorProto.STRING, array.shape,
                                             [b"a"] * array.size))
        elif dtype.startswith("dims"):
            init.ClearField("dims")
            shape = {"dims0": [0, *array.shape[1:]], "dims_neg": [-3, *array.shape[1:]],
                     "dims_huge": [2 ** 31, 2 ** 31]}[dtype]
            init.dims.extend(shape)
        else:
            init.CopyFrom(numpy_helper.from_array(array.astype(dtype), init.name))
    elif kind == 3:  # the input's dims
        dims = g.input[0].type.tensor_type.shape.dim
        i = int(rng.integers(1, len(dims)))
        dims[i].dim_value = int(rng.choice([0, -1, 100000, 2 ** 62, 1]))
        if rng.random() < 0.5:
            dims[len(dims) - 1].dim_value = 100000
    elif kind == 4:  # structure: no outputs, duplicate producers, dangling input, cycle
        choice = rng.integers(0, 4)
        node = g.node[rng.integers(len(g.node))]
        if choice == 0:
            del node.output[:]
        elif choice == 1:
            g.node.append(node)
        elif choice == 2:
            node.input[0] = "nowhere"
        else:
            g.node[0].input[0] = g.node[-1].output[0]
    elif kind == 5:  # versions
        if rng.random() < 0.5:
            m.opset_import[0].version = int(rng.choice([0, 1, 6, 99, 10 ** 6]))
        else:
            m.ir_version = int(rng.choice([0, 1, 2, 99]))
    elif kind == 6:  # names: control characters, over-long
        node = g.node[rng.integers(len(g.node))]
        node.name = str(rng.choice(["\x1b[31mred\x1b[0m", "x" * 5000, "a\nb", "\x00", "é"]))
    elif kind == 7:  # invalid UTF-8 in a name: patch the serialized bytes
        g.node[0].name = "NAMEX"
        return m.SerializeToString().replace(b"NAMEX", b"\xff\xfeMEX")
    else:  # specific semantic traps
        trap = rng.integers(0, 3)
        if trap == 0:
            _set_attr(g.node[-1], "alpha", float("nan"))
        elif trap == 1:
            var = next(i for i in g.initializer if i.name == "var")
            var.CopyFrom(numpy_helper.from_array(-np.ones(4, np.float32), "var"))
        else:
            _set_attr(g.node[3], "size", int(rng.choice([0, -2])))
    return m


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """Truncate, flip, insert, repeat or empty a file's bytes."""
    kind = rng.integers(0, 5)
    if kind == 0:
        return data[: int(rng.integers(0, len(data)))]
    if kind == 1:
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 20))):
            out[rng.integers(len(out))] = rng.integers(256)
        return bytes(out)
    if kind == 2:
        i = int(rng.integers(len(data)))
        return data[:i] + rng.bytes(int(rng.integers(1, 64))) + data[i:]
    if kind == 3:
        return data + data
    return b""


# --------------------------------------------------------------------------- families


def onnx_semantic(rng: np.random.Generator, tmp: Path) -> list[str]:
    model = mutate_model(seed_model(), rng)
    path = tmp / "model.onnx"
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return ["simulate", str(path), "--hw", "isaac", "--json", str(tmp / "r.json")]


def onnx_bytes(rng: np.random.Generator, tmp: Path) -> list[str]:
    source = seed_model().SerializeToString() if rng.random() < 0.5 else LENET.read_bytes()
    path = tmp / "model.onnx"
    path.write_bytes(mutate_bytes(source, rng))
    return ["simulate", str(path), "--hw", "isaac", "--json", str(tmp / "r.json")]


_YAML_VALUES = [".inf", "-.inf", ".nan", "-1", "0", "1e30", "1.0e30", "99999999999999999999999",
                "abc", "[1, 2]", "{a: 1}", "!!python/object/apply:os.system ['true']", "~",
                "!!binary aGk=", "true", "'8'", "2024-01-01", "&a 1", "*a", "0x10", "1_000"]


def yaml_config(rng: np.random.Generator, tmp: Path) -> list[str]:
    """isaac.yaml with one value replaced, or mutated bytes, or a hostile document."""
    text = ISAAC.read_text()
    lines = text.splitlines()
    kind = rng.integers(0, 4)
    if kind == 0:
        values = [i for i, ln in enumerate(lines) if ":" in ln and not ln.strip().startswith("#")
                  and ln.split(":", 1)[1].strip() and not ln.split(":", 1)[1].strip()
                  .startswith("#")]
        i = values[rng.integers(len(values))]
        key = lines[i].split(":", 1)[0]
        lines[i] = f"{key}: {_YAML_VALUES[rng.integers(len(_YAML_VALUES))]}"
        data = "\n".join(lines).encode()
    elif kind == 1:
        data = mutate_bytes(text.encode(), rng)
    elif kind == 2:
        depth = int(rng.integers(5, 40))
        bomb = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i-1}, *a{i-1}]" for i in range(1, depth)]
        data = rng.choice(["\n".join(bomb), "a: &a [*a]", "x: " + "[" * 50000,
                           "adc: !!python/object:os.system {}", "\xff\xfe: 1"]).encode(
            "utf-8", "surrogateescape")
    else:
        data = b"name: x\n\x00\x01\x1b[2J: 1\n" if rng.random() < 0.5 else b"\xff\xfe\xfa"
    path = tmp / "hw.yaml"
    path.write_bytes(data)
    return ["simulate", str(LENET), "--hw", str(path)]


_SET_KEYS = ["adc.bits", "clock_mhz", "crossbar.read_latency_ns", "adc.energy_pj",
             "organization.tiles", "buffers.input.size_kb", "nosuch.key", "adc", "ou.rows",
             "crossbar.rows", "shift_add.latency_ns", "noc.hop_latency_ns", "", "adc..bits"]


def set_override(rng: np.random.Generator, tmp: Path) -> list[str]:
    key = _SET_KEYS[rng.integers(len(_SET_KEYS))]
    value = _YAML_VALUES[rng.integers(len(_YAML_VALUES))]
    text = rng.choice([f"{key}={value}", key, f"{key}=", f"={value}"], p=[0.85, 0.05, 0.05, 0.05])
    return ["simulate", str(LENET), "--hw", "isaac", "--set", str(text)]


def npy_input(rng: np.random.Generator, tmp: Path) -> list[str]:
    """A hostile --input or --calib for `run` on lenet (1, 32, 32)."""
    path = tmp / ("x.npz" if rng.random() < 0.3 else "x.npy")
    kind = rng.integers(0, 10)
    good = rng.random((2, 1, 32, 32)).astype(np.float32)
    if kind == 0:
        array = np.zeros((0, 1, 32, 32), np.float32)
    elif kind == 1:
        array = good.copy()
        array.flat[rng.integers(array.size)] = rng.choice([np.nan, np.inf, -np.inf])
    elif kind == 2:
        array = np.array(["a", "b"]) if rng.random() < 0.5 else \
            np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    elif kind == 3:
        array = good.astype(rng.choice(["complex64", "datetime64[s]", "timedelta64[s]"]))
    elif kind == 4:
        array = rng.random(tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 5))))
    elif kind == 5:
        array = good.astype(np.float64) * 1e300
    else:
        array = good
    if path.suffix == ".npz":
        np.savez(path, **{str(rng.choice(["input", "x", "\x1b[31m"])): array})
    else:
        np.save(path, array, allow_pickle=False)
    data = path.read_bytes()
    if kind == 6:
        data = mutate_bytes(data, rng)
    elif kind == 7 and path.suffix == ".npy":  # a header declaring 10^12 samples
        import io

        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            head, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 1, 32, 32)})
        data = head.getvalue() + good.tobytes()
    elif kind == 8:
        data = b""
    path.write_bytes(data)
    flag = "--input" if rng.random() < 0.7 else "--calib"
    good_path = tmp / "good.npy"
    np.save(good_path, good)
    argv = ["run", str(LENET), "--hw", "isaac", "--output", str(tmp / "y.npy")]
    argv += ["--input", str(path)] if flag == "--input" else ["--input", str(good_path),
                                                               "--calib", str(path)]
    return argv


def file_paths(rng: np.random.Generator, tmp: Path) -> list[str]:
    """Inputs that are folders, devices, FIFOs, empty or over-long; outputs that cannot be
    written."""
    import os

    fifo = tmp / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    (tmp / "afile").write_text("x")
    (tmp / "adir").mkdir(exist_ok=True)
    bad_in = [str(tmp), "/dev/null", str(fifo), "", "x" * 5000, str(tmp / "missing.onnx"),
              str(tmp / "afile" / "sub.onnx")]
    bad_out = [str(tmp / "nodir" / "r.json"), str(tmp / "afile" / "r.json"), str(tmp / "adir"),
               "", "/proc/version", str(tmp / ("y" * 5000))]
    kind = rng.integers(0, 6)
    model = bad_in[rng.integers(len(bad_in))]
    out = bad_out[rng.integers(len(bad_out))]
    if kind == 0:
        return ["simulate", model, "--hw", "isaac"]
    if kind == 1:
        return ["simulate", str(LENET), "--hw", model]
    if kind == 2:
        return ["simulate", str(LENET), "--hw", "isaac",
                str(rng.choice(["--json", "--csv", "--trace"])), out]
    if kind == 3:
        np.save(tmp / "good.npy", np.zeros((1, 1, 32, 32), np.float32))
        return ["run", str(LENET), "--hw", "isaac", "--input", str(tmp / "good.npy"),
                "--output", out if rng.random() < 0.5 else out + ".npy"]
    if kind == 4:
        return ["accuracy", str(LENET), "--hw", "isaac", "--data", "digits", "--json", out,
                "--limit", "4", "--no-progress"]
    return ["prune", "lenet", "-o", out, "--data", "digits", "--limit", "8", "--epochs", "0"]


def dataset(rng: np.random.Generator, tmp: Path) -> list[str]:
    """MNIST IDX files and CIFAR-10 pickles, mutated."""
    folder = tmp / "data"
    folder.mkdir(exist_ok=True)
    for f in folder.iterdir():
        f.unlink()
    if rng.random() < 0.5:
        n = int(rng.integers(0, 4))
        images = b"\x00\x00\x08\x03" + np.array([n, 28, 28], ">u4").tobytes() + \
            rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()
        labels = b"\x00\x00\x08\x01" + np.array([n], ">u4").tobytes() + \
            rng.integers(0, 10, n, dtype=np.uint8).tobytes()
        kind = rng.integers(0, 4)
        if kind == 0:  # dims overflowing
            images = b"\x00\x00\x08\x03" + np.array([2 ** 32 - 1] * 3, ">u4").tobytes()
        elif kind == 1:
            images = mutate_bytes(images, rng)
        elif kind == 2:
            labels = mutate_bytes(labels, rng)
        for split in ("t10k", "train"):
            (folder / f"{split}-images-idx3-ubyte").write_bytes(images)
            (folder / f"{split}-labels-idx1-ubyte").write_bytes(labels)
        spec = f"mnist:{folder}"
    else:
        n = 3
        options = [[1, 2, 3], ["a", "b", "c"], [None, 1, 2], [1.5, 2.0, 3.0],
                   [True, False, True], [1, 2], 7, [-1, 2, 3], [10, 2, 3]]
        labels = options[rng.integers(len(options))]
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": labels}
        if rng.random() < 0.2:
            batch[b"data"] = np.zeros((n, 5), np.float32)
        data = pickle.dumps(batch, protocol=2)
        if rng.random() < 0.3:
            data = mutate_bytes(data, rng)
        for name in ("test_batch", "data_batch_1"):
            (folder / name).write_bytes(data)
        spec = f"cifar10:{folder}"
    return ["accuracy", str(LENET), "--hw", "isaac", "--data", spec, "--limit", "4",
            "--calib", "2", "--no-progress"]


def metadata(rng: np.random.Generator, tmp: Path) -> list[str]:
    """lenet_segprune.onnx with its pruning metadata mutated."""
    model = onnx.load(str(LENET_SEG))
    entry = next(p for p in model.metadata_props if p.key == "reramsim.pruning")
    data = json.loads(entry.value)
    kind = rng.integers(0, 8)
    if kind == 0:
        data["layers"] = [{"a": 1}, "x", 3, None, [1, 2], [[]]][rng.integers(6)]
    elif kind == 1:
        data["scheme"] = [None, 3, "nosuch", ["segprune"], "\x1b[31m"][rng.integers(5)]
    elif kind == 2:
        layer = data["layers"][rng.integers(len(data["layers"]))]
        if "tables" in layer and isinstance(layer["tables"], dict):
            layer["tables"]["segment_height"] = [0, -1, 10 ** 9, "a", None, 1.5][rng.integers(6)]
    elif kind == 3:
        layer = data["layers"][rng.integers(len(data["layers"]))]
        key = list(layer)[rng.integers(len(layer))]
        layer[key] = [None, -1, "x", {}, [], 10 ** 12, 1.5][rng.integers(7)]
    elif kind == 4:
        text = "[" * int(rng.choice([100, 100000])) + "]" * 3
        entry.value = text
    elif kind == 5:
        entry.value = mutate_bytes(entry.value.encode(), rng).decode("utf-8", "replace")
    elif kind == 6:
        layer = data["layers"][rng.integers(len(data["layers"]))]
        groups = layer.get("tables", {}).get("groups")
        if groups:
            groups[0]["shapes"] = [["zz"], 5, None][rng.integers(3)]
    else:
        data = [1, 2] if rng.random() < 0.5 else {"scheme": "segprune"}
    if kind not in (4, 5):
        entry.value = json.dumps(data)
    path = tmp / "seg.onnx"
    onnx.save(model, str(path))
    return ["simulate", str(path), "--hw", "isaac"]


def prune_args(rng: np.random.Generator, tmp: Path) -> list[str]:
    """Out-of-range numbers for prune's flags (each refused before training)."""
    choices = [("--target-ratio", v) for v in ("0", "nan", "-2", "inf", "0.5", "-0")] + \
        [("--limit", v) for v in ("0", "-1")] + [("--epochs", "-1"), ("--segment-height", "0"),
                                                 ("--max-shapes", "0"), ("--reram-limit", "-1"),
                                                 ("--seed", "x")]
    flag, value = choices[rng.integers(len(choices))]
    return ["prune", "lenet", "-o", str(tmp / "out.onnx"), "--data", "digits", flag, value]


FAMILIES: dict[str, Case] = {
    "onnx_semantic": onnx_semantic, "onnx_bytes": onnx_bytes, "yaml": yaml_config,
    "set": set_override, "npy": npy_input, "paths": file_paths, "dataset": dataset,
    "metadata": metadata, "prune_args": prune_args,
}
