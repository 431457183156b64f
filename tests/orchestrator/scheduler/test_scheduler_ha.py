"""``paas scheduler`` processes: one leads, a standby takes over when it is killed.

The processes run ``python -m paas.cli.scheduler`` (the same command as
``paas scheduler``) with short lease timers, against the test API server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scheduler_objects import make_node, make_pod
from support.apiserver import RunningAPI
from support.wait import eventually_async as eventually_async_

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.leader import LEASES, micro_time
from orchestrator.client.rest import APIClient

PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
NODES = BUILTIN_TYPES.by_group_kind("", "Node")
LEASE_FLAGS = [
    "--leader-elect-lease-duration=1",
    "--leader-elect-renew-deadline=0.6",
    "--leader-elect-retry-period=0.1",
]


class Schedulers:
    def __init__(self, api: RunningAPI, logs: Path) -> None:
        self.api = api
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"scheduler-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paas.cli.scheduler",
                "--kubeconfig",
                str(self.api.kubeconfig),
                *LEASE_FLAGS,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[3],
        )
        log.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def schedulers(api: RunningAPI, tmp_path: Path) -> Iterator[Schedulers]:
    running = Schedulers(api, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


async def poll(check: Any, timeout: float = 20.0, message: str = "condition not met") -> Any:
    """Poll an async ``check`` until it is truthy (see support.wait)."""
    return await eventually_async_(check, timeout, message)


async def holder(client: APIClient) -> str:
    assert LEASES is not None
    try:
        lease = await client.get(LEASES, "paas-scheduler", "kube-system")
    except errors.NotFound:
        return ""
    return str(lease["spec"].get("holderIdentity") or "")


async def bound_to(client: APIClient, name: str) -> str:
    assert PODS is not None
    pod = await client.get(PODS, name, "default")
    return str(pod["spec"].get("nodeName") or "")


async def test_standby_takes_over_when_the_leader_is_killed(
    api: RunningAPI, schedulers: Schedulers
) -> None:
    assert PODS is not None and NODES is not None
    async with APIClient(api.client_config()) as client:
        await client.create(NODES, make_node("n1"))
        first, second = schedulers.start(), schedulers.start()
        leader = await poll(lambda: holder(client), message="nobody took the lease")
        pid = int(leader.rsplit("_", 2)[1])  # identity: host_pid_suffix
        assert pid in (first.pid, second.pid)
        await client.create(PODS, make_pod("before"), "default")
        assert await poll(lambda: bound_to(client, "before")) == "n1"

        os.kill(pid, signal.SIGKILL)
        survivor = second if pid == first.pid else first
        await client.create(PODS, make_pod("after"), "default")
        assert await poll(lambda: bound_to(client, "after")) == "n1"
        assert int((await holder(client)).rsplit("_", 2)[1]) == survivor.pid

        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(10) == 0
        assert await holder(client) == "", "a clean stop gives the lease up"


async def test_a_leader_that_loses_its_lease_exits_non_zero(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    assert LEASES is not None
    running = Schedulers(sqlite_api, tmp_path)
    try:
        proc = running.start()
        async with APIClient(sqlite_api.client_config()) as client:
            await poll(lambda: holder(client), message="the scheduler did not take the lease")
            lease = await client.get(LEASES, "paas-scheduler", "kube-system")
            lease["spec"].update(holderIdentity="usurper", renewTime=micro_time())
            await client.replace(LEASES, lease, "kube-system")
            loop = asyncio.get_running_loop()
            code = await loop.run_in_executor(None, proc.wait, 20)
            assert code == 1
    finally:
        running.stop_all()
