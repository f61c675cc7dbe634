"""The plug-in registry shared by mappers, engines and pruners."""
import pytest

from reramsim.registry import Registry


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
