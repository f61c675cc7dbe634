"""Area model: component counts from the organisation x per-component areas from the config."""
import numpy as np
import pytest

from reramsim.area import AREA_COMPONENTS, compute_area
from reramsim.config import load_config
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import map_network
from reramsim.placement import place

#: A 1-tile accelerator: 2 PEs x 4 crossbars of 16x16, 2 ADCs per group of 2 crossbars.
ONE_TILE = [
    "organization.tiles=1", "organization.pes_per_tile=2", "organization.crossbars_per_pe=4",
    "crossbar.rows=16", "crossbar.cols=16", "ou.rows=16", "ou.cols=16", "crossbar.area_um2=10",
    "dac.area_um2=0.5", "sample_hold.area_um2=0.25", "adc.area_um2=100", "adc.count=2",
    "adc.shared_by_crossbars=2", "shift_add.area_um2=3", "buffers.input.area_um2=1000",
    "buffers.output.area_um2=500", "digital.accumulator.area_um2=7",
    "digital.activation.area_um2=7", "digital.pooling.area_um2=7", "digital.eltwise.area_um2=7",
    "digital.other.area_um2=7", "noc.router_area_um2=200", "index_buffer.area_um2_per_kb=1500",
    "input_gather.area_um2_per_input=2", "shift_add.per_pe=3", "pe.input_register.area_um2=11",
    "pe.output_register.area_um2=13", "bus.area_um2=300", "noc.tiles_per_router=2",
    "digital.activation.per_tile=2", "chip_link.area_um2=5000",
    "chip_link.links_per_chip=4",
]


def small_net() -> Network:
    """A 5x5 conv 1->6 (25x6) and a ReLU; at 16-bit weights, 2-bit cells: 2 x 3 = 6 crossbars."""
    w = np.ones((6, 1, 5, 5), np.float32)
    conv = WeightLayer("conv", "conv", ("x",), "c", ((1, 8, 8),), (6, 4, 4),
                       weight=w, kernel=(5, 5))
    relu = Layer("relu", "relu", ("c",), "r", ((6, 4, 4),), (6, 4, 4))
    return Network("small", {"x": (1, 8, 8)}, ["r"], [conv, relu])


def area_of(overrides, prune=None):
    cfg = load_config(None, overrides)
    net = small_net()
    mapping = map_network(net, cfg)
    if prune:
        prune(mapping.layers["conv"])
    placement = place(net, mapping)
    return compute_area(cfg, placement, mapping, {layer.name: layer.op for layer in net.layers})


def test_one_tile_area_by_hand():
    """A 1-tile accelerator's area per component equals the hand count x config area."""
    area = area_of(ONE_TILE)
    by_hand = {
        "crossbar": 8 * 10,  # 1 tile x 2 PEs x 4 crossbars
        "dac": 8 * 16 * 0.5,  # one per word-line
        "sample_hold": 8 * 16 * 0.25,  # one per bit-line
        "adc": 2 * 2 * 2 * 100,  # 2 PEs x ceil(4/2) groups x 2 ADCs
        "shift_add": 2 * 3 * 3,  # 2 PEs x 3 per PE
        "input_register": 2 * 11,  # one per PE
        "output_register": 2 * 13,
        "bus": 300,  # one per tile
        "index_buffer": 0.0,
        "input_gather": 0.0,
        "accumulator": 7,
        "buffers": 1000 + 500,
        "noc": 200 / 2,  # the tile's half of a router shared by 2 tiles
        "chip_link": 4 * 5000,  # the chip's 4 links
        "digital": 5 * 7,  # 2 activation units, 1 each of the other three
    }
    assert set(area.components()) == set(AREA_COMPONENTS)
    for component, um2 in by_hand.items():
        assert area.components()[component] == pytest.approx(um2), component
    assert area.total_um2 == pytest.approx(sum(by_hand.values()))
    assert (area.n_tiles, area.n_crossbars, area.pruned_datapath_pct) == (1, 8, 0.0)


def test_area_counts_every_chip_and_its_links():
    """Two chips of one tile each: twice the one-chip area; a fixed chip count gives that many
    chips even where the model needs fewer; tiles: 0 is the model's own tiles, no chip links."""
    two = area_of([*ONE_TILE, "organization.crossbars_per_pe=2"])  # 6 crossbars: 3 PEs, 2 chips
    assert (two.n_chips, two.n_tiles, two.n_crossbars) == (2, 2, 8)
    assert two.components()["chip_link"] == pytest.approx(2 * 4 * 5000)
    three = area_of([*ONE_TILE, "organization.chips=3"])
    assert (three.n_chips, three.n_tiles) == (3, 3)
    assert three.total_um2 == pytest.approx(3 * area_of(ONE_TILE).total_um2)
    own = area_of([*ONE_TILE, "organization.tiles=0"])
    assert own.components()["chip_link"] == 0.0 and own.n_chips == 1


def test_tiles_zero_means_the_tiles_the_model_occupies():
    """With organization.tiles=0 the accelerator is the model's tiles; else the config's."""
    cfg_fixed = [o for o in ONE_TILE if not o.startswith("organization.tiles")]
    occupied = area_of([*cfg_fixed, "organization.tiles=0", "organization.pes_per_tile=1"])
    assert (occupied.n_tiles, occupied.tiles_occupied) == (2, 2)  # 6 crossbars, 4 per tile
    chip = area_of([*cfg_fixed, "organization.tiles=5", "organization.pes_per_tile=1"])
    assert (chip.n_tiles, chip.tiles_occupied) == (5, 2)
    assert chip.components()["noc"] == pytest.approx(5 * 200 / 2)


def test_pruned_datapath_area_and_overhead():
    """Index buffer = KiB x area/KiB; gathers = sum of OU rows x fan-in x area/input; overhead in %."""
    def prune(m):
        m.index_storage_bits = 2 * 8192  # 2 KiB
        m.xbar_gather_fanin = np.full(m.n_crossbars, 4, np.int32)

    area = area_of([*ONE_TILE, "ou.rows=8"], prune)
    index, gather = 2 * 1500, 6 * 8 * 4 * 2  # 6 crossbars of the layer, 8 OU rows, fan-in 4
    assert area.components()["index_buffer"] == pytest.approx(index)
    assert area.components()["input_gather"] == pytest.approx(gather)
    total = area_of(ONE_TILE).total_um2 + index + gather
    assert area.total_um2 == pytest.approx(total)
    assert area.pruned_datapath_pct == pytest.approx(100 * (index + gather) / total)


def test_private_digital_units_count_one_per_using_layer():
    """With shared_per_tile=false, each layer gets its own unit of the kind it runs on."""
    area = area_of([*ONE_TILE, "digital.shared_per_tile=false"])
    counts = {t.config_key: t.count for t in area.terms if t.config_key.startswith("digital.")}
    assert counts == {"digital.accumulator.area_um2": 1, "digital.activation.area_um2": 1,
                      "digital.pooling.area_um2": 0, "digital.eltwise.area_um2": 0,
                      "digital.other.area_um2": 0}


def test_isaac_chip_counts():
    """ISAAC: 168 tiles x 12 IMAs x 8 crossbars = 16,128 crossbars and 16,128 ADCs."""
    cfg, net = load_config("isaac"), small_net()
    isaac = compute_area(cfg, place(net, map_network(net, cfg)))
    assert isaac.n_crossbars == 168 * 12 * 8
    adcs = [t for t in isaac.terms if t.component == "adc"][0]
    assert (adcs.count, adcs.per_unit_um2) == (16128, 1200.0)
