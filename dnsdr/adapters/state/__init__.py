"""State stores: the journal, cluster record, history and operation lease of one DesignateDR."""

from dnsdr.adapters.state.base import (
    DEFAULT_TTL,
    CorruptStateError,
    LeaseKeeper,
    LeaseLostError,
    LockedError,
    StateStore,
    StateStoreError,
    holder_id,
)
from dnsdr.adapters.state.file import DEFAULT_STATE_DIR, FileStateStore

__all__ = [
    "DEFAULT_STATE_DIR",
    "DEFAULT_TTL",
    "CorruptStateError",
    "FileStateStore",
    "LeaseKeeper",
    "LeaseLostError",
    "LockedError",
    "StateStore",
    "StateStoreError",
    "holder_id",
]
