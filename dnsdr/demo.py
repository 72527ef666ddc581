"""`make demo`: the main job on the bundled example.

For now it renders the example's pools for the healthy state and for "r1 lost"; the failover
demo on the local lab replaces it once the engine lands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from dnsdr.domain.pools import WorldState, render_pools_yaml
from dnsdr.domain.spec_parse import SpecError, parse_designatedr

EXAMPLE = Path(__file__).resolve().parent.parent / "manifests" / "examples" / "designatedr.yaml"


def main() -> int:
    try:
        spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    except (OSError, SpecError) as exc:
        print(f"error: cannot load {EXAMPLE}: {exc}", file=sys.stderr)
        return 1
    for title, state in (
        ("healthy: r1 primary, nothing lost", WorldState(primary=spec.primary_region)),
        ("r1 lost: r2 promoted", WorldState(primary="r2", lost=frozenset({"r1"}))),
    ):
        print(f"==== pools.yml, {title} ====")
        print(render_pools_yaml(spec, state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
