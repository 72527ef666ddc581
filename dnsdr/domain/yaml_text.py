"""YAML text to plain data, with the limits a document from anywhere needs.

``yaml.safe_load`` plus what a file written by hand (or by an attacker) calls for:

- the C parser (libyaml) when PyYAML has it, else the pure-Python one; safe tags only;
- a key written twice in one mapping is an error naming both lines (PyYAML keeps the last one
  silently; keys merged in with ``<<`` may still be overridden, as YAML intends);
- nesting deeper than :data:`MAX_DEPTH` levels is refused (deeper input crashed the recursive
  composer and constructor);
- at most :data:`MAX_ALIASES` aliases per document, adding at most :data:`MAX_ALIAS_NODES` nodes
  once expanded, and none may refer to a node that contains it: anchors for sharing a block stay
  usable, while a few KiB of "billion laughs" would expand to 10^9 nodes;
- an empty document is an error naming its source;
- messages read ``source: problem (line L, column C)`` and quote at most :data:`QUOTE_LIMIT`
  characters of the document.

Pure: text in, data out; reading the text is the caller's business (``dnsdr.adapters.files``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from dnsdr.domain.errors import InvalidInput

MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_ALIAS_NODES = 10_000
QUOTE_LIMIT = 80
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(InvalidInput):
    """The text is not one acceptable YAML document; the message names the source and the position."""


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, so that a message never grows with its input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: object) -> str:
    return clip(repr(value))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Guard(Composer):
    """The composer with the depth and alias limits, checked while composing (before any recursion)."""

    def __init__(self) -> None:
        Composer.__init__(self)
        self._depth = 0
        self._aliases = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}  # id(node) -> its node count with aliases expanded
        self._open: set[str] = set()  # anchors of the nodes being composed

    if TYPE_CHECKING:  # provided by the parser this class is mixed with
        def peek_event(self) -> Any: ...
        def check_event(self, *choices: type[Any]) -> bool: ...

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        if self.check_event(AliasEvent):
            return self._alias(parent, index, event.anchor, event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            first = self.anchors[anchor].start_mark.line + 1
            raise ComposerError(None, None, f"anchor &{clip(anchor)} defined twice, first on line {first}",
                                event.start_mark)
        self._depth += 1
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor)
        if node is not None and not isinstance(node, ScalarNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
        return node

    def _alias(self, parent: Node | None, index: int, anchor: str, mark: Any) -> Node | None:
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases", mark)
        if anchor in self._open:
            raise ComposerError(None, None, f"alias *{clip(anchor)} refers to a node that contains it", mark)
        if anchor not in self.anchors:
            raise ComposerError(None, None, f"alias *{clip(anchor)} has no anchor before it", mark)
        node = super().compose_node(parent, index)
        self._alias_nodes += self._sizes.get(id(node), 1)
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise ComposerError(None, None, f"aliases expand to more than {MAX_ALIAS_NODES} nodes", mark)
        return node


class _Constructor(SafeConstructor):
    """The safe constructor with unique keys, and bad scalars reported at their position."""

    def __init__(self) -> None:
        SafeConstructor.__init__(self)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: MappingNode) -> None:
        # Called on every mapping before its merges are applied (and again when merged elsewhere).
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._check_unique(node)
        super().flatten_mapping(node)

    def _check_unique(self, node: MappingNode) -> None:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                continue  # a complex key: the safe constructor refuses unhashable ones itself
            key = "<<" if key_node.tag == MERGE_TAG else self.construct_object(key_node)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise ConstructorError(None, None, f"duplicate key {quote(key)}, first on line {first}",
                                       key_node.start_mark)
            seen[key] = key_node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # int("9" * 5000), a 13th month, ...
            raise ConstructorError(None, None, f"cannot read this value ({clip(str(exc))})",
                                   node.start_mark) from None


class _PyLoader(Reader, Scanner, Parser, _Guard, _Constructor, Resolver):
    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Guard.__init__(self)
        _Constructor.__init__(self)
        Resolver.__init__(self)


LOADERS: dict[str, type[Any]] = {"python": _PyLoader}

if yaml.__with_libyaml__:  # pragma: no branch
    from yaml._yaml import CParser

    class _CLoader(_Guard, _Constructor, Resolver, CParser):
        """libyaml scans and parses; composing stays in Python, where the limits are checked."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Guard.__init__(self)
            _Constructor.__init__(self)
            Resolver.__init__(self)

    LOADERS["c"] = _CLoader

DEFAULT_LOADER = "c" if "c" in LOADERS else "python"


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f" (line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1})"


def _message(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, ReaderError):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}" + _position(text, exc.position)
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = ", ".join(str(part) for part in (exc.context, exc.problem) if part) or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return clip(problem, 2 * QUOTE_LIMIT) + where
    return clip(str(exc).splitlines()[0] if str(exc) else "invalid YAML", 2 * QUOTE_LIMIT)


def load_yaml(text: str, source: str, loader: str = DEFAULT_LOADER) -> Any:
    """The one YAML document in ``text``; YamlError naming ``source`` (a path, '<stdin>') otherwise."""
    parser = None
    try:
        parser = LOADERS[loader](text)  # the pure-Python reader checks every character here
        node = parser.get_single_node()
        data = None if node is None else parser.construct_document(node)
    except yaml.YAMLError as exc:
        raise YamlError(f"{source}: {_message(exc, text)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise YamlError(f"{source}: not a usable YAML document ({type(exc).__name__})") from None
    finally:
        if parser is not None:
            parser.dispose()
    if node is None:
        raise YamlError(f"{source}: no YAML document (the file is empty or only comments)")
    return data
