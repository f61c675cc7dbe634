"""The engine's contract: one declaration of its inputs and event kinds, used everywhere."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from _timing_nets import Net, config, mapped

from reramsim._core import contract
from reramsim._core.contract import ALL_EVENTS, ARRAYS, EVENTS, SIZES, EventKind
from reramsim.engine import EngineError, flatten_plan, run_cycle
from reramsim.plan import build_plan

_engine = pytest.importorskip("reramsim._core._engine")


def flat_fc():
    nb = Net((6,))
    net = nb.network(nb.fc("x", 4))
    return flatten_plan(build_plan(net, *mapped(net, config())))


def test_flatten_plan_fills_exactly_the_declared_fields():
    """flatten_plan returns every declared array in its dtype and length, and every size."""
    arrays, sizes = flat_fc()
    assert list(arrays) == [f.name for f in ARRAYS]
    assert list(sizes) == [f.name for f in SIZES]
    for f in ARRAYS:
        assert arrays[f.name].dtype == np.dtype(f.dtype), f.name
        assert arrays[f.name].flags.c_contiguous, f.name
        assert len(arrays[f.name]) == sizes[f.length_size] + f.length_extra, f.name


def test_generated_declarations_follow_the_tables():
    """The Cython text declares each field once, in contract order, and EV_* as EventKind."""
    text = contract.cython_declarations()
    members = re.findall(r"^    (?:const )?\w+\*? (\w+)  #", text.split("cdef struct Model:")[1],
                         re.M)
    assert members == [f.name for f in SIZES] + [f.name for f in ARRAYS]
    for kind in EventKind:
        assert f"    EV_{kind.name} = {int(kind)}  #" in text
    assert f"N_QUEUED_KINDS = {len(EVENTS)}" in text
    binds = re.findall(r"^    m\.(\w+) = ", text, re.M)
    assert binds == [f.name for f in SIZES] + [f.name for f in ARRAYS]


def test_event_kinds_number_queued_kinds_first():
    """Queued kinds are 0..len(EVENTS)-1 in priority order; trace-only kinds come after."""
    assert [k.name for k in EventKind] == [e.name for e in ALL_EVENTS]
    assert [int(k) for k in EventKind] == list(range(len(ALL_EVENTS)))
    assert EventKind.ARRIVE < EventKind.XSTEP < EventKind.FETCH < EventKind.READ


@pytest.mark.parametrize("field,value,message", [
    ("l_t_fetch", -1, r"engine input l_t_fetch: entry 0 = -1, expected 0 <= value$"),
    ("l_res_out", 99, r"engine input l_res_out: entry 0 = 99, expected 0 <= value < n_res = "),
    ("l_pixels", 0, r"engine input l_pixels: entry 0 = 0, expected 1 <= value$"),
])
def test_declared_bounds_are_checked_with_the_value(field, value, message):
    """An entry outside its declared bounds is named with its field, entry, value and bound."""
    arrays, sizes = flat_fc()
    arrays[field] = arrays[field].copy()
    arrays[field][0] = value
    with pytest.raises(EngineError, match=message):
        _engine.run(arrays, sizes)


@pytest.mark.parametrize("change,message", [
    ({"input_steps": 0}, r"engine sizes: input_steps = 0, expected 1 <= input_steps <= "),
    ({"n_res": -1}, r"engine sizes: n_res = -1, expected 0 <= n_res"),
    ({"t_shift_add": 1.5}, r"engine sizes: t_shift_add = 1.5, expected"),
])
def test_bad_sizes_are_named(change, message):
    """A size below its declared least value, or not an integer, is named."""
    arrays, sizes = flat_fc()
    with pytest.raises(EngineError, match=message):
        _engine.run(arrays, dict(sizes, **change))


def test_missing_size_is_named():
    """A size the contract declares but the caller left out is named."""
    arrays, sizes = flat_fc()
    del sizes["n_links"]
    with pytest.raises(EngineError, match=r"engine sizes: missing 'n_links'"):
        _engine.run(arrays, sizes)


def test_contract_rejects_a_field_bounded_by_an_undeclared_size(monkeypatch):
    """A declaration naming a size that does not exist is refused when the tables load."""
    bad = contract.ArrayField("x_new", "int64_t", "n_xbars", "test", below="n_nothing")
    monkeypatch.setattr(contract, "ARRAYS", ARRAYS + (bad,))
    with pytest.raises(ValueError, match=r"array x_new refers to an undeclared size"):
        contract._check_tables()


def test_trace_names_come_from_the_event_table(tmp_path):
    """Every span of a trace is named by its kind's trace name; reads are on crossbar tracks."""
    nb = Net((1, 4, 4))
    net = nb.network(nb.fc(nb.flatten(nb.relu(nb.conv("x", 4, 3))), 4))
    path = tmp_path / "t.json"
    run_cycle(net, *mapped(net, config()), trace=path)
    spans = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    traced = {e.trace_name for e in ALL_EVENTS if e.trace_name}
    stages = {e["name"].split(" ", 2)[2] for e in spans}
    assert stages <= traced
    assert {"crossbar read", "adc convert", "input fetch", "unit", "output buffer"} <= stages
    read = contract.ALL_EVENTS[EventKind.READ].trace_name
    assert all(e["pid"] == 1 for e in spans if e["name"].endswith(read))


def test_crossbar_groups_are_checked():
    """A layer claiming fewer crossbar groups than it has, or a group longer than its run of
    crossbars, is named instead of running (it would start the accumulator early)."""
    arrays, sizes = flat_fc()
    bad = dict(arrays, l_n_groups=np.zeros_like(arrays["l_n_groups"]))
    with pytest.raises(EngineError, match=r"engine input l_n_groups"):
        _engine.run(bad, sizes)
    bad = dict(arrays, g_n_xbars=arrays["g_n_xbars"] + 1)
    with pytest.raises(EngineError, match=r"engine input x_group/g_n_xbars"):
        _engine.run(bad, sizes)
