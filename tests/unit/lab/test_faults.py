"""nftables rules of the lab (pure parts)."""

from __future__ import annotations

from dnsdr.lab.faults import parse_partitions, partition_rules, render_table


def test_table_tags_new_connections_with_the_socket_cgroup_region() -> None:
    text = render_table({"r1": "unified/dnsdr-lab-x/r1", "r2": "unified/dnsdr-lab-x/r2"}, 2)
    assert 'ct state new socket cgroupv2 level 2 "unified/dnsdr-lab-x/r1" ct mark set 1' in text
    assert 'ct state new socket cgroupv2 level 2 "unified/dnsdr-lab-x/r2" ct mark set 2' in text
    assert "hook output" in text and "hook input" in text
    assert "drop" not in text  # healed


def test_partition_cuts_both_directions_by_client_mark_and_server_range() -> None:
    assert partition_rules("r1", "r2") == [
        "ct mark 1 ct original ip daddr 127.0.2.0/24 drop",
        "ct mark 2 ct original ip daddr 127.0.1.0/24 drop",
    ]


def test_partitions_are_read_back_from_nft_output() -> None:
    listing = """table inet dnsdr_lab {
	chain partition {
		type filter hook input priority mangle; policy accept;
		ct mark 0x00000001 ct original ip daddr 127.0.2.0/24 drop
		ct mark 0x00000002 ct original ip daddr 127.0.1.0/24 drop
	}
}"""
    assert parse_partitions(listing) == {("r1", "r2")}
    assert parse_partitions("table inet dnsdr_lab {\n}") == set()


def test_the_monitor_region_is_tagged_and_can_be_cut_from_either_database_region() -> None:
    cgroups = {r: f"dnsdr-lab-x/{r}" for r in ("r1", "r2", "r3")}
    assert 'level 2 "dnsdr-lab-x/r3" ct mark set 3' in render_table(cgroups, 2)
    assert partition_rules("r1", "r3") == [
        "ct mark 1 ct original ip daddr 127.0.3.0/24 drop",
        "ct mark 3 ct original ip daddr 127.0.1.0/24 drop",
    ]
    listing = "\n".join(f"ct mark 0x0000000{rule[8]} {rule[10:]}" for rule in
                        partition_rules("r1", "r3") + partition_rules("r3", "r2"))
    assert parse_partitions(listing) == {("r1", "r3"), ("r2", "r3")}
