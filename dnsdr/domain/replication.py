"""Replication state of one database server, its health verdict, and operation results. Pure.

Adapters (``dnsdr.adapters.mysql``) fill :class:`ReplicationState` from either dialect; everything
here is plain data (``to_dict`` gives JSON) and deterministic functions of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from dnsdr.domain import gtid
from dnsdr.domain.safety import DatabaseView

# A channel whose last sign of life (event or heartbeat) is older than this many heartbeat periods
# is stale, even while the IO thread still says "Yes" (a crashed or partitioned source).
STALE_HEARTBEATS = 2.5


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"      # works, but RPO or safety is weaker than asked (async fallback, lag)
    UNHEALTHY = "unhealthy"    # replication broken or stale; a replica that cannot be trusted
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class SemiSync:
    """Semi-synchronous replication as seen on one server (both roles; names differ per dialect)."""

    source_enabled: bool = False   # rpl_semi_sync_master_enabled / rpl_semi_sync_source_enabled
    source_active: bool = False    # Rpl_semi_sync_*_status: OFF while enabled = fell back to async
    source_clients: int = 0        # replicas acknowledging
    replica_enabled: bool = False
    replica_active: bool = False
    # When the source waits for the acknowledgement: AFTER_SYNC (before the commit is visible: no
    # acknowledged write can be lost) or AFTER_COMMIT (MariaDB's default: others may read a commit
    # that no replica has). Empty when unknown.
    wait_point: str = ""
    timeout_ms: int | None = None  # after this, semi-sync silently falls back to async

    @property
    def fell_back_to_async(self) -> bool:
        return self.source_enabled and not self.source_active


@dataclass(frozen=True)
class Channel:
    """The server's replication channel (its link to its source), when configured."""

    source_host: str = ""
    source_port: int = 0
    source_server_id: int | None = None
    io_running: str = "No"          # "Yes" | "No" | "Connecting" (MySQL: ON/OFF/CONNECTING mapped)
    sql_running: str = "No"
    io_state: str = ""
    lag_seconds: float | None = None      # Seconds_Behind_Master/Source (None = NULL, unknown)
    last_io_errno: int = 0
    last_io_error: str = ""
    last_sql_errno: int = 0
    last_sql_error: str = ""
    received: str = ""              # Gtid_IO_Pos / Retrieved_Gtid_Set
    executed: str = ""              # gtid_slave_pos / Executed_Gtid_Set
    unapplied: int = 0              # transactions received but not yet applied
    heartbeat_period: float | None = None
    heartbeats_received: int | None = None
    # Seconds since the channel last showed life (event or heartbeat); None = not measurable yet.
    heartbeat_age_seconds: float | None = None
    using_gtid: str = ""
    # The link to the source: TLS on (Master_SSL_Allowed), and its certificate checked against the
    # source's host (Master_SSL_Verify_Server_Cert); None when the server does not say.
    tls: bool | None = None
    tls_verified: bool | None = None

    @property
    def io_ok(self) -> bool:
        return self.io_running == "Yes"

    @property
    def sql_ok(self) -> bool:
        return self.sql_running == "Yes"

    @property
    def heartbeat_stale(self) -> bool:
        if self.heartbeat_age_seconds is None or not self.heartbeat_period:
            return False
        return self.heartbeat_age_seconds > STALE_HEARTBEATS * self.heartbeat_period

    @property
    def source_alive(self) -> bool:
        """The channel currently hears from its source: IO connected and heartbeat fresh."""
        return self.io_ok and not self.heartbeat_stale


