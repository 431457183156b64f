"""The userspace proxy's choice of endpoint: round robin, fall-through order, ClientIP affinity."""

from __future__ import annotations

from orchestrator.proxy.balance import Balancer
from orchestrator.proxy.rules import Endpoint

A, B, C = Endpoint("127.1.0.2", 80), Endpoint("127.1.0.3", 80), Endpoint("127.1.0.4", 80)


def test_round_robin_and_the_rest_in_order_to_fall_through() -> None:
    balancer = Balancer()
    balancer.update((A, B, C), 0)
    firsts = [balancer.candidates("10.0.0.1", 0.0) for _ in range(4)]
    assert [c[0] for c in firsts] == [A, B, C, A]
    assert firsts[1] == [B, C, A]
    assert Balancer().candidates("10.0.0.1", 0.0) == []


def test_client_ip_affinity_sticks_until_the_timeout() -> None:
    balancer = Balancer()
    balancer.update((A, B), 60)
    first = balancer.candidates("10.0.0.1", 0.0)[0]
    assert first == A
    balancer.chose("10.0.0.1", first, 0.0)
    assert all(balancer.candidates("10.0.0.1", t)[0] == A for t in (1.0, 30.0, 60.0))
    assert balancer.candidates("10.0.0.2", 1.0)[0] == B  # the sticky client took no turn
    balancer.chose("10.0.0.1", first, 60.0)  # each use renews it
    assert balancer.candidates("10.0.0.1", 119.0)[0] == first
    later = [balancer.candidates("10.0.0.1", 200.0)[0] for _ in range(2)]
    assert set(later) == {A, B}  # expired: back to round robin


def test_an_endpoint_that_goes_takes_its_affinities_with_it() -> None:
    balancer = Balancer()
    balancer.update((A, B), 60)
    balancer.chose("10.0.0.1", A, 0.0)
    balancer.update((B, C), 60)
    assert balancer.candidates("10.0.0.1", 1.0)[0] in (B, C)
    assert A not in balancer.candidates("10.0.0.1", 1.0)


def test_a_connection_finishing_after_its_endpoint_went_leaves_no_affinity() -> None:
    """A connect in flight while a sync removes its endpoint: the choice comes in too late."""
    balancer = Balancer()
    balancer.update((A, B), 60)
    assert balancer.candidates("10.0.0.1", 0.0)[0] == A  # a connection to A starts...
    balancer.update((B,), 60)  # ...A stops being ready...
    balancer.chose("10.0.0.1", A, 0.5)  # ...and the connection to A is accepted after all
    assert balancer.candidates("10.0.0.1", 1.0) == [B]
    balancer.chose("10.0.0.1", B, 1.0)
    balancer.update((A, B), 60)
    assert [balancer.candidates("10.0.0.1", t)[0] for t in (2.0, 3.0)] == [B, B]
