"""A node agent cut down to what serving logs needs, in a thread of its own.

``start_log_node(api, state_dir)`` runs the process runtime (loopback
networking, no isolation: logs need neither), the node agent's HTTPS
server and a registered Node publishing the server's port and certificate,
all on one event loop in a thread, so that synchronous tests (kubectl,
``paas logs`` in a subprocess) and async ones can both use it.

``run_pod`` does by hand what the kubelet's pod workers do: create the Pod
bound here, start its containers in the runtime and report their state in
the pod's status (container IDs, running/terminated, lastState), which is
all the log path reads. ``stop`` stops every container it started.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.timestamps import rfc3339
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.registration import NodeAgent, NodeSettings
from orchestrator.kubelet.runtimes.base import (
    STACK_IMAGE,
    ContainerSpec,
    ContainerState,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings
from support.apiserver import RunningAPI

T = TypeVar("T")
PODS = BUILTIN_TYPES.require("", "Pod")


def python_lines(script: str) -> list[str]:
    """A container command running ``script`` in the node's python3, unbuffered."""
    return ["python3", "-u", "-c", script]


def container_status(name: str, attempts: list[ContainerState]) -> Obj:
    """A container's status from its attempts, as the kubelet reports it (the fields logs read)."""
    ordered = sorted(attempts, key=lambda c: c.attempt)
    current = ordered[-1]

    def terminated(c: ContainerState) -> Obj:
        return {
            "exitCode": c.exit_code if c.exit_code is not None else 0,
            "reason": c.reason or "Completed",
            "startedAt": rfc3339(c.started_at) if c.started_at else None,
            "finishedAt": rfc3339(c.finished_at) if c.finished_at else None,
            "containerID": c.id,
        }

    state: Obj
    if current.status == "exited":
        state = {"terminated": terminated(current)}
    else:
        started = rfc3339(current.started_at) if current.started_at else None
        state = {"running": {"startedAt": started}}
    last = {"terminated": terminated(ordered[-2])} if len(ordered) > 1 else {}
    return {
        "name": name,
        "state": state,
        "lastState": last,
        "ready": current.status == "running",
        "restartCount": current.attempt,
        "image": STACK_IMAGE,
        "imageID": current.image_id,
        "containerID": current.id,
        "started": current.status == "running",
    }


@dataclass
class LogNode:
    name: str
    api: RunningAPI
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runtime: ProcessRuntime
    server: KubeletServer
    client: APIClient

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run ``make()`` on the node's loop and wait for its result."""

        async def run() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return future.result(timeout)

    async def acall(self, make: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """``call`` for async tests: waits without blocking the caller's loop."""

        async def run() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    # -- pods ------------------------------------------------------------------

    async def _create_pod(
        self, name: str, containers: Sequence[str], labels: dict[str, str]
    ) -> Obj:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "nodeName": self.name,
                "containers": [{"name": c, "image": STACK_IMAGE} for c in containers],
            },
        }
        return await self.client.create(PODS, body, "default")

    async def _start(self, pod: Obj, container: str, argv: list[str], attempt: int) -> None:
        meta = pod["metadata"]
        sandbox = await self.runtime.run_sandbox(
            SandboxSpec(
                pod_uid=meta["uid"], namespace="default", name=meta["name"], hostname=meta["name"]
            )
        )
        spec = ContainerSpec(
            pod_uid=meta["uid"],
            namespace="default",
            pod_name=meta["name"],
            name=container,
            attempt=attempt,
            image=STACK_IMAGE,
            command=tuple(argv),
        )
        await self.runtime.start_container(sandbox, spec)

    async def report(self, pod_name: str) -> Obj:
        """Write the pod's container statuses from what the runtime holds."""
        pod = await self.client.get(PODS, pod_name, "default")
        states = await self.runtime.containers(pod["metadata"]["uid"])
        names = [c["name"] for c in pod["spec"]["containers"]]
        statuses = [
            container_status(n, [s for s in states if s.name == n])
            for n in names
            if any(s.name == n for s in states)
        ]
        pod["status"] = {"phase": "Running", "containerStatuses": statuses}
        return await self.client.replace(PODS, pod, "default", subresource="status")

    def run_pod(
        self, name: str, containers: dict[str, list[str]], labels: dict[str, str] | None = None
    ) -> Obj:
        """Create the pod bound here, start each container (attempt 0), report its status."""

        async def go() -> Obj:
            pod = await self._create_pod(name, list(containers), labels or {})
            for container, argv in containers.items():
                await self._start(pod, container, argv, 0)
            return await self.report(name)

        return self.call(go)

    def start_attempt(self, pod_name: str, container: str, argv: list[str], attempt: int) -> Obj:
        """Start a further attempt of a container (a restart) and report the status."""

        async def go() -> Obj:
            pod = await self.client.get(PODS, pod_name, "default")
            await self._start(pod, container, argv, attempt)
            return await self.report(pod_name)

        return self.call(go)

    def states(self, pod: Obj) -> list[ContainerState]:
        return self.call(lambda: self.runtime.containers(pod["metadata"]["uid"]))

    def exited(self, pod: Obj, container: str, attempt: int = 0) -> bool:
        return any(
            s.name == container and s.attempt == attempt and s.status == "exited"
            for s in self.states(pod)
        )

    # -- teardown --------------------------------------------------------------

    def stop(self) -> None:
        async def go() -> None:
            try:
                for sandbox in await self.runtime.sandboxes():
                    await self.runtime.remove_sandbox(sandbox.pod_uid)
            finally:
                await self.server.close()
                await self.runtime.close()
                await self.client.close()

        try:
            self.call(go, timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)


def start_log_node(api: RunningAPI, state_dir: Path, name: str = "n1") -> LogNode:
    """A node ``name`` serving logs, registered with ``api``; call ``stop()`` when done."""
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name=f"node {name}", daemon=True)
    thread.start()
    runtime = ProcessRuntime(
        state_dir / "runtime",
        name,
        ProcessRuntimeSettings(network="loopback", isolation="off", log_follow_interval=0.05),
    )
    server = KubeletServer(
        runtime,
        KubeletServerSettings(
            cert_dir=state_dir / "tls", host="127.0.0.1", client_ca=api.ca.read_bytes()
        ),
    )

    async def boot() -> APIClient:
        client = APIClient(api.client_config())
        await runtime.start("")
        await server.start()
        settings = server.publish(NodeSettings(address="127.0.0.1"))
        await NodeAgent(client, name, settings).register()
        return client

    try:
        client = asyncio.run_coroutine_threadsafe(boot(), loop).result(60)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        raise
    return LogNode(name, api, loop, thread, runtime, server, client)


def web_deployment() -> dict[str, Any]:
    """A one-replica Deployment ``web`` whose pods (labelled app=web) the tests run by hand."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "paas/stack:bookworm"}]},
            },
        },
    }
