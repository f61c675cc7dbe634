"""The pure-Python reference and the Cython engine agree exactly: every cycle, every count."""
from __future__ import annotations

import numpy as np
import pytest
from _timing_nets import Net, assert_same_counts, assert_same_timing, config, layer_tuple, mapped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reramsim.analytical import run_analytical
from reramsim.plan import build_plan
from reramsim.engine import run_plan
from reramsim.pyref import PyRefEngine, run_pyref

pytest.importorskip("reramsim._core._engine")


def with_index_data(mapping, seed: int):
    """Give every OU random index-buffer reads and gathered inputs (a pruned data path)."""
    rng = np.random.default_rng(seed)
    for lmap in mapping.layers.values():
        lmap.ou_index_reads = rng.integers(0, 3, lmap.n_ous).astype(np.int32)
        lmap.ou_gather_inputs = rng.integers(0, 4, lmap.n_ous).astype(np.int32)
    return mapping


def run_both(net, cfg, index_seed: int | None = None):
    """(pyref engine after its run, its result, cycle result, cycle component stats)."""
    mapping, placement = mapped(net, cfg)
    if index_seed is not None:
        with_index_data(mapping, index_seed)
    plan = build_plan(net, mapping, placement)
    ref = PyRefEngine(plan)
    ref_result = ref.run()
    cyc_result, comps = run_plan(plan)
    return ref, ref_result, cyc_result, comps


def assert_identical(net, cfg, index_seed: int | None = None):
    ref, a, b, comps = run_both(net, cfg, index_seed)
    assert a.total_cycles == b.total_cycles
    assert a.events_processed == b.events_processed
    assert [layer_tuple(x) for x in a.layers] == [layer_tuple(y) for y in b.layers]
    mine = ref.components()
    assert np.array_equal(mine["res_busy"], comps.resource_busy)
    assert np.array_equal(mine["res_stall"], comps.resource_stall)
    assert np.array_equal(mine["res_uses"], comps.resource_uses)
    assert np.array_equal(mine["xbar_read_cycles"], comps.crossbar_read_cycles)
    assert np.array_equal(mine["xbar_steps"], comps.crossbar_steps)
    assert np.array_equal(mine["xbar_adc_stall"], comps.crossbar_adc_stall)
    return a, b


def lenet_like() -> object:
    nb = Net((1, 12, 12))
    x = nb.maxpool(nb.relu(nb.conv("x", 4, 3)), 2, 2)
    x = nb.maxpool(nb.relu(nb.conv(x, 8, 3)), 2, 2)
    x = nb.relu(nb.fc(nb.flatten(x), 12))
    return nb.network(nb.fc(x, 5))


@pytest.mark.parametrize("base,extra", [
    (None, {}),
    (None, {"adc__shared_by_crossbars": 2, "buffers__shared_per_tile": True,
            "digital__shared_per_tile": True, "noc__shared_links": True}),
    (None, {"pipeline__mode": "layer", "noc__link_width_bits": 1, "noc__shared_links": True}),
    ("isaac", {"organization__tiles": 0}),
    ("isaac", {"organization__tiles": 0, "adc__shared_by_crossbars": 4,
               "organization__pes_per_tile": 1}),
    ("ou_16x16", {"organization__tiles": 0, "adc__shared_by_crossbars": 8}),
])
def test_tiny_nets_identical(base, extra):
    """LeNet-like net on private and shared hardware: pyref == cycle, stats per component too."""
    cfg = config(base, **extra)
    a, _ = assert_identical(lenet_like(), cfg)
    assert a.engine == "pyref" and a.events_processed > 0


def test_run_pyref_entry_point():
    """run_pyref builds its own plan and returns engine 'pyref'."""
    net = lenet_like()
    result = run_pyref(net, *mapped(net, config()))
    assert result.engine == "pyref"
    assert_same_timing(result, run_analytical(net, *mapped(net, config())))


