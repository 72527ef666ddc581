"""Path-tracking readers for untrusted YAML mappings, and the value rules Designate applies.

Every problem is collected with its path (``spec.regions[1].backends[0].api.port: must be
1..65535``) instead of raising on the first one, so an operator fixes a document in one pass.

The host and name rules mirror Designate 23.0.0 (``designate/objects/fields.py``): a value dnsdr
accepts for pools.yml is one Designate accepts too, and messages say which rule broke. Values are
echoed through :func:`quote`, never in full: a problem line stays short whatever the input.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Designate's constants.RE_ZONENAME: labels each followed by a dot, at most 254 characters.
ZONE_NAME = re.compile(r"^(?!.{255,})(?:(?!\-)[A-Za-z0-9_\-]{1,63}(?<!\-)\.)+\Z")
HOSTNAME_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
QUOTE_LIMIT = 80

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, so no problem line echoes unbounded input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as is when short and printable, else quoted and cut (for keys in paths, hosts in messages)."""
    return text if len(text) <= limit and text.isprintable() else quote(text, limit)


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

    def __len__(self) -> int:
        return len(self.items)


def ip_address(value: str) -> IPAddress | None:
    """The address ``value`` spells as Designate reads it (``inet_pton``), else None.

    Python also accepts an IPv6 zone index (``fe80::1%eth0``); inet_pton does not, so neither do we.
    Both refuse leading zeros, short forms (``1.2.3``) and surrounding whitespace.
    """
    if "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_ip(value: str) -> bool:
    return ip_address(value) is not None


def _numeric_tld(name: str) -> bool:
    return name.rstrip(".").rsplit(".", 1)[-1].isdigit()


def is_hostname(value: str) -> bool:
    """A DNS name, with or without the final dot; an all-digit last label is a mistyped IPv4 address."""
    name = value[:-1] if value.endswith(".") else value
    return (0 < len(name) <= 253 and not _numeric_tld(name)
            and all(HOSTNAME_LABEL.fullmatch(p) for p in name.split(".")))


def host_problem(value: str) -> str | None:
    """Why ``value`` is no host dnsdr can connect to (an IP address or a DNS name), or None."""
    if is_ip(value) or is_hostname(value):
        return None
    return _not_a_host(value)


def pool_host_problem(value: str, strict: bool = True) -> str | None:
    """Why Designate's ``IPOrHost`` refuses ``value`` (pools.yml hosts), or None.

    An IP address, or a hostname ending with a dot. ``strict`` also refuses names that can only be a
    mistyped IPv4 address (``1.2.3.``), which Designate would store and then fail to resolve.
    """
    if is_ip(value):
        return None
    if ZONE_NAME.match(value):
        if strict and _numeric_tld(value):
            return f"{quote(value)} is not a valid IP address"
        return None
    if ZONE_NAME.match(value + ".") and not _numeric_tld(value):
        return f"{quote(value)} must end with '.' as a hostname (Designate needs a fully qualified name here)"
    return _not_a_host(value)


def _not_a_host(value: str) -> str:
    if value != value.strip():
        return f"{quote(value)} has surrounding whitespace"
    if "%" in value:
        return f"{quote(value)}: an IPv6 zone index (%...) is not accepted"
    if _numeric_tld(value) or ":" in value:
        return f"{quote(value)} is not a valid IP address"
    return f"{quote(value)} is neither an IP address nor a hostname"


def fqdn_problem(value: str, strict: bool = True) -> str | None:
    """Why Designate's ``DomainField`` (NS records, catalog zone) refuses ``value``, or None."""
    if any(len(label) > 63 for label in value.split(".")):
        return f"{quote(value)} has a label longer than 63 characters"
    if len(value) > 254:
        return f"{quote(value)} is longer than 254 characters"
    if not value.endswith("."):
        hint = f" (write {shorten(value + '.')})" if ZONE_NAME.match(value + ".") else ""
        return f"{quote(value)} must be fully qualified, ending with '.'{hint}"
    if not ZONE_NAME.match(value):
        return f"{quote(value)} is not a valid hostname"
    if strict and _numeric_tld(value):
        return f"{quote(value)} is an address, not a hostname"
    return None


def storable_problem(value: str) -> str | None:
    """Why Designate's tables (utf8, three bytes a character) cannot store ``value``, or None."""
    for ch in value:
        if ord(ch) > 0xFFFF or unicodedata.category(ch) == "Cs":
            return f"{quote(value)} holds {ch!r}, which Designate's database cannot store"
    return None


