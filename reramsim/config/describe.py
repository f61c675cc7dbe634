"""Every config field with its value, unit, range and doc: ``reramsim config show`` and
``docs/config.md``, both generated from the schema (:mod:`reramsim.config.schema`).

Units come from the field names (``read_latency_ns`` is in ns, ``area_um2_per_kb`` in
um^2/KiB); a field without a unit suffix is a count or a choice. Regenerate the
docs page after changing the schema::

    python -m reramsim.config.describe docs/config.md
"""
from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from reramsim.config.costs import SIZED_KEYS, resolve_cost
from reramsim.config.loader import SHIPPED_DIR
from reramsim.config.schema import Config

__all__ = ["FieldInfo", "config_markdown", "describe", "format_config", "shipped_configs"]

#: Unit suffix tokens of field names.
UNITS = {"ns": "ns", "pj": "pJ", "um2": "um^2", "bits": "bits", "kb": "KiB", "mw": "mW",
         "mhz": "MHz", "gsps": "GS/s", "gb": "GB"}


@dataclass(frozen=True)
class FieldInfo:
    """One leaf field: its dotted key, value, unit, allowed range and one-line doc."""

    key: str
    value: Any
    unit: str
    range: str
    doc: str


def unit_of(name: str) -> str:
    """The unit in a field's name: ``energy_pj_per_bit_hop`` -> ``pJ/bit/hop``; ``""`` if none."""
    tokens = name.split("_")
    for i, token in enumerate(tokens):
        if token in UNITS:
            rest = tokens[i + 1:]
            unit = UNITS[token]
            if rest[:1] == ["per"]:
                unit += "".join(f"/{UNITS.get(t, t)}" for t in rest[1:])
            return unit
    return ""


def _range(kind: Any, meta: dict[str, Any]) -> str:
    if type(None) in typing.get_args(kind) and typing.get_origin(kind) is not Literal:
        inner = next(k for k in typing.get_args(kind) if k is not type(None))
        return _range(inner, meta) + " or null"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # a number or some words
        return " or ".join(_range(part, meta) for part in typing.get_args(kind))
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(str(c) for c in typing.get_args(kind))
    if kind is bool:
        return "true, false"
    if kind is str:
        return "text"
    lo, hi = meta.get("lo"), meta.get("hi")
    lo_text = f"{lo:g}" if lo is not None else "-inf"
    hi_text = f"{hi:g}" if hi is not None else "inf"
    return f"[{lo_text}, {hi_text}]" + (" integer" if kind is int else "")


def describe(config: Any = None, prefix: str = "", root: Any = None) -> list[FieldInfo]:
    """Every leaf field of ``config`` (default: the schema's defaults), sections walked in order.

    An entry that follows its component's size (:mod:`reramsim.config.costs`) shows the
    value it resolves to, its doc prefixed with ``(<where the value comes from>)``.
    """
    config = Config() if config is None else config
    root = config if root is None else root
    hints = typing.get_type_hints(type(config))
    out: list[FieldInfo] = []
    for fld in dataclasses.fields(config):
        if fld.metadata.get("internal"):
            continue
        value = getattr(config, fld.name)
        key = f"{prefix}{fld.name}"
        doc = fld.metadata.get("doc", "")
        if dataclasses.is_dataclass(value):
            out += describe(value, key + ".", root)
            continue
        cost = resolve_cost(root, key) if key in SIZED_KEYS else None
        if cost is not None and cost.derived:
            value, doc = cost.value, f"({cost.origin}) {doc}"
        out.append(FieldInfo(key, value, unit_of(fld.name),
                             _range(hints[fld.name], fld.metadata), doc))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_config(config: Config) -> str:
    """The resolved config as aligned text: key, value, unit, range, doc (``config show``)."""
    from reramsim.report import grid_lines

    rows = [[f.key, _text(f.value), f.unit, f.range, f.doc] for f in describe(config)]
    head = f"config {config.name} (from {config.source}): {len(rows)} fields"
    return "\n".join([head, "", *grid_lines(["key", "value", "unit", "range", "doc"], rows,
                                            right={1})])


