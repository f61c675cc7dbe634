"""Dense mapping: crossbar counts by the shared formula, OU tiling, and the mapping validator."""
import numpy as np
import pytest

from reramsim.config import load_config
from reramsim.ir import WeightLayer
from reramsim.mapping import MappingError, dense_crossbar_count, get_mapper, map_network
from reramsim.mapping.base import LayerMapping


def conv(cin, cout, k=3, groups=1, hw=8, seed=0):
    w = np.random.default_rng(seed).standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    return WeightLayer("conv", "conv", ("x",), "y", ((cin, hw, hw),), (cout, hw, hw), {},
                       weight=w, groups=groups, kernel=(k, k), pads=(k // 2,) * 4)


def fc(cin, cout, seed=0):
    w = np.random.default_rng(seed).standard_normal((cout, cin)).astype(np.float32)
    return WeightLayer("fc", "fc", ("x",), "y", ((cin,),), (cout,), {}, weight=w)


@pytest.mark.parametrize("layer, overrides, expected", [
    # 3x3 conv 64->64 on ISAAC: R=576, C=64, 16-bit on 2-bit cells: 5 * ceil(512/128) = 20
    (conv(64, 64), [], 20),
    # same with differential pairs: x2
    (conv(64, 64), ["precision.signed_weights=differential"], 40),
    # fc 400->120, 8 bits on 1-bit cells, 128x128: ceil(400/128)=4 * ceil(960/128)=8 -> 32
    (fc(400, 120), ["precision.weight_bits=8", "crossbar.cell_bits=1"], 32),
    # slices straddle crossbars: 8-bit on 3-bit cells = 3 slices; C=50 -> 150 bit-lines -> 2
    (fc(100, 50), ["precision.weight_bits=8", "crossbar.cell_bits=3"], 2),
    # grouped conv maps each group: 4 groups of R=2*9=18, C=3 -> 4 * 1 * ceil(24/128) = 4
    (conv(8, 12, groups=4), [], 4),
    # depthwise 32 channels: 32 groups of R=9, C=1 -> 32 crossbars
    (conv(32, 32, groups=32), [], 32),
    # 32x32 crossbars: R=576 -> 18 row blocks, 64*8 = 512 bit-lines -> 16 -> 288
    (conv(64, 64), ["crossbar.rows=32", "crossbar.cols=32", "ou.rows=32", "ou.cols=32"], 288),
])
def test_crossbar_count_matches_the_formula(layer, overrides, expected):
    """The dense mapper's crossbars = groups*ceil(R/xr)*ceil(C*slices/xc)*polarities, by hand."""
    cfg = load_config("isaac", overrides)
    mapping = get_mapper("dense")(layer, cfg, {})
    assert mapping.n_crossbars == expected
    assert dense_crossbar_count(layer.rows, layer.cols, layer.groups, cfg) == expected
    mapping.validate(layer, cfg)


def test_ou_tiling_hand_worked():
    """A 20x5 fc with 4 slices on a 16x16 crossbar, OU 8x8: per-crossbar OUs and sizes by hand."""
    cfg = load_config("isaac", ["precision.weight_bits=8", "crossbar.cell_bits=2",
                                "crossbar.rows=16", "crossbar.cols=16", "ou.rows=8", "ou.cols=8"])
    layer = fc(20, 5)
    m = get_mapper("dense")(layer, cfg, {})
    # row blocks: 16 + 4; bit-lines: 20 -> 16 + 4. Crossbars: (16r,16b) (16r,4b) (4r,16b) (4r,4b)
    assert m.n_crossbars == 4
    assert list(m.ous_per_crossbar) == [4, 2, 2, 1]
    assert list(m.ou_n_rows) == [8, 8, 8, 8, 8, 8, 4, 4, 4]
    assert list(m.ou_n_cols) == [8, 8, 8, 8, 4, 4, 8, 8, 4]
    # the last OU holds rows 16..19 and bit-lines 16..19 = column 4, slices 0..3
    last = slice(m.ou_row_ptr[-2], m.ou_row_ptr[-1])
    assert list(m.ou_rows[last]) == [16, 17, 18, 19]
    cols = slice(m.ou_col_ptr[-2], m.ou_col_ptr[-1])
    assert list(m.ou_cols[cols]) == [4, 4, 4, 4] and list(m.ou_slices[cols]) == [0, 1, 2, 3]
    assert m.cells_used == 20 * 5 * 4
    m.validate(layer, cfg)


def test_zoo_naive_counts_from_the_literature():
    """One bit-slice at 128x128 gives the AlexNet per-layer counts of docs/sources.md."""
    cfg = load_config("isaac", ["precision.weight_bits=2"])  # 2-bit weights on 2-bit cells: 1 slice
    shapes = [(3, 64, 3), (64, 192, 3), (192, 384, 3), (384, 256, 3), (256, 256, 3)]
    counts = [get_mapper("dense")(conv(i, o, k), cfg, {}).n_crossbars for i, o, k in shapes]
    counts += [get_mapper("dense")(fc(i, o), cfg, {}).n_crossbars for i, o in [(1024, 512), (512, 10)]]
    assert counts == [1, 10, 42, 54, 36, 32, 4] and sum(counts) == 179


def corrupt(mapping: LayerMapping, **arrays) -> LayerMapping:
    fields = {k: getattr(mapping, k) for k in LayerMapping.__dataclass_fields__}
    fields.update(arrays)
    return LayerMapping(**fields)


def test_validator_catches_broken_mappings():
    """Overlapping cells, unmapped weights and oversize OUs are refused with the layer named."""
    cfg = load_config("isaac", ["ou.rows=64", "ou.cols=64"])
    layer = conv(16, 16)
    good = get_mapper("dense")(layer, cfg, {})
    bl = good.ou_bl.copy()
    bl[0] = bl[1]
    with pytest.raises(MappingError, match=r"layer conv \(dense\): two OUs use the same physical cell"):
        corrupt(good, ou_bl=bl).validate(layer, cfg)
    rows = good.ou_rows.copy()
    rows[0] = rows[1]
    with pytest.raises(MappingError, match="stored in two cells"):
        corrupt(good, ou_rows=rows).validate(layer, cfg)
    with pytest.raises(MappingError, match=r"OU 0 is 128x128, larger than the 64x64 OU"):
        get_mapper("dense")(layer, load_config("isaac"), {}).validate(layer, cfg)
    dropped = corrupt(good, ou_xbar=good.ou_xbar[:-1], ou_row_ptr=good.ou_row_ptr[:-1],
                      ou_col_ptr=good.ou_col_ptr[:-1])
    with pytest.raises(MappingError, match="is not mapped"):
        dropped.validate(layer, cfg)


def test_unknown_scheme_lists_registered():
    """Asking for an unregistered scheme names the registered ones."""
    with pytest.raises(MappingError, match=r"unknown mapping scheme 'nope'; registered: .*dense"):
        get_mapper("nope")


def test_map_network_maps_every_weight_layer():
    """map_network returns one mapping per weight layer, totals add up."""
    from reramsim.ir import Layer, Network
    a, b = conv(3, 8), fc(8 * 8 * 8, 10)
    a.name, b.name = "a", "b"
    flat = Layer("flat", "flatten", ("y",), "f", ((8, 8, 8),), (512,))
    b.inputs, a.output = ("f",), "y"
    net = Network("n", {"x": (3, 8, 8)}, ["out"], [a, flat, b])
    cfg = load_config("isaac")
    nm = map_network(net, cfg)
    assert set(nm.layers) == {"a", "b"}
    assert nm.n_crossbars == sum(dense_crossbar_count(x.rows, x.cols, 1, cfg) for x in (a, b))
