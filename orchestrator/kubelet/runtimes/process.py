"""The process runtime: each container a process (group) under a supervisor of ours.

A pod's sandbox is its network (``podnet``): a network namespace on a node
bridge as root, a 127.x address of its own without root. A container is a
``python -S -m orchestrator.kubelet.supervise run <dir>`` started in a
session of its own (so it outlives this agent, SIGKILL included), which
starts the app, pumps its output into a CRI log file and writes the exit
status to a file (see ``supervise``). As root the app also gets a cgroup
(memory limit -> OOMKilled, CPU limit as a CFS quota), a PID namespace, a
mount namespace (the pod's resolv.conf and hosts, volumes at their container
paths) and a UTS namespace (the pod's hostname). The root filesystem is the
node's own.

Everything lives on disk under ``state_dir`` (``processlayout`` draws it),
so that a new runtime on the same directory adopts what runs. The runtime
is put together from parts, each with one job, that share nothing but that
directory and the settings:

- ``processsandboxes``: pod dirs, the pod network, hostPorts, sandbox records;
  removing a sandbox, and tearing the whole node down;
- ``processcontainers``: starting (``processlaunch`` checks the launch spec,
  ``processspawn`` starts the supervisor), stopping, removing and listing
  containers, and their cgroups; ``processstate`` reads a container's state
  from its records and ``processexits`` notices exits (a pidfd per
  supervisor in the event loop; a poll every ``exit_poll_interval`` where
  pidfds are missing) and reports them through ``on_change`` callbacks with
  the pod's uid;
- ``processexec``: exec into a running container, and its logs;
  ``processsession`` and ``processattach``: interactive exec and attach
  (``kubectl exec -it``, ``attach``, ``cp``);
- ``processstats``: CPU and memory readings of the running containers
  (their cgroups, else their process groups in /proc).

This class decides what the node can do (root or not, cgroups or not) and
hands each part what it needs. Unknown container IDs raise ``LookupError``
(logs, exec); what this node cannot enforce (no root, no writable cgroups)
is listed in ``limitations`` for the node agent to post once as a Node
Event.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from orchestrator.kubelet import cgroups, hostports, podnet
from orchestrator.kubelet.runtimes.base import (
    ContainerSpec,
    ContainerState,
    ContainerUsage,
    ExecResult,
    LogOptions,
    PortTarget,
    Sandbox,
    SandboxSpec,
    StreamError,
    StreamOptions,
    StreamSession,
)
from orchestrator.kubelet.runtimes.processattach import ProcessAttachSession
from orchestrator.kubelet.runtimes.processcontainers import ProcessContainers
from orchestrator.kubelet.runtimes.processexec import ProcessExec
from orchestrator.kubelet.runtimes.processimages import resolve_image, slug_to_fetch
from orchestrator.kubelet.runtimes.processlayout import Layout, read_json
from orchestrator.kubelet.runtimes.processsandboxes import ProcessSandboxes, pod_network
from orchestrator.kubelet.runtimes.processsession import ProcessExecSession
from orchestrator.kubelet.runtimes.processsettings import ProcessRuntimeSettings
from orchestrator.kubelet.runtimes.processstats import PROC_LIMITATION, read_stats
from orchestrator.kubelet.runtimes.slugfetch import fetch_slug


class ProcessRuntime:
    """The ``Runtime`` of processes, composed of its sandbox, container and exec parts."""

    name = "process"

    def __init__(
        self,
        state_dir: Path,
        node_name: str,
        settings: ProcessRuntimeSettings | None = None,
    ) -> None:
        settings = settings or ProcessRuntimeSettings()
        self.state_dir = Path(state_dir)
        self.node_name = node_name
        self.settings = settings
        root = os.geteuid() == 0
        self.network = pod_network(node_name, settings, root)
        self.isolate = root and settings.isolation == "auto"
        self.cgroups = cgroups.detect(settings.cgroup_parent) if self.isolate else None
        self.limitations = self._limitations(root)
        layout = Layout(self.state_dir)
        self._containers = ProcessContainers(
            layout, node_name, settings, self.cgroups, self.isolate
        )
        self._sandboxes = ProcessSandboxes(
            layout, node_name, settings, self.network, self._containers
        )
        self._exec = ProcessExec(layout, settings)
        self._layout = layout
        self._fetching: dict[str, asyncio.Lock] = {}  # one download per slug at a time

    def _limitations(self, root: bool) -> tuple[str, ...]:
        out = []
        if self.cgroups is None:
            why = "not root" if not root else "no writable cgroup filesystem"
            if root and self.settings.isolation == "off":
                why = "isolation is off"
            out.append(f"memory and CPU limits are not enforced ({why})")
            out.append(PROC_LIMITATION)
        if not self.isolate:
            out.append(
                "no PID or mount namespaces: volumes are not placed at their container paths "
                "and pods see the node's /etc/resolv.conf"
            )
        if self.network.mode == "loopback":
            out.append(
                "no network namespaces: pods share the node's network, each on its own 127.x "
                "address (HOST and PORT tell the app); apps binding 0.0.0.0 on a fixed port "
                "collide; hostPort is not published"
            )
        return tuple(out)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, pod_cidr: str) -> None:
        """State dirs, the node's pod network, and watches on what still runs (adoption).

        Root mode needs the node's pod CIDR to make sandboxes; called with ""
        (no podCIDR assigned yet) it adopts what runs and may be called again
        once the CIDR is known. Raises ``podnet.PodNetworkError`` naming the
        command that failed.
        """
        await self._sandboxes.start(pod_cidr)
        self._containers.adopt()

    async def close(self) -> None:
        await self._containers.close()

    async def teardown(self) -> None:
        """Remove everything of this node: every pod (killed), the network, the cgroups, state.

        For tests and ``paas node`` shutdown with cleanup; ``close()`` is the
        ordinary way out, which leaves every pod running.
        """
        await self._sandboxes.teardown()

    async def version(self) -> str:
        return "process://1.0"

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._containers.on_change(callback)

    # -- sandboxes -------------------------------------------------------------------------

    async def run_sandbox(self, spec: SandboxSpec) -> Sandbox:
        return await self._sandboxes.run(spec)

    async def sandboxes(self) -> list[Sandbox]:
        return await self._sandboxes.all()

    async def remove_sandbox(self, pod_uid: str) -> None:
        await self._sandboxes.remove(pod_uid)

    # -- images and containers -------------------------------------------------------------

    async def ensure_image(self, spec: ContainerSpec) -> str:
        """The image's ID; a slug missing here is fetched from ``slug_source`` first."""
        digest = slug_to_fetch(spec, self.settings.slug_dir)
        if digest is not None and self.settings.slug_source and self.settings.slug_dir:
            lock = self._fetching.setdefault(digest, asyncio.Lock())
            async with lock:
                await asyncio.to_thread(
                    fetch_slug,
                    self.settings.slug_source,
                    digest,
                    self.settings.slug_dir,
                    self.settings.slug_fetch_timeout,
                    self.settings.slug_max_bytes,
                )
            self._fetching.pop(digest, None)
        return resolve_image(spec, self.settings.slug_dir).image_id

    async def start_container(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        return await self._containers.start(sandbox, spec)

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        await self._containers.stop(container_id, grace_seconds)

    async def remove_container(self, container_id: str) -> None:
        await self._containers.remove(container_id)

    async def containers(self, pod_uid: str | None = None) -> list[ContainerState]:
        return await self._containers.states(pod_uid)

    # -- exec and logs ---------------------------------------------------------------------

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        return await self._exec.exec(container_id, argv, timeout)

    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        return self._exec.logs(container_id, options)

    # -- interactive sessions and port-forward ---------------------------------------------

    def _session_dir(self, container_id: str) -> Path:
        try:
            return self._layout.container_dir(container_id)
        except (LookupError, ValueError) as exc:
            raise StreamError(str(exc)) from exc

    async def exec_stream(
        self, container_id: str, argv: list[str], options: StreamOptions
    ) -> StreamSession:
        cdir = self._session_dir(container_id)
        return await ProcessExecSession.start(self.settings.python, cdir, argv, options)

    async def attach(self, container_id: str, options: StreamOptions) -> StreamSession:
        cdir = self._session_dir(container_id)
        return ProcessAttachSession.start(cdir, options, self.settings.log_follow_interval)

    async def stats(self) -> list[ContainerUsage]:
        """A reading of every running container: its cgroups, else its process group in /proc."""
        return await asyncio.to_thread(read_stats, self._layout)

    async def port_target(self, pod_uid: str) -> PortTarget:
        try:
            record = read_json(self._layout.pod_dir(pod_uid) / "sandbox.json")
        except ValueError:
            record = None
        if record is None:
            raise LookupError(f"no sandbox of pod {pod_uid}")
        return PortTarget(netns=str(record.get("netns") or ""), ip=str(record["ip"]))


def purge_node(node_name: str, cgroup_parent: str = "paas") -> None:
    """Remove what a node left on this machine without its state dir: kill its cgroups'
    processes and remove them, delete its netns, veths, bridge and FORWARD rules.

    For tests and for ``paas node`` cleanup after a crash (needs root for the network part;
    supervisors outside cgroups are not found: use ``ProcessRuntime.teardown`` when the
    state dir is at hand).
    """
    group = cgroups.detect(cgroup_parent) if os.geteuid() == 0 else None
    if group is not None:
        group.remove_tree([node_name])
    if os.geteuid() == 0:
        podnet.cleanup_node(node_name)
        hostports.remove(node_name)
