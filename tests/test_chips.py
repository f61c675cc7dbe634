"""Partial sums between tiles and transfers between chips, worked by hand on TINY hardware.

TINY (``_timing_nets``): 8x8 crossbars, 2-bit weights in 2-bit cells (one bit-line per
output), 4-bit inputs, 2 crossbars per PE, link 8 bits per cycle, 1 cycle per hop, every
resource private. A partial sum is ``4 + 2 + ceil(log2 8) = 9`` bits.
"""
from __future__ import annotations

import pytest
from _timing_nets import Net, assert_same_timing, config

from reramsim.analytical import analytical_from_plan
from reramsim.energy import compute_energy
from reramsim.engine import run_plan
from reramsim.mapping import MappingError, map_network
from reramsim.placement import place
from reramsim.plan import build_plan
from reramsim.pyref import PyRefEngine
from reramsim.report import build_report, format_table
from reramsim.simulator import simulate

pytest.importorskip("reramsim._core._engine")


def one_fc(rows: int):
    """An fc layer ``rows -> 8`` fed by the graph input: ceil(rows / 8) crossbars of 8 outputs."""
    nb = Net((rows,))
    return nb.network(nb.fc("x", 8))


def run_all(net, cfg):
    """(plan, analytical, cycle, pyref) of one run; cycle and pyref must agree exactly."""
    mapping = map_network(net, cfg)
    plan = build_plan(net, mapping, place(net, mapping))
    cycle, ref = run_plan(plan)[0], PyRefEngine(plan).run()
    assert_same_timing(cycle, ref)
    return plan, analytical_from_plan(plan), cycle, ref


def test_partial_sums_cross_one_hop_to_the_home_tile():
    """fc 24 -> 8: 3 crossbars, 2 on tile 0 (home), 1 on tile 1. The remote crossbar sends its
    8 partial sums of 9 bits (72 bits) one hop per pixel: 72 bit-hops, and the accumulator
    starts 1 (hop) + 72 / 8 (serialisation) = 10 cycles later than with all 3 on one tile."""
    net = one_fc(24)
    plan, ana, cycle, ref = run_all(net, config())
    _, alone, *_ = run_all(net, config(organization__pes_per_tile=2))
    (flow,) = plan.flows
    assert (flow.psum_group, flow.bits, flow.hops, flow.link_serial) == (1, 72, 1, [9])
    assert [(g.tile, g.hi - g.lo, g.flow) for g in plan.groups] == [(0, 2, -1), (1, 1, 0)]
    for res in (ana, cycle, ref):
        assert res.total_cycles == alone.total_cycles + 1 + 9
        assert res.layers[0].counts["noc_bit_hop"] == 72
        assert res.layers[0].counts == {**alone.layers[0].counts, "noc_bit_hop": 72}
        assert res.layers[0].busy_cycles["noc"] == 9
    cfg = config()
    noc = compute_energy(cycle, cfg).components()["noc"]
    assert noc == pytest.approx(72 * cfg.noc.energy_pj_per_bit_hop)


def test_partial_sum_width_is_a_config_value():
    """precision.partial_sum_bits: 12 makes the remote crossbar's 8 sums 96 bits, 12 cycles."""
    net = one_fc(24)
    _, ana, cycle, _ = run_all(net, config(precision__partial_sum_bits=12))
    _, alone, *_ = run_all(net, config(organization__pes_per_tile=2))
    assert cycle.total_cycles == ana.total_cycles == alone.total_cycles + 1 + 12
    assert cycle.layers[0].counts["noc_bit_hop"] == 96


def test_partial_sums_contend_for_a_shared_link():
    """fc 40 -> 8 on a 3-wide mesh: tiles 0 (home, 2 crossbars), 1 (2 crossbars: 144 bits,
    18 cycles) and 2 (1 crossbar: 72 bits, 9 cycles, 2 hops). All crossbars end at E.

    Private links: tile 1's sums arrive at E + 1 + 18, tile 2's at E + 1 + 1 + 9, so the
    accumulator starts at E + 19. Shared links: tile 1 holds link (1, -x) over [E, E + 18);
    tile 2's head reaches it at E + 1 and waits 17 cycles, arriving at E + 18 + 1 + 9 =
    E + 28: 9 cycles later, 17 stall cycles on the NoC. The closed form ignores sharing."""
    net = one_fc(40)
    base = {"organization__mesh_cols": 3}
    _, alone, *_ = run_all(net, config(organization__pes_per_tile=3, **base))
    plan, ana, cycle, ref = run_all(net, config(**base))
    assert [(f.bits, f.hops) for f in plan.flows] == [(144, 1), (72, 2)]
    for res in (ana, cycle, ref):
        assert res.total_cycles == alone.total_cycles + 19
        assert res.layers[0].counts["noc_bit_hop"] == 144 + 2 * 72
    _, ana, cycle, ref = run_all(net, config(noc__shared_links=True, **base))
    assert ana.total_cycles == alone.total_cycles + 19
    for res in (cycle, ref):
        assert res.total_cycles == alone.total_cycles + 28
        assert res.layers[0].stall_cycles["noc"] == 17


#: Two chips of one tile each, joined by a link of 20 ns latency, 1 GB/s (8 bits per ns) and
#: 0.5 pJ per bit; each chip's 4 links leak 1 mW each while the model spans both chips.
TWO_CHIPS = {"organization__tiles": 1, "chip_link__latency_ns": 20,
             "chip_link__bandwidth_gb_per_s": 1.0, "chip_link__energy_pj_per_bit": 0.5,
             "chip_link__leakage_mw": 1.0, "chip_link__links_per_chip": 4}


