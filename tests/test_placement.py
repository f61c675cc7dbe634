"""Placement of crossbars on PEs and tiles, ADC groups and mesh hops."""
import numpy as np
import pytest

from reramsim.config import load_config
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import MappingError, map_network
from reramsim.placement import place


def chain(n_layers: int, cin: int, cout: int) -> Network:
    layers, src, n_in = [], "x", cin
    for i in range(n_layers):
        w = np.ones((cout, cin), np.float32)
        layers.append(WeightLayer(f"fc{i}", "fc", (src,), f"y{i}", ((cin,),), (cout,), weight=w))
        layers.append(Layer(f"relu{i}", "relu", (f"y{i}",), f"r{i}", ((cout,),), (cout,)))
        src, cin = f"r{i}", cout
    return Network("chain", {"x": (n_in,)}, [src], layers)


def test_layers_start_on_fresh_pes_and_fill_tiles():
    """Each layer starts a new PE; PEs fill tiles in order; digital ops follow their producer."""
    # fc 256->256 at 16 bit / 2 bit cells: 2 row blocks x 16 bit-line blocks = 32 crossbars = 4 PEs
    cfg = load_config("isaac", ["organization.pes_per_tile=6", "organization.tiles=0"])
    net = chain(3, 256, 256)
    p = place(net, map_network(net, cfg))
    assert list(np.unique(p.xbar_pe["fc0"])) == list(range(4))
    assert list(np.unique(p.xbar_pe["fc1"])) == list(range(4, 8))
    assert p.layer_tile["fc0"] == 0 and p.layer_tile["fc1"] == 0 and p.layer_tile["fc2"] == 1
    assert list(np.unique(p.xbar_tile["fc1"])) == [0, 1]
    assert p.layer_tile["relu2"] == 1
    assert p.n_pes == 12 and p.n_tiles == 2


def test_adc_groups_inside_a_pe():
    """With shared_by_crossbars=4, crossbars 0-3 and 4-7 of a PE use two ADC groups."""
    cfg = load_config("isaac", ["adc.shared_by_crossbars=4", "organization.tiles=0"])
    net = chain(1, 256, 256)
    p = place(net, map_network(net, cfg))
    assert list(p.xbar_adc_group["fc0"][:10]) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert p.n_adc_groups == 8


def test_mesh_hops():
    """Tiles sit row-major on a mesh; hops are Manhattan distances."""
    cfg = load_config("isaac", ["organization.tiles=9"])
    net = chain(1, 16, 16)
    p = place(net, map_network(net, cfg))
    assert p.mesh_cols == 3
    assert p.hops(0, 8) == 4 and p.hops(4, 4) == 0 and p.hops(2, 6) == 4


def test_too_many_chips_is_a_clear_error():
    """A model larger than a fixed number of chips says how many chips it needs."""
    cfg = load_config("isaac", ["organization.tiles=1", "organization.pes_per_tile=2",
                                "organization.chips=3"])
    net = chain(2, 256, 256)
    with pytest.raises(MappingError, match=r"chain: needs 4 chips of 1 tiles \(4 tiles, 64 "
                                           r"crossbars.*organization.chips: 3; set "
                                           r"organization.chips: auto"):
        place(net, map_network(net, cfg))


def test_chips_auto_places_on_as_many_chips_as_needed():
    """chips: auto gives the model every chip it needs; tile t is on chip t // tiles."""
    cfg = load_config("isaac", ["organization.tiles=1", "organization.pes_per_tile=2"])
    net = chain(2, 256, 256)
    p = place(net, map_network(net, cfg))
    assert (p.n_tiles, p.n_chips, p.chips_occupied, p.chip_mesh_cols) == (4, 4, 4, 2)
    assert p.chip_of(3) == 3 and p.chip_hops(0, 3) == 2 and p.hops(0, 3) == 0
