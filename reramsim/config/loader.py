"""Load, merge and validate hardware YAML into a :class:`~reramsim.config.schema.Config`.

The whole file is validated before anything runs. Every error is one line that
names the file, the line, the key path, what was expected and, for an unknown
key, the allowed keys and the closest one::

    hw_configs/my.yaml:7: adc.bitz: unknown key; did you mean 'bits'? allowed: bits, count, ...

``base: other.yaml`` inherits every value of another config (a path relative to
the file, or the name of a shipped config in ``hw_configs/``); the file's own
values override it key by key, sections merged recursively. Command-line
overrides ``--set a.b.c=value`` are applied last and parsed as YAML scalars.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from reramsim import ReramsimError
from reramsim.config.schema import Config
from reramsim.resources import shipped_dir

#: Where the shipped configs live (``base: isaac`` finds ``hw_configs/isaac.yaml``; in an
#: installed package, its package data: :mod:`reramsim.resources`).
SHIPPED_DIR = shipped_dir("hw_configs")

KeyPath = tuple[str, ...]


class ConfigError(ReramsimError):
    """A hardware config that cannot be read or does not validate."""


@dataclasses.dataclass
class _Located:
    """A value read from YAML, merged across ``base:`` files, with where each key came from."""

    values: dict[str, Any]
    where: dict[KeyPath, str]  # key path -> "file:line"


def load_config(path: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a hardware YAML file (or the defaults when ``path`` is None) and validate it.

    Args:
        path: a YAML file, or the name of a shipped config (``"isaac"``).
        overrides: ``"a.b.c=value"`` strings applied after the file.

    Raises:
        ConfigError: with ``file:line: key.path: message`` on any problem.
    """
    located = _Located({}, {})
    source = "<defaults>"
    if path is not None:
        resolved = resolve_config_path(path)
        located = _read_with_bases(resolved, seen=())
        source = str(path)
    for text in overrides:
        _apply_override(located, text)
    return _build(Config, located.values, (), located.where, source)


