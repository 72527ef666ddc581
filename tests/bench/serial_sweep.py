"""Benchmark: SOA sweep of N zones on the lab's four DNS targets; dnsdr vs dnsperf vs a naive loop.

Goals (issue 5): dnsdr's sweep at >= 0.5 x dnsperf's rate on the same servers in the same run,
>= 10 x a one-query-at-a-time dnspython loop, and 10,000 zones x 4 targets classified in <= 3 s.

Seeding, for speed (no Designate API round trips), all under a random tag ``<tag>.bench.dnsdr.test.``:
- Designate: rows inserted straight into ``zones`` on the primary region's database (type PRIMARY,
  status ACTIVE, action NONE, the lab pool, tenant ``dnsdr-bench``), so they replicate to r2 and
  ``read_zones`` returns them exactly as it returns real zones. Nothing in Designate acts on
  ACTIVE/NONE rows with ``increment_serial = 0``.
- PowerDNS (both regions): NATIVE zones with their SOA row inserted into the running server's gsqlite3
  ``domains``/``records`` tables, then ``pdns_control rediscover`` (PowerDNS 4.7 keeps a zone cache
  that direct inserts bypass; the lab runs with packet/query caches at 0).
- BIND (both regions): one zone file per zone in a temporary directory, each added with
  ``rndc addzone '{ type primary; file ...; }'`` over dnsdr's persistent rndc connections.
Every server then serves every zone at the serial in the database. Afterwards the rows are deleted,
the BIND zones removed with ``rndc delzone`` and the zone files with their directory.

Measured in one run: dnsdr's sweep (probe + classify, the median of three; the database read is
reported apart), dnsperf (``-c 4 -n PASSES`` with the same queries, one process per target run in
parallel as the sweep does, and one target at a time; the better aggregate rate is taken), and a
naive ``dns.query.udp`` loop on a sample. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dns.message
import dns.query
import pymysql

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import ProbeOptions, sweep
from dnsdr.adapters.rndc import RndcClient, RndcKey
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.serials import PairClass, Target, targets_from_spec
from dnsdr.domain.spec import BackendSpec
from dnsdr.lab import Lab

TENANT = "dnsdr-bench"
DEFAULT_POOL = "794ccc2cd75144feb57f8894c9f5c842"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def db_connect(lab: Lab) -> pymysql.connections.Connection:  # type: ignore[name-defined]
    """The lab's root over the Unix socket: seeding Designate's tables is no business of dnsdr's account."""
    spec = lab.spec()
    db = spec.region(spec.primary_region).database
    assert db is not None
    return pymysql.connect(unix_socket=str(lab.paths.mysql_socket(spec.primary_region)), user="root",
                           database=db.schema, autocommit=True, connect_timeout=10)


def seed_designate(lab: Lab, names: list[str], serial: int) -> None:
    rows = []
    for name in names:
        zid = f"{random.getrandbits(128):032x}"
        rows.append((zid, zid[:3], TENANT, name, f"hostmaster@{name.rstrip('.')}", serial, DEFAULT_POOL))
    conn = db_connect(lab)
    try:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO zones (id, version, created_at, deleted, shard, tenant_id, name, email, type, ttl, serial,"
                " refresh, retry, expire, minimum, status, action, pool_id, delayed_notify, increment_serial)"
                " VALUES (%s, 1, NOW(), '0', CONV(%s, 16, 10), %s, %s, %s, 'PRIMARY', 3600, %s,"
                " 3600, 600, 86400, 300, 'ACTIVE', 'NONE', %s, 0, 0)", rows)
    finally:
        conn.close()


def unseed_designate(lab: Lab, tag: str) -> None:
    conn = db_connect(lab)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM zones WHERE tenant_id = %s AND name LIKE %s", (TENANT, f"%.{tag}.bench.dnsdr.test."))
    finally:
        conn.close()


def soa_text(name: str, serial: int) -> str:
    return f"ns1.{name} hostmaster.{name} {serial} 3600 600 86400 300"


