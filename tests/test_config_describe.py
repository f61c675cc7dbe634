"""Tests for reramsim.config.describe, ``reramsim config list|show`` and the generated
docs/config.md."""
from __future__ import annotations

import dataclasses

import pytest

from reramsim.cli import main
from reramsim.config import Config, load_config
from reramsim.config.describe import config_markdown, describe, unit_of


def _leaf_count(section) -> int:
    """Leaf fields of a config section, counted by walking the dataclasses."""
    values = [getattr(section, f.name) for f in dataclasses.fields(section)
              if not f.metadata.get("internal")]
    return sum(_leaf_count(v) if dataclasses.is_dataclass(v) else 1 for v in values)


def test_docs_config_md_is_the_generated_file(repo_root):
    """docs/config.md equals what the schema generates (regenerate it with
    `python -m reramsim.config.describe docs/config.md`)."""
    assert (repo_root / "docs" / "config.md").read_text() == config_markdown()


def test_every_field_is_described_once():
    """describe() lists every leaf field of the schema once, with a doc and a range."""
    fields = describe()
    assert len(fields) == len({f.key for f in fields}) == _leaf_count(Config())
    assert all(f.doc and f.range for f in fields)
    by_key = {f.key: f for f in fields}
    assert by_key["adc.bits"].range == "[1, 16] integer"
    assert by_key["pipeline.mode"].range == "one of pixel, layer"
    for f in fields:
        assert f"| `{f.key}` |" in config_markdown()


@pytest.mark.parametrize("name, unit", [("read_latency_ns", "ns"), ("energy_pj", "pJ"),
                                        ("area_um2_per_kb", "um^2/KiB"),
                                        ("energy_pj_per_bit_hop", "pJ/bit/hop"),
                                        ("leakage_mw_per_kb", "mW/KiB"), ("size_kb", "KiB"),
                                        ("sample_rate_gsps", "GS/s"), ("rows", "")])
def test_units_come_from_field_names(name, unit):
    """A field's unit is its name's suffix; per-unit suffixes become ratios."""
    assert unit_of(name) == unit


def test_config_show_prints_resolved_values(capsys):
    """config show NAME --set: every field with the resolved value, unit, range and doc."""
    assert main(["config", "show", "ou_16x16", "--set", "adc.bits=5"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[4:]}
    assert len(lines) == len(describe())
    assert lines["adc.bits"].split()[1] == "5"
    assert lines["ou.rows"].split()[1] == str(load_config("ou_16x16").ou.rows)
    assert "ns" in lines["crossbar.read_latency_ns"].split()


def test_config_show_a_file_and_bad_input(hw_dir, capsys):
    """config show takes a YAML path; an unknown name is a one-line error listing the others."""
    assert main(["config", "show", str(hw_dir / "isaac.yaml")]) == 0
    assert "config isaac" in capsys.readouterr().out
    assert main(["config", "show", "nope"]) == 2
    assert "nope: no such config file (shipped configs: " in capsys.readouterr().err


def test_config_list_names_every_shipped_config(hw_dir, capsys):
    """config list: one line per YAML file in hw_configs/, by the name --hw takes."""
    assert main(["config", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert names == sorted(p.stem for p in hw_dir.glob("*.yaml"))
