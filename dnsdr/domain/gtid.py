"""GTID text handling for both dialects, pure.

MariaDB: a GTID is ``domain-server_id-seq_no``; a position is a comma list with one GTID per
domain (``gtid_current_pos``), a binlog *state* one per (domain, server_id) (``gtid_binlog_state``).

MySQL: a GTID set is ``uuid[:tag]:interval[:interval...]`` items separated by commas (and, in
server output, newlines); intervals are ``n`` or ``a-b``. 8.4 tags (``uuid:tag:1-3``) are kept as
part of the set key.

Errant rule for MariaDB (see :func:`mariadb_errant`): every GTID names the server that originated
it, and a server's sequence numbers within a domain only grow. So for each (domain, server_id) the
candidate knows, the newest seq_no it holds must also be held by the source (found in the source's
``gtid_binlog_state``, ``gtid_current_pos`` or ``gtid_slave_pos`` for that same server). A
candidate entry from a server the source has never heard of in that domain (typically the
candidate's own server_id after a write with read_only off) or with a higher seq_no than the source
has from that server (the tail an old primary wrote but never shipped) is errant. Comparing only the
per-domain position is not enough: an old primary at ``0-1-105`` looks merely *behind* a new primary
at ``0-2-150`` although ``0-1-101..105`` were never replicated.
Entries the source originated itself (its own server_id) are never errant: the candidate can only
have received them from the source. Skipping them (as orchestrator skips the source's UUID) also
avoids a false alarm when the source is observed a moment before the candidate while it writes.
The same holds for MySQL: ``GTID_SUBTRACT`` items of the source's own UUID are left out.
Limitation: a source provisioned from a backup without binlog history lacks entries for servers that
have not written since; their old transactions on the candidate would be reported as errant (a false
alarm, never a missed divergence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dnsdr.domain.errors import InvalidInput


class GtidParseError(InvalidInput):
    """A GTID list or set that does not follow the server's syntax."""


# ---------------------------------------------------------------- MariaDB


@dataclass(frozen=True, order=True)
class MariaGtid:
    domain: int
    server_id: int
    seq: int

    def __str__(self) -> str:
        return f"{self.domain}-{self.server_id}-{self.seq}"


