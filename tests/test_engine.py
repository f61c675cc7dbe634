"""The cycle-level engine: agreement with the closed form, contention, errors, traces."""
from __future__ import annotations

import heapq
import json

import numpy as np
import pytest
from _timing_nets import Net, assert_same_counts, assert_same_timing, config, mapped
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.analytical import run_analytical
from reramsim.plan import TimingError, build_plan
from reramsim.engine import EngineError, flatten_plan, run_cycle, run_cycle_detailed, run_plan
from reramsim.ir import Layer, Network
from reramsim.simulator import SimulationError, registered_engines, simulate

_engine = pytest.importorskip("reramsim._core._engine")

PRIVATE = {"adc__shared_by_crossbars": 1, "buffers__shared_per_tile": False,
           "digital__shared_per_tile": False, "noc__shared_links": False,
           "organization__tiles": 0}


def both(net, cfg):
    mapping, placement = mapped(net, cfg)
    return run_analytical(net, mapping, placement), run_cycle(net, mapping, placement)


def small_cnn(seed: int = 0) -> Network:
    """conv-relu-pool-conv-relu, a residual add, flatten, fc: every kind of stage."""
    nb = Net((3, 8, 8), seed)
    x = nb.maxpool(nb.relu(nb.conv("x", 12, 3, pad=1)), 2, 2)
    y = nb.relu(nb.conv(x, 12, 3, pad=1))
    z = nb.add(y, x)
    return nb.network(nb.fc(nb.flatten(z), 10))


@pytest.mark.parametrize("base,extra", [
    (None, {}),
    ("isaac", {}),
    ("ou_16x16", {}),
    ("autoprune_128x128_ou32", {}),
    (None, {"precision__signed_weights": "differential", "ou__rows": 4, "ou__cols": 3}),
    (None, {"precision__signed_weights": "differential", "crossbar__subtract": "analog",
            "ou__rows": 4, "ou__cols": 3}),
])
def test_single_layer_matches_analytical(base, extra):
    """One conv layer with private resources: cycle == analytical, cycle for cycle."""
    nb = Net((5, 6, 6))
    net = nb.network(nb.conv("x", 20, 3, stride=1, pad=1))
    cfg = config(base, **PRIVATE, **extra) if base else config(**extra)
    assert_same_timing(*both(net, cfg))


@pytest.mark.parametrize("base", [None, "isaac", "ou_16x16"])
@pytest.mark.parametrize("mode", ["pixel", "layer"])
def test_pipelined_net_matches_analytical_when_private(base, mode):
    """A whole pipelined CNN (residual add included), every resource private: exact."""
    cfg = config(base, **PRIVATE, pipeline__mode=mode) if base else config(pipeline__mode=mode)
    assert_same_timing(*both(small_cnn(), cfg))


def test_shared_adc_group_by_hand():
    """Two crossbars on one ADC group (t_read 10, t_adc 8, B = 2): 14 cycles later, 20 stalled."""
    # fc 6->16 with 1 slice: 16 bit-lines on two 8-wide crossbars, one PE, one ADC group.
    # t_adc = 8 bit-lines / 1 GS/s = 8; t_read = 10; B = 2 (input_bits 2, 1-bit DAC).
    # Private: each crossbar converts at F+10 and F+20, result F+28+1.
    # Shared: x0 [F+10, F+18); x1 waits 8 -> [F+18, F+26); x0 reads again from F+10, asks at
    # F+20, waits 6 -> [F+26, F+34); x1 read from F+18, asks at F+28, waits 6 -> [F+34, F+42).
    # Result F+42+1: 14 cycles after the private case; 8 + 6 + 6 = 20 stall cycles.
    nb = Net((6,))
    net = nb.network(nb.fc("x", 16))
    cfg = config(precision__input_bits=2, adc__sample_rate_gsps=1.0,
                 adc__shared_by_crossbars=2, organization__crossbars_per_pe=2)
    ana, cyc = both(net, cfg)
    assert cyc.total_cycles - ana.total_cycles == 14
    assert cyc.layers[0].stall_cycles["adc"] == 20
    assert ana.layers[0].stall_cycles["adc"] == 0
    assert_same_counts(ana, cyc)


