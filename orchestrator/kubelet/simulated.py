"""The simulated node agent: a TEST AND BENCHMARK TOOL, like kubemark's hollow nodes.

A ``SimulatedNode`` does everything a kubelet shows the control plane, and
starts no process: it registers a Node, renews its Lease, posts node status
(``orchestrator.kubelet.registration``), and marks each pod bound to it
Running and Ready with an IP from the node's ``spec.podCIDR`` (or, until the
IPAM controller has assigned one, from a /24 of its own in 10.128.0.0/10).
Graceful deletion completes at once: the simulated container "stops" the
moment ``deletionTimestamp`` appears, and the pod is deleted with
``gracePeriodSeconds=0``. It is what lets scale be measured on one machine;
the real runtimes live beside it.

Annotations shape a pod's simulated life:

- ``simulated.paas.dev/exit-code: "N"``: with ``restartPolicy`` Never or
  OnFailure, the container exits with code N (ignored under Always). Code 0
  ends the pod Succeeded; another code ends it Failed under Never, and
  restarts the container (``restartCount`` + 1) under OnFailure.
- ``simulated.paas.dev/run-seconds: "S"``: how long it runs first (default 0).
- ``simulated.paas.dev/ready: "false"``: the pod runs but stays unready, as
  with a failing readiness probe; patch it to flip readiness at will.
- A container's ``readinessProbe.initialDelaySeconds`` delays readiness.

Shape: the pod informer (``spec.nodeName=<node>``) only enqueues keys; a
worker makes one step per key (delete / start / finish / set readiness) from
the cached pod, writing status with the resourceVersion it read, so a stale
cache only costs a retried conflict. Nothing lives only in memory: a node
that restarts lists its pods again and carries on with them (their IPs and
start times are in their status). The one memory-only thing is the set of
pod IPs handed out but not yet seen in the cache, so that two workers do not
hand out the same address; it is rebuilt from the pods on start.

Identity: many simulated nodes share one process, one client and one pod and
node watch across all of them, which no single node's identity may read
under the Node authorizer. ``paas node --runtime simulated`` therefore needs
a token that may act for every node: an admin one (``system:masters``), a
benchmark-only arrangement that no real node should copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, Informer, InformerSettings, object_key
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue
from orchestrator.kubelet import podstatus
from orchestrator.kubelet.registration import (
    NODES,
    Clock,
    NodeAgent,
    NodeSettings,
    node_addresses,
    utc_now,
)

log = logging.getLogger(__name__)
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
BY_NODE = "nodeName"


@dataclass(frozen=True)
class SimulatedNodeSettings(NodeSettings):
    workers: int = 2  # concurrent pod reconciles per node
    register_retry: float = 1.0  # pause between registration attempts while the API is down


def pod_node(pod: Obj) -> list[str]:
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []


class SimulatedNode:
    """One simulated node; give it shared informers to run many in one process."""

    def __init__(
        self,
        client: APIClient,
        name: str,
        settings: SimulatedNodeSettings | None = None,
        *,
        clock: Clock = utc_now,
        pods: Informer | None = None,
        nodes: Informer | None = None,
    ) -> None:
        assert PODS is not None
        self.client = client
        self.name = name
        self.settings = settings or SimulatedNodeSettings()
        self.clock = clock
        self.agent = NodeAgent(client, name, self.settings, clock)
        self.host_ip = node_addresses(name, self.settings)[0]["address"]
        self.queue = WorkQueue()
        self._own_informers = pods is None
        quiet = InformerSettings(watch_timeout=60)
        if pods is None:
            pods = Informer(client, PODS, field_selector=f"spec.nodeName={name}", settings=quiet)
            pods.add_index(BY_NODE, pod_node)
            pods.add_handler(Handler(self.on_pod, lambda _old, new: self.on_pod(new), self.on_pod))
        if nodes is None:
            nodes = Informer(client, NODES, field_selector=f"metadata.name={name}", settings=quiet)
        self.pods = pods
        self.nodes = nodes
        self._handed_out: dict[str, str] = {}  # pod uid -> IP written, until the cache has it

    def on_pod(self, pod: Obj) -> None:
        """Informer handler: enqueue the pod's key if it is bound here."""
        if pod_node(pod) == [self.name]:
            self.queue.add(object_key(pod))

    async def run(self) -> None:
        """Register, then heartbeat and run pods until cancelled."""
        await self.agent.register_until_done(self.settings.register_retry)
        async with asyncio.TaskGroup() as tg:
            if self._own_informers:
                tg.create_task(self.pods.run())
                tg.create_task(self.nodes.run())
            tg.create_task(self.agent.heartbeat())
            await self.pods.wait_synced()
            await self.nodes.wait_synced()
            if not self._own_informers:  # a shared cache listed before we were here
                for pod in self.pods.by_index(BY_NODE, self.name):
                    self.on_pod(pod)
            tg.create_task(self.agent.status_loop(lambda: self.nodes.get(self.name)))
            tg.create_task(
                run_workers(
                    self.queue,
                    self.reconcile,
                    workers=self.settings.workers,
                    name=f"node {self.name}",
                )
            )

    # -- one step per pod -------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        assert PODS is not None
        pod = self.pods.get(key)
        if pod is None or pod_node(pod) != [self.name]:
            return None
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        if meta.get("deletionTimestamp"):
            self._handed_out.pop(uid, None)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete(
                    PODS, meta["name"], meta["namespace"], grace_period_seconds=0, uid=uid
                )
            return None
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            self._handed_out.pop(uid, None)
            return None
        now = self.clock()
        if not podstatus.is_running(pod):
            ip = (pod.get("status") or {}).get("podIP") or self._pick_ip(uid)
            status = podstatus.running_status(pod, host_ip=self.host_ip, pod_ip=ip, now=now)
            started = {**pod, "status": status}
            if podstatus.wanted_ready(started, now)[0]:  # ready at once: one write, not two
                status = podstatus.with_readiness(started, True, now)
            await self._write_status(pod, status)
            return None
        exit_ = podstatus.planned_exit(pod)
        if exit_ is not None and exit_.at <= now:
            await self._write_status(pod, podstatus.exited_status(pod, exit_))
            return None
        ready, wait = podstatus.wanted_ready(pod, now)
        if (condition_status(pod, "Ready") == "True") != ready:
            await self._write_status(pod, podstatus.with_readiness(pod, ready, now))
            return None
        waits = [wait] if wait else []
        if exit_ is not None:
            waits.append((exit_.at - now).total_seconds())
        return min(waits) if waits else None

    def _pick_ip(self, uid: str) -> str:
        node = self.nodes.get(self.name) or {}
        cidr = (node.get("spec") or {}).get("podCIDR") or podstatus.fallback_cidr(self.name)
        seen = {
            (p.get("status") or {}).get("podIP", "")
            for p in self.pods.by_index(BY_NODE, self.name)
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        }
        for pod_uid, known in list(self._handed_out.items()):
            if known in seen:
                del self._handed_out[pod_uid]  # the cache knows it now
        ip = podstatus.pick_pod_ip(cidr, seen | set(self._handed_out.values()))
        if ip is None:
            raise errors.ServiceUnavailable(f"node {self.name}: no free pod IP in {cidr}")
        self._handed_out[uid] = ip
        return ip

    async def _write_status(self, pod: Obj, status: Obj) -> None:
        assert PODS is not None
        body = {**pod, "status": status}
        with contextlib.suppress(errors.NotFound):
            await self.client.replace(
                PODS, body, pod["metadata"]["namespace"], subresource="status"
            )


async def run_simulated_nodes(
    client: APIClient,
    names: Sequence[str],
    settings: SimulatedNodeSettings | None = None,
    *,
    clock: Clock = utc_now,
) -> None:
    """Run many simulated nodes in one process, sharing one pod watch and one node watch."""
    assert PODS is not None
    quiet = InformerSettings(watch_timeout=60)
    pods = Informer(client, PODS, field_selector="spec.nodeName!=", settings=quiet)
    pods.add_index(BY_NODE, pod_node)
    nodes = Informer(client, NODES, settings=quiet)
    agents = {
        name: SimulatedNode(client, name, settings, clock=clock, pods=pods, nodes=nodes)
        for name in names
    }

    def route(pod: Obj) -> None:
        for name in pod_node(pod):
            agent = agents.get(name)
            if agent is not None:
                agent.on_pod(pod)

    pods.add_handler(Handler(route, lambda _old, new: route(new), route))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(pods.run())
        tg.create_task(nodes.run())
        for agent in agents.values():
            tg.create_task(agent.run(), name=f"node {agent.name}")
