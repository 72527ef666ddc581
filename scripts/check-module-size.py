#!/usr/bin/env python3
"""Fail when a module of the package grows past the limit: split it by responsibility instead."""

import sys
from pathlib import Path

LIMIT = 500
too_long = [(p, n) for p in sorted(Path("dnsdr").rglob("*.py")) if (n := len(p.read_text().splitlines())) > LIMIT]
for path, lines in too_long:
    print(f"{path}: {lines} lines (limit {LIMIT})")
sys.exit(1 if too_long else 0)
