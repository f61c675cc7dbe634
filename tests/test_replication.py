"""Copies of layers, crossbar budgets, image streams and the steady-state throughput."""
from __future__ import annotations

import numpy as np
import pytest
from _timing_nets import Net, assert_same_timing, config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pyref import hardware, networks

from reramsim.analytical import analytical_from_plan
from reramsim.engine import run_plan
from reramsim.mapping import MappingError, map_network
from reramsim.placement import place
from reramsim.plan import TimingError, build_plan
from reramsim.pyref import PyRefEngine
from reramsim.replication import (
    choose_replicas,
    crossbar_budget,
    merge_instances,
    parse_budget,
)
from reramsim.simulator import SimulationError, simulate
from reramsim.throughput import busiest_instances, initiation_interval

pytest.importorskip("reramsim._core._engine")


def run_all(net, cfg, replicas=None, images=1):
    """(analytical, cycle, pyref) results of one plan, copies merged per IR layer."""
    mapping = map_network(net, cfg)
    plan = build_plan(net, mapping, place(net, mapping, replicas), images=images)
    return tuple(merge_instances(plan, r) for r in (
        analytical_from_plan(plan), run_plan(plan)[0], PyRefEngine(plan).run()))


def one_conv(h: int, w: int, cout: int = 6):
    """A 3x3 conv fed by the graph input: its pixels never wait for a producer."""
    nb = Net((2, h + 2, w + 2))
    return nb.network(nb.conv("x", cout, 3))


def test_copies_split_pixels_and_divide_latency():
    """r copies of a layer fed by the graph input take 1/r of its pixels each: the layer
    ends when a copy-free layer with 1/r of the pixels would, with the same counts. Each copy
    fits one tile (2 PEs per tile), so no partial sums cross the mesh."""
    cfg = config(organization__pes_per_tile=2)
    for r in (2, 4):
        ana, cyc, ref = run_all(one_conv(4, 4), cfg, {"conv0": r})
        alone = run_all(one_conv(4, 4 // r), cfg)[0]
        assert ana.total_cycles == alone.total_cycles == cyc.total_cycles == ref.total_cycles
        single = run_all(one_conv(4, 4), cfg)[0]
        assert ana.layers[0].counts == single.layers[0].counts
        assert single.total_cycles > ana.total_cycles


def test_copies_cost_only_their_traffic():
    """A copy on another tile sends its pixels to the consumer's tile: NoC bit-hops grow by
    exactly that traffic; every other count (input-buffer writes included) is unchanged."""
    nb = Net((2, 6, 6))
    net = nb.network(nb.relu(nb.conv("x", 6, 3)))
    cfg = config()  # 3 crossbars per copy, 2 per PE, 1 PE per tile: copy 1 starts on tile 2
    mapping = map_network(net, cfg)
    placement = place(net, mapping, {"conv0": 2})
    assert placement.replica_tile["conv0"] == [0, 2]
    plan = build_plan(net, mapping, placement)
    one = analytical_from_plan(build_plan(net, mapping, place(net, mapping)))
    two = merge_instances(plan, analytical_from_plan(plan))
    copy1 = next(lp for lp in plan.layers if lp.name == "conv0#1")
    out_bits = 6 * cfg.precision.input_bits
    hops = placement.hops(1, placement.layer_tile["relu1"])
    extra = {"noc_bit_hop": copy1.n_pixels * out_bits * hops}
    for kind, n in one.layers[0].counts.items():
        assert two.layers[0].counts[kind] == n + extra.get(kind, 0), kind
    assert two.layers[1].counts == one.layers[1].counts
    assert hops == 1 and copy1.n_pixels == 8


@pytest.mark.parametrize("images", [1, 3])
@pytest.mark.parametrize("base", [None, "isaac", "ou_16x16"])
def test_cycle_equals_analytical_with_copies(base, images):
    """Copies of several layers (and a stream of images), resources private: the cycle
    engine, the pure-Python reference and the closed form agree cycle for cycle."""
    from test_engine import PRIVATE, small_cnn

    cfg = config(base, **PRIVATE) if base else config()
    ana, cyc, ref = run_all(small_cnn(), cfg, {"conv0": 3, "conv4": 2, "fc8": 1}, images)
    assert_same_timing(ana, cyc)
    assert_same_timing(cyc, ref)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), hardware(), st.integers(1, 4), st.integers(1, 3))
