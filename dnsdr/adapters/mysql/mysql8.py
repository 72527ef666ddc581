"""MySQL 8.0.23+/8.4 dialect (unit-tested over the result shapes MySQL returns; no live server here).

* Replica status from ``SHOW REPLICA STATUS`` (8.0.22+ column names: ``Replica_IO_Running``,
  ``Seconds_Behind_Source``, ``Retrieved_Gtid_Set``, ``Executed_Gtid_Set``, ``Channel_Name``...);
  heartbeat freshness in one observation from ``performance_schema.replication_connection_status``
  (``LAST_HEARTBEAT_TIMESTAMP``, ``LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP``) and
  ``replication_connection_configuration.HEARTBEAT_INTERVAL``.
* Semi-sync under either plugin's names: ``rpl_semi_sync_source_*``/``replica_*`` (8.0.26+) or
  ``rpl_semi_sync_master_*``/``slave_*``.
* Fence: ``super_read_only=1`` (blocks SUPER too, so our own session is a valid prover).
* Catch-up: ``WAIT_FOR_EXECUTED_GTID_SET(set, timeout)`` (0 done, 1 timeout) against
  ``Retrieved_Gtid_Set``. Errant: ``GTID_SUBTRACT(candidate, source)`` run on this server.
* Repoint: ``CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION = 1`` (8.0.23+).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dnsdr.adapters.mysql.base import DatabaseAdapter, as_bool, as_float, as_int
from dnsdr.adapters.mysql.connection import Session
from dnsdr.domain import gtid
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DatabaseSpec

VARIABLES_SQL = (
    "SELECT @@version AS version, @@server_id AS server_id, @@server_uuid AS server_uuid, "
    "@@read_only AS read_only, @@super_read_only AS super_read_only, @@gtid_mode AS gtid_mode, "
    "@@GLOBAL.gtid_executed AS gtid_executed"
)
HEARTBEAT_SQL = (
    "SELECT s.SERVICE_STATE AS service_state, s.COUNT_RECEIVED_HEARTBEATS AS beats, "
    "s.LAST_HEARTBEAT_TIMESTAMP AS last_heartbeat, "
    "s.LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP AS last_queued, "
    "c.HEARTBEAT_INTERVAL AS heartbeat_interval, NOW(6) AS now "
    "FROM performance_schema.replication_connection_status s "
    "JOIN performance_schema.replication_connection_configuration c ON c.CHANNEL_NAME = s.CHANNEL_NAME "
    "WHERE s.CHANNEL_NAME = ''"
)


def _pick(values: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in values:
            return values[n]
    return None


def heartbeat_age(hb: dict[str, Any]) -> float | None:
    """Seconds since the last heartbeat or queued transaction; None when neither happened yet.

    Zero timestamps (``0000-00-00 ...``) come back from PyMySQL as strings and are ignored.
    """
    now = hb.get("now")
    stamps = [t for t in (hb.get("last_heartbeat"), hb.get("last_queued"))
              if isinstance(t, dt.datetime) and t.year > 1970]
    if not isinstance(now, dt.datetime) or not stamps:
        return None
    return max(0.0, (now - max(stamps)).total_seconds())


class MySQL8Adapter(DatabaseAdapter):
    flavour = "mysql"

    # ------------------------------------------------------------ observe

    @staticmethod
    def channel_from(row: dict[str, Any] | None, hb: dict[str, Any], executed_now: str) -> Channel | None:
        if not row or not row.get("Source_Host"):
            return None
        received = str(row.get("Retrieved_Gtid_Set") or "")
        executed = str(row.get("Executed_Gtid_Set") or executed_now)
        left = gtid.subtract_gtid_sets(gtid.parse_gtid_set(received), gtid.parse_gtid_set(executed))
        io = str(row.get("Replica_IO_Running") or "No")
        if str(hb.get("service_state") or "").upper() == "CONNECTING":
            io = "Connecting"
        return Channel(
            source_host=str(row.get("Source_Host") or ""),
            source_port=as_int(row.get("Source_Port")),
            source_server_id=as_int(row.get("Source_Server_Id")) or None,
            io_running=io,
            sql_running=str(row.get("Replica_SQL_Running") or "No"),
            io_state=str(row.get("Replica_IO_State") or ""),
            lag_seconds=as_float(row.get("Seconds_Behind_Source")),
            last_io_errno=as_int(row.get("Last_IO_Errno")),
            last_io_error=str(row.get("Last_IO_Error") or ""),
            last_sql_errno=as_int(row.get("Last_SQL_Errno")),
            last_sql_error=str(row.get("Last_SQL_Error") or ""),
            received=received,
            executed=executed,
            unapplied=gtid.count_gtid_set(left),
            heartbeat_period=as_float(hb.get("heartbeat_interval")),
            heartbeats_received=as_int(hb.get("beats")) if hb else None,
            heartbeat_age_seconds=heartbeat_age(hb) if io == "Yes" else None,
            using_gtid="auto_position" if as_bool(row.get("Auto_Position")) else "",
            tls=as_bool(row["Source_SSL_Allowed"]) if "Source_SSL_Allowed" in row else None,
            tls_verified=as_bool(row["Source_SSL_Verify_Server_Cert"]) if "Source_SSL_Verify_Server_Cert" in row
            else None,
        )

    def read_state(self, s: Session) -> ReplicationState:
        v = s.row(VARIABLES_SQL)
        variables = {str(r["Variable_name"]).lower(): r["Value"]
                     for r in s.rows("SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'")}
        status = {str(r["Variable_name"]).lower(): r["Value"]
                  for r in s.rows("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'")}
        rows = s.rows("SHOW REPLICA STATUS")
        row = next((r for r in rows if not r.get("Channel_Name")), rows[0] if rows else None)
        hb = s.row(HEARTBEAT_SQL) if row else {}
        executed = str(v.get("gtid_executed") or "").replace("\n", "")
        semi = SemiSync(
            source_enabled=as_bool(_pick(variables, "rpl_semi_sync_source_enabled", "rpl_semi_sync_master_enabled")),
            source_active=as_bool(_pick(status, "rpl_semi_sync_source_status", "rpl_semi_sync_master_status")),
            source_clients=as_int(_pick(status, "rpl_semi_sync_source_clients", "rpl_semi_sync_master_clients")),
            replica_enabled=as_bool(_pick(variables, "rpl_semi_sync_replica_enabled", "rpl_semi_sync_slave_enabled")),
            replica_active=as_bool(_pick(status, "rpl_semi_sync_replica_status", "rpl_semi_sync_slave_status")),
            wait_point=str(_pick(variables, "rpl_semi_sync_source_wait_point", "rpl_semi_sync_master_wait_point")
                           or "").upper(),
        )
        return ReplicationState(
            endpoint=self.endpoint, flavour=self.flavour, reachable=True,
            version=str(v.get("version") or ""), server_id=as_int(v.get("server_id")),
            server_uuid=str(v.get("server_uuid") or ""),
            read_only=as_bool(v.get("read_only")), super_read_only=as_bool(v.get("super_read_only")),
            gtid_mode=str(v.get("gtid_mode") or ""),
            gtid_binlog_pos=executed, gtid_binlog_state=executed, gtid_current_pos=executed,
            gtid_executed=executed,
            semi_sync=semi, channel=self.channel_from(row, hb, executed), observed_at=self.wall(),
        )

    # ------------------------------------------------------------ actions

    def server_errant(self, s: Session, candidate: ReplicationState, source: ReplicationState) -> tuple[str, ...]:
        text = s.scalar("SELECT GTID_SUBTRACT(%s, %s) AS errant", (candidate.gtid_executed, source.gtid_executed))
        return gtid.split_gtid_set_text(str(text or ""), source.server_uuid)

    def set_read_only(self, s: Session, on: bool) -> None:
        if on:
            s.run("SET GLOBAL super_read_only = 1")   # implies read_only = 1
        else:
            s.run("SET GLOBAL super_read_only = 0")
            s.run("SET GLOBAL read_only = 0")

    def wait_applied(self, s: Session, target: str, timeout: float) -> bool:
        return as_int(s.scalar("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s) AS r", (target, float(timeout)))) == 0

    def missing(self, state: ReplicationState, target: str) -> str:
        left = gtid.subtract_gtid_sets(gtid.parse_gtid_set(target), gtid.parse_gtid_set(state.gtid_executed))
        return gtid.format_gtid_set(left)

    def stop_io(self, s: Session) -> None:
        s.run("STOP REPLICA IO_THREAD")

    def stop_replica(self, s: Session) -> None:
        s.run("STOP REPLICA")

    def detach(self, s: Session) -> None:
        s.run("STOP REPLICA")
        s.run("RESET REPLICA ALL")

    def attach(self, s: Session, state: ReplicationState, source: DatabaseSpec, source_password: str) -> str:
        names = {str(r["Variable_name"]).lower() for r in s.rows("SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'")}
        for name in ("rpl_semi_sync_replica_enabled", "rpl_semi_sync_slave_enabled"):
            if name in names:
                s.run(f"SET GLOBAL {name} = 1")
                break
        tls, args = self.replication_tls(source, "SOURCE")
        s.run("CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s, "
              "SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, GET_SOURCE_PUBLIC_KEY = 1"
              + tls, (source.endpoint.host, int(source.endpoint.port), source.replication_user, source_password, *args))
        s.run("START REPLICA")
        return state.gtid_executed