def text_problem(value: str, limit: int) -> str | None:
    """Why ``value`` should not go into pools.yml as a name or description, or None.

    Designate takes any string up to ``limit`` characters; dnsdr also refuses surrounding whitespace
    and control characters, which are mistakes (a block scalar's newline) rather than names.
    """
    if len(value) > limit:
        return f"must be at most {limit} characters, got {len(value)}"
    if value != value.strip():
        return f"{quote(value)} has surrounding whitespace"
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return f"{quote(value)} holds a control character"
    return storable_problem(value)


def host_key(host: str) -> str:
    """What two spellings of one host share: the address itself, or the name without case or final dot."""
    address = ip_address(host)
    return str(address) if address is not None else host.lower().rstrip(".")


class Node:
    """A value at a path in a document, with typed accessors that record problems."""

    def __init__(self, value: Any, path: str, problems: Problems) -> None:
        self.value = value
        self.path = path
        self.problems = problems

    def child_path(self, key: Any) -> str:
        """The path of the value under mapping key ``key`` (shortened: keys are user input too)."""
        text = shorten(str(key))
        return f"{self.path}.{text}" if self.path else text

    def mapping(self, allowed: set[str] | None = None) -> bool:
        """Check the value is a mapping; report keys outside ``allowed``."""
        if not isinstance(self.value, Mapping):
            self.problems.add(self.path, f"must be a mapping, got {_kind(self.value)}")
            return False
        if allowed is not None:
            for key in self.value:
                if key not in allowed:
                    hint = ", ".join(sorted(allowed))
                    self.problems.add(self.child_path(key), f"unknown key (known: {hint})")
        return True

    def get(self, key: str) -> Node | None:
        if isinstance(self.value, Mapping) and key in self.value and self.value[key] is not None:
            return Node(self.value[key], self.child_path(key), self.problems)
        return None

    def require(self, key: str) -> Node | None:
        node = self.get(key)
        if node is None and isinstance(self.value, Mapping):
            self.problems.add(self.child_path(key), "is required")
        return node

    def items(self, limit: int | None = None) -> list[Node]:
        """The list's items; more than ``limit`` is a problem (every item is still read, for its own problems)."""
        if not isinstance(self.value, list):
            self.problems.add(self.path, f"must be a list, got {_kind(self.value)}")
            return []
        if limit is not None and len(self.value) > limit:
            self.problems.add(self.path, f"must list at most {limit} items, got {len(self.value)}")
        return [Node(v, f"{self.path}[{i}]", self.problems) for i, v in enumerate(self.value)]

    def fail(self, message: str | None) -> bool:
        """Record ``message`` at this path when there is one; True when there was."""
        if message is not None:
            self.problems.add(self.path, message)
        return message is not None

    def string(self, pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        if not isinstance(self.value, str) or not self.value:
            got = "an empty string" if self.value == "" else _kind(self.value)
            self.problems.add(self.path, f"must be a non-empty string, got {got}")
            return None
        if pattern is not None and not pattern.fullmatch(self.value):
            self.problems.add(self.path, f"{quote(self.value)} is not a valid {what}")
            return None
        return self.value

    def text(self, limit: int) -> str | None:
        """A string that goes into pools.yml as a name, description or value."""
        value = self.string()
        return None if value is None or self.fail(text_problem(value, limit)) else value

    def integer(self, low: int, high: int) -> int | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.problems.add(self.path, f"must be an integer {low}..{high}, got {_kind(self.value)}")
            return None
        if not low <= self.value <= high:
            self.problems.add(self.path, f"must be {low}..{high}, got {quote(self.value, 24)}")
            return None
        return self.value

    def number(self, low: float, high: float) -> float | None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.problems.add(self.path, f"must be a number, got {_kind(self.value)}")
            return None
        if not low <= self.value <= high:  # also refuses .nan
            self.problems.add(self.path, f"must be between {low:g} and {high:g}, got {quote(self.value, 24)}")
            return None
        return float(self.value)

    def boolean(self) -> bool | None:
        if not isinstance(self.value, bool):
            self.problems.add(self.path, f"must be true or false, got {_kind(self.value)}")
            return None
        return self.value

    def choice(self, options: tuple[str, ...]) -> str | None:
        if not isinstance(self.value, str) or self.value not in options:
            self.problems.add(self.path, f"must be one of {', '.join(options)}, got {quote(self.value)}")
            return None
        return self.value

    def host(self) -> str | None:
        """A host dnsdr connects to: an IP address or a DNS name."""
        value = self.string()
        return None if value is None or self.fail(host_problem(value)) else value

    def pool_host(self) -> str | None:
        """A host that ends up in pools.yml, by Designate's rule (a hostname needs its final dot)."""
        value = self.string()
        return None if value is None or self.fail(pool_host_problem(value)) else value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)
