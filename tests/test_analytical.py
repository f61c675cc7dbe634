"""The closed-form timing model: hand-worked cases, count formulas, readiness rules.

Numbers use the TINY config of ``_timing_nets`` unless a test says otherwise: B = 4 bit-steps,
t_read = 10, t_adc = 2 cycles per bit-line, t_sa = 1, input buffer 8 bits per 2-cycle access,
output buffer 8 bits per 1-cycle access, accumulator 4 lanes x 3 cycles.
"""
from __future__ import annotations

import numpy as np
import pytest
from _timing_nets import Net, config, mapped
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.analytical import _flow_shop, _periodic, isolated_pixel_cycles, run_analytical
from reramsim.ir import Layer, Network
from reramsim.plan import TimingError, _need, build_plan
from reramsim.stats import EVENT_KINDS


def analytical(net, cfg):
    return run_analytical(net, *mapped(net, cfg))


def test_single_crossbar_fc_read_bound():
    """fc 6->4 on one crossbar: fetch 6 + crossbar 10+3*10+8+1 + accumulate 9 + output 2 = 66."""
    nb = Net((6,))
    net = nb.network(nb.fc("x", 4))
    res = analytical(net, config())
    fetch = 3 * 2  # ceil(6 inputs * 4 bits / 8) accesses x 2 cycles
    xbar = 10 + 3 * max(10, 8) + 8 + 1  # t_adc = 4 bit-lines / 0.5 GS/s = 8
    acc = 3 * 3  # 9 additions (4 offset subtractions + 5 for sum(x)) -> ceil(9/4) steps x 3
    out = 2 * 1  # 4 outputs x 4 bits = 16 bits = 2 writes
    assert res.total_cycles == fetch + xbar + acc + out == 66
    layer = res.layers[0]
    assert layer.start_cycle == 0 and layer.end_cycle == 66
    assert layer.busy_cycles == {"crossbar": 40, "adc": 32, "input_buffer": 6,
                                 "output_buffer": 2, "noc": 0, "accumulator": 9}
    assert layer.stall_cycles["adc"] == 0


def test_single_crossbar_fc_adc_bound():
    """fc 6->8: t_adc = 16 > t_read, so conversions set the pace and every step stalls 6."""
    nb = Net((6,))
    net = nb.network(nb.fc("x", 8))
    res = analytical(net, config())
    xbar = 10 + 3 * 16 + 16 + 1
    acc = 4 * 3  # 8 + 5 = 13 additions -> 4 steps
    assert res.total_cycles == 6 + xbar + acc + 4 == 97
    assert res.layers[0].stall_cycles["adc"] == 3 * (16 - 10)


def test_isaac_worked_example():
    """ISAAC, one full 128x128 OU: 128 conversions at 1.28 GS/s take the 100 ns read step, so
    the crossbar takes 100 + 15*100 + 100 + 1 = 1701 cycles."""
    assert isolated_pixel_cycles(100, 15 * 100, 100, 1) == 1701
    nb = Net((128,))
    net = nb.network(nb.fc("x", 16))  # 16 outputs x 8 slices = 128 bit-lines: one crossbar
    res = analytical(net, config("isaac"))
    # fetch: the PE loads 128 x 16 bits = 8 accesses (5.3 bus cycles); 143 additions / 16
    # lanes = 9 steps; one 256-bit write
    assert res.total_cycles == 8 + 1701 + 9 + 1


def test_conv_pixels_pipeline_through_two_crossbars():
    """conv 1->2 3x3 on 4x4 (4 pixels, 9 rows on 2 crossbars): period T = 40 per pixel."""
    nb = Net((1, 4, 4))
    net = nb.network(nb.conv("x", 2, 3))
    res = analytical(net, config())
    # fetch: 9 inputs -> 5 accesses -> 10 cycles; all pixels ready at 0: fetches end 10..40.
    # crossbar: W = 3*10, T = W + max(10, t_adc=4) = 40; first conversions 20, 60, 100, 140;
    # results +30+4+1; accumulate 2 merges + 2 + 8 = 12 additions -> 9 cycles; output 1.
    conv0 = [20, 60, 100, 140]
    ends = [c + 35 + 9 + 1 for c in conv0]
    assert res.total_cycles == ends[-1] == 185
    layer = res.layers[0]
    assert layer.stall_cycles["input_buffer"] == 0 + 10 + 20 + 30
    assert layer.busy_cycles["crossbar"] == 4 * 2 * 4 * 10
    assert layer.counts["accumulate"] == 4 * 12