def test_random_copies_identical(net, hw, copies, images):
    """Random nets, hardware, copies and streams: pyref == cycle; == analytical if private."""
    cfg = config(**hw)
    replicas = {layer.name: min(copies, layer.out_pixels) for layer in net.weight_layers()}
    ana, cyc, ref = run_all(net, cfg, replicas, images)
    assert_same_timing(cyc, ref)
    private = (hw["adc__shared_by_crossbars"] == 1 and not hw["buffers__shared_per_tile"]
               and not hw["digital__shared_per_tile"] and not hw["noc__shared_links"])
    if private:
        assert_same_timing(ana, cyc)


def two_layer_pipeline():
    """conv 1x1 1->4 on 2x2 pixels (A), then conv 1x1 4->8 (B): see the test below."""
    nb = Net((1, 2, 2))
    return nb.network(nb.conv(nb.conv("x", 4, 1), 8, 1))


def test_throughput_of_a_two_layer_pipeline_by_hand():
    """TINY hardware, B = 4 bit-steps, t_read = 10, t_adc = 2 per bit-line. A's crossbar:
    one 1x4 OU, a = 8: period 3*max(10, 8) + max(10, 8) = 40, x 4 pixels = 160 per image.
    B's: one 4x8 OU, a = 16: period 3*16 + 16 = 64, x 4 pixels = 256: II = 256, and a
    stream of N images ends (N-1) x 256 cycles after the first image."""
    net, cfg = two_layer_pipeline(), config()
    mapping = map_network(net, cfg)
    placement = place(net, mapping)
    tp = initiation_interval(build_plan(net, mapping, placement))
    assert (tp.ii_cycles, tp.bottleneck, tp.bottleneck_layer) == (256, "crossbar 0 of conv1",
                                                                   "conv1")
    first = run_all(net, cfg)
    for n in (2, 5):
        stream = run_all(net, cfg, images=n)
        for one, many in zip(first, stream):
            assert many.total_cycles - one.total_cycles == (n - 1) * 256
            assert many.layers[1].counts["ou_step"] == n * one.layers[1].counts["ou_step"]


def test_busiest_instance_by_hand():
    """Per layer, the one resource instance its work keeps busiest: B's ADC converts 4
    pixels x 4 steps x 16 cycles = 256 (its array reads only 4 x 4 x 10 = 160); A's array
    reads 160 and its ADC converts 4 x 4 x 8 = 128."""
    net, cfg = two_layer_pipeline(), config()
    mapping = map_network(net, cfg)
    top = busiest_instances(build_plan(net, mapping, place(net, mapping)))
    assert (top["conv1"].kind, top["conv1"].busy_cycles) == ("adc", 256)
    assert (top["conv0"].kind, top["conv0"].busy_cycles) == ("crossbar", 160)


def test_budget_forms_and_errors():
    """Budgets: 'dense' = the dense mapping's crossbars, 'chip' = the config's tiles, or
    a count; a mapping over budget and a bad budget are one-line errors."""
    nb = Net((2, 6, 6))
    net = nb.network(nb.conv("x", 6, 3))
    cfg = config(organization__tiles=3)
    mapping = map_network(net, cfg)
    assert crossbar_budget(net, mapping, "dense") == mapping.n_crossbars == 3
    assert crossbar_budget(net, mapping, "chip") == 3 * 2
    assert crossbar_budget(net, mapping, 7) == 7
    assert parse_budget("12") == 12 and parse_budget("dense") == "dense"
    with pytest.raises(MappingError, match=r"--budget: expected 'dense', 'chip' or a crossbar"):
        parse_budget("lots")
    with pytest.raises(MappingError, match="needs 3 crossbars, more than the budget of 2"):
        crossbar_budget(net, mapping, 2)
    with pytest.raises(MappingError, match="organization.tiles: 0"):
        crossbar_budget(net, map_network(net, config()), "chip")