def test_narrow_shared_link_by_hand():
    """Two flows from one layer share their first link: the second waits S = 16 link cycles."""
    # A (tile 0) feeds B (tile 1, 1 hop) and C (tile 2, 2 hops) on a 3-wide mesh row; 8 outputs
    # x 2 bits = 16 bits over a 1-bit link: S = 16. Both flows ask for link 0->1 at A's output
    # end; the flow to C gets it 16 cycles later, so C (the later one anyway) ends 16 later.
    nb = Net((6,))
    a = nb.fc("x", 8)
    b = nb.fc(a, 4)
    c = nb.fc(a, 4)
    net = nb.network(b, c)
    cfg = config(precision__input_bits=2, noc__link_width_bits=1, noc__shared_links=True,
                 organization__mesh_cols=3, organization__crossbars_per_pe=8)
    ana, cyc = both(net, cfg)
    assert cyc.total_cycles - ana.total_cycles == 16
    assert cyc.layers[0].stall_cycles["noc"] == 16
    assert cyc.layers[2].start_cycle - ana.layers[2].start_cycle == 16
    assert_same_counts(ana, cyc)


@pytest.mark.parametrize("base", ["isaac", "ou_16x16"])
def test_counts_agree_under_contention(base):
    """Shared everything changes timing, never the event counts."""
    cfg = config(base, adc__shared_by_crossbars=4, organization__tiles=0,
                 organization__pes_per_tile=1)
    ana, cyc = both(small_cnn(), cfg)
    assert_same_counts(ana, cyc)
    assert cyc.total_cycles >= ana.total_cycles


def test_component_stats_add_up():
    """Per-resource busy cycles sum to the per-layer busy cycles of the same kinds."""
    net = small_cnn()
    cfg = config("isaac", organization__tiles=0)
    result, comps = run_cycle_detailed(net, *mapped(net, cfg))
    for kind in ("adc", "input_buffer", "output_buffer", "noc", "accumulator"):
        per_res = sum(int(b) for k, b in zip(comps.resource_kind, comps.resource_busy) if k == kind)
        assert per_res == sum(layer.busy_cycles.get(kind, 0) for layer in result.layers), kind
    assert int(comps.crossbar_read_cycles.sum()) == sum(
        layer.busy_cycles.get("crossbar", 0) for layer in result.layers)


def test_out_of_range_ou_crossbar_is_an_error():
    """An OU that refers to a crossbar the mapping does not have raises, naming the layer."""
    nb = Net((6,))
    net = nb.network(nb.fc("x", 4))
    mapping, placement = mapped(net, config())
    mapping.layers["fc0"].ou_xbar = np.array([3], np.int32)
    with pytest.raises(TimingError, match=r"layer fc0: OUs must refer to crossbars in \[0, 1\)"):
        run_cycle(net, mapping, placement)


@pytest.mark.parametrize("field,value,message", [
    ("x_ou_hi", 99, r"engine input x_ou_lo/x_ou_hi: entry 0"),
    ("x_adc", 1000, r"engine input x_adc: entry 0"),
    ("x_layer", 7, r"engine input x_layer: entry 0"),
    ("need", 10_000, r"engine input need: entry"),
    ("f_links", -1, r"engine input f_links: entry 0"),
])
def test_malformed_engine_arrays_raise(field, value, message):
    """Corrupted flattened input is caught before the loop, with the array's name."""
    nb = Net((1, 4, 4))
    net = nb.network(nb.fc(nb.flatten(nb.conv("x", 4, 3)), 4))
    arrays, sizes = flatten_plan(build_plan(net, *mapped(net, config(organization__mesh_cols=1))))
    arrays[field] = arrays[field].copy()
    arrays[field][0] = value
    with pytest.raises(EngineError, match=message):
        _engine.run(arrays, sizes)