def two_layers():
    """fc 16 -> 8 (2 crossbars, 1 PE, tile 0), relu (tile 0), fc 8 -> 8 (1 crossbar, tile 1)."""
    nb = Net((16,))
    return nb.network(nb.fc(nb.relu(nb.fc("x", 8)), 8))


def test_a_transfer_between_chips_pays_the_chip_link():
    """relu's 8 values of 4 bits (32 bits) go from chip 0 to chip 1 over one chip link:
    4 cycles of serialisation (32 bits at 8 bits per ns) after a 20-cycle head latency,
    instead of one mesh hop (1 + 32 / 8 cycles) between two tiles of one chip: 19 cycles
    later; 32 chip-link bits (16 pJ) instead of 32 NoC bit-hops."""
    net = two_layers()
    plan, ana, cycle, ref = run_all(net, config(**TWO_CHIPS))
    _, one_chip, *_ = run_all(net, config(**{**TWO_CHIPS, "organization__tiles": 2}))
    relu = next(f for f in plan.flows if f.chip_hops)
    assert (relu.bits, relu.hops, relu.chip_hops, relu.link_serial, relu.link_latency) == (
        32, 0, 1, [4], [20])
    for res in (ana, cycle, ref):
        assert res.total_cycles == one_chip.total_cycles + 19
        counts = res.layers[1].counts
        assert (counts["chip_link_bit"], counts["noc_bit_hop"]) == (32, 0)
        assert res.layers[1].busy_cycles["chip_link"] == 4
    assert one_chip.layers[1].counts["noc_bit_hop"] == 32
    cfg = config(**TWO_CHIPS)
    energy = compute_energy(cycle, cfg, place(net, map_network(net, cfg)))
    assert energy.components()["chip_link"] == pytest.approx(32 * 0.5)
    leak = sum(t.energy_pj for t in energy.terms() if t.source == "leak:chip_link")
    assert leak == pytest.approx(2 * 4 * 1.0 * cycle.total_cycles * cfg.cycle_ns)
    # Chip 0 holds fc0 and relu (half of its links each), chip 1 fc1 (all of its links).
    fc1 = [t for t in energy.layer_terms[cycle.layers[2].name] if t.source == "leak:chip_link"]
    assert fc1[0].count == pytest.approx(4)


def test_chip_links_contend():
    """Chips of one tile of 2 PEs: fc_a and fc_b (16 -> 8, one PE each) fill chip 0, their
    consumers fc_c and fc_d chip 1. Both send 32 bits at the same cycle over the one link
    chip 0 -> chip 1: shared, fc_b's pixel waits for fc_a's 4 cycles (4 stall cycles, fc_d
    and the run end 4 cycles later); private links or the closed form: no wait."""
    nb = Net((16,))
    a, b = nb.fc("x", 8), nb.fc("x", 8)
    net = nb.network(nb.fc(a, 8), nb.fc(b, 8))
    hw = {**TWO_CHIPS, "organization__pes_per_tile": 2}
    plan, _, private, _ = run_all(net, config(**hw))
    assert [(f.chip_hops, f.bits) for f in plan.flows] == [(1, 32), (1, 32)]
    _, ana, cycle, ref = run_all(net, config(**hw, noc__shared_links=True))
    assert ana.total_cycles == private.total_cycles
    for res in (cycle, ref):
        assert res.total_cycles == private.total_cycles + 4
        assert [layer.stall_cycles.get("chip_link") for layer in res.layers[:2]] == [0, 4]


def test_chips_auto_and_a_fixed_count():
    """chips: auto takes the 2 chips the model needs; chips: 2 too; chips: 1 refuses it in
    one line that says how many it needs; the report's accelerator gives the chips."""
    net = two_layers()
    sim = simulate(net, config(**TWO_CHIPS), engine="analytical")
    assert (sim.placement.n_chips, sim.placement.chips_occupied) == (2, 2)
    report = build_report(sim)
    assert (report["accelerator"]["chips"], report["accelerator"]["tiles"]) == (2, 2)
    assert "accelerator: 2 chips, 2 tiles" in format_table(report)
    assert report["energy_breakdown"]["chip_link"]["energy_pj"] == pytest.approx(32 * 0.5)
    assert simulate(net, config(**TWO_CHIPS, organization__chips=2)).placement.n_chips == 2
    four = simulate(net, config(**TWO_CHIPS, organization__chips=4), engine="analytical")
    assert build_report(four)["accelerator"]["chips"] == 4
    with pytest.raises(MappingError, match=r"needs 2 chips of 1 tiles .* has organization.chips:"
                                           r" 1; set organization.chips: auto") as err:
        simulate(net, config(**TWO_CHIPS, organization__chips=1))
    assert "\n" not in str(err.value)


def test_a_layer_that_fits_a_chip_starts_a_new_one_rather_than_spanning_two():
    """Chips of 2 tiles of one crossbar: fc 8 -> 8 (1 crossbar) takes tile 0; fc 8 -> 16
    (2 crossbars) would span tiles 1 and 2 across the chip boundary, so it starts chip 1."""
    nb = Net((8,))
    net = nb.network(nb.fc(nb.fc("x", 8), 16))
    cfg = config(organization__tiles=2, organization__crossbars_per_pe=1,
                 organization__pes_per_tile=1)
    p = place(net, map_network(net, cfg))
    assert [sorted(set(t.tolist())) for t in p.xbar_tile.values()] == [[0], [2, 3]]
    assert (p.n_tiles, p.n_chips) == (4, 2)
