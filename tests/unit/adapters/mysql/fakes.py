"""A fake MySQL 8.4 server answering the statements the adapter sends, with MySQL's result shapes.

Rows use the exact column names of ``SHOW REPLICA STATUS`` (8.0.22+/8.4), the ``rpl_semi_sync_source_*``
variable/status names (8.0.26+ plugin), and server-returned GTID sets with MySQL's ``,\\n`` separators.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pymysql

from dnsdr.adapters.mysql.connection import Connector, Credentials, Session
from dnsdr.domain import gtid

SOURCE_UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
OWN_UUID = "4f22ab58-71ca-11e1-9e33-c80aa9429563"
NOW = dt.datetime(2026, 11, 20, 12, 0, 0)


def mysql_set_text(text: str) -> str:
    """Render a set the way the server prints it (items separated by ',\\n')."""
    return gtid.format_gtid_set(gtid.parse_gtid_set(text)).replace(",", ",\n")


def replica_status_row(**kw: Any) -> dict[str, Any]:
    """One row of MySQL 8.4 SHOW REPLICA STATUS, every column, for the default channel."""
    row: dict[str, Any] = {
        "Replica_IO_State": "Waiting for source to send event", "Source_Host": "127.0.1.1", "Source_User": "repl",
        "Source_Port": 3306, "Connect_Retry": 1, "Source_Log_File": "binlog.000003", "Read_Source_Log_Pos": 4711,
        "Relay_Log_File": "relay.000002", "Relay_Log_Pos": 900, "Relay_Source_Log_File": "binlog.000003",
        "Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Replicate_Do_DB": "",
        "Replicate_Ignore_DB": "", "Replicate_Do_Table": "", "Replicate_Ignore_Table": "",
        "Replicate_Wild_Do_Table": "", "Replicate_Wild_Ignore_Table": "", "Last_Errno": 0, "Last_Error": "",
        "Skip_Counter": 0, "Exec_Source_Log_Pos": 4711, "Relay_Log_Space": 1200, "Until_Condition": "None",
        "Until_Log_File": "", "Until_Log_Pos": 0, "Source_SSL_Allowed": "No", "Source_SSL_CA_File": "",
        "Source_SSL_CA_Path": "", "Source_SSL_Cert": "", "Source_SSL_Cipher": "", "Source_SSL_Key": "",
        "Seconds_Behind_Source": 0, "Source_SSL_Verify_Server_Cert": "No", "Last_IO_Errno": 0,
        "Last_IO_Error": "", "Last_SQL_Errno": 0, "Last_SQL_Error": "", "Replicate_Ignore_Server_Ids": "",
        "Source_Server_Id": 1, "Source_UUID": SOURCE_UUID, "Source_Info_File": "mysql.slave_master_info",
        "SQL_Delay": 0, "SQL_Remaining_Delay": None, "Replica_SQL_Running_State":
        "Replica has read all relay log; waiting for more updates", "Source_Retry_Count": 10,
        "Source_Bind": "", "Last_IO_Error_Timestamp": "", "Last_SQL_Error_Timestamp": "", "Source_SSL_Crl": "",
        "Source_SSL_Crlpath": "", "Retrieved_Gtid_Set": f"{SOURCE_UUID}:1-100",
        "Executed_Gtid_Set": f"{SOURCE_UUID}:1-100", "Auto_Position": 1, "Replicate_Rewrite_DB": "",
        "Channel_Name": "", "Source_TLS_Version": "", "Source_public_key_path": "", "Get_Source_public_key": 1,
        "Network_Namespace": "",
    }
    row.update(kw)
    return row


@dataclass
class FakeMySQL:
    """Just enough of a MySQL 8.4 server. ``fail`` maps a statement prefix to an exception to raise."""

    read_only: bool = False
    super_read_only: bool = False
    executed: str = f"{SOURCE_UUID}:1-100"
    replica: dict[str, Any] | None = None
    service_state: str = "ON"
    last_heartbeat: Any = NOW - dt.timedelta(seconds=1)
    last_queued: Any = "0000-00-00 00:00:00.000000"
    heartbeat_interval: float = 2.0
    semi: dict[str, str] = field(default_factory=lambda: {
        "rpl_semi_sync_source_enabled": "ON", "rpl_semi_sync_replica_enabled": "OFF"})
    semi_status: dict[str, str] = field(default_factory=lambda: {
        "Rpl_semi_sync_source_status": "ON", "Rpl_semi_sync_source_clients": "1",
        "Rpl_semi_sync_replica_status": "OFF"})
    processlist: list[dict[str, Any]] = field(default_factory=list)
    own_id: int = 10
    apply_on_wait: bool = True
    fail: dict[str, Exception] = field(default_factory=dict)
    log: list[tuple[str, Any]] = field(default_factory=list)
    writes: int = 0

    def refuse_if_read_only(self) -> None:
        if self.super_read_only:
            raise pymysql.err.OperationalError(
                1290, "The MySQL server is running with the --super-read-only option so it cannot execute this statement")

    def execute(self, q: str, args: Any = None) -> list[dict[str, Any]]:
        self.log.append((q, args))
        for prefix, exc in self.fail.items():
            if q.startswith(prefix):
                raise exc
        if q.startswith("SELECT @@version"):
            return [{"version": "8.4.3", "server_id": 2, "server_uuid": OWN_UUID, "read_only": int(self.read_only),
                     "super_read_only": int(self.super_read_only), "gtid_mode": "ON",
                     "gtid_executed": mysql_set_text(self.executed)}]
        if q.startswith("SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync"):
            return [{"Variable_name": k, "Value": v} for k, v in self.semi.items()]
        if q.startswith("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync"):
            return [{"Variable_name": k, "Value": v} for k, v in self.semi_status.items()]
        if q == "SHOW REPLICA STATUS":
            return [] if self.replica is None else [dict(self.replica, Executed_Gtid_Set=mysql_set_text(self.executed))]
        if "performance_schema.replication_connection_status" in q:
            return [] if self.replica is None else [{
                "service_state": self.service_state, "beats": 42, "last_heartbeat": self.last_heartbeat,
                "last_queued": self.last_queued, "heartbeat_interval": self.heartbeat_interval, "now": NOW}]
        if q.startswith("SELECT GTID_SUBTRACT"):
            a, b = args
            diff = gtid.subtract_gtid_sets(gtid.parse_gtid_set(a), gtid.parse_gtid_set(b))
            return [{"errant": gtid.format_gtid_set(diff).replace(",", ",\n")}]
        if q.startswith("SET GLOBAL super_read_only"):
            self.super_read_only = q.endswith("1")
            self.read_only = self.read_only or self.super_read_only
            return []
        if q.startswith("SET GLOBAL read_only"):
            self.read_only = q.endswith("1")
            return []
        if q.startswith("SELECT CONNECTION_ID()"):
            return [{"id": self.own_id}]
        if "information_schema.PROCESSLIST" in q:
            return list(self.processlist)
        if q.startswith("KILL CONNECTION"):
            victim = int(q.split()[-1])
            self.processlist = [p for p in self.processlist if p["ID"] != victim]
            return []
        if "dnsdr_fence_probe" in q:
            self.refuse_if_read_only()
            raise pymysql.err.OperationalError(1049, "Unknown database 'dnsdr_fence_probe'")
        if q.startswith("SELECT WAIT_FOR_EXECUTED_GTID_SET"):
            if self.apply_on_wait and self.replica is not None:
                self.executed = gtid.format_gtid_set(gtid.parse_gtid_set(
                    self.executed + "," + self.replica["Retrieved_Gtid_Set"]))
                return [{"r": 0}]
            return [{"r": 1}]
        if q == "STOP REPLICA":
            if self.replica is not None:
                self.replica.update(Replica_IO_Running="No", Replica_SQL_Running="No")
            return []
        if q == "RESET REPLICA ALL":
            self.replica = None
            return []
        if q.startswith(("CREATE DATABASE", "CREATE TABLE", "REPLACE INTO")):
            self.refuse_if_read_only()
            self.writes += 1
            self.executed = gtid.format_gtid_set(gtid.parse_gtid_set(f"{self.executed},{OWN_UUID}:{self.writes}"))
            return []
        if q.startswith("CHANGE REPLICATION SOURCE TO"):
            host, port, user, _password, *ca = args
            ssl_on = "SOURCE_SSL = 1" in q
            self.replica = replica_status_row(Source_Host=host, Source_Port=port, Source_User=user,
                                              Replica_IO_Running="No", Replica_SQL_Running="No",
                                              Retrieved_Gtid_Set="", Source_SSL_Allowed="Yes" if ssl_on else "No",
                                              Source_SSL_Verify_Server_Cert="Yes" if "VERIFY_SERVER_CERT = 1" in q
                                              else "No", Source_SSL_CA_File=ca[0] if ca else "")
            return []
        if q == "START REPLICA":
            assert self.replica is not None
            self.replica.update(Replica_IO_Running="Yes", Replica_SQL_Running="Yes")
            return []
        if q.startswith("SET GLOBAL rpl_semi_sync_replica_enabled"):
            self.semi["rpl_semi_sync_replica_enabled"] = "ON"
            return []
        raise AssertionError(f"unexpected statement: {q}")


class FakeCursor:
    def __init__(self, server: FakeMySQL) -> None:
        self.server = server
        self._rows: list[dict[str, Any]] = []

    def execute(self, query: str, args: Any = None) -> int:
        self._rows = self.server.execute(query, args)
        return len(self._rows)

    def fetchall(self) -> list[dict[str, Any]]:
        return self._rows

    def fetchone(self) -> dict[str, Any] | None:
        return self._rows[0] if self._rows else None


class FakeConnector(Connector):
    def __init__(self, server: FakeMySQL, user: str = "dnsdr", password: str = "admin-pw-123",
                 refuse: Exception | None = None) -> None:
        super().__init__("127.0.2.1", 3306, Credentials(user, password))
        self.server = server
        self.refuse = refuse

    def open(self, read_timeout: float | None = None) -> Session:
        if self.refuse is not None:
            raise self.refuse
        return Session(FakeCursor(self.server), self.endpoint, self.credentials.user, (self.credentials.password,))
