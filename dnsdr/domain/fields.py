"""Path-tracking readers for untrusted YAML mappings.

Every problem is collected with its path (``spec.regions[1].backends[0].api.port: must be
1..65535``) instead of raising on the first one, so an operator fixes a document in one pass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass
class Problems:
    """An ordered list of ``path: message`` lines."""

    items: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)


_MISSING = object()


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= 253 and all(HOSTNAME_LABEL.match(p) for p in name.split("."))


class Node:
    """A value at a path in a document, with typed accessors that record problems."""

    def __init__(self, value: Any, path: str, problems: Problems) -> None:
        self.value = value
        self.path = path
        self.problems = problems

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: set[str] | None = None) -> bool:
        """Check the value is a mapping; report keys outside ``allowed``."""
        if not isinstance(self.value, Mapping):
            self.problems.add(self.path, f"must be a mapping, got {_kind(self.value)}")
            return False
        if allowed is not None:
            for key in self.value:
                if key not in allowed:
                    hint = ", ".join(sorted(allowed))
                    self.problems.add(self._child_path(str(key)), f"unknown key (known: {hint})")
        return True

    def get(self, key: str) -> Node | None:
        if isinstance(self.value, Mapping) and key in self.value and self.value[key] is not None:
            return Node(self.value[key], self._child_path(key), self.problems)
        return None

    def require(self, key: str) -> Node | None:
        node = self.get(key)
        if node is None and isinstance(self.value, Mapping):
            self.problems.add(self._child_path(key), "is required")
        return node

    def items(self) -> list[Node]:
        if not isinstance(self.value, list):
            self.problems.add(self.path, f"must be a list, got {_kind(self.value)}")
            return []
        return [Node(v, self._child_path(i), self.problems) for i, v in enumerate(self.value)]

    def string(self, pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        if not isinstance(self.value, str) or not self.value:
            self.problems.add(self.path, f"must be a non-empty string, got {_kind(self.value)}")
            return None
        if pattern is not None and not pattern.match(self.value):
            self.problems.add(self.path, f"{self.value!r} is not a valid {what}")
            return None
        return self.value

    def integer(self, low: int, high: int) -> int | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.problems.add(self.path, f"must be an integer {low}..{high}, got {_kind(self.value)}")
            return None
        if not low <= self.value <= high:
            self.problems.add(self.path, f"must be {low}..{high}")
            return None
        return self.value

    def number(self, low: float, high: float) -> float | None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.problems.add(self.path, f"must be a number, got {_kind(self.value)}")
            return None
        if not low <= self.value <= high:
            self.problems.add(self.path, f"must be between {low:g} and {high:g}")
            return None
        return float(self.value)

    def boolean(self) -> bool | None:
        if not isinstance(self.value, bool):
            self.problems.add(self.path, f"must be true or false, got {_kind(self.value)}")
            return None
        return self.value

    def choice(self, options: tuple[str, ...]) -> str | None:
        if self.value not in options:
            self.problems.add(self.path, f"must be one of {', '.join(options)}, got {self.value!r}")
            return None
        return str(self.value)

    def host(self) -> str | None:
        value = self.string()
        if value is None:
            return None
        if not (is_ip(value) or is_hostname(value)):
            self.problems.add(self.path, f"{value!r} is neither an IP address nor a hostname")
            return None
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
