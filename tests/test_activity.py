"""Activation zero-skipping: active input steps from the data, and the engines skipping them."""
from __future__ import annotations

import numpy as np
import pytest
from _timing_nets import Net, assert_same_timing, config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pyref import hardware, networks

from reramsim.activity import active_steps, ou_activity
from reramsim.analytical import analytical_from_plan
from reramsim.engine import run_plan
from reramsim.mapping import map_network
from reramsim.placement import place
from reramsim.plan import TimingError, build_plan
from reramsim.pyref import PyRefEngine

#: TINY hardware with 4-row OUs: an fc 8 -> 4 is one crossbar of two 4x4 OUs.
SKIP = {"ou__rows": 4, "ou__skip_zero_inputs": True}


def fc_8_4():
    nb = Net((8,))
    return nb.network(nb.fc("x", 4))


def test_active_steps_by_hand():
    """Levels 0b0100 and 0b0001 on OU 0's rows OR to 0b0101: steps 0 and 2 of 4 active;
    OU 1's rows are all zero: no step; a pixel of 0b1111 everywhere runs every step."""
    net, cfg = fc_8_4(), config(**SKIP)
    mapping = map_network(net, cfg)
    levels = np.zeros((8, 2), np.uint8)
    levels[:2, 0] = [0b0100, 0b0001]
    levels[:, 1] = 0b1111
    got = active_steps(levels, net.layers[0], mapping.layers["fc0"], cfg)
    assert got.tolist() == [[2, 0], [4, 4]]
    two_bit = config(**SKIP, dac__bits=2)  # 2-bit DAC: chunks 0b01 | 0b01 -> both active
    assert active_steps(levels, net.layers[0], mapping.layers["fc0"], two_bit).tolist() == [
        [2, 0], [2, 2]]


def run_pyref(net, cfg, activity):
    mapping = map_network(net, cfg)
    return PyRefEngine(build_plan(net, mapping, place(net, mapping),
                                  activity=activity)).run()


def test_skipped_steps_cost_no_time_or_events():
    """fc 8 -> 4, OU 0 with 2 active steps, OU 1 none: fetch 4 accesses x 2 = 8 cycles;
    reads at 8 and 18 (each starts with the previous conversion), conversions of 4
    bit-lines x 2 = 8 cycles at 18 and 28, result 28 + 8 + 1 = 37; accumulator 3 x 3 = 9
    -> 46; output 2 writes -> 48. Only 2 OU steps are counted; all 8 are checked."""
    net, cfg = fc_8_4(), config(**SKIP)
    res = run_pyref(net, cfg, {"fc0": np.array([[2, 0]], np.uint8)})
    counts = res.layers[0].counts
    assert res.total_cycles == 48
    assert (counts["ou_step"], counts["adc_conversion"], counts["zero_check"]) == (2, 8, 8)
    full = run_pyref(net, cfg, {"fc0": np.array([[4, 4]], np.uint8)})
    assert full.layers[0].counts["ou_step"] == 8 and full.total_cycles > res.total_cycles


def test_pixel_with_nothing_to_read():
    """A pixel whose OUs all see zeros: the crossbar's result is there when it starts
    (8), then accumulator (9) and output (2): 19 cycles, no OU step."""
    net, cfg = fc_8_4(), config(**SKIP)
    res = run_pyref(net, cfg, {"fc0": np.zeros((1, 2), np.uint8)})
    assert res.total_cycles == 19 and res.layers[0].counts["ou_step"] == 0


def test_without_the_flag_or_data_nothing_is_skipped():
    """Activity data is used only with ou.skip_zero_inputs; the closed form refuses a plan
    with skipping; malformed activity is a one-line error naming the layer."""
    net = fc_8_4()
    plain = run_pyref(net, config(ou__rows=4), {"fc0": np.zeros((1, 2), np.uint8)})
    assert plain.layers[0].counts["ou_step"] == 8 and plain.layers[0].counts["zero_check"] == 0
    cfg = config(**SKIP)
    mapping = map_network(net, cfg)
    plan = build_plan(net, mapping, place(net, mapping), activity={"fc0": np.ones((1, 2))})
    with pytest.raises(TimingError, match="closed form assumes fixed steps"):
        analytical_from_plan(plan)
    with pytest.raises(TimingError, match=r"layer fc0: zero-skipping needs \(1, 2\) active"):
        build_plan(net, mapping, place(net, mapping), activity={"fc0": np.ones((1, 3))})
    with pytest.raises(TimingError, match="exceed the 4 input steps"):
        build_plan(net, mapping, place(net, mapping), activity={"fc0": np.full((1, 2), 5)})


def test_activity_from_the_functional_model():
    """A conv after a ReLU: the functional model's activity is the OR of each OU's
    streamed levels per pixel; an all-zero image leaves the ReLU'd layer nothing to do."""
    nb = Net((2, 4, 4))
    x = nb.relu(nb.conv("x", 4, 3, pad=1))
    net = nb.network(nb.conv(x, 3, 1))
    cfg = config(**SKIP, precision__input_bits=4)
    mapping = map_network(net, cfg)
    images = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    images[1] = 0.0
    act = ou_activity(net, mapping, images, calibration=images[:1])
    assert act["conv0"].shape == (2 * 16, mapping.layers["conv0"].n_ous)
    assert act["conv2"].shape == (2 * 16, mapping.layers["conv2"].n_ous)
    assert act["conv2"][16:].max() == 0  # relu(conv(0)) = relu(bias = 0) = 0
    assert act["conv2"][:16].max() > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), hardware(), st.integers(0, 2**31 - 1), st.integers(1, 3),
       st.integers(1, 3))
def test_cycle_engine_skips_like_the_reference(net, hw, seed, copies, images):
    """Random nets, hardware, copies, streams and activity (zeros included): the Cython
    engine and the pure-Python reference agree cycle for cycle and count for count."""
    cfg = config(**hw, ou__skip_zero_inputs=True)
    mapping = map_network(net, cfg)
    rng = np.random.default_rng(seed)
    activity = {layer.name: rng.integers(0, cfg.input_steps + 1,
                                         (images * layer.out_pixels,
                                          mapping.layers[layer.name].n_ous)).astype(np.uint8)
                for layer in net.weight_layers()}
    for name in activity:  # some pixels with nothing to do at all
        activity[name][rng.random(len(activity[name])) < 0.3] = 0
    replicas = {layer.name: min(copies, layer.out_pixels) for layer in net.weight_layers()}
    plan = build_plan(net, mapping, place(net, mapping, replicas), images=images,
                      activity=activity)
    assert plan.skip_zero
    assert_same_timing(run_plan(plan)[0], PyRefEngine(plan).run())


def test_cycle_engine_by_hand():
    """The hand-worked skipping cases above, on the Cython engine."""
    net, cfg = fc_8_4(), config(**SKIP)
    mapping = map_network(net, cfg)
    for act, cycles, steps in (([[2, 0]], 48, 2), ([[0, 0]], 19, 0), ([[4, 4]], None, 8)):
        plan = build_plan(net, mapping, place(net, mapping),
                          activity={"fc0": np.array(act, np.uint8)})
        res = run_plan(plan)[0]
        assert res.layers[0].counts["ou_step"] == steps
        assert cycles is None or res.total_cycles == cycles
