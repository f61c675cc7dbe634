"""The hardware YAML schema and loader: values, inheritance, overrides and error messages."""
from pathlib import Path

import pytest

from reramsim.config import Config, ConfigError, load_config
from reramsim.energy import config_value

SHIPPED = ("isaac", "autoprune_128x128_ou32", "ou_16x16", "mnsim")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_validate(name):
    """Every shipped config loads and validates."""
    cfg = load_config(name)
    assert isinstance(cfg, Config) and cfg.name == name


def test_isaac_numbers_come_from_the_paper():
    """isaac.yaml carries ISAAC's organisation and component figures."""
    cfg = load_config("isaac")
    assert (cfg.crossbar.rows, cfg.crossbar.cols, cfg.crossbar.cell_bits) == (128, 128, 2)
    assert (cfg.precision.weight_bits, cfg.precision.input_bits, cfg.dac.bits) == (16, 16, 1)
    # ISAAC's 16 mW for 8 ADCs at its 1.28 GS/s; 4 mW for 1024 DACs per 100 ns step
    assert (cfg.adc.bits, cfg.adc.energy_pj, cfg.adc.area_um2) == (8, 2.0 / 1.28, 1200)
    assert (config_value(cfg, "adc.energy_pj"), config_value(cfg, "adc.area_um2")) == (
        2.0 / 1.28, 1200)
    assert cfg.adc.sample_rate_gsps == 1.28 and cfg.dac.energy_pj == 4.0 * 100 / 1024
    assert (config_value(cfg, "buffers.input.energy_pj"),
            config_value(cfg, "buffers.input.area_um2")) == (20.45, 83000)
    assert cfg.crossbar.read_latency_ns == 100
    assert (cfg.shift_add.per_pe, cfg.pe.input_register.area_um2, cfg.bus.area_um2) == (
        4, 2100, 90000)
    assert (cfg.noc.router_area_um2, cfg.noc.tiles_per_router) == (151000, 4)
    assert (cfg.organization.crossbars_per_pe, cfg.organization.pes_per_tile,
            cfg.organization.tiles) == (8, 12, 168)


