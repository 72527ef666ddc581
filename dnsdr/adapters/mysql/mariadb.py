"""MariaDB 10.6+/11.x dialect (tested on real 10.11 servers).

* Replica status from ``SHOW ALL SLAVES STATUS`` (the default, unnamed connection): it adds
  ``Slave_received_heartbeats``, ``Slave_heartbeat_period`` and ``Gtid_Slave_Pos`` to ``SHOW SLAVE
  STATUS``. Heartbeat freshness before 11.6 has no timestamp column, so this adapter remembers the
  counters between observations: the age is the time since the heartbeat counter, the read position
  or ``Gtid_IO_Pos`` last moved (``None`` on the first observation). 11.6+ ``Master_last_event_time``
  is not needed for that. A ``Connecting`` IO thread is reported as such and judged unhealthy.
* Fence: ``read_only=1``. Since 10.11.1 only READ ONLY ADMIN bypasses it (not SUPER); the dnsdr
  account needs READ ONLY ADMIN to set the variable, so the fence proof normally uses the
  replication account (see ``base.py``).
* Catch-up: ``MASTER_GTID_WAIT(pos, timeout)`` (0 done, -1 timeout) against ``Gtid_IO_Pos``.
* Repoint over TLS: ``MASTER_SSL = 1, MASTER_SSL_VERIFY_SERVER_CERT = 1`` and the CA file the spec
  names on this server's host (``MASTER_SSL_CA``), unless the source's spec disables TLS.
* Repoint position: ``MASTER_USE_GTID=slave_pos`` after setting ``gtid_slave_pos`` to the node's own
  ``gtid_current_pos`` (once the errant check passed). A former primary's ``gtid_slave_pos`` is empty
  or stale (its own writes are only in its binlog), so plain ``slave_pos`` would re-fetch or skip
  history; ``current_pos`` would be right once but keeps following later local writes, so an errant
  write would silently move the replication position. Setting slave_pos explicitly starts exactly
  where the node is and from then on moves only with what it applies from the source.
"""

from __future__ import annotations

from typing import Any

from dnsdr.adapters.mysql.base import DatabaseAdapter, as_bool, as_float, as_int
from dnsdr.adapters.mysql.connection import QueryTimeoutError, Session
from dnsdr.domain import gtid
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DatabaseSpec

VARIABLES_SQL = (
    "SELECT @@version AS version, @@server_id AS server_id, @@read_only AS read_only, "
    "@@gtid_strict_mode AS gtid_strict_mode, @@gtid_binlog_pos AS gtid_binlog_pos, "
    "@@gtid_binlog_state AS gtid_binlog_state, @@gtid_current_pos AS gtid_current_pos, "
    "@@gtid_slave_pos AS gtid_slave_pos, @@rpl_semi_sync_master_enabled AS ss_master, "
    "@@rpl_semi_sync_slave_enabled AS ss_slave, @@rpl_semi_sync_master_wait_point AS ss_wait_point, "
    "@@rpl_semi_sync_master_timeout AS ss_timeout"
)
LOCK_WAIT_SECONDS = 10