def resolve_config_path(path: str | Path, relative_to: Path | None = None) -> Path:
    """Find a config file: as given, relative to another config, or among the shipped ones."""
    candidates = [Path(path)]
    if relative_to is not None:
        candidates.insert(0, relative_to.parent / path)
    candidates += [SHIPPED_DIR / str(path), SHIPPED_DIR / f"{path}.yaml"]
    if not str(path):
        raise ConfigError("--hw: empty path; expected a YAML file or a shipped config's name")
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # e.g. a name too long for the file system
            continue
    from reramsim.io_checks import InputError, check_input_file

    try:  # a folder, a FIFO, /dev/null, an over-long name...: say what it is
        check_input_file(path)
    except InputError as err:
        if "no such file" not in str(err):
            raise ConfigError(str(err)) from None
    shipped = ", ".join(sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")))
    raise ConfigError(f"{path}: no such config file (shipped configs: {shipped})")


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> _Located:
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ConfigError(f"{path}: circular base: {chain}")
    own = _read_yaml(path)
    base_name = own.values.pop("base", None)
    if base_name is None:
        return own
    if not isinstance(base_name, str):
        raise ConfigError(f"{own.where[('base',)]}: base: expected a file name, got {base_name!r}")
    try:
        base_path = resolve_config_path(base_name, relative_to=path)
    except ConfigError as err:
        raise ConfigError(f"{own.where[('base',)]}: base: {err}") from None
    merged = _read_with_bases(base_path, (*seen, path.resolve()))
    _merge(merged, own, ())
    return merged


def _merge(into: _Located, other: _Located, prefix: KeyPath) -> None:
    """Overlay ``other`` on ``into`` in place, recursing into sections."""

    def walk(dst: dict, src: dict, path: KeyPath) -> None:
        for key, value in src.items():
            key_path = (*path, key)
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                walk(dst[key], value, key_path)
            else:
                dst[key] = value
            for located_path, where in other.where.items():
                if located_path[: len(key_path)] == key_path:
                    into.where[located_path] = where

    walk(into.values, other.values, prefix)


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses anchors and aliases (a recursive alias never ends,
    nested aliases expand exponentially) and nesting deeper than :data:`MAX_DEPTH`, before
    anything is expanded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "aliases (*name)" if isinstance(event, yaml.AliasEvent) else "anchors (&name)"
            raise yaml.composer.ComposerError(
                None, None, f"{kind} are not supported; write the values out, or inherit "
                "a whole config with base:", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


#: Nesting a config may use (its sections go 3 deep).
MAX_DEPTH = 16

#: Standard YAML tags a value may carry (explicit ``!!python/...`` and other tags are refused).
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in
               ("null", "bool", "int", "float", "str", "timestamp", "seq", "map")}

#: Sanity bounds on numbers without a declared upper bound, by the unit in the key name
#: (a latency over 1 ms per step or a clock over 100 GHz is a typo; these keep every cycle
#: count within 64-bit integers), else by type.
UNIT_LIMITS = {"_ns": 1e6, "_mhz": 1e5}
MAX_FLOAT = 1e12
MAX_INT = 2 ** 31 - 1


def _parse_yaml(text: str) -> Any:
    """The node tree of ``text`` (one document), composed by :class:`_StrictLoader`."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> _Located:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not a YAML text file (byte 0x{data[err.start]:02x} "
                          f"at offset {err.start} is not UTF-8)") from None
    try:
        root = _parse_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    if root is None:
        return _Located({}, {})
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:{root.start_mark.line + 1}: "
                          "expected a mapping of sections at the top")
    where: dict[KeyPath, str] = {}
    return _Located(_node_to_value(root, (), path, where), where)


def _node_to_value(node: yaml.Node, path: KeyPath, file: Path, where: dict[KeyPath, str]) -> Any:
    if node.tag not in _PLAIN_TAGS:
        raise ConfigError(f"{file}:{node.start_mark.line + 1}: {'.'.join(path) or '<top>'}: "
                          f"tag {node.tag!r} is not allowed; expected a plain value or section")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.SafeLoader(key_node.value).construct_scalar(key_node)) \
                if isinstance(key_node, yaml.ScalarNode) else None
            loc = f"{file}:{key_node.start_mark.line + 1}"
            if key is None:
                raise ConfigError(f"{loc}: {'.'.join(path) or '<top>'}: keys must be plain names")
            if key in out:
                raise ConfigError(f"{loc}: {'.'.join((*path, key))}: duplicate key")
            where[(*path, key)] = loc
            out[key] = _node_to_value(value_node, (*path, key), file, where)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_value(item, path, file, where) for item in node.value]
    loader = yaml.SafeLoader("")
    return loader.construct_object(node, deep=True)


def _apply_override(located: _Located, text: str) -> None:
    where = "--set " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if "=" not in text:
        raise ConfigError(f"{where}: expected KEY.PATH=VALUE, e.g. adc.bits=6")
    dotted, raw = text.split("=", 1)
    keys = tuple(k for k in dotted.strip().split(".") if k)
    if not keys:
        raise ConfigError(f"{where}: empty key path")
    try:
        scalar = _parse_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        scalar = None
    if isinstance(scalar, yaml.ScalarNode) and scalar.tag in _PLAIN_TAGS:
        value = yaml.SafeLoader("").construct_object(scalar)
    elif scalar is None and raw.strip():
        value = raw  # not YAML: the text itself (the schema says what it expected)
    elif scalar is None:
        value = ""
    else:
        raise ConfigError(f"{where}: expected a single value (number, string, true/false)")
    node = located.values
    for n, key in enumerate(keys[:-1]):
        located.where.setdefault(keys[:n + 1], where)
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {key} is a value, not a section")
        node = child
    node[keys[-1]] = value
    located.where[keys] = where


def _build(cls: type, values: Any, path: KeyPath, where: dict[KeyPath, str], source: str) -> Any:
    """Validate ``values`` against dataclass ``cls`` and construct it."""
    section = ".".join(path) or "<top>"
    if not isinstance(values, dict):
        raise ConfigError(f"{_loc(where, path, source)}: {section}: "
                          f"expected a section (a mapping), got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{_loc(where, (*path, key), source)}: {'.'.join((*path, key))}: "
                              f"unknown key; {hint}allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, fld in fields.items():
        if name not in values:
            continue
        key_path = (*path, name)
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, values[name], key_path, where, source)
        else:
            kwargs[name] = _check_scalar(kind, fld, values[name], key_path, where, source)
    if cls is Config:
        kwargs["source"] = source
    built = cls(**kwargs)
    if cls is Config:
        _check_consistency(built, where, source)
    return built


def _check_scalar(kind: Any, fld: dataclasses.Field, value: Any, key_path: KeyPath,
                  where: dict[KeyPath, str], source: str) -> Any:
    lo, hi = fld.metadata.get("lo"), fld.metadata.get("hi")
    nullable = _nullable(kind)
    if nullable:
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    words = _choice_words(kind)
    if words:  # a number or one of some words (``int | Literal["auto"]``)
        if value in words:
            return value
        kind = int
    if kind in (int, float):
        hi = _upper_bound(kind, key_path[-1], hi)
    expected, ok = _describe(kind, lo, hi) + (", or null" if nullable else ""), True
    if typing.get_origin(kind) is Literal:
        ok = value in typing.get_args(kind)
    elif kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e5 (no '.', no sign) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(value, int) and abs(value) > MAX_FLOAT:
            ok = False  # (too large for a float; the message says what is expected)
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    if ok and kind is float and value == math.inf and fld.metadata.get("inf_ok"):
        return value
    if ok and kind in (int, float):
        ok = (kind is int or math.isfinite(value)) and (lo is None or value >= lo) and value <= hi
    if not ok:
        if words:
            expected += " or " + ", ".join(repr(w) for w in words)
        raise ConfigError(f"{_loc(where, key_path, source)}: {'.'.join(key_path)}: "
                          f"expected {expected}, got {value!r}")
    return value


def _choice_words(kind: Any) -> tuple[str, ...]:
    """The words of a field typed ``int | Literal[...]`` (an integer or one of them); else ()."""
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return ()
    words: tuple[str, ...] = ()
    for part in typing.get_args(kind):
        if typing.get_origin(part) is Literal:
            words += typing.get_args(part)
    return words


def _nullable(kind: Any) -> bool:
    """True for a ``X | None`` field: ``null`` (or leaving it out) asks for a derived value
    (:mod:`reramsim.config.costs`)."""
    return type(None) in typing.get_args(kind) and typing.get_origin(kind) is not Literal


def _upper_bound(kind: Any, key: str, hi: float | None) -> float:
    """The declared upper bound of a number, else its sanity bound (:data:`UNIT_LIMITS`)."""
    if hi is not None:
        return hi
    for suffix, limit in UNIT_LIMITS.items():
        if key.endswith(suffix):
            return limit
    return MAX_INT if kind is int else MAX_FLOAT


def _describe(kind: Any, lo: float | None, hi: float | None) -> str:
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(kind))
    name = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]
    lo, hi = (_bound_text(b) for b in (lo, hi))
    if lo is not None and hi is not None:
        return f"{name} in [{lo}, {hi}]"
    if hi is not None:
        return f"{name} <= {hi}"
    if lo is not None:
        return f"{name} >= {lo}"
    return name


def _bound_text(bound: float | None) -> str | None:
    if bound is None:
        return None
    return f"{bound:,}" if isinstance(bound, int) and bound > 9999 else f"{bound:g}"


def _loc(where: dict[KeyPath, str], key_path: KeyPath, source: str) -> str:
    """The best known location of a key: its own line, else its nearest located parent's."""
    for n in range(len(key_path), 0, -1):
        if key_path[:n] in where:
            return where[key_path[:n]]
    return source


def _check_consistency(cfg: Config, where: dict[KeyPath, str], source: str) -> None:
    """Rules that relate fields of different sections."""
    rules = [
        (("ou", "rows"), cfg.ou.rows <= cfg.crossbar.rows,
         f"must be <= crossbar.rows ({cfg.crossbar.rows}), got {cfg.ou.rows}"),
        (("ou", "cols"), cfg.ou.cols <= cfg.crossbar.cols,
         f"must be <= crossbar.cols ({cfg.crossbar.cols}), got {cfg.ou.cols}"),
        (("crossbar", "cell_bits"), cfg.crossbar.cell_bits <= cfg.precision.weight_bits,
         f"must be <= precision.weight_bits ({cfg.precision.weight_bits})"),
        (("dac", "bits"), cfg.dac.bits <= cfg.precision.input_bits,
         f"must be <= precision.input_bits ({cfg.precision.input_bits})"),
        (("crossbar", "subtract"),
         cfg.crossbar.subtract == "digital" or cfg.precision.signed_weights == "differential",
         "'analog' needs precision.signed_weights: differential (a pair of crossbars to "
         f"subtract), got signed_weights: {cfg.precision.signed_weights}"),
        (("mapping", "reload"), not cfg.mapping.reload or cfg.organization.tiles > 0,
         "true needs a fixed chip to reprogram: organization.tiles > 0, got 0"),
        (("mapping", "reload"),
         not cfg.mapping.reload or cfg.mapping.replication == "none",
         "true runs each group of layers once, without copies: needs mapping.replication: "
         f"none, got {cfg.mapping.replication}"),
        (("device", "r_off_ohm"), cfg.device.r_off_ohm > cfg.device.r_on_ohm,
         f"must be > device.r_on_ohm ({cfg.device.r_on_ohm:g}), got {cfg.device.r_off_ohm:g}"),
        (("device", "sa1_rate"), cfg.device.sa0_rate + cfg.device.sa1_rate <= 1.0,
         f"must be <= 1 - device.sa0_rate ({1 - cfg.device.sa0_rate:g}), "
         f"got {cfg.device.sa1_rate:g}"),
    ]
    for side in ("input", "output"):
        buf = getattr(cfg.buffers, side)
        rules.append((
            ("buffers", side, "size_kb"),
            buf.size_kb > 0 or (buf.energy_pj is not None and buf.area_um2 is not None),
            f"0 (unbounded) gives no size to derive buffers.{side}.energy_pj and "
            f"buffers.{side}.area_um2 from; give both explicitly, or a size > 0"))
    for key_path, ok, message in rules:
        if not ok:
            raise ConfigError(f"{_loc(where, key_path, source)}: {'.'.join(key_path)}: {message}")