def test_step_counts_per_pixel():
    """Per pixel per OU step: 1 ou_step, rows*cols cells, rows DACs, cols S+H/ADC/shift-adds."""
    nb = Net((1, 4, 4))
    net = nb.network(nb.conv("x", 2, 3))
    counts = analytical(net, config()).layers[0].counts
    pixels, steps = 4, 4
    assert counts["ou_step"] == pixels * steps * 2
    assert counts["cell_read"] == pixels * steps * (8 * 2 + 1 * 2)
    assert counts["dac_conversion"] == pixels * steps * 9
    for kind in ("sample_hold", "adc_conversion", "shift_add"):
        assert counts[kind] == pixels * steps * 4
    assert counts["input_buffer_read"] == pixels * 5
    assert counts["output_buffer_write"] == pixels * 1
    assert set(counts) == set(EVENT_KINDS)


def test_index_reads_and_gathers_cost_time_once_per_ou_and_pixel():
    """2 index reads (1 cycle each) on the first bit-step, a 1-cycle gather on every step."""
    nb = Net((6,))
    net = nb.network(nb.fc("x", 4))
    cfg = config()
    mapping, placement = mapped(net, cfg)
    lmap = mapping.layers["fc0"]
    lmap.ou_index_reads = np.array([2], np.int32)
    lmap.ou_gather_inputs = np.array([6], np.int32)
    res = run_analytical(net, mapping, placement)
    first, rest = 10 + 1 + 2, 10 + 1
    assert res.total_cycles == 6 + (first + 3 * max(rest, 8) + 8 + 1) + 9 + 2 == 72
    assert res.layers[0].counts["index_read"] == 2
    assert res.layers[0].counts["gather_input"] == 6


def test_accumulate_counts_merges_offset_and_bias():
    """fc 10->4 on two row blocks: 4 merges + offset (4 + 9) + bias 4 = 21 additions."""
    nb = Net((10,))
    net = nb.network(nb.fc("x", 4, bias=True))
    assert analytical(net, config()).layers[0].counts["accumulate"] == 4 + 4 + 9 + 4


def test_accumulate_differential_pairs():
    """Differential weights: 2 row blocks x 2 polarities = 4 parts -> 3 merges per output."""
    nb = Net((10,))
    net = nb.network(nb.fc("x", 4))
    res = analytical(net, config(precision__signed_weights="differential"))
    assert res.layers[0].counts["accumulate"] == 4 * 3


def test_analog_subtraction_halves_conversions_of_a_differential_layer():
    """fc 10->4, differential: 2 row blocks x 2 polarities, 4 bit-lines each, B = 4.

    digital: 4 crossbars x 4 steps x 4 bit-lines = 64 conversions per pixel, 3 merges per
    output (12 additions, 3 accumulator steps = 9 cycles); analog: the 2 negative arrays
    convert nothing (32 conversions) and are no parts (1 merge per output, 4 additions,
    1 step = 3 cycles). The positive arrays set the crossbar time (10 + 3*10 + 8 + 1 = 49)
    either way: fetch 10 + 49 + accumulate + 2 output writes. The 4 crossbars share one
    tile (2 PEs), so no partial sums cross the mesh.
    """
    nb = Net((10,))
    net = nb.network(nb.fc("x", 4))
    one_tile = {"precision__signed_weights": "differential", "organization__pes_per_tile": 2}
    digital = analytical(net, config(**one_tile))
    analog = analytical(net, config(**one_tile, crossbar__subtract="analog"))
    d, a = digital.layers[0], analog.layers[0]
    for kind in ("adc_conversion", "sample_hold", "shift_add"):
        assert d.counts[kind] == 4 * 4 * 4 == 64
        assert a.counts[kind] == 2 * 4 * 4 == 32
    assert d.counts["cell_read"] == a.counts["cell_read"] == 4 * 2 * (8 * 4 + 2 * 4)
    assert d.busy_cycles["adc"] == 4 * 4 * 8 and a.busy_cycles["adc"] == 2 * 4 * 8
    assert (d.counts["accumulate"], a.counts["accumulate"]) == (12, 4)
    assert digital.total_cycles == 10 + 49 + 9 + 2 == 70
    assert analog.total_cycles == 10 + 49 + 3 + 2 == 64