class MariaDBAdapter(DatabaseAdapter):
    flavour = "mariadb"
    heartbeat_period: float | None = None   # set MASTER_HEARTBEAT_PERIOD on repoint when given

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Last heartbeat sample: (counters, time they last changed).
        self._beat: tuple[tuple[Any, ...], float] | None = None

    # ------------------------------------------------------------ observe

    def _heartbeat_age(self, counters: tuple[Any, ...]) -> float | None:
        now = self.clock()
        if self._beat is None:
            self._beat = (counters, now)
            return None
        previous, since = self._beat
        if counters != previous:
            self._beat = (counters, now)
            return 0.0
        return now - since

    def channel_from(self, row: dict[str, Any] | None, slave_pos: str) -> Channel | None:
        if not row or not row.get("Master_Host"):
            self._beat = None
            return None
        received = row.get("Gtid_IO_Pos") or ""
        # (SHOW ALL SLAVES STATUS's Gtid_Slave_Pos column shows gtid_current_pos on 10.11: not used.)
        executed = slave_pos
        io = str(row.get("Slave_IO_Running") or "No")
        counters = (row.get("Slave_received_heartbeats"), row.get("Read_Master_Log_Pos"),
                    row.get("Master_Log_File"), received)
        age = self._heartbeat_age(counters) if io == "Yes" else None
        if io != "Yes":
            self._beat = None
        return Channel(
            source_host=str(row.get("Master_Host") or ""),
            source_port=as_int(row.get("Master_Port")),
            source_server_id=as_int(row.get("Master_Server_Id")) or None,
            io_running=io,
            sql_running=str(row.get("Slave_SQL_Running") or "No"),
            io_state=str(row.get("Slave_IO_State") or ""),
            lag_seconds=as_float(row.get("Seconds_Behind_Master")),
            last_io_errno=as_int(row.get("Last_IO_Errno")),
            last_io_error=str(row.get("Last_IO_Error") or ""),
            last_sql_errno=as_int(row.get("Last_SQL_Errno")),
            last_sql_error=str(row.get("Last_SQL_Error") or ""),
            received=received,
            executed=executed,
            unapplied=gtid.mariadb_distance(gtid.parse_mariadb_gtids(received), gtid.parse_mariadb_gtids(executed)),
            heartbeat_period=as_float(row.get("Slave_heartbeat_period")),
            heartbeats_received=as_int(row.get("Slave_received_heartbeats")),
            heartbeat_age_seconds=age,
            using_gtid=str(row.get("Using_Gtid") or ""),
            tls=as_bool(row["Master_SSL_Allowed"]) if "Master_SSL_Allowed" in row else None,
            tls_verified=as_bool(row["Master_SSL_Verify_Server_Cert"]) if "Master_SSL_Verify_Server_Cert" in row
            else None,
        )

    def read_state(self, s: Session) -> ReplicationState:
        v = s.row(VARIABLES_SQL)
        status = {str(r["Variable_name"]).lower(): r["Value"]
                  for r in s.rows("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")}
        rows = s.rows("SHOW ALL SLAVES STATUS")
        row = next((r for r in rows if not r.get("Connection_name")), rows[0] if rows else None)
        semi = SemiSync(
            source_enabled=as_bool(v.get("ss_master")),
            source_active=as_bool(status.get("rpl_semi_sync_master_status")),
            source_clients=as_int(status.get("rpl_semi_sync_master_clients")),
            replica_enabled=as_bool(v.get("ss_slave")),
            replica_active=as_bool(status.get("rpl_semi_sync_slave_status")),
            wait_point=str(v.get("ss_wait_point") or "").upper(),
            timeout_ms=as_int(v.get("ss_timeout")) if v.get("ss_timeout") is not None else None,
        )
        return ReplicationState(
            endpoint=self.endpoint, flavour=self.flavour, reachable=True,
            version=str(v.get("version") or ""), server_id=as_int(v.get("server_id")),
            read_only=as_bool(v.get("read_only")), super_read_only=None,
            gtid_strict_mode=as_bool(v.get("gtid_strict_mode")),
            gtid_binlog_pos=str(v.get("gtid_binlog_pos") or ""),
            gtid_binlog_state=str(v.get("gtid_binlog_state") or ""),
            gtid_current_pos=str(v.get("gtid_current_pos") or ""),
            gtid_slave_pos=str(v.get("gtid_slave_pos") or ""),
            semi_sync=semi, channel=self.channel_from(row, str(v.get("gtid_slave_pos") or "")),
            observed_at=self.wall(),
        )

    # ------------------------------------------------------------ actions

    def set_read_only(self, s: Session, on: bool) -> None:
        s.run(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        try:
            s.run(f"SET GLOBAL read_only = {1 if on else 0}")
        except QueryTimeoutError:
            if not on:
                raise
            # A long transaction holds the commit lock: end client sessions, then try once more.
            self._kill_clients(s)
            s.run("SET GLOBAL read_only = 1")

    def wait_applied(self, s: Session, target: str, timeout: float) -> bool:
        return as_int(s.scalar("SELECT MASTER_GTID_WAIT(%s, %s) AS r", (target, float(timeout)))) == 0

    def missing(self, state: ReplicationState, target: str) -> str:
        have = gtid.parse_mariadb_gtids(state.gtid_current_pos) + gtid.parse_mariadb_gtids(state.gtid_slave_pos)
        return gtid.mariadb_missing(gtid.parse_mariadb_gtids(target), have)

    def stop_io(self, s: Session) -> None:
        s.run("STOP SLAVE IO_THREAD")

    def stop_replica(self, s: Session) -> None:
        s.run("STOP SLAVE")

    def detach(self, s: Session) -> None:
        s.run("STOP SLAVE")
        s.run("RESET SLAVE ALL")

    def attach(self, s: Session, state: ReplicationState, source: DatabaseSpec, source_password: str) -> str:
        start = state.gtid_current_pos
        if gtid.parse_mariadb_gtids(state.gtid_slave_pos) != gtid.parse_mariadb_gtids(start):
            s.run("SET GLOBAL gtid_slave_pos = %s", (start,))
        s.run("SET GLOBAL rpl_semi_sync_slave_enabled = 1")
        heartbeat = f", MASTER_HEARTBEAT_PERIOD = {float(self.heartbeat_period)}" if self.heartbeat_period else ""
        tls, args = self.replication_tls(source, "MASTER")
        s.run("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s, "
              "MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1" + heartbeat + tls,
              (source.endpoint.host, int(source.endpoint.port), source.replication_user, source_password, *args))
        s.run("START SLAVE")
        return start
