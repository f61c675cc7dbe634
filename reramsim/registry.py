"""One small registry type for every plug-in point (mappers, engines, pruners, ops).

Entries arrive through a decorator; a second entry under one name is refused,
and a lookup that misses lists what is registered. No registry is built by
scanning globals. :class:`VersionedRegistry` keeps several entries per name, each
valid from a version on (ONNX converters per opset).
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> plug-ins of one kind.

    Args:
        what: the kind, for messages ("mapping scheme", "engine").
        error: the exception a missed lookup raises.
    """

    def __init__(self, what: str, error: type[Exception]) -> None:
        self.what = what
        self.error = error
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers its argument under ``name``."""

        def decorate(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} registered twice")
            self._entries[name] = entry
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The entry under ``name``; a miss raises ``error`` listing the registered names."""
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(f"unknown {self.what} {name!r}; registered: "
                             f"{', '.join(self.names())}") from None

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a temporary entry clean up with this)."""
        del self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


class VersionedRegistry(Registry[T]):
    """Names -> plug-ins that change with a version: each entry holds from its ``since`` on.

    ``get(name, version)`` returns the entry with the largest ``since`` not above
    ``version``, so a later registration overrides changed semantics.

    Args:
        what, error: as for :class:`Registry`.
        version_name: the word for a version in messages ("opset").
    """

    def __init__(self, what: str, error: type[Exception], version_name: str = "version") -> None:
        super().__init__(what, error)
        self.version_name = version_name

    def register(self, name: str, since: int = 1) -> Callable[[T], T]:  # type: ignore[override]
        """A decorator that registers its argument under ``name`` for versions ``>= since``."""

        def decorate(entry: T) -> T:
            versions = self._entries.setdefault(name, {})
            if since in versions:
                raise ValueError(f"{self.what} {name!r} since {self.version_name} {since} is "
                                 "already registered")
            versions[since] = entry
            return entry

        return decorate

    def get(self, name: str, version: int) -> T:  # type: ignore[override]
        """The entry of ``name`` valid at ``version``; a miss raises ``error``."""
        versions = self._entries.get(name)
        if not versions:
            raise self.error(f"unsupported {self.what} {name!r}; supported: "
                             f"{', '.join(self.names())}")
        usable = [v for v in versions if v <= version]
        if not usable:
            raise self.error(f"{self.what} {name!r} is supported from {self.version_name} "
                             f"{min(versions)}")
        return versions[max(usable)]

    def versions(self, name: str) -> dict[int, T]:
        """``since`` -> entry of ``name`` (empty when it is not registered)."""
        return dict(self._entries.get(name, {}))