def test_transfer_to_another_tile():
    """fc A (tile 0) -> fc B (tile 1): output 4, 1 hop + 2 link cycles, input write 4."""
    nb = Net((6,))
    a = nb.fc("x", 4)
    net = nb.network(nb.fc(a, 4))
    res = analytical(net, config())
    a_out = 6 + 49 + 9 + (2 + 2)  # output buffer: 2 writes + 2 reads for the flow
    arrival = a_out + 1 + 2 + 2 * 2
    b_end = arrival + 2 * 2 + (10 + 30 + 8 + 1) + 2 * 3 + 2
    assert res.layers[0].end_cycle == arrival == 75
    assert res.total_cycles == b_end == 136
    assert res.layers[0].counts["noc_bit_hop"] == 16
    assert res.layers[0].counts["input_buffer_write"] == 2
    assert res.layers[0].counts["output_buffer_read"] == 2
    assert res.layers[1].start_cycle == 75


def test_digital_layers_count_element_ops():
    """relu counts C per pixel on the activation unit; 2x2 maxpool counts C*4 on pooling."""
    nb = Net((1, 4, 4))
    c = nb.conv("x", 2, 1)
    r = nb.relu(c)
    net = nb.network(nb.maxpool(r, 2, 2))
    res = analytical(net, config())
    relu, pool = res.layers[1], res.layers[2]
    assert relu.counts["activation_op"] == 16 * 2
    assert pool.counts["pooling_op"] == 4 * 2 * 4
    assert relu.busy_cycles["activation"] == 16 * 1  # ceil(2/4) steps x 1 cycle per pixel
    assert pool.busy_cycles["pooling"] == 4 * 2  # ceil(8/4) steps


def test_need_conv_receptive_field():
    """3x3 pad 1 on 4x4: pixel (0,0) needs producer pixels up to (1,1), i.e. a prefix of 6."""
    nb = Net((1, 4, 4))
    net = nb.network(nb.conv("x", 1, 3, pad=1))
    layer = net.layers[0]
    expected = [6, 7, 8, 8, 10, 11, 12, 12, 14, 15, 16, 16, 16, 16, 16, 16]
    assert _need(layer, (1, 4, 4), "pixel").tolist() == expected
    assert _need(layer, (1, 4, 4), "layer").tolist() == [16] * 16


def test_need_pool_elementwise_and_all():
    """maxpool 2/2 needs its window's last pixel; relu the same pixel; flatten/fc everything."""
    nb = Net((1, 4, 4))
    p = nb.maxpool("x", 2, 2)
    r = nb.relu("x")
    f = nb.flatten("x")
    net = nb.network(p, r, f)
    pool, relu, flat = net.layers
    assert _need(pool, (1, 4, 4), "pixel").tolist() == [6, 8, 14, 16]
    assert _need(relu, (1, 4, 4), "pixel").tolist() == list(range(1, 17))
    assert _need(flat, (1, 4, 4), "pixel").tolist() == [16]


def test_layer_mode_waits_for_whole_producer():
    """In layer mode a conv starts only after its producer's last pixel arrived."""
    nb = Net((1, 4, 4))
    a = nb.conv("x", 2, 1)
    net = nb.network(nb.conv(a, 2, 3, pad=1))
    pixel = analytical(net, config())
    layer = analytical(net, config(pipeline__mode="layer"))
    assert layer.layers[1].start_cycle == layer.layers[0].end_cycle
    assert pixel.layers[1].start_cycle < pixel.layers[0].end_cycle
    assert pixel.total_cycles < layer.total_cycles


def test_unknown_op_is_a_timing_error():
    """An op without a timing rule names the layer and the known ops."""
    net = Network("t", {"x": (4,)}, ["y"], [Layer("odd", "einsum", ("x",), "y", ((4,),), (4,))])
    with pytest.raises(TimingError, match="layer odd: op 'einsum' has no timing rule"):
        build_plan(net, *mapped(net, config()))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30), st.integers(0, 9))
def test_flow_shop_closed_form_equals_recurrence(req, d):
    """end[p] = max(req[p], end[p-1]) + d, computed with np.maximum.accumulate."""
    req = np.array(req, np.int64)
    start, end = _flow_shop(req, d)
    prev = None
    for p, r in enumerate(req.tolist()):
        s = r if prev is None else max(r, prev)
        assert start[p] == s and end[p] == s + d
        prev = s + d
    periodic = _periodic(req, d)
    prev = None
    for p, r in enumerate(req.tolist()):
        s = r if prev is None else max(r, prev + d)
        assert periodic[p] == s
        prev = s