def seed_pdns(db: Path, names: list[str], serial: int) -> None:
    with sqlite3.connect(db, timeout=30) as conn:
        for name in names:
            bare = name.rstrip(".")
            cur = conn.execute("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", (bare,))
            conn.execute("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth)"
                         " VALUES (?, ?, 'SOA', ?, 300, 0, 0, 1)", (cur.lastrowid, bare, soa_text(name, serial)))


def pdns_rediscover(socket_dir: Path) -> None:
    """Direct inserts bypass PowerDNS's zone cache; ``rediscover`` makes it read the new zone list."""
    subprocess.run(["pdns_control", f"--socket-dir={socket_dir}", "rediscover"], check=True, capture_output=True,
                   timeout=60)


def unseed_pdns(db: Path, tag: str) -> None:
    like = f"%.{tag}.bench.dnsdr.test"
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("DELETE FROM records WHERE domain_id IN (SELECT id FROM domains WHERE name LIKE ?)", (like,))
        conn.execute("DELETE FROM domains WHERE name LIKE ?", (like,))


def rndc_client(backend: BackendSpec) -> RndcClient:
    return RndcClient(backend.control, RndcKey.parse(resolve(backend.credential)), timeout=30, connections=4)


def seed_bind(backend: BackendSpec, files: Path, names: list[str]) -> None:
    with rndc_client(backend) as client:
        errors = [r for r in client.map(
            lambda n: client.addzone(n, f'{{ type primary; file "{files / n}db"; }};'), names)
            if not isinstance(r, str)]
    if errors:
        raise RuntimeError(f"{backend.name}: {len(errors)} addzone errors, first: {errors[0]}")


def unseed_bind(backend: BackendSpec, names: list[str]) -> None:
    with rndc_client(backend) as client:
        client.map(lambda n: client.delzone(n), names)


