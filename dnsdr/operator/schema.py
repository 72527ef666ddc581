"""Builders for a structural OpenAPI v3 schema with CEL rules: the vocabulary the CRD generator writes in.

Every builder takes the description first, so no field of the CRD goes without one (``kubectl explain`` reads them).
Patterns are the model's own regular expressions, anchored as Python's ``fullmatch`` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from dnsdr.domain.spec_keys import Limit

Schema = dict[str, Any]


def anchored(rx: re.Pattern[str]) -> str:
    """The model's pattern as the API server reads it (RE2, matched anywhere unless anchored)."""
    return f"^(?:{rx.pattern})$"


def text(description: str, *, pattern: str | None = None, max_length: int | None = None,
         enum: Sequence[str] | None = None, min_length: int = 1) -> Schema:
    schema: Schema = {"type": "string", "description": description}
    if enum is not None:
        schema["enum"] = list(enum)
    if min_length:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def _bounds(schema: Schema, limit: Limit) -> Schema:
    schema["minimum"] = int(limit.low) if limit.integer else limit.low
    schema["maximum"] = int(limit.high) if limit.integer else limit.high
    return schema


def integer(description: str, limit: Limit | None = None) -> Schema:
    schema: Schema = {"type": "integer", "description": description}
    return _bounds(schema, limit) if limit is not None else schema


def number(description: str, limit: Limit | None = None) -> Schema:
    schema: Schema = {"type": "number", "description": description}
    return _bounds(schema, limit) if limit is not None else schema


def flag(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def timestamp(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def array(description: str, items: Schema, *, max_items: int | None = None, min_items: int | None = None,
          map_keys: Sequence[str] = ()) -> Schema:
    schema: Schema = {"type": "array", "description": description, "items": items}
    if min_items is not None:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    if map_keys:
        schema["x-kubernetes-list-type"] = "map"
        schema["x-kubernetes-list-map-keys"] = list(map_keys)
    return schema


def rule(expression: str, message: str | None = None, *, message_expression: str | None = None,
         field_path: str | None = None) -> Schema:
    """One ``x-kubernetes-validations`` entry; ``field_path`` points the error at the field to fix."""
    entry: Schema = {"rule": expression}
    if message is not None:
        entry["message"] = message
    if message_expression is not None:
        entry["messageExpression"] = message_expression
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def obj(description: str, properties: dict[str, Schema], *, required: Iterable[str] = (),
        rules: Sequence[Schema] = (), preserve_unknown: bool = False) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    needed = [key for key in required]
    if needed:
        schema["required"] = needed
    if rules:
        schema["x-kubernetes-validations"] = list(rules)
    if preserve_unknown:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def exactly_one(keys: Sequence[str]) -> str:
    """CEL: exactly one of ``keys`` is set."""
    return "[" + ", ".join(f"has(self.{k})" for k in keys) + "].exists_one(x, x)"


def none_of(keys: Iterable[str]) -> str:
    return " && ".join(f"!has(self.{k})" for k in keys) or "true"


def all_of(keys: Iterable[str]) -> str:
    return " && ".join(f"has(self.{k})" for k in keys) or "true"