def shipped_configs() -> list[tuple[str, Path, str]]:
    """``(name to pass to --hw, file, the file's first comment line)`` of each shipped config."""
    out = []
    for path in sorted(SHIPPED_DIR.glob("*.yaml")):
        first = next((line.lstrip("# ").strip() for line in path.read_text().splitlines()
                      if line.startswith("#")), "")
        out.append((path.stem, path, first))
    return out


INTRO = """\
# Hardware configs

<!-- Generated from reramsim/config/schema.py by `python -m reramsim.config.describe
docs/config.md`; edit the schema or reramsim/config/describe.py, not this file.
A test checks that this file equals the generated one. -->

A config is a YAML file validated against `reramsim/config/schema.py`, one frozen dataclass
per section; each field there has its unit in its name, a range, a default and a one-line doc
(ISAAC's number where ISAAC gives one; defaults not published anywhere say *reconstruction*).
`reramsim config list` lists the shipped configs; `reramsim config show NAME|FILE [--set ...]`
prints every field of a resolved config with its value, unit, range and doc.

```yaml
base: isaac              # every value of hw_configs/isaac.yaml (or a path relative to this file)
name: my_variant
ou: {rows: 32, cols: 32}
adc:
  bits: 6
  shared_by_crossbars: 2 # two crossbars contend for one ADC group
```

Shared resources (`adc.shared_by_crossbars`, `buffers.shared_per_tile`,
`digital.shared_per_tile`, `noc.shared_links`) decide where the cycle engine sees contention;
with all of them private it agrees with the analytical model cycle for cycle.

Rules:
* `base:` merges recursively, key by key; a child's value wins; cycles are reported.
* `--set a.b.c=value` on the command line applies last; the value is read as a YAML scalar.
* The whole file is validated before anything runs. Every error is one line with the file,
  the line, the key path and what was expected; an unknown key also lists the allowed keys
  and the closest one:
  `my.yaml:7: adc.bitz: unknown key; did you mean 'bits'? allowed: bits, energy_pj, ...`
* Cross-section rules: an OU fits in its crossbar, `cell_bits <= weight_bits`,
  `dac.bits <= input_bits`; an unbounded buffer (`size_kb: 0`) gives its energy and area.
* `adc.energy_pj`, `adc.area_um2` and `buffers.*.energy_pj`, `buffers.*.area_um2` left out
  (or `null`) follow the component's size: ISAAC's ADC table at `adc.bits`, ISAAC's eDRAM
  scaled to `size_kb` ([components.md](components.md)); a number given wins, and an ADC
  number given for `adc.cost_bits` follows `adc.bits` by the table's ratio. `config show`
  and every report say which was used.

Derived quantities, defined once on `Config`: `slices = ceil(weight_bits / cell_bits)`,
`polarities` (2 for differential pairs), `input_steps = ceil(input_bits / dac.bits)`,
`cycles(ns)` (rounded up to whole clock cycles).
"""


def config_markdown() -> str:
    """docs/config.md: the intro, the shipped configs, then one table per section with every
    field's default, unit, range and doc."""
    lines = [INTRO, "## Shipped configs", "", "| name | file | what |", "|---|---|---|"]
    lines += [f"| `{name}` | `hw_configs/{path.name}` | {what} |"
              for name, path, what in shipped_configs()]
    lines += ["", "## Every field", "",
              "Defaults are the schema's (a config without the key gets them).", ""]
    section = None
    for f in describe():
        head = f.key.rsplit(".", 1)[0] if "." in f.key else "(top level)"
        if head != section:
            section = head
            lines += ["", f"### `{head}`" if "." in f.key else f"### {head}", "",
                      "| key | default | unit | range | doc |", "|---|---|---|---|---|"]
        doc = f.doc.replace("|", "\\|")
        lines.append(f"| `{f.key}` | {_text(f.value)} | {f.unit} | {f.range} | {doc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else None
    if target:
        Path(target).write_text(config_markdown())
    else:
        sys.stdout.write(config_markdown())
