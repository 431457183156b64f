"""One candidate leads at a time; a successor takes over when the leader stops renewing."""

from __future__ import annotations

import asyncio

import pytest
from support.apiserver import RunningAPI

from orchestrator.client.leader import LEASES, LeaderElector, LeaderSettings, LostLeadership
from orchestrator.client.rest import APIClient

FAST = LeaderSettings(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


async def test_second_candidate_waits_then_takes_over(api: RunningAPI) -> None:
    async with APIClient(api.client_config()) as client:
        first = LeaderElector(client, "test-lock", identity="first", settings=FAST)
        second = LeaderElector(client, "test-lock", identity="second", settings=FAST)
        await asyncio.wait_for(first.acquire(), 5)
        assert not await second.try_acquire_or_renew(), "the lease is held and fresh"
        # The first leader dies: it simply stops renewing. The second takes over after
        # the lease duration, and only then.
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait_for(second.acquire(), 5)
        assert loop.time() - start >= FAST.lease_duration * 0.8
        assert LEASES is not None
        lease = await client.get(LEASES, "test-lock", "kube-system")
        assert lease["spec"]["holderIdentity"] == "second"
        assert lease["spec"]["leaseTransitions"] == 1
        with pytest.raises(LostLeadership):
            await asyncio.wait_for(first.hold(), 5)


async def test_released_lease_is_taken_at_once(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        first = LeaderElector(client, "quick", identity="first", settings=FAST)
        second = LeaderElector(
            client,
            "quick",
            identity="second",
            settings=LeaderSettings(lease_duration=30, renew_deadline=20, retry_period=0.1),
        )
        await first.acquire()
        await first.release()
        await asyncio.wait_for(second.acquire(), 5)