@st.composite
def hardware(draw):
    """Random small hardware: crossbar/OU sizes, precisions, latencies, sharing, chips."""
    xr, xc = draw(st.sampled_from([4, 8, 16])), draw(st.sampled_from([4, 8, 16]))
    wbits = draw(st.sampled_from([1, 2, 4]))
    ibits = draw(st.integers(1, 4))
    signed = draw(st.sampled_from(["offset", "differential"]))
    return {
        "crossbar__rows": xr, "crossbar__cols": xc,
        "ou__rows": draw(st.integers(1, xr)), "ou__cols": draw(st.integers(1, xc)),
        "precision__weight_bits": wbits,
        "crossbar__cell_bits": draw(st.sampled_from([b for b in (1, 2) if b <= wbits])),
        "precision__input_bits": ibits, "dac__bits": draw(st.integers(1, ibits)),
        "precision__signed_weights": signed,
        "crossbar__subtract": draw(st.sampled_from(
            ["digital", "analog"] if signed == "differential" else ["digital"])),
        "crossbar__read_latency_ns": draw(st.integers(1, 20)),
        "adc__sample_rate_gsps": draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])),
        "adc__count": draw(st.integers(1, 2)),
        "adc__shared_by_crossbars": draw(st.integers(1, 3)),
        "organization__crossbars_per_pe": draw(st.integers(1, 4)),
        "organization__pes_per_tile": draw(st.integers(1, 3)),
        "buffers__shared_per_tile": draw(st.booleans()),
        "digital__shared_per_tile": draw(st.booleans()),
        "noc__shared_links": draw(st.booleans()),
        "noc__link_width_bits": draw(st.sampled_from([1, 8, 32])),
        "noc__hop_latency_ns": draw(st.integers(0, 3)),
        "buffers__input__access_ns": draw(st.integers(0, 3)),
        "pipeline__mode": draw(st.sampled_from(["pixel", "layer"])),
        # tiles per chip (0: one chip of every tile), the chip mesh and links, partial sums
        "organization__tiles": draw(st.sampled_from([0, 0, 1, 2, 3])),
        "organization__mesh_cols": draw(st.integers(0, 2)),
        "chip_link__mesh_cols": draw(st.integers(0, 2)),
        "chip_link__latency_ns": draw(st.integers(0, 30)),
        "chip_link__bandwidth_gb_per_s": draw(st.sampled_from([0.5, 1.0, 4.0])),
        "precision__partial_sum_bits": draw(st.integers(0, 12)),
    }


@st.composite
def networks(draw):
    """Random conv/pool/relu chains, sometimes with a residual add, ending in 1-2 fc layers."""
    c, h = draw(st.integers(1, 3)), draw(st.integers(3, 6))
    nb = Net((c, h, h), seed=draw(st.integers(0, 3)))
    x = "x"
    for _ in range(draw(st.integers(0, 3))):
        cin, hh, _w = nb.shapes[x]
        kind = draw(st.sampled_from(["conv", "conv", "relu", "pool", "res"]))
        if kind == "conv":
            k = draw(st.integers(1, min(3, hh)))
            x = nb.conv(x, draw(st.integers(1, 10)), k, stride=draw(st.integers(1, 2)),
                        pad=draw(st.integers(0, 1)))
        elif kind == "relu":
            x = nb.relu(x)
        elif kind == "pool" and hh >= 2:
            x = nb.maxpool(x, 2, 2)
        elif kind == "res":
            x = nb.add(nb.relu(nb.conv(x, cin, 3, pad=1)), x)
    x = nb.fc(nb.flatten(x), draw(st.integers(1, 12)))
    if draw(st.booleans()):
        x = nb.fc(nb.relu(x), draw(st.integers(1, 6)))
    return nb.network(x)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), hardware(), st.one_of(st.none(), st.integers(0, 9)))
def test_random_nets_identical(net, hw, index_seed):
    """Random nets on random hardware: pyref == cycle; counts == analytical; exact if private."""
    cfg = config(**hw)
    _, b = assert_identical(net, cfg, index_seed)
    mapping, placement = mapped(net, cfg)
    if index_seed is not None:
        with_index_data(mapping, index_seed)
    ana = run_analytical(net, mapping, placement)
    assert_same_counts(ana, b)
    assert b.total_cycles >= ana.total_cycles
    private = (hw["adc__shared_by_crossbars"] == 1 and not hw["buffers__shared_per_tile"]
               and not hw["digital__shared_per_tile"] and not hw["noc__shared_links"])
    if private:
        assert_same_timing(ana, b)
