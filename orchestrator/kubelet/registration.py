"""Joining the cluster and staying in it: the Node object, its Lease, its status.

Every node agent (the simulated one now, the real kubelet later) does three
things that the control plane reads:

- **Registration**: create the Node with its capacity, addresses, nodeInfo
  and conditions. When the Node exists already (the agent restarted, or the
  machine came back) the agent takes it over: labels are merged, the spec it
  was given (``podCIDR``, taints, cordon) is kept, and the status is rewritten
  on the first status sync.
- **Lease heartbeat**: a ``coordination.k8s.io/v1`` Lease named after the
  node in ``kube-node-lease``, renewed every ``lease_renew_interval``. This is
  the cheap signal the node lifecycle controller watches.
- **Node status**: recomputed every ``node_status_update_frequency``, but
  written only when it changed (the Ready condition is not True on the server,
  say because the lifecycle controller marked it Unknown while we were away)
  or when ``node_status_report_frequency`` has passed, as the kubelet does.

Failures (the API server down, a conflict) are logged and retried at the
next tick; the loops never end on an API error, so a node survives a control
plane restart. Nothing here is kept only in memory: a restarted agent reads
the Node and the Lease back.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import platform
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.api import errors
from orchestrator.api.conditions import (
    Condition,
    condition_of,
    conditions_of,
    find_condition,
    updated_condition,
)
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.timestamps import rfc3339
from orchestrator.client.leader import micro_time
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


_rt = BUILTIN_TYPES.require
NODES = _rt("", "Node")
LEASES = _rt("coordination.k8s.io", "Lease")
NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBELET_VERSION = "v1.33.0"


@dataclass(frozen=True)
class NodeSettings:
    """What a node agent reports about itself and how often it reports."""

    capacity: dict[str, str] = field(
        default_factory=lambda: {"cpu": "4", "memory": "8Gi", "pods": "110"}
    )  # what the scheduler may place here
    allocatable: dict[str, str] | None = None  # None = the capacity (nothing reserved)
    labels: dict[str, str] = field(default_factory=dict)  # extra labels (zone, pool, ...)
    address: str = ""  # InternalIP; "" = a loopback address derived from the node name
    container_runtime_version: str = "simulated://1.0"  # what `kubectl get nodes -o wide` shows
    os_image: str = "paas simulated node"  # nodeInfo.osImage (a real node names its system)
    daemon_port: int = 0  # the agent's own HTTPS port (logs, exec); 0 = it serves none
    annotations: dict[str, str] = field(default_factory=dict)  # published on the Node (its cert)
    lease_renew_interval: float = 10.0  # Kubernetes' kubelet renews its lease every 10s
    lease_duration: int = 40  # written into the Lease; the lifecycle grace period is 40s
    node_status_update_frequency: float = 10.0  # kubelet's nodeStatusUpdateFrequency (check)
    node_status_report_frequency: float = 300.0  # kubelet posts unchanged status every 5 min


def utc_now() -> datetime:
    return datetime.now(UTC)


def loopback_address(name: str) -> str:
    """A stable 127.x.y.z address for ``name`` (never .0 or .255 in the last byte)."""
    digest = hashlib.sha256(name.encode()).digest()
    return f"127.{digest[0]}.{digest[1]}.{1 + digest[2] % 254}"


def node_addresses(name: str, settings: NodeSettings) -> list[Obj]:
    ip = settings.address or loopback_address(name)
    return [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]


def node_info(name: str, settings: NodeSettings, boot_id: str) -> Obj:
    """All ten nodeInfo fields: the official Python client refuses a Node lacking any."""
    stable = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.nodes.paas.dev"))
    machine = platform.machine() or "x86_64"
    return {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine),
        "bootID": boot_id,
        "containerRuntimeVersion": settings.container_runtime_version,
        "kernelVersion": platform.release() or "unknown",
        "kubeProxyVersion": KUBELET_VERSION,
        "kubeletVersion": KUBELET_VERSION,
        "machineID": stable.replace("-", ""),
        "operatingSystem": "linux",
        "osImage": settings.os_image,
        "systemUUID": stable,
    }


def ready_conditions(
    previous: list[Condition], now: datetime, not_ready: str = ""
) -> list[Condition]:
    """The conditions the agent reports, keeping transition times that did not change.

    With ``not_ready`` (why it cannot take pods yet) Ready is False, reason
    KubeletNotReady, as the kubelet reports a runtime that is not up.
    """
    ready = (
        ("Ready", "False", "KubeletNotReady", not_ready)
        if not_ready
        else ("Ready", "True", "KubeletReady", "kubelet is posting ready status")
    )
    wanted = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready,
    ]
    stamp = rfc3339(now)
    return [
        updated_condition(
            find_condition(previous, type_),
            {
                "type": type_,
                "status": status,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
                "reason": reason,
                "message": message,
            },
        )
        for type_, status, reason, message in wanted
    ]


def node_labels(name: str, settings: NodeSettings, info: Obj) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": info["operatingSystem"],
        "kubernetes.io/arch": info["architecture"],
        **settings.labels,
    }


def node_status(
    name: str,
    settings: NodeSettings,
    boot_id: str,
    previous: list[Condition],
    now: datetime,
    not_ready: str = "",
) -> Obj:
    capacity = dict(settings.capacity)
    return {
        "capacity": capacity,
        "allocatable": dict(settings.allocatable or capacity),
        "conditions": ready_conditions(previous, now, not_ready),
        "addresses": node_addresses(name, settings),
        "nodeInfo": node_info(name, settings, boot_id),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.daemon_port}},
    }


def status_needs_write(node: Obj, wanted: Obj) -> bool:
    """Whether the status on the server differs from ours in anything but heartbeat times."""
    current = node.get("status") or {}

    def strip(conditions: list[Condition]) -> list[tuple[Any, ...]]:
        return sorted((c.get("type"), c.get("status"), c.get("reason")) for c in conditions)

    if strip(conditions_of(node)) != strip(wanted["conditions"]):
        return True
    keys = ("capacity", "allocatable", "addresses", "nodeInfo", "daemonEndpoints")
    return any(current.get(k) != wanted[k] for k in keys)


def ready_heartbeat(node: Obj) -> str:
    return str((condition_of(node, "Ready") or {}).get("lastHeartbeatTime") or "")


class NodeAgent:
    """Registration, lease heartbeat and status sync for one node."""

    def __init__(
        self, client: APIClient, name: str, settings: NodeSettings, clock: Clock = utc_now
    ) -> None:
        self.client = client
        self.name = name
        self.settings = settings
        self.clock = clock
        self.boot_id = str(uuid.uuid4())
        self.node: Obj | None = None  # the last Node this agent read or wrote
        # Why the node cannot take pods yet ("" = it can). While set, a new Node registers
        # NotReady and a Node taken over keeps the status it has (its pods' Ready conditions
        # are not disturbed by a restart); ``started()`` clears it and posts the status.
        self.not_ready = ""
        self._lease: Obj | None = None
        self._last_report = 0.0

    async def register_until_done(self, retry: float) -> Obj:
        """``register``, retried every ``retry`` seconds while the API server refuses or is away."""
        while True:
            try:
                return await self.register()
            except errors.APIError as exc:
                log.warning("node %s: registration failed: %s", self.name, exc)
                await asyncio.sleep(retry)

    async def register(self) -> Obj:
        """Create the Node, or take over the one registered before under this name."""
        info = node_info(self.name, self.settings, self.boot_id)
        labels = node_labels(self.name, self.settings, info)
        meta: Obj = {"name": self.name, "labels": labels}
        if self.settings.annotations:
            meta["annotations"] = dict(self.settings.annotations)
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta,
            "spec": {},
            "status": node_status(
                self.name, self.settings, self.boot_id, [], self.clock(), self.not_ready
            ),
        }
        try:
            self.node = await self.client.create(NODES, body)
            self._last_report = asyncio.get_running_loop().time()
            log.info("node %s registered", self.name)
        except errors.AlreadyExists:
            patch = {k: v for k, v in meta.items() if k != "name"}
            self.node = await self.client.patch(NODES, self.name, {"metadata": patch})
            if not self.not_ready:
                await self.sync_status(force=True)
            log.info("node %s re-registered; keeping its spec", self.name)
        return self.node

    async def started(self) -> None:
        """The node takes pods from now on: Ready, with this agent's boot ID, posted at once."""
        self.not_ready = ""
        await self.sync_status(force=True)

    async def sync_status(self, *, force: bool = False, cached: Obj | None = None) -> None:
        """Write the node status if it changed, the report period passed, or ``force``."""
        loop = asyncio.get_running_loop()
        node = cached or self.node
        due = loop.time() - self._last_report >= self.settings.node_status_report_frequency
        for _ in range(3):
            if node is None:
                node = await self.client.get(NODES, self.name)
            wanted = node_status(
                self.name,
                self.settings,
                self.boot_id,
                conditions_of(node),
                self.clock(),
                self.not_ready,
            )
            if not (force or due or status_needs_write(node, wanted)):
                return
            updated = copy.deepcopy(node)
            updated["status"] = {**(node.get("status") or {}), **wanted}
            try:
                self.node = await self.client.replace(NODES, updated, subresource="status")
            except errors.Conflict:
                node = None  # someone else wrote (the lifecycle controller): read and retry
                continue
            self._last_report = loop.time()
            return

    async def renew_lease(self) -> None:
        """Create or renew this node's Lease; a conflict is settled by reading it again."""
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": self.settings.lease_duration,
            "renewTime": micro_time(self.clock()),
        }
        for _ in range(3):
            if self._lease is None:
                try:
                    self._lease = await self.client.get(LEASES, self.name, NODE_LEASE_NAMESPACE)
                except errors.NotFound:
                    self._lease = await self._create_lease(spec)
                    if self._lease is not None:
                        return
                    continue
            lease = copy.deepcopy(self._lease)
            lease["spec"] = {**(lease.get("spec") or {}), **spec}
            try:
                self._lease = await self.client.replace(LEASES, lease, NODE_LEASE_NAMESPACE)
                return
            except (errors.Conflict, errors.NotFound):
                self._lease = None

    async def _create_lease(self, spec: Obj) -> Obj | None:
        meta: Obj = {"name": self.name, "namespace": NODE_LEASE_NAMESPACE}
        uid = metadata_of(self.node or {}).get("uid")
        if uid:  # the Lease goes with its Node, as Kubernetes' do
            meta["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": uid}
            ]
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": spec,
        }
        try:
            return await self.client.create(LEASES, body, NODE_LEASE_NAMESPACE)
        except errors.AlreadyExists:
            return None

    async def heartbeat(self) -> None:
        """Renew the lease forever; API errors are logged and retried at the next tick."""
        while True:
            try:
                await self.renew_lease()
            except errors.APIError as exc:
                log.warning("node %s: renewing its lease failed: %s", self.name, exc)
            await asyncio.sleep(self.settings.lease_renew_interval)

    async def status_loop(self, current: Callable[[], Obj | None]) -> None:
        """Check the status every update period against ``current()`` (a cached Node)."""
        while True:
            await asyncio.sleep(self.settings.node_status_update_frequency)
            try:
                await self.sync_status(cached=current())
            except errors.APIError as exc:
                log.warning("node %s: posting its status failed: %s", self.name, exc)
