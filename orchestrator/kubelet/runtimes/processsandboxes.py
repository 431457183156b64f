"""The sandboxes of the process runtime: a pod's directory, its network and its hostPorts.

A pod's sandbox is its network (``podnet``): a network namespace on the node
bridge as root, a 127.x address of its own without root, the node's own
address for ``hostNetwork`` pods. Its record, ``pods/<uid>/sandbox.json``,
is written before the network is attached, and the record is where the
address is taken from: a new address is the lowest one that no record
holds, so the allocation is as durable as the records and a restarted agent
hands out nothing twice. The pod's resolv.conf and hosts are written next to
it, for the containers' mount namespaces.

Making a sandbox is idempotent (run it again and the same record comes
back, the network re-attached if it was lost) and serialised by one lock,
so two pods never take the same address. A sandbox is reported not ready
when its network is gone (the netns was deleted under it).

hostPorts (root mode only) are rewritten whole from every record after each
change (``hostports``), so adoption after a restart and the removal of a pod
are the same operation. Removing a sandbox stops and removes its containers
first (``processcontainers``), then the network, the pod's cgroups and its
directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path
from typing import Any

from orchestrator.kubelet import hostports, poddns, podnet
from orchestrator.kubelet.runtimes.base import PortMapping, Sandbox, SandboxSpec
from orchestrator.kubelet.runtimes.processcontainers import ProcessContainers
from orchestrator.kubelet.runtimes.processlayout import ID_PREFIX, Layout, read_json, write_json
from orchestrator.kubelet.runtimes.processsettings import ProcessRuntimeSettings
from orchestrator.netfilter.iptables import KernelError

PodNetwork = podnet.BridgeNetwork | podnet.LoopbackNetwork


def pod_network(node_name: str, settings: ProcessRuntimeSettings, root: bool) -> PodNetwork:
    """The node's pod network as ``settings.network`` asks ("auto": root mode when root)."""
    mode = settings.network
    if mode == "auto":
        mode = "root" if root else "loopback"
    if mode == "root":
        return podnet.BridgeNetwork(node_name)
    return podnet.LoopbackNetwork(node_name, settings.loopback_network)


class ProcessSandboxes:
    """Every sandbox of the node, found through its record (see ``processlayout``)."""

    def __init__(
        self,
        layout: Layout,
        node_name: str,
        settings: ProcessRuntimeSettings,
        network: PodNetwork,
        containers: ProcessContainers,
    ) -> None:
        self._layout = layout
        self._node_name = node_name
        self._settings = settings
        self._network = network
        self._containers = containers
        self._lock = asyncio.Lock()

    async def start(self, pod_cidr: str) -> None:
        """The state dir and the node's pod network, keeping the pods that have a record."""
        pods = self._layout.pods
        pods.mkdir(parents=True, exist_ok=True)
        pods.chmod(0o700)  # spec.json files hold the containers' env, secrets included
        keep = [sb.pod_uid for sb in await self.all()]
        await asyncio.to_thread(self._network.setup, pod_cidr, keep)
        if pod_cidr:  # adopted pods keep their hostPorts; a leftover rule goes
            await asyncio.to_thread(self._program_host_ports)

    async def run(self, spec: SandboxSpec) -> Sandbox:
        async with self._lock:
            pod_dir = self._layout.pod_dir(spec.pod_uid)
            record = read_json(pod_dir / "sandbox.json")
            if record is None:
                if spec.host_network:
                    ip = self._settings.node_ip
                else:
                    used = [sb.ip for sb in await self.all()]
                    ip = podnet.allocate_ip(self._network.pool(), used)
                record = {
                    "pod_uid": spec.pod_uid,
                    "namespace": spec.namespace,
                    "name": spec.name,
                    "hostname": spec.hostname,
                    "host_network": spec.host_network,
                    "ip": ip,
                    "netns": "",
                    "port_mappings": [dataclasses.asdict(m) for m in spec.port_mappings],
                }
                (pod_dir / "containers").mkdir(parents=True, exist_ok=True)
                _write_pod_files(pod_dir, spec, ip)
                write_json(pod_dir / "sandbox.json", record)  # the address is taken from here
            if not record["host_network"]:
                attached = await asyncio.to_thread(self._network.attach, spec.pod_uid, record["ip"])
                if attached.netns != record["netns"]:
                    record["netns"] = attached.netns
                    write_json(pod_dir / "sandbox.json", record)
                if record.get("port_mappings"):
                    await asyncio.to_thread(self._program_host_ports)
            return self._sandbox(record)

    async def all(self) -> list[Sandbox]:
        out = []
        for pod_dir in self._layout.pod_dirs():
            record = read_json(pod_dir / "sandbox.json")
            if record is not None:
                out.append(self._sandbox(record))
        return out

    async def remove(self, pod_uid: str) -> None:
        """The pod's containers (killed), its network, cgroups, hostPorts and directory."""
        pod_dir = self._layout.pod_dir(pod_uid)
        await self._containers.remove_pod(pod_uid)
        record = read_json(pod_dir / "sandbox.json")
        if record is not None and not record["host_network"]:
            await asyncio.to_thread(self._network.detach, pod_uid)
        await self._containers.remove_pod_cgroups(pod_uid)
        await asyncio.to_thread(shutil.rmtree, pod_dir, True)
        if record is not None and record.get("port_mappings"):
            await asyncio.to_thread(self._program_host_ports)

    async def teardown(self) -> None:
        """Every pod (killed), the node's network, cgroups and state; the watches end."""
        for sandbox in await self.all():
            await self.remove(sandbox.pod_uid)
        for state in await self._containers.states():  # containers of pods without a record
            await self._containers.remove(state.id)
        await self._containers.close()
        if self._network.mode == "root":
            await asyncio.to_thread(podnet.cleanup_node, self._node_name)
            await asyncio.to_thread(hostports.remove, self._node_name)
        await self._containers.remove_node_cgroups()
        await asyncio.to_thread(shutil.rmtree, self._layout.pods, True)

    def _sandbox(self, record: dict[str, Any]) -> Sandbox:
        healthy = record["host_network"] or self._network.healthy(record["pod_uid"])
        return Sandbox(
            id=ID_PREFIX + record["pod_uid"],
            pod_uid=record["pod_uid"],
            namespace=record["namespace"],
            name=record["name"],
            ip=record["ip"],
            ready=bool(healthy),
        )

    def _program_host_ports(self) -> None:
        """The node's hostPort rules, from every sandbox record (root mode; blocking)."""
        if self._network.mode != "root":
            return
        mappings = []
        for pod_dir in self._layout.pod_dirs():
            record = read_json(pod_dir / "sandbox.json") or {}
            if record.get("host_network"):
                continue  # the app binds the node's own port itself
            for m in record.get("port_mappings") or []:
                mappings.append((str(record["ip"]), PortMapping(**m)))
        try:
            hostports.program(self._node_name, podnet.bridge_name(self._node_name), mappings)
        except KernelError as exc:
            raise podnet.PodNetworkError(f"cannot publish hostPorts: {exc}") from exc


def _write_pod_files(pod_dir: Path, spec: SandboxSpec, ip: str) -> None:
    """resolv.conf (when the pod has a DNS config) and hosts, bound over /etc in the pod."""
    if spec.dns is not None:
        (pod_dir / "resolv.conf").write_text(poddns.resolv_conf_text(spec.dns))
    (pod_dir / "hosts").write_text(poddns.hosts_text(spec.hostname, ip))
