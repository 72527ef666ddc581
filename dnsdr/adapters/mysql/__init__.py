"""MySQL/MariaDB adapter: one interface (:class:`DatabaseAdapter`), two dialects.

Typical use by the engine::

    node = adapter_for(region.database)
    state = node.observe()                       # never raises
    node.fence(); node.catch_up(30, until=...); node.promote()
    repoint(old_node, new_primary_spec)          # refuses when errant, listing the GTIDs
"""

from __future__ import annotations

from collections.abc import Callable

from dnsdr.adapters.mysql.base import DatabaseAdapter
from dnsdr.adapters.mysql.connection import (
    AuthenticationError,
    Connector,
    Credentials,
    DatabaseError,
    DatabaseTlsError,
    NotMySQLError,
    OperationRefused,
    PrivilegeError,
    QueryTimeoutError,
    ReadOnlyError,
    Timeouts,
    UnreachableError,
)
from dnsdr.adapters.mysql.mariadb import MariaDBAdapter
from dnsdr.adapters.mysql.mysql8 import MySQL8Adapter
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import client_context
from dnsdr.domain.replication import ReplicationState, RepointResult
from dnsdr.domain.spec import DatabaseFlavour, DatabaseSpec, SecretRef

__all__ = [
    "AuthenticationError",
    "DatabaseAdapter",
    "DatabaseError",
    "DatabaseTlsError",
    "MariaDBAdapter",
    "MySQL8Adapter",
    "NotMySQLError",
    "OperationRefused",
    "PrivilegeError",
    "QueryTimeoutError",
    "ReadOnlyError",
    "Timeouts",
    "UnreachableError",
    "adapter_for",
    "repoint",
]

Resolver = Callable[[SecretRef], str]


def adapter_for(spec: DatabaseSpec, *, timeouts: Timeouts | None = None, resolver: Resolver = resolve,
                heartbeat_period: float | None = None) -> DatabaseAdapter:
    """The adapter for ``spec``'s flavour, with the admin account and, as fence prover, the
    replication account (which must never hold a read_only bypass), both over the spec's TLS. Raises
    SecretError when a credential cannot be resolved (the message names the reference, not the
    value), TlsError when its CA cannot be loaded."""
    password = resolver(spec.password)
    repl_password = resolver(spec.replication_password)
    host, port = spec.endpoint.host, spec.endpoint.port
    tls = client_context(spec.tls, resolver)
    main = Connector(host, port, Credentials(spec.user, password), timeouts, extra_secrets=(repl_password,), tls=tls)
    probe = Connector(host, port, Credentials(spec.replication_user, repl_password), timeouts,
                      extra_secrets=(password,), tls=tls)
    node: DatabaseAdapter
    if spec.flavour == DatabaseFlavour.MYSQL:
        node = MySQL8Adapter(main, probe)
    else:
        node = MariaDBAdapter(main, probe)
        node.heartbeat_period = heartbeat_period
    node.replica_ca_file = spec.replica_ca_file
    return node


def repoint(node: DatabaseAdapter, source: DatabaseSpec, *, source_state: ReplicationState | None = None,
            resolver: Resolver = resolve, timeouts: Timeouts | None = None) -> RepointResult:
    """Make ``node`` a GTID replica of ``source`` (observed now unless ``source_state`` is given)."""
    if source_state is None:
        source_state = adapter_for(source, timeouts=timeouts, resolver=resolver).observe()
    return node.repoint(source, resolver(source.replication_password), source_state)
