"""BIND 9 (Designate's ``bind9`` driver): zones managed through native rndc.

``showzone`` then ``modzone`` keeping every other clause (``file`` included) in Designate's
``type slave; masters { H port P; };`` dialect, so nothing an operator configured on a zone is
lost; ``addzone`` for zones BIND lacks; ``retransfer`` to pull now. named runs ``modzone`` in
exclusive mode, so more than a few connections buy nothing.

With ``zoneConfigCommand`` (a command printing named's added zones as ``named-nzd2nzf`` does, e.g.
``ssh bind-r1 named-nzd2nzf /var/cache/bind/_default.nzd``) the configs come from that one dump
instead of one ``showzone`` each: half the rndc messages, and named's cost per message grows with
the messages of the last 15 minutes (its duplicate check walks them all). A zone the dump lacks, a
line it cannot read, or a command that fails falls back to ``showzone``: slower, never wrong.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dnsdr.adapters.backends.base import (
    BackendDriver,
    HostPort,
    ZoneOutcome,
    ZoneStatus,
    canonical,
    wanted_masters,
)
from dnsdr.adapters.rndc import RndcClient, RndcError, RndcKey, is_not_found
from dnsdr.adapters.shown import brief
from dnsdr.domain.spec import BackendKind, BackendSpec, Endpoint, SecretLookup, SecretRef

KEY_FILE, CONFIG_FILE, ZONES_COMMAND = "rndcKeyFile", "rndcConfigFile", "zoneConfigCommand"
DUMP_LIMIT = 64 << 20  # octets of dump read: about 400,000 zones
log = logging.getLogger("dnsdr.backends.bind9")


def _pool_options(backend: BackendSpec, secret: SecretLookup) -> dict[str, str]:
    options = {"rndc_host": backend.control.host, "rndc_port": str(backend.control.port)}
    key_file = backend.setting(KEY_FILE) or backend.credential.file
    if key_file:
        options["rndc_key_file"] = key_file
    config_file = backend.setting(CONFIG_FILE)
    if config_file:
        options["rndc_config_file"] = config_file
    return options


KIND = BackendKind(
    type="bind9", label="BIND9", control_key="rndc", control_port=953, credential_key="rndcKeyRef",
    pool_options=_pool_options, settings=(KEY_FILE, CONFIG_FILE, ZONES_COMMAND),
)


def backend(name: str, dns: Endpoint, rndc: Endpoint, rndc_key: SecretRef, key_file: str | None = None,
            config_file: str | None = None) -> BackendSpec:
    """A BIND backend spec, as the parser would build it from ``rndc`` and ``rndcKeyRef``."""
    settings = tuple((k, v) for k, v in ((KEY_FILE, key_file), (CONFIG_FILE, config_file)) if v)
    return BackendSpec(name=name, kind=KIND, dns=dns, control=rndc, credential=rndc_key, settings=settings)


def bind_masters_clause(masters: Sequence[Endpoint]) -> str:
    """Designate's wording (impl_bind9.py): ``masters { H1 port P1; H2 port P2;}``."""
    entries = "; ".join(f"{m.host} port {m.port}" for m in masters)
    return "masters { " + entries + ";}"


_BIND_ENTRY = re.compile(r"([0-9A-Fa-f.:]+)(?:\s+port\s+(\d+))?")


def _depths(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, brace depth after it) of every character outside double quotes."""
    depth, in_quote = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote:
            depth += (ch == "{") - (ch == "}")
            yield i, ch, depth


def split_statements(body: str) -> list[str]:
    """Top-level ``;``-terminated statements of a named.conf block body (braces nest)."""
    out, start = [], 0
    for i, ch, depth in _depths(body):
        if ch == ";" and depth == 0:
            stmt = body[start:i].strip()
            if stmt:
                out.append(stmt)
            start = i + 1
    return out


@dataclass(frozen=True)
class BindZoneConfig:
    """The pieces of ``rndc showzone`` output that matter here."""

    type: str
    masters: frozenset[HostPort]
    statements: tuple[str, ...]  # every clause of the zone block, masters included

    @classmethod
    def parse(cls, showzone: str) -> BindZoneConfig:
        """ValueError (with a bounded excerpt) when the output is not a zone block."""
        start, end = showzone.find("{"), showzone.rfind("}")
        if start < 0 or end < start:
            raise ValueError(f"unexpected showzone output: {brief(showzone, 120)!r}")
        statements = split_statements(showzone[start + 1 : end])
        ztype, masters = "", set()
        for stmt in statements:
            words = stmt.split()
            word = words[0]
            if word == "type":
                if len(words) != 2:
                    raise ValueError(f"unexpected type clause in showzone output: {brief(stmt, 120)!r}")
                ztype = words[1]
            elif word in ("masters", "primaries"):
                head, _, inner = stmt.partition("{")
                list_port = re.search(r"port\s+(\d+)", head)
                default = int(list_port.group(1)) if list_port else 53
                for entry in split_statements(inner.rsplit("}", 1)[0]):
                    m = _BIND_ENTRY.match(entry)
                    if m:
                        masters.add((m.group(1).lower(), int(m.group(2)) if m.group(2) else default))
        return cls(ztype, frozenset(masters), tuple(statements))

    def with_masters(self, masters: Sequence[Endpoint]) -> str:
        """The modzone config: every clause kept, masters/primaries replaced by Designate's form."""
        kept = [s for s in self.statements if s.split(None, 1)[0] not in ("masters", "primaries")]
        kept.insert(1 if kept and kept[0].startswith("type") else 0, bind_masters_clause(masters))
        return "{ " + " ".join(s + ";" for s in kept) + " };"


