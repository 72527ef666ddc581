"""The failover epoch, recorded in the new primary's own database (schema ``dnsdr``).

The row replicates to every replica, so a returning old primary carries an older epoch than the
cluster: that is how it learns it is stale. ``run_id`` makes the bump idempotent per run.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsdr.adapters.mysql.base import DatabaseAdapter

SCHEMA = "dnsdr"


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    primary_region: str
    run_id: str


def read_epoch(node: DatabaseAdapter) -> EpochRecord | None:
    with node.connector.session() as s:
        exists = s.scalar(
            "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'epoch'",
            (SCHEMA,),
        )
        if not exists:
            return None
        rows = s.rows(f"SELECT epoch, primary_region, run_id FROM {SCHEMA}.epoch WHERE id = 1")
    if not rows:
        return None
    row = rows[0]
    return EpochRecord(int(row["epoch"]), str(row["primary_region"]), str(row["run_id"]))


def write_epoch(node: DatabaseAdapter, record: EpochRecord) -> None:
    with node.connector.session() as s:
        s.run(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        s.run(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.epoch (id TINYINT UNSIGNED PRIMARY KEY, "
              "epoch INT UNSIGNED NOT NULL, primary_region VARCHAR(63) NOT NULL, run_id VARCHAR(32) NOT NULL, "
              "updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB")
        s.run(f"REPLACE INTO {SCHEMA}.epoch (id, epoch, primary_region, run_id, updated_at) "
              "VALUES (1, %s, %s, %s, UTC_TIMESTAMP(6))", (record.epoch, record.primary_region, record.run_id))