@dataclass(frozen=True)
class ReplicationState:
    """One observation of one server. ``reachable=False`` carries only ``error``."""

    endpoint: str
    flavour: str
    reachable: bool
    error: str | None = None
    # Why it is not observable: unreachable | timeout | authentication | privilege | error. Only the
    # first two may count as "the server is gone"; the others are configuration problems.
    error_kind: str | None = None
    version: str = ""
    server_id: int | None = None
    server_uuid: str = ""           # MySQL only
    read_only: bool = False
    super_read_only: bool | None = None   # MySQL only; None on MariaDB (no such variable)
    gtid_strict_mode: bool | None = None  # MariaDB only
    gtid_mode: str = ""                   # MySQL only
    # MariaDB: gtid_binlog_pos, gtid_binlog_state, gtid_current_pos, gtid_slave_pos.
    # MySQL: executed = @@gtid_executed (binlog_* and current hold the same value).
    gtid_binlog_pos: str = ""
    gtid_binlog_state: str = ""
    gtid_current_pos: str = ""
    gtid_slave_pos: str = ""
    gtid_executed: str = ""
    semi_sync: SemiSync = field(default_factory=SemiSync)
    channel: Channel | None = None
    observed_at: float = 0.0

    @property
    def is_replica(self) -> bool:
        return self.channel is not None

    @property
    def writable(self) -> bool:
        """Open for ordinary application writes (the fence is down)."""
        return self.reachable and not self.read_only and not self.super_read_only

    @property
    def position(self) -> str:
        """What this server holds, in its dialect's terms (for display and distance)."""
        return self.gtid_executed if self.flavour == "mysql" else self.gtid_current_pos

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["is_replica"] = self.is_replica
        data["writable"] = self.writable
        if self.channel is not None:
            data["channel"]["heartbeat_stale"] = self.channel.heartbeat_stale
        # Only a primary's source side matters; a replica's is idle by design.
        data["semi_sync"]["fell_back_to_async"] = self.semi_sync.fell_back_to_async and not self.is_replica
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplicationState:
        own = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in own}
        values["semi_sync"] = SemiSync(**{k: v for k, v in (data.get("semi_sync") or {}).items()
                                          if k in {f.name for f in fields(SemiSync)}})
        ch = data.get("channel")
        values["channel"] = None if ch is None else Channel(
            **{k: v for k, v in ch.items() if k in {f.name for f in fields(Channel)}})
        return cls(**values)

    @classmethod
    def unreachable(cls, endpoint: str, flavour: str, error: str, kind: str = "unreachable",
                    at: float = 0.0) -> ReplicationState:
        return cls(endpoint=endpoint, flavour=flavour, reachable=False, error=error, error_kind=kind,
                   observed_at=at)


@dataclass(frozen=True)
class Assessment:
    health: Health
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"health": self.health.value, "reasons": list(self.reasons)}


def assess(state: ReplicationState, *, expect_replica: bool | None = None, max_lag_seconds: float = 10.0,
           semi_sync_required: bool = False) -> Assessment:
    """The health verdict for one server. ``expect_replica`` is the role the topology gives it."""
    if not state.reachable:
        return Assessment(Health.UNREACHABLE, (state.error or "no answer",))
    bad: list[str] = []
    weak: list[str] = []
    ch = state.channel
    if expect_replica and ch is None:
        bad.append("not a replica: no replication channel configured")
    if expect_replica is False and ch is not None:
        weak.append(f"expected a primary but replicates from {ch.source_host}:{ch.source_port}")
    if ch is not None:
        if ch.io_running == "Connecting":
            bad.append(f"IO thread is Connecting to {ch.source_host}:{ch.source_port}, not receiving"
                       + (f" (error {ch.last_io_errno}: {ch.last_io_error})" if ch.last_io_errno else ""))
        elif not ch.io_ok:
            bad.append("IO thread is not running" + (f" (error {ch.last_io_errno}: {ch.last_io_error})"
                                                     if ch.last_io_errno else ""))
        elif ch.heartbeat_stale:
            bad.append(f"no event or heartbeat from the source for {ch.heartbeat_age_seconds:.1f} s "
                       f"(heartbeat period {ch.heartbeat_period:g} s)")
        if not ch.sql_ok:
            bad.append("SQL thread is not running" + (f" (error {ch.last_sql_errno}: {ch.last_sql_error})"
                                                      if ch.last_sql_errno else ""))
        if ch.lag_seconds is not None and ch.lag_seconds > max_lag_seconds:
            weak.append(f"lags {ch.lag_seconds:g} s behind its source (max {max_lag_seconds:g} s)")
        if not state.read_only and not state.super_read_only:
            weak.append("replica is writable (read_only off): errant transactions possible")
        if semi_sync_required and ch.io_ok and not state.semi_sync.replica_active:
            weak.append("semi-sync replica side is not active")
    else:
        if state.read_only or state.super_read_only:
            weak.append("primary is read-only (fenced)")
        if state.semi_sync.fell_back_to_async:
            weak.append("semi-sync enabled but fell back to async: commits are not acknowledged by a replica, "
                        "RPO > 0 possible")
        elif semi_sync_required and not state.semi_sync.source_enabled:
            weak.append("semi-sync is required but not enabled on the primary")
        elif semi_sync_required and state.semi_sync.source_clients == 0:
            weak.append("no semi-sync replica connected")
        if state.semi_sync.source_enabled and state.semi_sync.wait_point not in ("", "AFTER_SYNC"):
            weak.append(f"semi-sync wait point is {state.semi_sync.wait_point}: other clients can read commits no "
                        "replica has, and they can be lost in a failover; set rpl_semi_sync_master_wait_point = "
                        "AFTER_SYNC (automatic failover refuses otherwise)")
    if state.flavour == "mariadb" and state.gtid_strict_mode is False:
        weak.append("gtid_strict_mode is off: errant transactions may go unnoticed")
    if bad:
        return Assessment(Health.UNHEALTHY, tuple(bad + weak))
    if weak:
        return Assessment(Health.DEGRADED, tuple(weak))
    return Assessment(Health.HEALTHY)


