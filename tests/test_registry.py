"""The plug-in registry shared by mappers, engines and pruners."""
import pytest

from reramsim.registry import Registry, VersionedRegistry


class Missing(Exception):
    pass


def test_register_get_and_names():
    """Entries registered by decorator come back by name; names are sorted."""
    reg: Registry = Registry("widget", Missing)

    @reg.register("b")
    def b():
        return 2

    reg.register("a")(len)
    assert reg.get("b") is b and reg.get("a") is len
    assert reg.names() == ["a", "b"] and "a" in reg and "c" not in reg


def test_duplicates_refused_and_misses_list_names():
    """A second entry under one name is refused; a miss raises the given error with the names."""
    reg: Registry = Registry("widget", Missing)
    reg.register("x")(1)
    with pytest.raises(ValueError, match="widget 'x' registered twice"):
        reg.register("x")(2)
    with pytest.raises(Missing, match=r"unknown widget 'y'; registered: x"):
        reg.get("y")


def test_unregister_removes_an_entry():
    """unregister drops a name so that it can be registered again."""
    reg: Registry = Registry("widget", Missing)
    reg.register("x")(1)
    reg.unregister("x")
    assert "x" not in reg
    reg.register("x")(2)
    assert reg.get("x") == 2


def test_versioned_lookup_takes_the_latest_version_not_above():
    """get(name, v) returns the entry with the largest since <= v; earlier versions are refused."""
    reg: VersionedRegistry = VersionedRegistry("op", Missing, "opset")
    reg.register("Clip")("old")
    reg.register("Clip", since=11)("new")
    reg.register("Late", since=9)("late")
    assert [reg.get("Clip", v) for v in (1, 10, 11, 20)] == ["old", "old", "new", "new"]
    assert reg.names() == ["Clip", "Late"] and reg.versions("Clip") == {1: "old", 11: "new"}
    with pytest.raises(ValueError, match="op 'Clip' since opset 11 is already registered"):
        reg.register("Clip", since=11)("again")
    with pytest.raises(Missing, match="op 'Late' is supported from opset 9"):
        reg.get("Late", 8)
    with pytest.raises(Missing, match="unsupported op 'Erf'; supported: Clip, Late"):
        reg.get("Erf", 13)
