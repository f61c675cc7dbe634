"""Whole zoo models: the cycle engine against the analytical model, pipelined and not."""
import pytest

from reramsim.config import load_config
from reramsim.onnx_import import load_onnx
from reramsim.simulator import simulate

#: Every shared resource made private: the analytical model's no-contention assumption holds.
PRIVATE = ["adc.shared_by_crossbars=1", "buffers.shared_per_tile=false",
           "digital.shared_per_tile=false", "noc.shared_links=false", "organization.tiles=0"]


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
@pytest.mark.parametrize("mode", ["pixel", "layer"])
def test_zoo_cycle_equals_analytical_without_contention(zoo_onnx, name, mode):
    """With private resources the cycle engine equals the closed form on whole zoo models."""
    net = load_onnx(zoo_onnx[name])
    cfg = load_config("isaac", [*PRIVATE, f"pipeline.mode={mode}"])
    cycle = simulate(net, cfg, engine="cycle").result
    closed = simulate(net, cfg, engine="analytical").result
    assert cycle.total_cycles == closed.total_cycles
    assert cycle.totals() == closed.totals()
    for a, b in zip(cycle.layers, closed.layers):
        assert (a.name, a.start_cycle, a.end_cycle) == (b.name, b.start_cycle, b.end_cycle)


@pytest.mark.parametrize("name", ["lenet", "plain20"])
def test_contention_only_slows_the_cycle_engine(zoo_onnx, name):
    """Shared ADCs and tile resources make the cycle engine slower, never faster, than the estimate."""
    net = load_onnx(zoo_onnx[name])
    cfg = load_config("isaac", ["adc.shared_by_crossbars=4", "organization.tiles=0"])
    cycle = simulate(net, cfg, engine="cycle").result
    closed = simulate(net, cfg, engine="analytical").result
    assert cycle.total_cycles > closed.total_cycles
    assert sum(sum(layer.stall_cycles.values()) for layer in cycle.layers) > 0


@pytest.mark.parametrize("name", ["alexnet", "resnet20"])
def test_zoo_on_several_chips_cycle_equals_analytical(zoo_onnx, name):
    """Chips of 4 tiles: the model spans several chips (partial sums and layer outputs cross
    the mesh and the chip links); with private resources the cycle engine equals the closed
    form, and the chip-link traffic is there."""
    net = load_onnx(zoo_onnx[name])
    cfg = load_config("isaac", [*PRIVATE, "organization.tiles=4", "organization.pes_per_tile=2"])
    sim = simulate(net, cfg, engine="cycle")
    closed = simulate(net, cfg, engine="analytical").result
    assert sim.placement.chips_occupied > 1
    assert sim.result.totals()["chip_link_bit"] > 0 and sim.result.totals()["noc_bit_hop"] > 0
    assert sim.result.total_cycles == closed.total_cycles
    assert sim.result.totals() == closed.totals()
    for a, b in zip(sim.result.layers, closed.layers):
        assert (a.name, a.start_cycle, a.end_cycle) == (b.name, b.start_cycle, b.end_cycle)


def test_zoo_on_several_chips_pyref_equals_cycle(zoo_onnx):
    """LeNet-5 on chips of 2 tiles of 1 PE, shared links (contention on mesh and chip links):
    the pure-Python reference equals the Cython engine cycle for cycle."""
    from reramsim.pyref import PyRefEngine

    net = load_onnx(zoo_onnx["lenet"])
    cfg = load_config("isaac", ["organization.tiles=2", "organization.pes_per_tile=1"])
    sim = simulate(net, cfg, engine="cycle")
    assert sim.placement.chips_occupied > 1
    assert sum(layer.stall_cycles.get("chip_link", 0) for layer in sim.result.layers) > 0
    ref = PyRefEngine(sim.plan).run()
    assert ref.total_cycles == sim.result.total_cycles
    for a, b in zip(ref.layers, sim.result.layers):
        assert (a.start_cycle, a.end_cycle, a.counts, a.stall_cycles) == (
            b.start_cycle, b.end_cycle, b.counts, b.stall_cycles)