def test_wrong_dtype_or_length_raises():
    """The entry point checks dtype and length of every array."""
    nb = Net((6,))
    net = nb.network(nb.fc("x", 4))
    arrays, sizes = flatten_plan(build_plan(net, *mapped(net, config())))
    bad = dict(arrays, o_t_adc=arrays["o_t_adc"].astype(np.int32))
    with pytest.raises(EngineError, match=r"'o_t_adc': expected a C-contiguous 1-D int64"):
        _engine.run(bad, sizes)
    with pytest.raises(EngineError, match=r"'l_pixels': length 1, expected 2"):
        _engine.run(arrays, dict(sizes, n_layers=2))


def test_cycle_in_the_graph_is_a_deadlock_error():
    """Two layers that wait on each other end in an EngineError, not a hang or a crash."""
    layers = [Layer("a", "relu", ("tb",), "ta", ((4,),), (4,)),
              Layer("b", "relu", ("ta",), "tb", ((4,),), (4,))]
    net = Network("loop", {"x": (4,)}, ["ta"], layers)
    mapping, placement = mapped(net, config())
    with pytest.raises(EngineError, match=r"deadlock: no events left but pixels remain: "
                                          r"layer a completed 0 pixels"):
        run_cycle(net, mapping, placement)
    with pytest.raises(TimingError, match="topological order"):
        run_analytical(net, mapping, placement)


def test_trace_is_chrome_json(tmp_path):
    """A trace lists reservations with ts/dur in cycles and names the tracks."""
    net = small_cnn()
    path = tmp_path / "t.json"
    result = run_cycle(net, *mapped(net, config()), trace=path)
    doc = json.loads(path.read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert spans and doc["otherData"]["truncated"] is False
    assert max(e["ts"] + e["dur"] for e in spans) <= result.total_cycles
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in doc["traceEvents"])


def test_trace_stops_at_its_cap_and_says_so(tmp_path):
    """Past the cap the trace stops recording and marks itself truncated; the run completes."""
    net = small_cnn()
    plan = build_plan(net, *mapped(net, config()))
    path = tmp_path / "t.json"
    result, _ = run_plan(plan, trace=path, trace_events=50)
    doc = json.loads(path.read_text())
    assert doc["otherData"]["truncated"] is True and doc["otherData"]["recorded"] == 50
    assert any(e["name"] == "trace truncated" for e in doc["traceEvents"])
    assert result.total_cycles == run_plan(plan)[0].total_cycles


def test_simulate_registry_and_errors():
    """simulate() runs every registered engine; unknown names list the registered ones."""
    assert registered_engines() == ["analytical", "cycle", "pyref"]
    net = small_cnn()
    cfg = config()
    sims = {name: simulate(net, cfg, engine=name) for name in registered_engines()}
    assert sims["cycle"].result.total_cycles == sims["pyref"].result.total_cycles
    assert sims["cycle"].components is not None and sims["analytical"].components is None
    with pytest.raises(SimulationError, match="unknown engine 'fast'; registered: analytical, "):
        simulate(net, cfg, engine="fast")
    with pytest.raises(SimulationError, match="no events to trace"):
        simulate(net, cfg, engine="analytical", trace="x.json")
    with pytest.raises(SimulationError, match="was built for config"):
        simulate(net, config(adc__count=2), mapping=sims["cycle"].mapping)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 9000), st.integers(0, 7)), min_size=1, max_size=200))
def test_event_queue_order_is_time_kind_seq(ops):
    """The timing wheel pops in (time, kind, push order), like heapq, far events included."""
    # Times are made relative to the last popped time so that no push is in the past.
    times, kinds, heap, expected, now, seq = [], [], [], [], 0, 0
    for t, k in ops:
        if t < 0:
            times.append(-1)
            kinds.append(0)
            if heap:
                now, _, _, idx = heapq.heappop(heap)
                expected.append(idx)
            continue
        times.append(now + t)
        kinds.append(k)
        heapq.heappush(heap, (now + t, k, seq, len(times) - 1))
        seq += 1
    while heap:
        expected.append(heapq.heappop(heap)[3])
    assert _engine._py_queue_order(times, kinds) == expected


def test_event_queue_refuses_the_past():
    """Pushing before the current cycle is an error, not a silent reorder."""
    with pytest.raises(EngineError, match="push at 5 before now 10"):
        _engine._py_queue_order([10, -1, 5], [0, 0, 0])
