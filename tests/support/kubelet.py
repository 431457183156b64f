"""A real node agent (``Kubelet``) in-process against a test API server, on a real runtime.

    async def test_x(kubelet_node: KubeletNode) -> None:
        pod = await kubelet_node.run_pod(manifest)
        await kubelet_node.restart()          # a new agent (and runtime object) adopts

``kubelet_node`` is parametrized over the runtimes: ``process`` (root mode
with network namespaces when running as root, loopback mode otherwise) and
``docker`` (skipped without an engine, failing in CI). Each test gets a node
of its own name and a pod /24 in 10.203.0.0/16 that nothing routes yet;
at the end every pod of the node is killed and removed and its network
(bridge, namespaces, rules, Docker network) goes with it.

Timers are short (``FAST``): the restart back-off starts at 1 s and caps at
4 s, the resync is 1 s, failed passes are retried within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.auth import add_token
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.agent import Kubelet, KubeletSettings
from orchestrator.kubelet.backoff import BackoffSettings
from orchestrator.kubelet.podsync import PodSyncSettings
from orchestrator.kubelet.registration import node_addresses
from orchestrator.kubelet.runtimes.base import Runtime
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings
from support.apiserver import RunningAPI
from support.parallel import worker_share
from support.wait import eventually_async

PODS = BUILTIN_TYPES.require("", "Pod")
KUBELET_TEST_RANGE = "10.203.0.0/16"

FAST = KubeletSettings(
    capacity={"cpu": "2", "memory": "4Gi", "pods": "110"},
    lease_renew_interval=0.5,
    lease_duration=5,
    node_status_update_frequency=0.5,
    node_status_report_frequency=10.0,
    resync_period=1.0,
    register_retry=0.2,
    status_retry_cap=1.0,
    pod_cidr_timeout=2.0,
    pod_sync=PodSyncSettings(
        backoff=BackoffSettings(base=1.0, cap=4.0, reset_after=600.0),
        image_backoff=BackoffSettings(base=1.0, cap=4.0),
        orphan_grace=1.0,
        retry=0.5,
    ),
)


def used_ranges() -> list[ipaddress.IPv4Network]:
    """Every IPv4 range a route or an address on this machine holds (Docker's bridges too)."""
    found = []
    for argv in (["ip", "-4", "-o", "route", "show"], ["ip", "-4", "-o", "addr", "show"]):
        out = subprocess.run(argv, capture_output=True, text=True).stdout
        for line in out.splitlines():
            words = line.split()
            candidates = words[:1] if argv[2] == "-o" and argv[3] == "route" else words[3:4]
            for word in candidates:
                with contextlib.suppress(ValueError):
                    found.append(ipaddress.IPv4Network(word, strict=False))
    return found


def free_pod_cidr(within: str = KUBELET_TEST_RANGE) -> str:
    """A /24 of ``within`` that nothing routes yet (parallel tests pick different ones)."""
    used = used_ranges()
    with contextlib.suppress(Exception):
        from support.docker import used_networks

        used += used_networks()
    candidates = worker_share(list(ipaddress.IPv4Network(within).subnets(new_prefix=24)))
    random.shuffle(candidates)
    for net in candidates:
        if not any(net.overlaps(other) for other in used):
            return str(net)
    raise RuntimeError(f"no free /24 left in {within}")


@dataclass
class KubeletNode:
    """One node agent on one runtime, started and restarted by the test."""

    api: RunningAPI
    kind: str  # process | docker
    name: str
    state_dir: Path
    pod_cidr: str
    settings: KubeletSettings
    client: APIClient  # the test's own client
    docker_url: str = ""
    kubelet: Kubelet | None = None
    task: asyncio.Task[None] | None = None
    runtimes: list[Runtime] = field(default_factory=list)
    agent_client: APIClient | None = None
    process_settings: Any = None  # ProcessRuntimeSettings; None = the fast defaults

    def make_runtime(self) -> Runtime:
        if self.kind == "docker":
            from orchestrator.kubelet.runtimes.docker import DockerRuntime, DockerSettings

            return DockerRuntime(
                self.name,
                DockerSettings(docker_url=self.docker_url),
            )
        from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings

        return ProcessRuntime(
            self.state_dir / "runtime",
            self.name,
            self.process_settings
            or ProcessRuntimeSettings(exit_poll_interval=0.1, log_follow_interval=0.02),
        )

    @property
    def runtime(self) -> Runtime:
        assert self.kubelet is not None
        return self.kubelet.runtime

    async def start(self) -> Kubelet:
        """Start an agent (with a new runtime object, as a new process would have)."""
        await self.stop()
        # The agent is the node itself (system:node:<name>), under the Node authorizer.
        token = add_token(
            self.api.data_dir / "tokens.json",
            user=f"system:node:{self.name}",
            groups=["system:nodes"],
        )
        self.agent_client = APIClient(replace(self.api.client_config(), token=token))
        runtime = self.make_runtime()
        server = KubeletServer(
            runtime,
            KubeletServerSettings(
                cert_dir=self.state_dir / "pki",
                host=node_addresses(self.name, self.settings)[0]["address"],
                client_ca=self.api.ca.read_bytes(),
            ),
        )
        kubelet = Kubelet(self.agent_client, self.name, runtime, self.settings, server=server)
        self.runtimes.append(kubelet.runtime)
        self.kubelet = kubelet
        self.task = asyncio.create_task(kubelet.run(), name=f"kubelet {self.name}")
        started = asyncio.create_task(kubelet.started.wait())
        done, _ = await asyncio.wait(
            {self.task, started}, timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            started.cancel()
            self.task.result()  # raises what ended it
        if started not in done:
            started.cancel()
            raise AssertionError(f"kubelet {self.name} did not start within 60s")
        return kubelet

    async def stop(self) -> None:
        """Stop the agent; its pods keep running (the runtime is closed, not torn down)."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.agent_client is not None:
            await self.agent_client.close()
            self.agent_client = None

    async def restart(self) -> Kubelet:
        await self.stop()
        return await self.start()

    async def teardown(self) -> None:
        """Stop the agent and remove every pod and the network of this node."""
        await self.stop()
        if self.kind == "docker":
            from orchestrator.kubelet.runtimes.docker import purge_node

            await asyncio.to_thread(purge_node, self.name, self.docker_url)
            # An engine call the stopped agent had in flight may still create something.
            await asyncio.sleep(0.5)
            await asyncio.to_thread(purge_node, self.name, self.docker_url)
            return
        runtime: Any = self.make_runtime()
        await runtime.start(self.pod_cidr)
        await runtime.teardown()

    # -- pods ---------------------------------------------------------------------------

    async def create_pod(self, manifest: Obj, namespace: str = "default") -> Obj:
        body = {"apiVersion": "v1", "kind": "Pod", **manifest}
        body["spec"] = {"nodeName": self.name, **body.get("spec", {})}
        return await self.client.create(PODS, body, namespace)

    async def pod(self, name: str, namespace: str = "default") -> Obj | None:
        try:
            return await self.client.get(PODS, name, namespace)
        except errors.NotFound:
            return None

    async def wait_pod(
        self, name: str, check: Any, timeout: float = 30.0, namespace: str = "default"
    ) -> Obj:
        """Re-read the pod until ``check(pod)`` holds; fails showing the last status read."""
        last: list[Obj | None] = [None]

        async def probe() -> Obj | None:
            pod = await self.pod(name, namespace)
            last[0] = pod
            return pod if pod is not None and check(pod) else None

        try:
            return await eventually_async(probe, timeout)
        except AssertionError:
            status = (last[0] or {}).get("status")
            raise AssertionError(
                f"pod {name}: condition not met in {timeout}s; status: {status}"
            ) from None

    async def wait_running(
        self, name: str, timeout: float = 30.0, namespace: str = "default"
    ) -> Obj:
        return await self.wait_pod(name, lambda p: is_ready(p), timeout, namespace)

    async def log(self, name: str, namespace: str = "default", **params: Any) -> str:
        """``GET .../pods/{name}/log`` through the API server (which asks this node)."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        chunks = [chunk async for chunk in self.client.stream(path, query)]
        return b"".join(chunks).decode()

    async def events(self, name: str, namespace: str = "default") -> list[Obj]:
        events = BUILTIN_TYPES.require("", "Event")
        page = await self.client.list(events, namespace)
        return [e for e in page["items"] if e["involvedObject"].get("name") == name]


def is_ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


def container_status(pod: Obj, name: str, init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    for c in (pod.get("status") or {}).get(key) or []:
        if c["name"] == name:
            return dict(c)
    return {}


RUNTIMES = ["process", pytest.param("docker", marks=pytest.mark.docker)]


@contextlib.asynccontextmanager
async def kubelet_node_for(
    request: pytest.FixtureRequest,
    api: RunningAPI,
    kind: str,
    tmp_path: Path,
    settings: KubeletSettings = FAST,
    process_settings: Any = None,
) -> AsyncIterator[KubeletNode]:
    docker_url = ""
    if kind == "docker":
        docker_url = request.getfixturevalue("docker_engine")
        request.getfixturevalue("stack_image")
    name = f"kl-{uuid.uuid4().hex[:8]}"
    cidr = free_pod_cidr()
    state = tmp_path / "node"
    chosen = replace(settings, pod_cidr=settings.pod_cidr or cidr, state_dir=state / "kubelet")
    async with APIClient(api.client_config()) as client:
        node = KubeletNode(api, kind, name, state, chosen.pod_cidr, chosen, client, docker_url)
        node.process_settings = process_settings
        try:
            await node.start()
            yield node
        finally:
            await node.teardown()


@pytest.fixture(params=RUNTIMES)
async def kubelet_node(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path
) -> AsyncIterator[KubeletNode]:
    async with kubelet_node_for(request, sqlite_api, request.param, tmp_path) as node:
        yield node
