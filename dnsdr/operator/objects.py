"""Pure builders of what the operator writes besides status: the pools Secret of each database region.

Each database region R gets ``dnsdr-<name>-pools-<R>`` (key ``pools.yaml``): the pools.yml R's Designate applies when
R is the primary. For the primary that is the present state (as recorded: lost, kept and fenced regions' backends);
for any other region it is the state a failover to it would make (the primary lost), rendered ahead of need, with
real credentials, so a person doing a manual failover in an emergency has it ready. A Secret, because pools.yml holds
backend API keys. Owned by the DesignateDR, so the garbage collector removes them with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dnsdr.domain.journal import ClusterRecord
from dnsdr.domain.pools import WorldState
from dnsdr.domain.spec import DesignateDR
from dnsdr.operator.resource import Resource

POOLS_KEY = "pools.yaml"
WORLD_STATE = "dnsdr.io/world-state"
CURRENT = "dnsdr.io/current"
DIGEST = "dnsdr.io/pools-sha256"  # of everything above: a Secret is rewritten only when one of them changed
MANAGED_BY = {"app.kubernetes.io/managed-by": "dnsdr"}


@dataclass(frozen=True)
class RegionPools:
    region: str
    state: WorldState
    current: bool


def pools_states(spec: DesignateDR, cluster: ClusterRecord | None) -> list[RegionPools]:
    """For each database region, the state in which it is the primary."""
    primary = cluster.primary if cluster else spec.primary_region
    lost = frozenset(cluster.lost) if cluster else frozenset()
    now = WorldState(primary, lost, frozenset(cluster.kept) if cluster else frozenset(),
                     frozenset(cluster.fenced) if cluster else frozenset())
    states = []
    for region in spec.database_regions:
        if region.name == primary:
            states.append(RegionPools(region.name, now, True))
        else:
            states.append(RegionPools(region.name, WorldState(region.name, (lost | {primary}) - {region.name}), False))
    return states


def secret_name(resource_name: str, region: str) -> str:
    return f"dnsdr-{resource_name}-pools-{region}"


def owner_reference(resource: Resource) -> dict[str, Any]:
    return {"apiVersion": "dnsdr.io/v1alpha1", "kind": "DesignateDR", "name": resource.name, "uid": resource.uid,
            "controller": True, "blockOwnerDeletion": False}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pools_secret(resource: Resource, pools: RegionPools, text: str) -> dict[str, Any]:
    """The Secret for one region's pools.yml; its digest annotation lets a writer skip an unchanged one."""
    current = "true" if pools.current else "false"
    labels = {**MANAGED_BY, "dnsdr.io/spec": resource.name, "dnsdr.io/region": pools.region,
              "dnsdr.io/record": "pools"}
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": secret_name(resource.name, pools.region), "namespace": resource.namespace, "labels": labels,
            "annotations": {WORLD_STATE: pools.state.describe(), CURRENT: current,
                            DIGEST: digest(f"{text}\n{pools.state.describe()}\n{current}")},
            "ownerReferences": [owner_reference(resource)] if resource.uid else [],
        },
        "stringData": {POOLS_KEY: text},
    }


def pools_status(resource: Resource, pools: list[RegionPools]) -> list[dict[str, Any]]:
    return [{"region": p.region, "secret": secret_name(resource.name, p.region), "worldState": p.state.describe(),
             "current": p.current} for p in pools]
