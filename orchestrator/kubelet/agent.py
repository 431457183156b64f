"""The node agent (kubelet): joins the cluster and runs the pods bound to this node.

Start-up, in order:

1. ask the runtime its version (``nodeInfo.containerRuntimeVersion``) and
   register the Node (``registration.NodeAgent``), retrying while the API
   server is unreachable; the Lease heartbeat follows. A new Node says
   Ready=False ("container runtime is starting"); one taken over keeps its
   status, so a restart does not mark its pods unready;
2. learn the node's ``spec.podCIDR`` (the nodeipam controller assigns it on
   registration): ``settings.pod_cidr`` wins; without one the agent waits up
   to ``pod_cidr_timeout`` and then falls back to a /24 of its own;
3. ``runtime.start(pod_cidr)``: the runtime reconnects to what still runs;
   what it cannot enforce (``runtime.limitations``) is posted once as a
   Warning Event on the Node; the stats sampler (if any) starts;
4. informers: the pods with ``spec.nodeName=<node>``, the Services their
   environment reads, and, each by name, the ConfigMaps and Secrets they
   reference (``podobjects``: a node may read no others under the Node
   authorizer);
5. every pod uid the cache or the runtime knows is queued once: a pod still
   running is adopted as it is (its containers are not restarted), one whose
   pod is gone is stopped and removed; then the Node is posted Ready with
   this agent's boot ID and the workers run. A runtime that fails to start
   ends the agent with the Node never Ready: nothing is scheduled onto it.

Keys of the work queue are pod uids (a pod deleted and created again under
the same name is a different pod to the runtime). Informer events, runtime
``on_change`` callbacks (a container exited), probe results and a periodic
resync enqueue them; ``podsync.PodWorker.sync`` makes one pass per key.

While the API server is down nothing stops: the informers retry, the pods
keep running from the cache (containers that exit are restarted), and
failed status writes are retried with a back-off capped at
``status_retry_cap`` so that status is reported soon after it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.events import EventRecorder
from orchestrator.client.informer import Handler, Informer, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import BackoffSettings, WorkQueue
from orchestrator.kubelet.machine import machine_capacity
from orchestrator.kubelet.podobjects import PodObjects
from orchestrator.kubelet.podstatus import fallback_cidr
from orchestrator.kubelet.podsync import PodSyncSettings, PodWorker
from orchestrator.kubelet.podtokens import PodTokens
from orchestrator.kubelet.registration import NODES, NodeAgent, NodeSettings, node_addresses
from orchestrator.kubelet.runtimes.base import Runtime
from orchestrator.kubelet.volumes import Volumes

log = logging.getLogger(__name__)
_rt = BUILTIN_TYPES.require
PODS = _rt("", "Pod")
SERVICES = _rt("", "Service")
EVENTS = _rt("", "Event")
LIMITATIONS = "RuntimeLimitations"
BY_UID = "uid"


@dataclass(frozen=True)
class KubeletSettings(NodeSettings):
    capacity: dict[str, str] = field(default_factory=machine_capacity)  # this machine's
    state_dir: Path = Path("/var/lib/paas/node")  # volumes and claims live here
    pod_cidr: str = ""  # "" = the Node's spec.podCIDR, from the nodeipam controller
    pod_cidr_timeout: float = 30.0  # then a /24 of our own (a cluster without nodeipam)
    workers: int = 8  # pods synced at once (kills run beside them, in the background)
    resync_period: float = 10.0  # every pod is looked at again this often
    register_retry: float = 1.0  # pause between registration attempts while the API is down
    status_retry_cap: float = 5.0  # the longest pause between retries of a failed pass
    objects_sync_timeout: float = 10.0  # adoption waits this long for pods' ConfigMaps/Secrets
    pod_sync: PodSyncSettings = field(default_factory=PodSyncSettings)


def pod_uid(pod: Obj) -> list[str]:
    uid = metadata_of(pod).get("uid")
    return [uid] if uid else []


class InformerSource:
    """ConfigMaps, Secrets and Services for env and volumes, from the agent's caches."""

    def __init__(self, objects: PodObjects, services: Informer) -> None:
        self._objects = objects
        self._services = services

    def config_map(self, namespace: str, name: str) -> Obj | None:
        return self._objects.config_map(namespace, name)

    def secret(self, namespace: str, name: str) -> Obj | None:
        return self._objects.secret(namespace, name)

    def services(self, namespace: str) -> list[Obj]:
        return self._services.list(namespace)


class DaemonServer(Protocol):
    """The agent's own HTTPS server (``orchestrator.kubelet.server.KubeletServer``)."""

    async def start(self) -> None: ...

    def publish(self, settings: KubeletSettings) -> KubeletSettings: ...

    async def close(self) -> None: ...


