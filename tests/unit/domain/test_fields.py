"""The host and name rules against Designate's own field classes, on adversarial strings."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dnsdr.domain.fields import (
    fqdn_problem,
    host_key,
    host_problem,
    pool_host_problem,
    quote,
    shorten,
    storable_problem,
    text_problem,
)
from tests.support.designate_verdict import designate_takes_domain, designate_takes_host


def _spellings(address: str) -> st.SearchStrategy[str]:
    return st.sampled_from([address, address.upper(), f"{address}%eth0", f"{address}%1", f"{address}\n",
                            f" {address}", f"{address}.", f"0{address}", f"{address}:53", f"[{address}]"])


HOSTS = st.one_of(
    st.ip_addresses().map(str).flatmap(_spellings),
    st.ip_addresses(v=6).map(lambda a: a.exploded).flatmap(_spellings),
    st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4}){0,4}\.?\Z"),
    st.from_regex(r"\A[0-9a-fA-F:.%]{0,41}\Z"),
    st.from_regex(r"\A[a-zA-Z0-9_-]{0,65}(\.[a-zA-Z0-9_-]{0,65}){0,4}\.?\n?\Z"),
    st.text(max_size=20),
    st.lists(st.from_regex(r"\A[a-z]{1,63}\Z"), min_size=3, max_size=6).map(lambda p: ".".join(p) + "."),
)

EXAMPLES = ["1.2.3.4", "999.1.1.1", "1.2.3", "1.2.3.", "01.2.3.4", "127.1", "fe80::1%eth0", "::ffff:1.2.3.4",
            "2001:DB8::1", "1:2:3:4:5:6:7::", "ns.example.org", "ns.example.org.", "ns.example.org.\n",
            "1.2.3.4\n", " 1.2.3.4", "_x.", "-a.", "a..b.", ".", "", "00001::", "::1.02.3.4",
            "\u0661.\u0662.\u0663.\u0664"]


@settings(max_examples=200, deadline=None)
@given(value=HOSTS)
def test_pools_check_host_rule_is_designates(value: str) -> None:
    assert (pool_host_problem(value, strict=False) is None) == designate_takes_host(value), value


@pytest.mark.parametrize("value", EXAMPLES)
def test_pools_check_host_rule_is_designates_on_known_traps(value: str) -> None:
    assert (pool_host_problem(value, strict=False) is None) == designate_takes_host(value)


@settings(max_examples=200, deadline=None)
@given(value=HOSTS)
@example("1.2.3.")
def test_what_the_spec_accepts_for_pools_yml_designate_accepts(value: str) -> None:
    if pool_host_problem(value) is None:
        assert designate_takes_host(value), value


@settings(max_examples=200, deadline=None)
@given(value=HOSTS)
def test_ns_record_rule_is_designates(value: str) -> None:
    assert (fqdn_problem(value, strict=False) is None) == designate_takes_domain(value), value
    if fqdn_problem(value) is None:
        assert designate_takes_domain(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ns1.example.org", "'ns1.example.org' must end with '.' as a hostname (Designate needs a fully qualified name here)"),
        ("999.1.1.1", "'999.1.1.1' is not a valid IP address"),
        ("1.2.3", "'1.2.3' is not a valid IP address"),
        ("1.2.3.", "'1.2.3.' is not a valid IP address"),
        ("01.2.3.4", "'01.2.3.4' is not a valid IP address"),
        ("fe80::1%eth0", "'fe80::1%eth0': an IPv6 zone index (%...) is not accepted"),
        ("fe80::1:", "'fe80::1:' is not a valid IP address"),
        ("127.0.0.1\n", "'127.0.0.1\\n' has surrounding whitespace"),
        (" ns1.example.org.", "' ns1.example.org.' has surrounding whitespace"),
        ("ns1.example.org.\n", "'ns1.example.org.\\n' has surrounding whitespace"),
        ("-ns.example.org.", "'-ns.example.org.' is neither an IP address nor a hostname"),
        ("a" * 64 + ".org.", "'" + "a" * 64 + ".org.' is neither an IP address nor a hostname"),
        ("a" * 100 + ".org.", "'" + "a" * 76 + "... is neither an IP address nor a hostname"),
    ],
)
def test_pools_yml_hosts_are_refused_with_the_reason(value: str, message: str) -> None:
    assert pool_host_problem(value) == message


@pytest.mark.parametrize("value", ["127.0.0.1", "2001:db8::1", "2001:DB8::1", "::ffff:192.0.2.1", "ns1.example.org.",
                                   "_dns.example.org."])
def test_pools_yml_hosts_that_designate_takes(value: str) -> None:
    assert pool_host_problem(value) is None
    assert designate_takes_host(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("db.example.org", None),
        ("db.example.org.", None),
        ("localhost", None),
        ("10.0.0.1", None),
        ("1.2.3", "'1.2.3' is not a valid IP address"),
        ("999.1.1.1", "'999.1.1.1' is not a valid IP address"),
        ("fe80::1%eth0", "'fe80::1%eth0': an IPv6 zone index (%...) is not accepted"),
        ("db.example.org\n", "'db.example.org\\n' has surrounding whitespace"),
        ("db\n.example.org", "'db\\n.example.org' is neither an IP address nor a hostname"),
        ("db..example.org", "'db..example.org' is neither an IP address nor a hostname"),
    ],
)
def test_hosts_dnsdr_connects_to(value: str, problem: str | None) -> None:
    assert host_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ns1.example.org.", None),
        ("ns1.example.org", "'ns1.example.org' must be fully qualified, ending with '.' (write ns1.example.org.)"),
        ("a" * 64 + ".org.", "'" + "a" * 64 + ".org.' has a label longer than 63 characters"),
        ("b." * 128, "'" + "b." * 38 + "... is longer than 254 characters"),
        ("ns1.example.org.\n", "'ns1.example.org.\\n' must be fully qualified, ending with '.'"),
        ("ns1..org.", "'ns1..org.' is not a valid hostname"),
        ("192.0.2.1.", "'192.0.2.1.' is an address, not a hostname"),
    ],
)
def test_ns_record_names(value: str, problem: str | None) -> None:
    assert fqdn_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("gold", None),
        ("x" * 51, "must be at most 50 characters, got 51"),
        ("gold\n", "'gold\\n' has surrounding whitespace"),
        ("go\x00ld", "'go\\x00ld' holds a control character"),
        ("g\U0001f600", "'g\U0001f600' holds '\U0001f600', which Designate's database cannot store"),
        ("g\ud800", "'g\\ud800' holds '\\ud800', which Designate's database cannot store"),
        ("caf\u00e9 \u4e2d", None),
    ],
)
def test_names_and_values_for_pools_yml(value: str, problem: str | None) -> None:
    assert text_problem(value, 50) == problem


def test_storable_is_three_bytes_a_character() -> None:
    assert storable_problem("\uffff") is None
    assert storable_problem("\U00010000") is not None


def test_quote_and_shorten_bound_what_is_echoed() -> None:
    assert quote("x" * 10) == "'xxxxxxxxxx'"
    assert quote("x" * 500) == "'" + "x" * 76 + "..."
    assert len(quote(list(range(1000)))) == 80
    assert shorten("spec") == "spec"
    assert shorten("a\nb") == "'a\\nb'"
    assert shorten("k" * 200) == "'" + "k" * 76 + "..."


@pytest.mark.parametrize(
    ("a", "b"),
    [("2001:DB8::1", "2001:db8:0::1"), ("NS1.Example.org.", "ns1.example.org"), ("::ffff:1.2.3.4", "::ffff:102:304")],
)
def test_two_spellings_of_one_host_share_a_key(a: str, b: str) -> None:
    assert host_key(a) == host_key(b)
