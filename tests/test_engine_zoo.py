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