def transactions_behind(replica: ReplicationState, source: ReplicationState) -> int | None:
    """GTID distance: how many transactions the source holds that the replica has not applied."""
    if not (replica.reachable and source.reachable):
        return None
    if replica.flavour == "mysql":
        return gtid.count_gtid_set(gtid.subtract_gtid_sets(gtid.parse_gtid_set(source.gtid_executed),
                                                           gtid.parse_gtid_set(replica.gtid_executed)))
    return gtid.mariadb_distance(gtid.parse_mariadb_gtids(source.gtid_binlog_pos or source.gtid_current_pos),
                                 gtid.parse_mariadb_gtids(replica.gtid_current_pos))


def errant_transactions(candidate: ReplicationState, source: ReplicationState) -> tuple[str, ...]:
    """Transactions ``candidate`` holds that ``source`` never had (pure; both states reachable).

    MariaDB: per (domain, server_id) comparison, the rule in :mod:`dnsdr.domain.gtid`. MySQL: set
    difference of ``gtid_executed`` (what ``GTID_SUBTRACT`` computes on a server). Both leave out
    what the source originated itself.
    """
    if not (candidate.reachable and source.reachable):
        raise ValueError("errant transactions need observations of both servers")
    if candidate.flavour == "mysql":
        return gtid.mysql_errant(candidate.gtid_executed, source.gtid_executed, source.server_uuid)
    p = gtid.parse_mariadb_gtids
    return gtid.mariadb_errant(
        (p(candidate.gtid_binlog_state), p(candidate.gtid_current_pos), p(candidate.gtid_slave_pos)),
        (p(source.gtid_binlog_state), p(source.gtid_current_pos), p(source.gtid_slave_pos)),
        source.server_id,
    )


def self_written(state: ReplicationState) -> tuple[str, ...]:
    """Errant transactions a MariaDB replica shows without its source: GTIDs it wrote itself.

    With ``gtid_strict_mode``, the replica's own server_id as the newest GTID of a domain in its
    binlog means a client wrote on it while it was a replica. Used when the source cannot be
    observed (a failover); MySQL has no equivalent rule here.
    """
    if not state.reachable or state.channel is None or state.server_id is None or state.flavour == "mysql":
        return ()
    try:
        newest = gtid.parse_mariadb_gtids(state.gtid_binlog_pos)
    except gtid.GtidParseError:
        return ()
    return tuple(str(g) for g in newest if g.server_id == state.server_id)


def to_view(region: str, state: ReplicationState, errant: tuple[str, ...] = ()) -> DatabaseView:
    """Distil an observation into what the safety gates read."""
    ch = state.channel
    return DatabaseView(
        region=region,
        reachable=state.reachable,
        writable=state.writable,
        is_replica=state.is_replica,
        source_alive=bool(ch and ch.source_alive),
        replication_running=bool(ch and ch.io_ok and ch.sql_ok and not ch.heartbeat_stale),
        lag_seconds=ch.lag_seconds if ch else None,
        errant=errant,
        error=state.error,
    )


# ---------------------------------------------------------------- results of operations


@dataclass(frozen=True)
class OperationResult:
    """What an operation did. ``changed`` is False when the server already was in the wanted state."""

    endpoint: str
    changed: bool
    message: str
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FenceResult(OperationResult):
    write_refused: bool = False     # a non-bypassing write was refused by the server (the proof)
    proof: str = ""                 # how the refusal was proven
    killed_sessions: int = 0


@dataclass(frozen=True)
class CatchUpResult(OperationResult):
    applied: bool = False
    waited_seconds: float = 0.0
    target: str = ""                # the position waited for
    remaining: str = ""             # what is still unapplied (on timeout)


@dataclass(frozen=True)
class PromoteResult(OperationResult):
    write_proven: bool = False
    position: str = ""              # the position the new primary starts from


@dataclass(frozen=True)
class RepointResult(OperationResult):
    source: str = ""
    start_position: str = ""
