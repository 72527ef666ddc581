"""Designate's own verdict on a pools.yml document: the oracle for dnsdr's renderer and checker.

The test suite always has Designate installed (the `test` extra); the product uses the same
wrapper in its preflight when Designate is installed beside it.
"""

from __future__ import annotations

from dnsdr.adapters.designate_parser import designate_accepts

__all__ = ["designate_accepts"]
