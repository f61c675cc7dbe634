"""Direct constant folding equals ONNX's reference evaluator on the ops it handles."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from reramsim.const_fold import fold

A = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5
I64 = np.int64
CASES = [
    ("ConstantOfShape", {"value": numpy_helper.from_array(np.array([0.5], np.float32))},
     [np.array([2, 3], I64)]),
    ("ConstantOfShape", {}, [np.array([4], I64)]),
    ("Constant", {"value_floats": [1.0, 2.0]}, []),
    ("Constant", {"value": numpy_helper.from_array(A)}, []),
    ("Identity", {}, [A]),
    ("Cast", {"to": 7}, [A]),
    ("Reshape", {}, [A, np.array([0, -1], I64)]),
    ("Reshape", {"allowzero": 0}, [A, np.array([4, 0, 2], I64)]),
    ("Transpose", {"perm": [2, 0, 1]}, [A]),
    ("Transpose", {}, [A]),
    ("Unsqueeze", {}, [A, np.array([0, -1], I64)]),
    ("Squeeze", {}, [A[:1], np.array([0], I64)]),
    ("Concat", {"axis": -1}, [A, A]),
    ("Gather", {"axis": 1}, [A, np.array([2, -1], I64)]),
    ("Add", {}, [A, A[0]]), ("Sub", {}, [A, 1 + A]), ("Mul", {}, [A, A]),
    ("Div", {}, [A, A + 100]), ("Sqrt", {}, [np.abs(A)]), ("Neg", {}, [A]),
]


@pytest.mark.parametrize("op,attrs,inputs", CASES, ids=[c[0] for c in CASES])
def test_direct_fold_equals_reference_evaluator(op, attrs, inputs):
    """fold() gives the reference evaluator's values, shapes and dtypes (opset 18)."""
    names = [f"i{k}" for k in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_empty_tensor_value_info(n) for n in names],
                              [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    want = ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))[0]
    got = fold(op, lambda key, default: node_attr(node, key, default), list(inputs), 18)
    assert got is not None
    assert got[0].shape == want.shape and got[0].dtype == want.dtype
    np.testing.assert_array_equal(got[0], want)


def node_attr(node, key, default):
    for a in node.attribute:
        if a.name == key:
            return helper.get_attribute_value(a)
    return default


def test_constant_of_shape_is_a_view():
    """A ConstantOfShape weight is a read-only broadcast view: no memory for its elements."""
    value = numpy_helper.from_array(np.array([0.25], np.float32))
    (out,) = fold("ConstantOfShape", lambda k, d: value if k == "value" else d,
                  [np.array([1000, 1000], I64)], 18)
    assert out.shape == (1000, 1000) and out.strides == (0, 0) and not out.flags.writeable


def test_integer_div_is_left_to_the_evaluator():
    """Integer Div (C-style truncation in ONNX) is not folded here: None."""
    assert fold("Div", lambda k, d: d, [np.array([-7], I64), np.array([2], I64)], 18) is None
