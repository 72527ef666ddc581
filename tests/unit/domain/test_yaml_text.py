"""YAML text to data with both parsers: what safe_load reads stays the same; duplicate keys, deep
nesting, alias bombs and empty documents are one bounded line naming the source and position."""

from __future__ import annotations

import time

import pytest
import yaml

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.yaml_text import LOADERS, MAX_ALIASES, MAX_DEPTH, YamlError, load_yaml
from tests.conftest import EXAMPLE

PARSERS = sorted(LOADERS)


def test_the_c_parser_is_used_when_pyyaml_has_it() -> None:
    assert ("c" in LOADERS) == yaml.__with_libyaml__


@pytest.mark.parametrize("parser", PARSERS)
def test_what_safe_load_reads_is_unchanged(parser: str) -> None:
    text = EXAMPLE.read_text()
    assert load_yaml(text, "dr.yaml", parser) == yaml.safe_load(text)


@pytest.mark.parametrize("parser", PARSERS)
def test_anchors_and_merge_keys_for_sharing_a_block_still_work(parser: str) -> None:
    text = ("base: &b {user: dnsdr, port: 3306}\n"
            "r1: {<<: *b, host: a}\n"
            "r2: {<<: *b, host: b, port: 3307}\n"
            "list: [*b, *b]\n")
    data = load_yaml(text, "f.yaml", parser)
    assert data["r2"] == {"user": "dnsdr", "port": 3307, "host": "b"}
    assert data["list"] == [data["base"], data["base"]]


def _error(text: str, parser: str) -> str:
    started = time.monotonic()
    with pytest.raises(YamlError) as caught:
        load_yaml(text, "dr.yaml", parser)
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert message.startswith("dr.yaml: ") and "\n" not in message and len(message) < 300, message
    return message


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a', first on line 1 (line 3, column 1)"),
    ("x:\n  - n: 1\n    n: 2\n", "duplicate key 'n', first on line 2 (line 3, column 5)"),
    ("yes: 1\ntrue: 2\n", "duplicate key True, first on line 1 (line 2, column 1)"),
    ("a: &x 1\nb: &x 2\n", "anchor &x defined twice, first on line 1 (line 2, column 4)"),
    ("a: &a [*a]\n", "alias *a refers to a node that contains it (line 1, column 8)"),
    ("a: *nowhere\n", "alias *nowhere has no anchor before it (line 1, column 4)"),
    ("a: &a 1\nb: [" + ",".join(["*a"] * (MAX_ALIASES + 1)) + "]\n", f"more than {MAX_ALIASES} aliases"),
    ("a: 1\n---\nb: 2\n", "expected a single document in the stream, but found another document (line 2, column 1)"),
    ("a: 2024-13-45\n", "cannot read this value (month must be in 1..12) (line 1, column 4)"),
    ("a: " + "9" * 5000 + "\n", "cannot read this value (Exceeds the limit"),
    ("a: \x07\n", "unacceptable character #x0007"),
    ("a: !!python/object/apply:os.system [id]\n", "could not determine a constructor for the tag"),
    ("? [1]\n: 2\n", "found unhashable key (line 1, column 3)"),
    ("", "no YAML document (the file is empty or only comments)"),
    ("# only a comment\n", "no YAML document"),
])
def test_refusals_are_one_line_with_the_position(parser: str, text: str, expected: str) -> None:
    assert expected in _error(text, parser)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_billion_laughs_is_refused_at_once_in_a_short_message(parser: str) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
    text = "\n".join(levels) + "\n"
    assert len(text) < 4096
    assert "aliases expand to more than 10000 nodes" in _error(text, parser)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", [
    "[" * 20_000 + "]" * 20_000,
    "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "v\n",
    "- " * 5000 + "x\n",
])
def test_deep_nesting_is_refused_not_a_recursion_error(parser: str, text: str) -> None:
    message = _error(text, parser)
    assert "nested deeper than 64 levels" in message or "maximum nesting depth" in message


@pytest.mark.parametrize("parser", PARSERS)
def test_nesting_up_to_the_limit_is_fine(parser: str) -> None:
    expected: list[object] = []
    for _ in range(MAX_DEPTH - 1):
        expected = [expected]
    assert load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "f", parser) == expected


@pytest.mark.parametrize("parser", PARSERS)
def test_quoted_parts_of_the_document_are_cut(parser: str) -> None:
    long = "k" * 5000
    assert "…" in _error(f"? {long}\n: 1\n? {long}\n: 2\n", parser)
    assert "…" in _error(f"a: *{long}\n", parser)
    assert "…" in _error(f"a: !!{long} 1\n", parser)


def test_a_null_document_is_data_and_errors_are_invalid_input() -> None:
    assert load_yaml("~\n", "f") is None
    assert issubclass(YamlError, InvalidInput)