_DUMP_LINE = re.compile(r'zone\s+"([^"\\]+)"\s+(?:in\s+)?(\{.*\})\s*;\s*$', re.IGNORECASE)


def _one_block(text: str) -> bool:
    """``text`` is exactly one brace block (quotes respected): a cut line must never pass for a zone
    whose other clauses are simply gone."""
    closed = [i for i, _, depth in _depths(text) if depth <= 0]
    return text.count('"') % 2 == 0 and closed == [len(text) - 1] and text.startswith("{")


def parse_zone_dump(text: str) -> dict[str, BindZoneConfig]:
    """``named-nzd2nzf`` output (one ``zone "name" { ... };`` per line) by canonical zone name. A line
    that is not one zone block of the default view is skipped: its zone is asked for with showzone."""
    configs: dict[str, BindZoneConfig] = {}
    for line in text.splitlines():
        match = _DUMP_LINE.match(line.strip())
        if match is None or not _one_block(match.group(2)):
            continue
        try:
            configs[canonical(match.group(1))] = BindZoneConfig.parse(match.group(2))
        except (ValueError, IndexError):
            continue
    return configs


class Bind9Driver(BackendDriver):
    kind = KIND
    default_workers = 4

    def connect(self) -> None:
        self.client = RndcClient(self.backend.control, RndcKey.parse(self.credential), timeout=self.timeout,
                                 connections=self.workers)
        self.client.login()

    def close(self) -> None:
        client: RndcClient | None = getattr(self, "client", None)
        if client is not None:
            client.close()

    def dumped_configs(self) -> dict[str, BindZoneConfig]:
        """Every added zone's config from ``zoneConfigCommand`` in one go; {} without one or when it fails."""
        command = self.backend.setting(ZONES_COMMAND)
        if not command:
            return {}
        try:
            proc = subprocess.run(shlex.split(command), capture_output=True, timeout=self.timeout, check=False)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            log.warning("%s: %s failed (%s); every zone is read with showzone", self.backend.name, ZONES_COMMAND,
                        brief(str(exc), 200, self.hidden))
            return {}
        if proc.returncode != 0:
            log.warning("%s: %s exited %d (%s); every zone is read with showzone", self.backend.name, ZONES_COMMAND,
                        proc.returncode, brief(proc.stderr.decode("utf-8", "replace"), 200, self.hidden))
            return {}
        text = proc.stdout[:DUMP_LIMIT].decode("utf-8", "replace")
        return parse_zone_dump(text if text.endswith("\n") else text.rpartition("\n")[0])  # whole lines only

    def set_masters(self, zones: Sequence[str], masters: Sequence[Endpoint], dry_run: bool) -> list[ZoneOutcome]:
        want = wanted_masters(masters)
        dumped = self.dumped_configs()

        def one(name: str) -> ZoneOutcome:
            config = dumped.get(canonical(name))
            try:
                if config is None:
                    config = BindZoneConfig.parse(self.client.showzone(name))
            except RndcError as exc:
                if is_not_found(exc):
                    return ZoneOutcome(name, ZoneStatus.MISSING, "not on this backend")
                raise
            except ValueError as exc:  # named said something that is not a zone block: this zone failed
                return ZoneOutcome(name, ZoneStatus.FAILED, str(exc))
            if config.type not in ("slave", "secondary"):
                return ZoneOutcome(name, ZoneStatus.FAILED, f"type {brief(config.type, 40)}, not a secondary")
            if config.masters == want:
                return ZoneOutcome(name, ZoneStatus.UNCHANGED)
            was = "was " + ",".join(f"{h} port {p}" for h, p in sorted(config.masters))
            if not dry_run:
                try:
                    self.client.modzone(name, config.with_masters(masters))
                except RndcError as exc:
                    if is_not_found(exc):  # deleted since the dump
                        return ZoneOutcome(name, ZoneStatus.MISSING, "deleted meanwhile")
                    raise
            return ZoneOutcome(name, ZoneStatus.CHANGED, was)

        results = self.client.map(one, zones)
        return [r if isinstance(r, ZoneOutcome) else ZoneOutcome(z, ZoneStatus.FAILED, str(r))
                for z, r in zip(zones, results, strict=True)]

    def retransfer(self, zones: Sequence[str]) -> list[object]:
        return list(self.client.map(self.client.retransfer, zones))

    def create_secondary(self, zones: Sequence[tuple[str, str]], masters: Sequence[Endpoint]) -> list[object]:
        clause = bind_masters_clause(masters)
        ids = dict(zones)

        def add(name: str) -> str:
            return self.client.addzone(name, f'{{ type slave; {clause}; file "slave.{canonical(name)}{ids[name]}"; }};')

        return list(self.client.map(add, [name for name, _ in zones]))

    def remove(self, zones: Sequence[str]) -> list[object]:
        def delete(name: str) -> str:
            try:
                return self.client.delzone(name, clean=True)
            except RndcError as exc:
                if is_not_found(exc):
                    return "not there"
                raise

        return list(self.client.map(delete, zones))

    def probe(self) -> None:
        self.client.status()  # connect() logged in already; a status round trip proves the key
