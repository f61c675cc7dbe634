"""One small registry type for every plug-in point (mappers, engines, pruners).

Entries arrive through a decorator; a second entry under one name is refused,
and a lookup that misses lists what is registered. No registry is built by
scanning globals.
"""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

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
        self._entries: dict[str, T] = {}

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

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
