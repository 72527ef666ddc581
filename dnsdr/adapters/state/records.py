"""Stored state back into records, or one CorruptStateError naming the record and the way out.

A state record may have been hand-edited, truncated by a full disk or replaced by anything, so
its text is read strictly (JSON without NaN or Infinity, no duplicate keys, nesting within reach)
and its shape is checked against the record's dataclass *before* the record is built: a field of
the wrong type, a count below zero, a time that is not a time, or a run id that is not a plain
file name is refused here, instead of crashing a front end later or naming a path outside the
history directory. Shared by every state backend; pure apart from the error it raises.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from dnsdr.adapters.state.base import CorruptStateError
from dnsdr.domain.automation import ControlRecord
from dnsdr.domain.journal import ClusterRecord, Journal
from dnsdr.domain.lease import Lease
from dnsdr.domain.yaml_text import clip, quote

R = TypeVar("R", Journal, ClusterRecord, Lease, ControlRecord)

MAX_COUNT = 2**63 - 1  # epochs, tokens and attempts are stored in 64-bit database columns too
MAX_TIME = 1e11  # seconds since 1970, about the year 5000: every time function can render it
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
KINDS: dict[type[Any], str] = {Journal: "journal", ClusterRecord: "cluster record", Lease: "lease",
                               ControlRecord: "controller record"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _problem(value: object, hint: Any, where: str) -> str | None:
    """Why ``value`` (decoded JSON) cannot be a ``hint``, with its path in the record; None if it can."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return None if value is None and len(options) < len(get_args(hint)) else _problem(value, options[0], where)
    if origin is list:
        if not isinstance(value, list):
            return f"{where}: expected an array, got {_json_type(value)}"
        for index, item in enumerate(value):
            problem = _problem(item, get_args(hint)[0], f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return shape_problem(value, hint, f"{where}.")
    if isinstance(hint, type) and issubclass(hint, Enum):
        allowed = [m.value for m in hint]
        if isinstance(value, str) and value in allowed:
            return None
        got = quote(value) if isinstance(value, str) else _json_type(value)
        return f"{where}: expected one of {', '.join(allowed)}, got {got}"
    if hint is bool:
        return None if isinstance(value, bool) else f"{where}: expected true or false, got {_json_type(value)}"
    if hint is str:
        return None if isinstance(value, str) else f"{where}: expected a string, got {_json_type(value)}"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where}: expected a whole number, got {_json_type(value)}"
        return None if 0 <= value <= MAX_COUNT else f"{where}: expected a count from 0 to 2^63-1"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{where}: expected a time in seconds, got {_json_type(value)}"
        return None if math.isfinite(value) and abs(value) <= MAX_TIME else f"{where}: not a usable time"
    raise TypeError(f"no shape rule for {hint!r}")  # a new field type in a record: teach this module


def shape_problem(data: object, cls: type[Any], prefix: str = "") -> str | None:
    """The first reason ``data`` cannot be a ``cls``; unknown keys are ignored (a newer dnsdr wrote them)."""
    if not isinstance(data, dict):
        return f"{prefix.rstrip('.') or 'the record'}: expected an object, got {_json_type(data)}"
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                return f"{prefix}{field.name}: missing"
            continue
        problem = _problem(data[field.name], hints[field.name], f"{prefix}{field.name}")
        if problem:
            return problem
    return None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {quote(key)}")
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse(text: str, source: str, recovery: str) -> dict[str, Any]:
    """The JSON object in ``text`` (the content of ``source``), read strictly."""
    try:
        data = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except RecursionError:
        raise CorruptStateError(f"{source} is not valid JSON (nested too deeply); {recovery}") from None
    except ValueError as exc:
        raise CorruptStateError(f"{source} is not valid JSON ({clip(str(exc), 120)}); {recovery}") from None
    if not isinstance(data, dict):
        raise CorruptStateError(f"{source} does not hold a JSON object; {recovery}")
    return data


def decode(data: dict[str, Any], cls: type[R], source: str, recovery: str) -> R:
    """The ``cls`` record in ``data``, or CorruptStateError saying which field is wrong and the way out."""
    problem = shape_problem(data, cls)
    if problem is None and cls is Journal and not RUN_ID.fullmatch(data["run_id"]):
        problem = "run_id: expected a plain name (letters, digits, '.', '_', '-')"
    if problem is None:
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            problem = type(exc).__name__
    raise CorruptStateError(f"{source} is not a valid dnsdr {KINDS[cls]} ({clip(problem, 160)}); {recovery}")