def test_greedy_copies_the_bounding_layer_within_budget():
    """The layer with the most pixels x cycles per pixel gets copies while they fit.

    conv0: 3 crossbars, 16 pixels x 48 cycles = 768; conv1: 7 crossbars, 4 x 72 = 288.
    Copies of conv0 bring it to 384, then 288; then conv1 bounds too: with 9 spare
    crossbars its 7 do not fit and replication stops; with 16 spare, conv1 gets a copy
    (144) and conv0 a fourth (192), and the next copy of conv0 does not fit."""
    nb = Net((2, 6, 6))
    net = nb.network(nb.conv(nb.conv("x", 6, 3), 6, 3))
    mapping = map_network(net, config())
    assert {k: m.n_crossbars for k, m in mapping.layers.items()} == {"conv0": 3, "conv1": 7}
    assert choose_replicas(net, mapping, 10)[0] == {"conv0": 1, "conv1": 1}
    assert choose_replicas(net, mapping, 19)[0] == {"conv0": 3, "conv1": 1}
    assert choose_replicas(net, mapping, 26)[0] == {"conv0": 4, "conv1": 2}


def test_a_one_pixel_layer_is_spread_instead_of_copied():
    """An fc layer (one pixel) that bounds the pipeline gets its OUs re-mapped over twice
    its crossbars while that fits and is faster: 8 crossbars take 160 cycles per pixel
    (chain period), 16 take 96 (the accumulator now bounds), 32 would take 144 (merging
    32 partial sums), so it stops at 16. The original mapping is left alone."""
    nb = Net((64,))
    net = nb.network(nb.fc("x", 4))  # 64 rows: one 8x8 crossbar per 8 rows, 8 OUs of 8x4
    cfg = config(ou__rows=2)  # 4 OUs per crossbar
    mapping = map_network(net, cfg)
    assert mapping.layers["fc0"].n_crossbars == 8
    copies, spread = choose_replicas(net, mapping, 32)
    assert copies == {"fc0": 1} and mapping.layers["fc0"].n_crossbars == 8
    assert spread.layers["fc0"].n_crossbars == 16
    assert spread.layers["fc0"].ous_per_crossbar.max() == 2
    spread.layers["fc0"].validate(net.layers[0], cfg)


def test_simulate_with_budget_and_images():
    """simulate() spends the budget on copies with replication: balance and reports the
    stream; images < 1 and more copies than pixels are errors."""
    nb = Net((2, 6, 6))
    net = nb.network(nb.relu(nb.conv("x", 6, 3)))
    cfg = config(mapping__replication="balance")
    base = simulate(net, config(), engine="analytical")
    sim = simulate(net, cfg, engine="analytical", budget=4 * base.mapping.n_crossbars, images=3)
    assert sim.placement.replicas("conv0") == 4
    assert sim.result.total_cycles < base.result.total_cycles
    assert sim.throughput.ii_cycles < base.throughput.ii_cycles
    assert sim.stream is not None and sim.stream.total_cycles > sim.result.total_cycles
    with pytest.raises(SimulationError, match="images must be >= 1"):
        simulate(net, cfg, engine="analytical", images=0)
    mapping = map_network(net, cfg)
    with pytest.raises(TimingError, match="17 copies for 16 output pixels"):
        build_plan(net, mapping, place(net, mapping, {"conv0": 17}))


def test_copies_need_prefix_shares():
    """A consumer of a layer with 2 copies waits, per copy, for ceil((n - c) / 2) of its
    pixels, where n is the prefix it needs of the stream (0 when it needs none of them)."""
    nb = Net((1, 3, 3))
    net = nb.network(nb.relu(nb.conv("x", 2, 1)))
    cfg = config()
    mapping = map_network(net, cfg)
    plan = build_plan(net, mapping, place(net, mapping, {"conv0": 2}))
    relu = plan.layers[-1]
    needs = [plan.edges[e].need.tolist() for e in relu.edges]
    n = np.arange(1, 10)
    assert needs == [(-(-n // 2)).tolist(), np.maximum(0, -(-(n - 1) // 2)).tolist()]
