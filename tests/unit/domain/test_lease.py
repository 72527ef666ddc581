"""The lease model: live until released or expired; a new holder gets a higher token."""

from __future__ import annotations

from dnsdr.domain.lease import Lease, next_lease


def test_first_holder_gets_token_one_and_others_wait_until_expiry() -> None:
    first = next_lease(None, "a", now=100.0, ttl=10)
    assert first == Lease("a", 1, 100.0, 100.0, 110.0)
    assert next_lease(first, "b", now=109.9, ttl=10) is None
    second = next_lease(first, "b", now=110.0, ttl=10)
    assert second is not None and second.token == 2 and second.holder == "b"


def test_the_same_holder_renews_without_a_new_token() -> None:
    first = next_lease(None, "a", now=0.0, ttl=10)
    again = next_lease(first, "a", now=5.0, ttl=10)
    assert again is not None and again.token == 1 and again.expires_at == 15.0


def test_a_released_lease_is_free_at_once_and_tokens_keep_growing() -> None:
    first = next_lease(None, "a", now=0.0, ttl=10)
    assert first is not None
    released = first.release(now=1.0)
    assert not released.live(1.0)
    nxt = next_lease(released, "a", now=1.0, ttl=10)
    assert nxt is not None and nxt.token == 2
    assert Lease.from_dict(nxt.to_dict()) == nxt
