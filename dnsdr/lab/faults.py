"""Network partitions between regions with nftables, matched by cgroup (not by source address).

Trap: on loopback the kernel gives every outgoing connection to 127.0.x.y the source address
127.0.0.1, whatever process opens it; a rule on source ranges matches nothing (r2's replica IO
thread reaches 127.0.1.1 *from* 127.0.0.1). So the lab tags each connection when it is created:
the output hook sets the conntrack mark to the region of the socket's cgroup (1 for r1, 2 for r2,
3 for r3, the monitor region). A connection then belongs to two regions: the client's (its mark)
and the server's (its original destination address, since every lab server listens on its
region's range). ``partition A B``
drops, in the input hook, every packet of a connection that joins A and B, in both directions, so
established connections go silent too (like a real cut) and the sender gets no error.
"""

from __future__ import annotations

import subprocess

from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import region_index, subnet

TABLE = "dnsdr_lab"
FAMILY = "inet"


def mark_of(region: str) -> int:
    return region_index(region)


def render_table(cgroups: dict[str, str], level: int) -> str:
    """The lab's table: the marking chain, and an empty partition chain (``heal`` state).

    ``cgroups`` maps region -> its cgroup path as nftables names it (relative to /sys/fs/cgroup).
    """
    marks = "\n".join(
        f'    ct state new socket cgroupv2 level {level} "{path}" ct mark set {mark_of(region)}'
        for region, path in sorted(cgroups.items())
    )
    return f"""table {FAMILY} {TABLE} {{
  chain tag {{
    type filter hook output priority -150; policy accept;
{marks}
  }}
  chain partition {{
    type filter hook input priority -150; policy accept;
  }}
}}
"""


def partition_rules(a: str, b: str) -> list[str]:
    """Rules cutting every connection between regions a and b, whichever side opened it."""
    rules = []
    for client, server in ((a, b), (b, a)):
        rules.append(f"ct mark {mark_of(client)} ct original ip daddr {subnet(server)} drop")
    return rules


def _nft(args: list[str], stdin: str | None = None) -> str:
    try:
        proc = subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True, timeout=20, check=False)
    except FileNotFoundError:
        raise LabError("nftables", "nft is not installed (run scripts/install-system-deps.sh)") from None
    if proc.returncode != 0:
        raise LabError("nftables", f"nft {' '.join(args[:3])} failed", proc.stderr.strip())
    return proc.stdout


def table_exists() -> bool:
    try:
        proc = subprocess.run(["nft", "list", "table", FAMILY, TABLE], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def install(cgroups: dict[str, str], level: int) -> None:
    """(Re)install the table with the tagging chain; keeps no partition rule."""
    script = render_table(cgroups, level)
    if table_exists():
        script = f"delete table {FAMILY} {TABLE}\n" + script
    _nft(["-f", "-"], stdin=script)


def ensure(cgroups: dict[str, str], level: int) -> None:
    """Install the table if missing, or reinstall it (partitions kept) when it tags fewer regions than
    ``cgroups`` (a table from a lab version without r3): an untagged region could not be cut."""
    if not table_exists():
        install(cgroups, level)
        return
    listing = _nft(["list", "table", FAMILY, TABLE])
    if all(f'"{path}"' in listing for path in cgroups.values()):
        return
    cuts = parse_partitions(listing)
    install(cgroups, level)
    for a, b in sorted(cuts):
        partition(a, b)


def partition(a: str, b: str) -> None:
    if a == b:
        raise LabError("nftables", f"cannot partition region {a} from itself")
    current = partitions()
    if (min(a, b), max(a, b)) in current:
        return
    script = "".join(f"add rule {FAMILY} {TABLE} partition {rule}\n" for rule in partition_rules(a, b))
    _nft(["-f", "-"], stdin=script)


def heal() -> None:
    if table_exists():
        _nft(["flush", "chain", FAMILY, TABLE, "partition"])


def remove() -> None:
    if table_exists():
        _nft(["delete", "table", FAMILY, TABLE])


def partitions() -> set[tuple[str, str]]:
    """Pairs of regions currently cut from each other (sorted pairs)."""
    if not table_exists():
        return set()
    text = _nft(["list", "chain", FAMILY, TABLE, "partition"])
    return parse_partitions(text)


def parse_partitions(text: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in text.splitlines():
        words = line.split()
        if "drop" not in words or "mark" not in words or "daddr" not in words:
            continue
        mark = int(words[words.index("mark") + 1], 0)
        net = words[words.index("daddr") + 1]
        client = f"r{mark}"
        server = f"r{net.split('.')[2]}"
        found.add((min(client, server), max(client, server)))
    return found
