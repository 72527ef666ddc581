"""Benchmark: rewrite masters on N secondary zones of one PowerDNS and one BIND (goal: 10,000 in <= 10 s).

Sets up a throwaway PowerDNS 4.7 (gsqlite3 rows inserted directly) and BIND 9.18 (zones written to
``_default.nzf``, which named migrates to its nzd at start) on 127.0.11.2x, all zones pointing at
an old primary. Then times dnsdr's rewrite to new masters on both backends at once, as failover
runs it, with PowerDNS given its database (``databaseRef``: one UPDATE), checks a sample through
each server's own interface, times the no-op second run, times the same rewrite back with
PowerDNS through its HTTP API only (the default without ``databaseRef``), and
measures the naive one-process-per-zone way (``rndc modzone`` per zone; ``curl -X PUT`` and
``pdnsutil change-secondary-zone-primary`` per zone) on a sample, extrapolated to N. The last
line of output is one JSON object. Servers are stopped and their directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dnsdr.adapters.backends import bind9, pdns4
from dnsdr.adapters.backends.base import MastersReport
from dnsdr.adapters.backends.bind9 import BindZoneConfig
from dnsdr.adapters.backends.masters import rewrite_masters
from dnsdr.adapters.pdns_api import PdnsClient
from dnsdr.adapters.rndc import RndcClient, RndcKey, rndc_conf, run_rndc_binary
from dnsdr.domain.spec import Endpoint, SecretRef
from tests.support.backend_servers import BindServer, PdnsServer

OLD = Endpoint("127.0.11.24", 5354)
NEW = [Endpoint("127.0.11.25", 5354), Endpoint("127.0.11.26", 5354)]
NAIVE = Endpoint("127.0.11.27", 5354)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def naive_bind(bind: BindServer, zones: list[str]) -> float:
    """Zones per second for one ``rndc modzone`` process per zone (what a shell loop does)."""
    key = RndcKey.parse(bind.key_file.read_text())
    endpoint = Endpoint(bind.address, bind.rndc_port)
    with RndcClient(endpoint, key) as client:
        configs = {z: BindZoneConfig.parse(client.showzone(z)).with_masters([NAIVE]) for z in zones}
    with rndc_conf(key) as conf:
        start = time.monotonic()
        for zone in zones:
            run_rndc_binary(endpoint, conf, ["modzone", zone.rstrip("."), configs[zone]])
        return len(zones) / (time.monotonic() - start)


def naive_pdns_curl(pdns: PdnsServer, zones: list[str]) -> float:
    url = f"http://{pdns.address}:{pdns.api_port}/api/v1/servers/localhost/zones/"
    header = pdns.directory / "curl-header"  # keeps the key off the command line
    header.write_text(f"X-API-Key: {pdns.api_key}\n")
    header.chmod(0o600)
    start = time.monotonic()
    for zone in zones:
        subprocess.run(
            ["curl", "-sf", "-X", "PUT", "-H", f"@{header}", "-H", "Content-Type: application/json",
             "--data", json.dumps({"masters": [str(NAIVE)]}), url + zone],
            check=True, capture_output=True,
        )
    return len(zones) / (time.monotonic() - start)


def naive_pdnsutil(pdns: PdnsServer, zones: list[str]) -> float:
    start = time.monotonic()
    for zone in zones:
        subprocess.run(
            ["pdnsutil", f"--config-dir={pdns.directory}", "change-secondary-zone-primary", zone, str(OLD)],
            check=True, capture_output=True,
        )
    return len(zones) / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200, help="zones for the naive per-process figures")
    parser.add_argument("--workers", type=int, default=None, help="connections per backend (default 8 HTTP, 4 rndc)")
    parser.add_argument("--keep", action="store_true", help="keep the directory (servers are always stopped)")
    args = parser.parse_args()

    zones = [f"z{i:06d}.bench.example." for i in range(args.zones)]
    root = Path(tempfile.mkdtemp(prefix="dnsdr-bench-masters-"))
    pdns = PdnsServer(root / "pdns", address="127.0.11.22", dns_port=15373, api_port=18083)
    bind = BindServer(root / "bind", address="127.0.11.23", dns_port=15374, rndc_port=19533)
    result: dict[str, object] = {"zones": args.zones}
    try:
        t0 = time.monotonic()
        pdns.prepare()
        pdns.seed(zones, str(OLD))
        bind.prepare()
        bind.seed(zones, OLD.host, OLD.port)
        pdns.start()
        bind.start()
        result["setup_s"] = round(time.monotonic() - t0, 2)
        log(f"setup: {args.zones} zones on PowerDNS and BIND in {result['setup_s']} s")

        pb = pdns4.backend("pdns", Endpoint(pdns.address, pdns.dns_port), Endpoint(pdns.address, pdns.api_port), SecretRef(env="X"))
        bb = bind9.backend("bind", Endpoint(bind.address, bind.dns_port), Endpoint(bind.address, bind.rndc_port), SecretRef(env="X"))
        bkey = bind.key_file.read_text()

        database = {pdns4.DATABASE: f"sqlite:///{pdns.db}"}
        bb_dump = replace(bb, settings=((bind9.ZONES_COMMAND, f"named-nzd2nzf {bind.directory / '_default.nzd'}"),))

        def both(masters: list[Endpoint], via_database: bool = True) -> tuple[MastersReport, MastersReport, float]:
            """``via_database``: PowerDNS through its database and BIND's configs from one zone dump."""
            start = time.monotonic()
            with ThreadPoolExecutor(2) as pool:
                fp = pool.submit(rewrite_masters, pb, pdns.api_key, zones, masters, workers=args.workers,
                                 secrets=database if via_database else None)
                fb = pool.submit(rewrite_masters, bb_dump if via_database else bb, bkey, zones, masters,
                                 workers=args.workers)
                rp, rb = fp.result(), fb.result()
            return rp, rb, time.monotonic() - start

        assert pdns.proc is not None and bind.proc is not None
        cpu0 = (cpu_seconds(pdns.proc.pid), cpu_seconds(bind.proc.pid), time.process_time())
        rp, rb, wall = both(NEW)
        cpu1 = (cpu_seconds(pdns.proc.pid), cpu_seconds(bind.proc.pid), time.process_time())
        result.update(
            pdns_cpu_s=round(cpu1[0] - cpu0[0], 2),
            named_cpu_s=round(cpu1[1] - cpu0[1], 2),
            dnsdr_cpu_s=round(cpu1[2] - cpu0[2], 2),
            cpus=os.cpu_count(),
        )
        assert rp.ok and rb.ok, (rp.error, rb.error, rp.counts, rb.counts)
        assert rp.counts["changed"] == args.zones and rb.counts["changed"] == args.zones
        result.update(
            pdns_seconds=round(rp.rewrite_seconds, 3),
            bind_seconds=round(rb.rewrite_seconds, 3),
            masters_rewrite_s=round(wall, 3),
        )
        log(f"dnsdr rewrite, both backends at once (PowerDNS via its database, BIND from one zone dump): {wall:.2f} s (PowerDNS {rp.rewrite_seconds:.2f} s, BIND {rb.rewrite_seconds:.2f} s); "
            f"CPU s: pdns_server {result['pdns_cpu_s']}, named {result['named_cpu_s']}, dnsdr {result['dnsdr_cpu_s']} on {os.cpu_count()} CPUs")

        sample = random.Random(1).sample(zones, min(args.sample, len(zones)))
        want = {str(m) for m in NEW}
        with PdnsClient(pb.control, pdns.api_key) as api, RndcClient(bb.control, RndcKey.parse(bkey)) as rndc:
            for zone in sample[:50]:
                assert set(api.get_zone(zone).masters) == want, zone
                assert all(f"{m.host} port {m.port};" in rndc.showzone(zone) for m in NEW), zone
        log("verified on a sample: PowerDNS API and rndc showzone show the new masters")

        rp2, rb2, wall2 = both(NEW)
        assert rp2.counts["unchanged"] == args.zones and rb2.counts["unchanged"] == args.zones
        result["second_run_noop_s"] = round(wall2, 3)
        log(f"second run (nothing to change): {wall2:.2f} s")

        rp3, rb3, wall3 = both([OLD], via_database=False)
        assert rp3.ok and rb3.ok and rp3.counts["changed"] == args.zones and rb3.counts["changed"] == args.zones
        result.update(masters_rewrite_api_s=round(wall3, 3), pdns_api_seconds=round(rp3.rewrite_seconds, 3),
                      bind_showzone_seconds=round(rb3.rewrite_seconds, 3))
        log(f"the same back, PowerDNS through its API and BIND with showzone: {wall3:.2f} s (PowerDNS {rp3.rewrite_seconds:.2f} s, "
            f"BIND {rb3.rewrite_seconds:.2f} s)")

        # Each backend alone (to the new masters again, PowerDNS through its API), for reference.
        solo_p = rewrite_masters(pb, pdns.api_key, zones, NEW, workers=args.workers)
        solo_b = rewrite_masters(bb, bkey, zones, NEW, workers=args.workers)
        result.update(pdns_alone_s=round(solo_p.rewrite_seconds, 3), bind_alone_s=round(solo_b.rewrite_seconds, 3))
        log(f"each alone: PowerDNS {solo_p.rewrite_seconds:.2f} s, BIND {solo_b.rewrite_seconds:.2f} s")

        nb = naive_bind(bind, sample)
        np_curl = naive_pdns_curl(pdns, sample)
        np_util = naive_pdnsutil(pdns, sample)
        naive_est = args.zones / np_curl + args.zones / nb
        result.update(
            naive_sample_zones=len(sample),
            naive_bind_zone_per_s=round(nb, 1),
            naive_pdns_zone_per_s=round(np_curl, 1),
            naive_pdnsutil_zone_per_s=round(np_util, 1),
            naive_estimated_s=round(naive_est, 1),
            naive_note=f"one process per zone (rndc modzone; curl PUT) timed on {len(sample)} zones, extrapolated to {args.zones}, backends one after the other",
            speedup=round(naive_est / wall, 1),
            goal_s=10,
        )
        log(f"naive, per process: rndc modzone {nb:.0f}/s, curl PUT {np_curl:.0f}/s, pdnsutil {np_util:.0f}/s; estimated {naive_est:.0f} s for {args.zones} zones (extrapolated)")
    finally:
        bind.stop()
        pdns.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