def dnsperf(targets: list[Target], qfile: Path, passes: int, parallel: bool) -> tuple[float, int]:
    """Aggregate q/s of dnsperf over the targets (in parallel, or one after another) and lost queries."""
    def cmd(t: Target) -> list[str]:
        return ["dnsperf", "-s", t.host, "-p", str(t.port), "-d", str(qfile), "-c", "4", "-n", str(passes)]
    outs: list[str] = []
    start = time.monotonic()
    if parallel:
        procs = [subprocess.Popen(cmd(t), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for t in targets]
        outs = [p.communicate()[0] for p in procs]
        wall = time.monotonic() - start
    else:
        outs = [subprocess.run(cmd(t), capture_output=True, text=True, check=False).stdout for t in targets]
        wall = time.monotonic() - start
    completed = lost = 0
    elapsed = 0.0
    for out in outs:
        c = re.search(r"Queries completed:\s+(\d+)", out)
        lo = re.search(r"Queries lost:\s+(\d+)", out)
        run = re.search(r"Run time \(s\):\s+([\d.]+)", out)
        if not (c and lo and run):
            raise RuntimeError(f"cannot parse dnsperf output:\n{out}")
        completed += int(c.group(1))
        lost += int(lo.group(1))
        elapsed = max(elapsed, float(run.group(1))) if parallel else elapsed + float(run.group(1))
    del wall
    return completed / elapsed, lost


def naive(targets: list[Target], names: list[str], sample: int) -> float:
    pairs = [(t, n) for t in targets for n in random.sample(names, min(len(names), sample // len(targets)))]
    start = time.monotonic()
    for t, n in pairs:
        dns.query.udp(dns.message.make_query(n, "SOA"), t.host, port=t.port, timeout=2)
    return len(pairs) / (time.monotonic() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=10_000)
    ap.add_argument("--dir", default=".lab", help="the lab directory (brought up if down)")
    ap.add_argument("--passes", type=int, default=5, help="dnsperf passes over the query file")
    ap.add_argument("--naive-sample", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    lab = Lab(Path(args.dir).absolute(), progress=log)
    lab.up()
    spec = lab.spec()
    targets = list(targets_from_spec(spec))
    backends = [b for r in spec.regions for b in r.backends]
    tag = f"b{random.getrandbits(24):06x}"
    names = [f"z{i:05d}.{tag}.bench.dnsdr.test." for i in range(args.zones)]
    serial = int(time.time())
    work = Path(tempfile.mkdtemp(prefix="dnsdr-bench-"))
    result: dict[str, object] = {}
    try:
        t0 = time.monotonic()
        for n in names:
            (work / f"{n}db").write_text(f"$TTL 300\n@ IN SOA {soa_text(n, serial)}\n@ IN NS ns.dnsdr.invalid.\n")
        seed_designate(lab, names, serial)
        for r in spec.regions:
            for b in r.backends:
                if b.type == "pdns4":
                    seed_pdns(lab.paths.component(r.name, "pdns") / "pdns.sqlite3", names, serial)
                    pdns_rediscover(lab.paths.component(r.name, "pdns"))
                else:
                    seed_bind(b, work, names)
        log(f"seeded {len(names)} zones on {len(targets)} targets and Designate in {time.monotonic() - t0:.1f} s")

        db = spec.region(spec.primary_region).database
        assert db is not None
        t0 = time.monotonic()
        zones = tuple(z for z in read_zones(db) if z.name.endswith(f".{tag}.bench.dnsdr.test."))
        db_seconds = time.monotonic() - t0
        assert len(zones) == len(names), f"read {len(zones)} of {len(names)} zones back"

        runs = []
        report = None
        for _ in range(args.runs):
            report = sweep(zones, targets, ProbeOptions())
            runs.append(report.seconds)
            log(f"dnsdr sweep: {report.queries} queries in {report.seconds:.3f} s, {report.per_target()}")
            for p in report.drift()[:3]:
                log(f"  {p.to_dict()}")
        assert report is not None
        seconds = statistics.median(runs)

        qfile = work / "queries.txt"
        qfile.write_text("".join(f"{n} SOA\n" for n in names))
        par, lost_par = dnsperf(targets, qfile, args.passes, parallel=True)
        seq, lost_seq = dnsperf(targets, qfile, args.passes, parallel=False)
        log(f"dnsperf: {par:.0f} q/s with the 4 targets in parallel (lost {lost_par}), "
            f"{seq:.0f} q/s one target at a time (lost {lost_seq})")
        naive_qps = naive(targets, names, args.naive_sample)
        log(f"naive dnspython loop: {naive_qps:.0f} q/s")

        pairs = len(zones) * len(targets)
        dnsdr_qps = pairs / seconds
        dnsperf_qps = max(par, seq)
        result = {
            "zones": len(zones), "targets": len(targets), "queries": pairs, "dnsdr_seconds": round(seconds, 3),
            "dnsdr_runs": [round(s, 3) for s in runs], "dnsdr_qps": round(dnsdr_qps),
            "dnsdr_queries_sent": report.queries, "db_read_seconds": round(db_seconds, 3),
            "dnsperf_qps": round(dnsperf_qps), "dnsperf_parallel_qps": round(par), "dnsperf_sequential_qps": round(seq),
            "naive_qps": round(naive_qps),
            "all_classified": len(report.pairs) == pairs and all(p.cls in tuple(PairClass) for p in report.pairs),
            "all_in_sync": report.in_sync, "classes": report.counts(),
            "ratio_vs_dnsperf": round(dnsdr_qps / dnsperf_qps, 2), "ratio_vs_naive": round(dnsdr_qps / naive_qps, 1),
            "goals_met": dnsdr_qps >= 0.5 * dnsperf_qps and dnsdr_qps >= 10 * naive_qps and seconds <= 3.0,
        }
    finally:
        t0 = time.monotonic()
        for b in backends:
            if b.type == "bind9":
                unseed_bind(b, names)
        for r in spec.regions:
            if any(b.type == "pdns4" for b in r.backends):
                unseed_pdns(lab.paths.component(r.name, "pdns") / "pdns.sqlite3", tag)
                pdns_rediscover(lab.paths.component(r.name, "pdns"))
        unseed_designate(lab, tag)
        shutil.rmtree(work, ignore_errors=True)
        log(f"cleaned up in {time.monotonic() - t0:.1f} s")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
