"""A database whose answers a test scripts: (statement prefix -> rows or exception), every statement logged.

For adapters whose logic is the order and shape of the SQL they send (snapshots, binlog scans,
rebuilds); the replication adapters have their richer fakes in ``tests/unit/adapters/mysql/fakes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dnsdr.adapters.mysql.connection import Connector, Credentials, Session

Answer = list[dict[str, Any]] | Exception | Callable[[str, Any], list[dict[str, Any]]]


class ScriptedDB:
    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.log: list[tuple[str, Any]] = []

    def execute(self, query: str, args: Any = None) -> list[dict[str, Any]]:
        self.log.append((query, args))
        for prefix, answer in self.answers.items():
            if query.startswith(prefix):
                if isinstance(answer, Exception):
                    raise answer
                return answer(query, args) if callable(answer) else list(answer)
        return []

    def statements(self) -> list[str]:
        return [q for q, _ in self.log]


class _Cursor:
    def __init__(self, db: ScriptedDB) -> None:
        self.db = db
        self.rows: list[dict[str, Any]] = []

    def execute(self, query: str, args: Any = None) -> int:
        self.rows = self.db.execute(query, args)
        return len(self.rows)

    def fetchall(self) -> list[dict[str, Any]]:
        return self.rows

    def fetchone(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None


class ScriptedConnector(Connector):
    def __init__(self, db: ScriptedDB, host: str = "127.0.1.1") -> None:
        super().__init__(host, 3306, Credentials("dnsdr", "admin-pw-123"))
        self.db = db
        self.read_timeouts: list[float | None] = []

    def open(self, read_timeout: float | None = None) -> Session:
        self.read_timeouts.append(read_timeout)
        return Session(_Cursor(self.db), self.endpoint, "dnsdr", ("admin-pw-123",))