_MARIA = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def parse_mariadb_gtids(text: str | None) -> tuple[MariaGtid, ...]:
    """Parse ``0-1-10,1-2-5`` (any of the ``gtid_*_pos``/state variables); empty text is ()."""
    if not text or not text.strip():
        return ()
    out: list[MariaGtid] = []
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        m = _MARIA.match(item)
        if not m:
            raise GtidParseError(f"not a MariaDB GTID: {item!r}")
        out.append(MariaGtid(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return tuple(sorted(out))


def by_domain(gtids: tuple[MariaGtid, ...]) -> dict[int, MariaGtid]:
    """One GTID per domain: the highest seq_no (a position, as in ``gtid_current_pos``)."""
    out: dict[int, MariaGtid] = {}
    for g in gtids:
        if g.domain not in out or g.seq > out[g.domain].seq:
            out[g.domain] = g
    return out


def by_server(*lists: tuple[MariaGtid, ...]) -> dict[tuple[int, int], int]:
    """The highest seq_no held for each (domain, server_id) across several lists."""
    out: dict[tuple[int, int], int] = {}
    for gtids in lists:
        for g in gtids:
            key = (g.domain, g.server_id)
            out[key] = max(out.get(key, 0), g.seq)
    return out


def format_mariadb(gtids: tuple[MariaGtid, ...] | list[MariaGtid]) -> str:
    return ",".join(str(g) for g in sorted(gtids))


def mariadb_errant(candidate: tuple[tuple[MariaGtid, ...], ...],
                   source: tuple[tuple[MariaGtid, ...], ...], source_server_id: int | None = None) -> tuple[str, ...]:
    """GTID ranges the candidate holds that the source never had (module docstring has the rule).

    ``candidate``/``source`` are several GTID lists each (binlog state, current pos, slave pos).
    Results read ``D-S-N`` (one transaction), ``D-S-A..N`` (S's transactions after the source's
    last one from S, up to N) or ``D-S-..N`` (everything from S up to N: the source never heard of S
    in domain D). seq_nos are shared by all servers of a domain, so not every number in a range need
    be from S.
    """
    have = by_server(*source)
    out: list[str] = []
    for (domain, server), seq in sorted(by_server(*candidate).items()):
        if server == source_server_id:
            continue  # originated on the source itself: the candidate can only have it from there
        known = have.get((domain, server), 0)
        if seq <= known:
            continue
        if seq == known + 1:
            out.append(f"{domain}-{server}-{seq}")
        elif known:
            out.append(f"{domain}-{server}-{known + 1}..{seq}")
        else:  # the source never had anything from this server in this domain
            out.append(f"{domain}-{server}-..{seq}")
    return tuple(out)


def mariadb_distance(ahead: tuple[MariaGtid, ...], behind: tuple[MariaGtid, ...]) -> int:
    """How many transactions ``behind`` must apply to reach ``ahead`` (per-domain seq_no difference)."""
    a, b = by_domain(ahead), by_domain(behind)
    return sum(max(0, g.seq - (b[d].seq if d in b else 0)) for d, g in a.items())


def mariadb_missing(ahead: tuple[MariaGtid, ...], behind: tuple[MariaGtid, ...]) -> str:
    """The per-domain ranges ``behind`` still lacks, e.g. ``0-1-11..15``; '' when none."""
    b = by_domain(behind)
    parts = []
    for d, g in sorted(by_domain(ahead).items()):
        have = b[d].seq if d in b else 0
        if g.seq > have:
            first = "" if g.seq == have + 1 else f"{have + 1}.."
            parts.append(f"{d}-{g.server_id}-{first}{g.seq}")
    return ",".join(parts)


# ---------------------------------------------------------------- MySQL

Intervals = tuple[tuple[int, int], ...]
GtidSet = dict[str, Intervals]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TAG = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,31}$")


def _merge(intervals: list[tuple[int, int]]) -> Intervals:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def parse_gtid_set(text: str | None) -> GtidSet:
    """Parse a MySQL GTID set (``@@gtid_executed``, ``Retrieved_Gtid_Set``...) into sorted intervals."""
    acc: dict[str, list[tuple[int, int]]] = {}
    if not text:
        return {}
    for item in text.replace("\n", "").split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        uuid = parts[0].strip().lower()
        if not _UUID.match(uuid):
            raise GtidParseError(f"not a GTID set item: {item!r}")
        key = uuid
        for part in parts[1:]:
            part = part.strip()
            if _TAG.match(part):
                key = f"{uuid}:{part.lower()}"
                continue
            m = re.match(r"^(\d+)(?:-(\d+))?$", part)
            if not m:
                raise GtidParseError(f"bad interval {part!r} in {item!r}")
            a, b = int(m.group(1)), int(m.group(2) or m.group(1))
            if a < 1 or b < a:
                raise GtidParseError(f"bad interval {part!r} in {item!r}")
            acc.setdefault(key, []).append((a, b))
        acc.setdefault(key, [])
    return {k: _merge(v) for k, v in acc.items() if v}


def format_gtid_set(gtids: GtidSet) -> str:
    items = []
    for key in sorted(gtids):
        ivs = ":".join(str(a) if a == b else f"{a}-{b}" for a, b in gtids[key])
        items.append(f"{key}:{ivs}")
    return ",".join(items)


def subtract_gtid_sets(a: GtidSet, b: GtidSet) -> GtidSet:
    """``a - b``, the same as the server's ``GTID_SUBTRACT(a, b)``."""
    out: GtidSet = {}
    for key, ivs in a.items():
        rest = list(ivs)
        for c, d in b.get(key, ()):
            nxt: list[tuple[int, int]] = []
            for x, y in rest:
                if d < x or c > y:
                    nxt.append((x, y))
                    continue
                if x < c:
                    nxt.append((x, c - 1))
                if y > d:
                    nxt.append((d + 1, y))
            rest = nxt
        if rest:
            out[key] = tuple(rest)
    return out


def count_gtid_set(gtids: GtidSet) -> int:
    return sum(b - a + 1 for ivs in gtids.values() for a, b in ivs)


def mysql_errant(candidate_executed: str, source_executed: str, source_uuid: str = "") -> tuple[str, ...]:
    """Items of ``GTID_SUBTRACT(candidate, source)``, one per server UUID (pure fallback), leaving out
    the source's own UUID (as orchestrator does)."""
    diff = subtract_gtid_sets(parse_gtid_set(candidate_executed), parse_gtid_set(source_executed))
    return split_gtid_set_text(format_gtid_set(diff), source_uuid)


def split_gtid_set_text(text: str, source_uuid: str = "") -> tuple[str, ...]:
    """A server-returned set (``GTID_SUBTRACT`` output) as one normalised item per UUID (and tag),
    without items of ``source_uuid``."""
    parsed = parse_gtid_set(text)
    own = source_uuid.lower()
    return tuple(format_gtid_set({k: v}) for k, v in sorted(parsed.items()) if not own or k.split(":")[0] != own)