def test_every_paper_number_has_a_comment(hw_dir):
    """Each value line of a shipped config says where its number comes from."""
    for path in hw_dir.glob("*.yaml"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            key, _, value = line.partition(":")
            if value.strip() and not line.lstrip().startswith("#") and key.strip() not in ("name", "base"):
                assert "#" in line, f"{path.name}:{n}: value without a source comment"


def test_autoprune_config_matches_the_evaluation_setting():
    """The AUTO-PRUNE config is 128x128, 1 bit per cell, OU 32x32, inherited from ISAAC."""
    cfg = load_config("autoprune_128x128_ou32")
    assert (cfg.crossbar.rows, cfg.crossbar.cols, cfg.crossbar.cell_bits) == (128, 128, 1)
    assert (cfg.ou.rows, cfg.ou.cols) == (32, 32)
    assert cfg.dac.energy_pj == 0.390625  # inherited from isaac.yaml


def test_derived_quantities():
    """slices = ceil(weight_bits/cell_bits); differential doubles; steps = ceil(in_bits/dac_bits)."""
    cfg = load_config(None, ["precision.weight_bits=8", "crossbar.cell_bits=3",
                             "precision.signed_weights=differential", "dac.bits=3"])
    assert (cfg.slices, cfg.polarities, cfg.input_steps) == (3, 2, 6)
    assert cfg.cycles(100.0) == 100 and cfg.cycles(0.5) == 1 and cfg.cycles(0) == 0


def test_base_inheritance_and_override_order(tmp_path):
    """A child overrides its base key by key; --set overrides both."""
    write(tmp_path, "parent.yaml", "name: parent\nadc:\n  bits: 7\n  count: 2\n")
    child = write(tmp_path, "child.yaml", "base: parent.yaml\nname: child\nadc:\n  bits: 5\n")
    cfg = load_config(child)
    assert (cfg.name, cfg.adc.bits, cfg.adc.count) == ("child", 5, 2)
    cfg = load_config(child, ["adc.count=4", "noc.shared_links=false"])
    assert (cfg.adc.count, cfg.noc.shared_links) == (4, False)


def test_unknown_key_names_file_line_path_and_suggestion(tmp_path):
    """An unknown key reports file:line, the key path, the closest key and the allowed ones."""
    path = write(tmp_path, "bad.yaml", "name: x\nadc:\n  bits: 6\n  bitz: 4\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:4: adc\.bitz: unknown key; did you mean "
                                          r"'bits'\? allowed: bits, energy_pj"):
        load_config(path)


def test_wrong_type_and_range(tmp_path):
    """Type and range errors name the line, the path and the expected values."""
    path = write(tmp_path, "t.yaml", "crossbar:\n  rows: many\n")
    with pytest.raises(ConfigError, match=r"t\.yaml:2: crossbar\.rows: expected an integer in "
                                          r"\[1, 4096\], got 'many'"):
        load_config(path)
    path = write(tmp_path, "r.yaml", "adc:\n  bits: 0\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:2: adc\.bits: expected an integer in \[1, 16\]"):
        load_config(path)
    path = write(tmp_path, "c.yaml", "pipeline:\n  mode: fast\n")
    with pytest.raises(ConfigError, match=r"pipeline\.mode: expected one of 'pixel', 'layer'"):
        load_config(path)


def test_bool_is_not_an_int(tmp_path):
    """`rows: true` is rejected rather than read as 1."""
    path = write(tmp_path, "b.yaml", "crossbar:\n  rows: true\n")
    with pytest.raises(ConfigError, match="crossbar.rows: expected an integer"):
        load_config(path)


def test_section_given_as_scalar(tmp_path):
    """A section written as a value is an error at its line."""
    path = write(tmp_path, "s.yaml", "name: x\nadc: 8\n")
    with pytest.raises(ConfigError, match=r"s\.yaml:2: adc: expected a section"):
        load_config(path)


def test_cross_field_rule(tmp_path):
    """An OU larger than its crossbar is refused where the OU is set."""
    path = write(tmp_path, "ou.yaml", "crossbar:\n  rows: 64\nou:\n  rows: 128\n")
    with pytest.raises(ConfigError, match=r"ou\.yaml:4: ou\.rows: must be <= crossbar\.rows \(64\)"):
        load_config(path)


def test_duplicate_key_and_bad_yaml(tmp_path):
    """Duplicate keys and YAML syntax errors name the file and line."""
    path = write(tmp_path, "d.yaml", "adc:\n  bits: 6\n  bits: 7\n")
    with pytest.raises(ConfigError, match=r"d\.yaml:3: adc\.bits: duplicate key"):
        load_config(path)
    path = write(tmp_path, "y.yaml", "adc:\n  bits: [6\n")
    with pytest.raises(ConfigError, match=r"y\.yaml:\d+: not valid YAML"):
        load_config(path)


def test_missing_file_and_base_cycle(tmp_path):
    """A missing file lists the shipped configs; circular bases are reported."""
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file \(shipped configs: .*isaac"):
        load_config(tmp_path / "nope.yaml")
    write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="circular base"):
        load_config(tmp_path / "a.yaml")


def test_bad_override():
    """--set without '=' or with an unknown path is a clear error naming the override."""
    with pytest.raises(ConfigError, match=r"--set adc\.bits: expected KEY\.PATH=VALUE"):
        load_config("isaac", ["adc.bits"])
    with pytest.raises(ConfigError, match=r"--set adc\.bitz=3: adc\.bitz: unknown key; did you mean 'bits'"):
        load_config("isaac", ["adc.bitz=3"])


def test_exponent_without_dot_is_a_number(tmp_path):
    """YAML 1.1 reads 1e-3 (no dot) as text; a float field reads it as the number it means."""
    path = tmp_path / "hw.yaml"
    path.write_text("base: isaac\nadc:\n  energy_pj: 1e-3\n")
    assert load_config(path).adc.energy_pj == 0.001