class StatsLoop(Protocol):
    """The stats sampler (``orchestrator.kubelet.statssampler.StatsSampler``)."""

    async def run(self) -> None: ...


class Kubelet:
    """One node: registration, heartbeat, and the pods bound to it on ``runtime``.

    With a ``server`` (logs for the API server), it is started first and its
    port and certificate are published on the Node; it stops with the agent.
    """

    def __init__(
        self,
        client: APIClient,
        name: str,
        runtime: Runtime,
        settings: KubeletSettings | None = None,
        *,
        server: DaemonServer | None = None,
        stats: StatsLoop | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.runtime = runtime
        self.server = server
        self.stats = stats  # the stats sampler, started once the runtime is
        self.settings = settings or KubeletSettings()
        quiet = InformerSettings(watch_timeout=60)
        self.pods = Informer(client, PODS, field_selector=f"spec.nodeName={name}", settings=quiet)
        self.pods.add_index(BY_UID, pod_uid)
        self.nodes = Informer(client, NODES, field_selector=f"metadata.name={name}", settings=quiet)
        on_config = Handler(self._on_config, lambda _o, n: self._on_config(n), None)
        self.objects = PodObjects(client, on_config, quiet)  # what the pods reference, by name
        self.services = Informer(client, SERVICES, settings=quiet)
        self.queue = WorkQueue(BackoffSettings(base=0.05, cap=self.settings.status_retry_cap))
        self.recorder = EventRecorder(client, "kubelet", name)
        self.agent: NodeAgent | None = None
        self.worker: PodWorker | None = None
        self.pod_cidr = ""
        self.started = asyncio.Event()  # registered, runtime started, pods adopted

    # -- lookups -------------------------------------------------------------------------

    def pod_by_uid(self, uid: str) -> Obj | None:
        found = self.pods.by_index(BY_UID, uid)
        return found[0] if found else None

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.pods.get_by_name(namespace, name)

    def enqueue(self, uid: str) -> None:
        self.queue.add(uid)

    def _threadsafe_enqueue(self, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
        """``enqueue`` for runtime callbacks, which may come from another thread (docker)."""

        def callback(uid: str) -> None:
            loop.call_soon_threadsafe(self.enqueue, uid)

        return callback

    def _enqueue_pods(self, pods: Iterable[Obj]) -> None:
        for pod in pods:
            for uid in pod_uid(pod):
                self.queue.add(uid)

    def _on_pod(self, pod: Obj) -> None:
        self.objects.track(pod)
        self._enqueue_pods([pod])

    def _on_pod_gone(self, pod: Obj) -> None:
        for uid in pod_uid(pod):
            self.objects.untrack(uid)
        self._enqueue_pods([pod])

    def _on_config(self, obj: Obj) -> None:
        """A ConfigMap or Secret changed: its namespace's pods look again (env, files)."""
        self._enqueue_pods(self.pods.list(metadata_of(obj).get("namespace", "")))

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, start the runtime, adopt, and run pods until cancelled."""
        version = await self.runtime.version()
        settings = replace(self.settings, container_runtime_version=version)
        if self.server is not None:
            await self.server.start()
            settings = self.server.publish(settings)
        try:
            await self._run(settings)
        finally:
            if self.server is not None:
                await self.server.close()

    async def _run(self, settings: KubeletSettings) -> None:
        self.agent = NodeAgent(self.client, self.name, settings)
        self.agent.not_ready = "container runtime is starting"
        await self.agent.register_until_done(self.settings.register_retry)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.nodes.run(), name="node informer")
                tg.create_task(self.agent.heartbeat(), name="lease")
                await self.nodes.wait_synced()
                self.pod_cidr = await self._wait_pod_cidr()
                await self.runtime.start(self.pod_cidr)
                self.runtime.on_change(self._threadsafe_enqueue(loop))
                await self._post_limitations()
                if self.stats is not None:
                    tg.create_task(self.stats.run(), name="stats")
                self.worker = self._make_worker(settings)
                on_pod = Handler(self._on_pod, lambda _o, p: self._on_pod(p), self._on_pod_gone)
                self.pods.add_handler(on_pod)
                for informer in (self.pods, self.services):
                    tg.create_task(informer.run(), name=f"{informer.rt.plural} informer")
                for informer in (self.pods, self.services):
                    await informer.wait_synced()
                if not await self.objects.wait_synced(self.settings.objects_sync_timeout):
                    log.warning("node %s: some ConfigMaps/Secrets not listed yet", self.name)
                await self._adopt()
                await self.agent.started()
                tg.create_task(self.agent.status_loop(lambda: self.nodes.get(self.name)))
                tg.create_task(
                    run_workers(
                        self.queue,
                        self.worker.sync,
                        workers=self.settings.workers,
                        name=f"kubelet {self.name}",
                    )
                )
                tg.create_task(self._resync(), name="resync")
                self.started.set()
        finally:
            self.queue.shutdown()
            await self.objects.close()
            if self.worker is not None:
                await self.worker.close()
            with contextlib.suppress(Exception):
                await self.recorder.close(timeout=1.0)
            await self.runtime.close()

    def _make_worker(self, settings: KubeletSettings) -> PodWorker:
        return PodWorker(
            client=self.client,
            runtime=self.runtime,
            recorder=self.recorder,
            source=InformerSource(self.objects, self.services),
            volumes=Volumes(self.settings.state_dir, PodTokens(self.client)),
            lookup=self.pod_by_uid,
            enqueue=self.enqueue,
            host_ip=node_addresses(self.name, settings)[0]["address"],
            allocatable=dict(settings.allocatable or settings.capacity),
            settings=self.settings.pod_sync,
        )

    async def _wait_pod_cidr(self) -> str:
        if self.settings.pod_cidr:
            return self.settings.pod_cidr
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.pod_cidr_timeout
        while True:
            node = self.nodes.get(self.name) or self.agent_node()
            cidr = (node.get("spec") or {}).get("podCIDR") if node else None
            if cidr:
                return str(cidr)
            if loop.time() >= deadline:
                chosen = fallback_cidr(self.name)
                log.warning(
                    "node %s: no spec.podCIDR after %.0fs (is the nodeipam controller running?); "
                    "using %s",
                    self.name,
                    self.settings.pod_cidr_timeout,
                    chosen,
                )
                return chosen
            await asyncio.sleep(0.05)

    def agent_node(self) -> Obj | None:
        return self.agent.node if self.agent is not None else None

    async def _post_limitations(self) -> None:
        """One Warning on the Node naming what the runtime cannot enforce (none if posted)."""
        limits = tuple(getattr(self.runtime, "limitations", ()) or ())
        node = self.nodes.get(self.name) or self.agent_node()
        if not limits or node is None:
            return
        message = f"The {self.runtime.name} runtime on this node cannot enforce: " + "; ".join(
            limits
        )
        # Remembered in the node's state dir, not looked up: a node may create Events but
        # not list them (Kubernetes' system:node role), and a restart must not say it again.
        said = self.settings.state_dir / "runtime-limitations.said"
        try:
            if said.read_text() == message:
                return
        except OSError:
            pass
        self.recorder.record(
            {"apiVersion": "v1", "kind": "Node", **node}, "Warning", LIMITATIONS, message
        )
        try:
            said.parent.mkdir(parents=True, exist_ok=True)
            said.write_text(message)
        except OSError as exc:
            log.warning("node %s: could not note the limitations were said: %s", self.name, exc)

    async def _adopt(self) -> None:
        """Queue every pod the cache or the runtime knows: adopt what runs, clean up the rest."""
        uids = {uid for pod in self.pods.list() for uid in pod_uid(pod)}
        uids |= {sb.pod_uid for sb in await self.runtime.sandboxes()}
        uids |= {c.pod_uid for c in await self.runtime.containers()}
        assert self.worker is not None
        uids |= set(self.worker.volumes.pod_uids())
        for uid in sorted(uids):
            self.queue.add(uid)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_period)
            self._enqueue_pods(self.pods.list())


async def stop_all_pods(runtime: Runtime, pod_cidr: str, grace: float = 2.0) -> None:
    """Stop and remove every pod the runtime holds (a node shutting down for good).

    The containers of all pods get SIGTERM at once and SIGKILL after ``grace``;
    a runtime that can remove its node's network too (``teardown`` of the process
    runtime, ``purge`` of the docker one) does so.
    """
    try:
        await runtime.start(pod_cidr)
    except Exception as exc:  # the agent never got as far as starting it, say
        log.warning("cannot stop the pods: the %s runtime did not start: %s", runtime.name, exc)
        return
    try:
        live = [c for c in await runtime.containers() if c.status in ("running", "created")]
        await asyncio.gather(
            *(runtime.stop_container(c.id, grace) for c in live), return_exceptions=True
        )
        for sandbox in await runtime.sandboxes():
            with contextlib.suppress(Exception):
                await runtime.remove_sandbox(sandbox.pod_uid)
        # What else of the node a runtime can remove: process (bridge, cgroups), docker (network).
        teardown = getattr(runtime, "teardown", None) or getattr(runtime, "purge", None)
        if teardown is not None:
            await teardown()
    finally:
        await runtime.close()
