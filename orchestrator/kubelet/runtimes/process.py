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
node's own: a volume's container path that does not exist there is created
as an empty mount point on the node, visible but empty outside the pod.

Everything lives on disk under ``state_dir`` so that a new runtime on the same
directory adopts what runs::

    pods/<pod uid>/sandbox.json        the sandbox (IP, netns, hostname)
    pods/<pod uid>/resolv.conf, hosts  bound over /etc/... in the pod (root)
    pods/<pod uid>/work/<container>/   the default working dir of a container
    pods/<pod uid>/containers/<container>.<attempt>/
        spec.json    what the supervisor runs (argv, env, cwd, cgroups, netns)
        pid.json     the signal target, its start time (PID reuse guard)
        exit.json    exit code, signal, finished time, OOM flag
        container.log, container.log.1, ...   CRI log files, rotated by size

A container's ID is ``process://<pod uid>.<container>.<attempt>``: stable,
and enough to find its directory. Exits are noticed through a pidfd of the
supervisor in the event loop (no polling; a poll every
``exit_poll_interval`` where pidfds are missing), and reported through
``on_change`` callbacks with the pod's uid.

Unknown container IDs raise ``LookupError`` (logs, exec); what this node
cannot enforce (no root, no writable cgroups) is listed in ``limitations``
for the node agent to post once as a Node Event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orchestrator
from orchestrator.kubelet import cgroups, hostports, podnet
from orchestrator.kubelet.logreader import read_log
from orchestrator.kubelet.runtimes.base import (
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    ExecResult,
    LogOptions,
    PortMapping,
    Sandbox,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.processimages import ProcessImage, resolve_image
from orchestrator.kubelet.supervise import proc_start_ticks
from orchestrator.proxy.kernel import KernelError

log = logging.getLogger(__name__)
ID_PREFIX = "process://"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# where the supervisor imports ``orchestrator`` from (it runs with -S: no site-packages)
PACKAGE_ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class ProcessRuntimeSettings:
    """Knobs of the process runtime; tests shorten the timers."""

    # "root": netns + bridge (needs root); "loopback": a 127.x address per pod; "auto": by euid
    network: Literal["auto", "root", "loopback"] = "auto"
    # cgroup limits and PID/mount/UTS namespaces, used only as root ("off" runs without them)
    isolation: Literal["auto", "off"] = "auto"
    log_max_bytes: int = 10 * 1024 * 1024  # kubelet's containerLogMaxSize
    log_max_files: int = 5  # kubelet's containerLogMaxFiles (the current file included)
    exit_poll_interval: float = 1.0  # only where pidfds are missing
    log_follow_interval: float = 0.1  # how often a followed log file is looked at
    python: str = sys.executable  # the interpreter running the supervisors
    slug_dir: Path | None = None  # where builder slugs are unpacked (sha256-<hex>/)
    start_timeout: float = 20.0  # how long a supervisor may take to report its app started
    exec_output_limit: int = 64 * 1024  # bytes of an exec's output kept
    node_ip: str = "127.0.0.1"  # the IP of hostNetwork pods
    loopback_network: str = ""  # "" = a /24 in 127/8 derived from the node name
    cgroup_parent: str = "paas"  # our subtree in each cgroup hierarchy
    cpu_period_us: int = 100_000  # the CFS period the CPU quota is a share of


@dataclass
class _Watch:
    """One running container whose supervisor we wait on."""

    pod_uid: str
    supervisor: int
    pidfd: int | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the loop the pidfd is registered with


def container_id(pod_uid: str, name: str, attempt: int) -> str:
    return f"{ID_PREFIX}{pod_uid}.{name}.{attempt}"


def _parse_id(cid: str) -> tuple[str, str, int]:
    if not cid.startswith(ID_PREFIX):
        raise LookupError(f"{cid!r} is not a process runtime container ID")
    try:
        pod_uid, name, attempt = cid[len(ID_PREFIX) :].rsplit(".", 2)
        return pod_uid, name, int(attempt)
    except ValueError:
        raise LookupError(f"{cid!r} is not a process runtime container ID") from None


def _safe_part(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", "..") or "\0" in value:
        raise ValueError(f"{what} {value!r} cannot name a directory")
    return value


def _from_ns(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.rename(path)


def _alive(pid: int | None, start: int | None) -> bool:
    """The process exists and is the one we started (not a reused PID)."""
    return bool(pid) and start is not None and proc_start_ticks(int(pid)) == start  # type: ignore[arg-type]


class ProcessRuntime:
    """The ``Runtime`` of processes; see the module docstring for the layout on disk."""

    name = "process"

    def __init__(
        self,
        state_dir: Path,
        node_name: str,
        settings: ProcessRuntimeSettings = ProcessRuntimeSettings(),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.node_name = node_name
        self.settings = settings
        root = os.geteuid() == 0
        mode = settings.network
        if mode == "auto":
            mode = "root" if root else "loopback"
        self.network: podnet.BridgeNetwork | podnet.LoopbackNetwork
        if mode == "root":
            self.network = podnet.BridgeNetwork(node_name)
        else:
            self.network = podnet.LoopbackNetwork(node_name, settings.loopback_network)
        self.isolate = root and settings.isolation == "auto"
        self.cgroups = cgroups.detect(settings.cgroup_parent) if self.isolate else None
        self.limitations = self._limitations(root)
        self._callbacks: list[Callable[[str], None]] = []
        self._watches: dict[str, _Watch] = {}
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None

    def _limitations(self, root: bool) -> tuple[str, ...]:
        out = []
        if self.cgroups is None:
            why = "not root" if not root else "no writable cgroup filesystem"
            if root and self.settings.isolation == "off":
                why = "isolation is off"
            out.append(f"memory and CPU limits are not enforced ({why})")
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

    # -- paths -----------------------------------------------------------------------------

    def _pod_dir(self, pod_uid: str) -> Path:
        return self.state_dir / "pods" / _safe_part(pod_uid, "pod uid")

    def _container_dir(self, cid: str) -> Path:
        pod_uid, name, attempt = _parse_id(cid)
        return self._pod_dir(pod_uid) / "containers" / f"{name}.{attempt}"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, pod_cidr: str) -> None:
        """State dirs, the node's pod network, and watches on what still runs (adoption).

        Root mode needs the node's pod CIDR to make sandboxes; called with ""
        (no podCIDR assigned yet) it adopts what runs and may be called again
        once the CIDR is known. Raises ``podnet.NetworkError`` naming the
        command that failed.
        """
        pods = self.state_dir / "pods"
        pods.mkdir(parents=True, exist_ok=True)
        pods.chmod(0o700)  # spec.json files hold the containers' env, secrets included
        keep = [sb.pod_uid for sb in await self.sandboxes()]
        await asyncio.to_thread(self.network.setup, pod_cidr, keep)
        if pod_cidr:  # adopted pods keep their hostPorts; a leftover rule goes
            await asyncio.to_thread(self._program_host_ports)
        for cdir in self._all_container_dirs():
            if (cdir / "pid.json").exists() and not (cdir / "exit.json").exists():
                self._watch(cdir)
            elif (cdir / "exit.json").exists():
                # a supervisor that ended hard may have left its cgroups behind
                self._remove_cgroups((_read_json(cdir / "spec.json") or {}).get("cgroup_dirs", []))

    async def close(self) -> None:
        for cid in list(self._watches):
            self._unwatch(cid)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def version(self) -> str:
        return "process://1.0"

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    # -- sandboxes -------------------------------------------------------------------------

    async def run_sandbox(self, spec: SandboxSpec) -> Sandbox:
        async with self._lock:
            pod_dir = self._pod_dir(spec.pod_uid)
            record = _read_json(pod_dir / "sandbox.json")
            if record is None:
                if spec.host_network:
                    ip = self.settings.node_ip
                else:
                    used = [sb.ip for sb in await self.sandboxes()]
                    ip = podnet.allocate_ip(self.network.pool(), used)
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
                self._write_pod_files(pod_dir, spec, ip)
                _write_json(pod_dir / "sandbox.json", record)  # the address is taken from here
            if not record["host_network"]:
                attached = await asyncio.to_thread(self.network.attach, spec.pod_uid, record["ip"])
                if attached.netns != record["netns"]:
                    record["netns"] = attached.netns
                    _write_json(pod_dir / "sandbox.json", record)
                if record.get("port_mappings"):
                    await asyncio.to_thread(self._program_host_ports)
            return self._sandbox(record)

    def _program_host_ports(self) -> None:
        """The node's hostPort rules, from every sandbox record (root mode; blocking)."""
        if self.network.mode != "root":
            return
        mappings = []
        pods = self.state_dir / "pods"
        for pod_dir in sorted(pods.iterdir()) if pods.is_dir() else []:
            record = _read_json(pod_dir / "sandbox.json") or {}
            if record.get("host_network"):
                continue  # the app binds the node's own port itself
            for m in record.get("port_mappings") or []:
                mappings.append((str(record["ip"]), PortMapping(**m)))
        try:
            hostports.program(self.node_name, podnet.bridge_name(self.node_name), mappings)
        except KernelError as exc:
            raise podnet.NetworkError(f"cannot publish hostPorts: {exc}") from exc

    def _write_pod_files(self, pod_dir: Path, spec: SandboxSpec, ip: str) -> None:
        dns = spec.dns
        if dns is not None:
            lines = [f"nameserver {ns}" for ns in dns.nameservers]
            if dns.searches:
                lines.append("search " + " ".join(dns.searches))
            if dns.options:
                lines.append("options " + " ".join(dns.options))
            (pod_dir / "resolv.conf").write_text("\n".join(lines) + "\n")
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        (pod_dir / "hosts").write_text(hosts + f"{ip}\t{spec.hostname}\n")

    def _sandbox(self, record: dict[str, Any]) -> Sandbox:
        healthy = record["host_network"] or self.network.healthy(record["pod_uid"])
        return Sandbox(
            id=ID_PREFIX + record["pod_uid"],
            pod_uid=record["pod_uid"],
            namespace=record["namespace"],
            name=record["name"],
            ip=record["ip"],
            ready=bool(healthy),
        )

    async def sandboxes(self) -> list[Sandbox]:
        out = []
        pods = self.state_dir / "pods"
        if pods.is_dir():
            for pod_dir in sorted(pods.iterdir()):
                record = _read_json(pod_dir / "sandbox.json")
                if record is not None:
                    out.append(self._sandbox(record))
        return out

    async def remove_sandbox(self, pod_uid: str) -> None:
        pod_dir = self._pod_dir(pod_uid)
        for state in await self.containers(pod_uid):
            if state.status == "running":
                await self.stop_container(state.id, 0)
            await self.remove_container(state.id)
        record = _read_json(pod_dir / "sandbox.json")
        if record is not None and not record["host_network"]:
            await asyncio.to_thread(self.network.detach, pod_uid)
        if self.cgroups is not None:
            await asyncio.to_thread(self._remove_cgroup_tree, [self.node_name, pod_uid])
        await asyncio.to_thread(shutil.rmtree, pod_dir, True)
        if record is not None and record.get("port_mappings"):
            await asyncio.to_thread(self._program_host_ports)

    async def teardown(self) -> None:
        """Remove everything of this node: every pod (killed), the network, the cgroups, state.

        For tests and ``paas node`` shutdown with cleanup; ``close()`` is the
        ordinary way out, which leaves every pod running.
        """
        for sandbox in await self.sandboxes():
            await self.remove_sandbox(sandbox.pod_uid)
        for state in await self.containers():  # containers of pods without a sandbox record
            await self.remove_container(state.id)
        await self.close()
        if self.network.mode == "root":
            await asyncio.to_thread(podnet.cleanup_node, self.node_name)
            await asyncio.to_thread(hostports.remove, self.node_name)
        if self.cgroups is not None:
            await asyncio.to_thread(self._remove_cgroup_tree, [self.node_name])
        await asyncio.to_thread(shutil.rmtree, self.state_dir / "pods", True)

    # -- images ----------------------------------------------------------------------------

    async def ensure_image(self, spec: ContainerSpec) -> str:
        return resolve_image(spec, self.settings.slug_dir).image_id

    # -- containers ------------------------------------------------------------------------

    async def start_container(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        cid = container_id(spec.pod_uid, _safe_part(spec.name, "container name"), spec.attempt)
        cdir = self._container_dir(cid)
        if (cdir / "pid.json").exists() or (cdir / "exit.json").exists():
            return self._state(cdir)  # started before: idempotent
        image = resolve_image(spec, self.settings.slug_dir)
        pod_dir = self._pod_dir(spec.pod_uid)
        record = _read_json(pod_dir / "sandbox.json")
        if record is None:
            raise ContainerStartError(
                "CreateContainerError", f'container "{spec.name}": the pod has no sandbox'
            )
        launch = self._launch_spec(cid, cdir, spec, image, record)
        if cdir.exists():
            shutil.rmtree(cdir)  # a start that never reported back
        cdir.mkdir(parents=True)
        launch["cgroup_procs"], launch["cgroup_dirs"], launch["oom_files"] = [], [], []
        if self.cgroups is not None:
            try:
                group = self.cgroups.create(
                    [self.node_name, spec.pod_uid, f"{spec.name}.{spec.attempt}"],
                    spec.limits,
                    self.settings.cpu_period_us,
                )
            except cgroups.CgroupError as exc:
                shutil.rmtree(cdir, ignore_errors=True)
                raise ContainerStartError(
                    "CreateContainerError", f'container "{spec.name}": {exc}'
                ) from exc
            launch["cgroup_procs"] = list(group.procs_files)
            launch["cgroup_dirs"] = list(group.dirs)
            launch["oom_files"] = [list(pair) for pair in group.oom_files]
        _write_json(cdir / "spec.json", launch)
        try:
            await self._spawn(cdir)
        except ContainerStartError:
            shutil.rmtree(cdir, ignore_errors=True)
            self._remove_cgroups(launch["cgroup_dirs"])
            raise
        self._watch(cdir)
        return self._state(cdir)

    def _launch_spec(
        self,
        cid: str,
        cdir: Path,
        spec: ContainerSpec,
        image: ProcessImage,
        record: dict[str, Any],
    ) -> dict[str, Any]:
        """Everything the supervisor needs, checked here so that errors name the container."""
        argv = image.argv(spec)
        if not argv:
            raise ContainerStartError(
                "CreateContainerError",
                f'container "{spec.name}": no command specified (the image {spec.image} has no '
                "entrypoint: give the container a command)",
            )
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", DEFAULT_PATH),
            "HOME": os.environ.get("HOME", "/root"),
            "HOSTNAME": record["hostname"],
        }
        env.update(image.env)
        env.update(spec.env)
        pod_dir = self._pod_dir(spec.pod_uid)
        cwd = spec.working_dir or image.working_dir
        if not cwd:
            default = pod_dir / "work" / spec.name
            default.mkdir(parents=True, exist_ok=True)
            cwd = str(default)
        mounts = list(spec.mounts) if self.isolate else []
        if not os.path.isdir(_host_path(cwd, mounts)):
            raise ContainerStartError(
                "RunContainerError",
                f'container "{spec.name}": working dir "{cwd}" does not exist on this node '
                "(the process runtime runs on the node's own filesystem)",
            )
        if _find_executable(argv[0], env.get("PATH", ""), cwd, mounts) is None:
            what = (
                "no such file or directory"
                if "/" in argv[0]
                else "executable file not found in $PATH"
            )
            raise ContainerStartError(
                "RunContainerError", f'container "{spec.name}": exec: "{argv[0]}": {what}'
            )
        binds: list[list[Any]] = []
        if self.isolate:
            if (pod_dir / "resolv.conf").exists():
                binds.append([str(pod_dir / "resolv.conf"), "/etc/resolv.conf", True])
            binds.append([str(pod_dir / "hosts"), "/etc/hosts", True])
            for m in sorted(spec.mounts, key=lambda m: m.container_path.rstrip("/").count("/")):
                if not os.path.exists(m.host_path):
                    raise ContainerStartError(
                        "CreateContainerError",
                        f'container "{spec.name}": the volume for "{m.container_path}" has no '
                        f'directory "{m.host_path}" on this node',
                    )
                binds.append([m.host_path, m.container_path, m.read_only])
        return {
            "id": cid,
            "pod_uid": spec.pod_uid,
            "name": spec.name,
            "attempt": spec.attempt,
            "image": spec.image,
            "image_id": image.image_id,
            "init": spec.init,
            "argv": argv,
            "env": list(env.items()),
            "cwd": cwd,
            "log_path": str(cdir / "container.log"),
            "log_max_bytes": self.settings.log_max_bytes,
            "log_max_files": self.settings.log_max_files,
            "netns": record["netns"],
            "hostname": record["hostname"],
            "pid_namespace": self.isolate,
            "mount_namespace": self.isolate,
            "uts_namespace": self.isolate and not record["host_network"],
            "binds": binds,
        }

    async def _spawn(self, cdir: Path) -> None:
        """Start the supervisor in its own session; wait for its "ok" (or error) on fd 3."""
        read_end, write_end = os.pipe()
        try:
            pid = _spawn_supervisor(self.settings.python, cdir, write_end)
        finally:
            os.close(write_end)
        try:
            message = await asyncio.wait_for(_read_to_eof(read_end), self.settings.start_timeout)
        except TimeoutError:
            message = b""
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(read_end)
        if message == b"ok":
            return
        await asyncio.to_thread(_reap, pid)
        name = cdir.name.rsplit(".", 1)[0]
        if message.startswith(b"error "):
            text = message[6:].decode(errors="replace")
            raise ContainerStartError("RunContainerError", f'container "{name}": {text}')
        detail = (cdir / "supervisor.log").read_text(errors="replace").strip()[-2000:]
        raise ContainerStartError(
            "RunContainerError",
            f'container "{name}": its supervisor did not report a start'
            + (f": {detail}" if detail else ""),
        )

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        cdir = self._container_dir(container_id)
        pid_info = _read_json(cdir / "pid.json")
        if pid_info is None or (cdir / "exit.json").exists():
            return
        target, start = pid_info["pid"], pid_info["pid_start"]
        if _alive(target, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGTERM)
            if await self._wait_exit(cdir, max(grace_seconds, 0.0)):
                return
        self._kill_all(cdir, pid_info)
        if not await self._wait_exit(cdir, 10.0):
            self._record_lost_exit(cdir, "the container did not end after SIGKILL")

    def _remove_cgroups(self, dirs: list[str]) -> None:
        """Best effort: a cgroup that will not go is logged, and retried at the next start."""
        if self.cgroups is not None and dirs:
            try:
                self.cgroups.remove(dirs)
            except cgroups.CgroupError as exc:
                log.warning("cgroup left behind: %s", exc)

    def _remove_cgroup_tree(self, parts: list[str]) -> None:
        if self.cgroups is not None:
            try:
                self.cgroups.remove_tree(parts)
            except cgroups.CgroupError as exc:
                log.warning("cgroup left behind: %s", exc)

    def _kill_all(self, cdir: Path, pid_info: dict[str, Any]) -> None:
        target, start = pid_info["pid"], pid_info["pid_start"]
        if _alive(target, start):
            with contextlib.suppress(ProcessLookupError):
                if pid_info.get("pgid"):
                    os.killpg(pid_info["pgid"], signal.SIGKILL)
                else:
                    os.kill(target, signal.SIGKILL)
        launch = _read_json(cdir / "spec.json") or {}
        if self.cgroups is not None and launch.get("cgroup_dirs"):
            self.cgroups.kill_all(launch["cgroup_dirs"])

    async def _wait_exit(self, cdir: Path, timeout: float) -> bool:
        """True once the container has ended: exit.json written (or its supervisor lost).

        The supervisor ends right after writing exit.json; it is waited for a
        moment more and reaped, so that a stopped container leaves no zombie.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settled_by: float | None = None
        while True:
            pid_info = _read_json(cdir / "pid.json") or {}
            if (cdir / "exit.json").exists():
                settled_by = settled_by or loop.time() + 3.0
                if _supervisor_gone(pid_info) or loop.time() >= settled_by:
                    return True
            elif _supervisor_gone(pid_info):
                if (cdir / "exit.json").exists():
                    continue
                if not _alive(pid_info.get("pid"), pid_info.get("pid_start")):
                    self._record_lost_exit(cdir, "its supervisor ended without an exit status")
                    return True
            if settled_by is None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)

    def _record_lost_exit(self, cdir: Path, why: str) -> None:
        if not (cdir / "exit.json").exists():
            _write_json(
                cdir / "exit.json",
                {"exit_code": 137, "signal": None, "finished_ns": time.time_ns(), "lost": why},
            )

    async def remove_container(self, container_id: str) -> None:
        cdir = self._container_dir(container_id)
        if not cdir.exists():
            return
        state = self._state(cdir)
        if state.status == "running":
            await self.stop_container(container_id, 0)
        self._unwatch(container_id)
        launch = _read_json(cdir / "spec.json") or {}
        self._remove_cgroups(launch.get("cgroup_dirs", []))
        await asyncio.to_thread(shutil.rmtree, cdir, True)

    async def containers(self, pod_uid: str | None = None) -> list[ContainerState]:
        if pod_uid is None:
            dirs = self._all_container_dirs()
        else:
            cdirs = self._pod_dir(pod_uid) / "containers"
            dirs = sorted(cdirs.iterdir()) if cdirs.is_dir() else []
        out = []
        for cdir in dirs:
            if (cdir / "spec.json").exists():
                out.append(self._state(cdir))
        return out

    def _all_container_dirs(self) -> list[Path]:
        return sorted((self.state_dir / "pods").glob("*/containers/*"))

    def _state(self, cdir: Path) -> ContainerState:
        launch = _read_json(cdir / "spec.json") or {}
        pid_info = _read_json(cdir / "pid.json")
        exit_info = _read_json(cdir / "exit.json")
        common: dict[str, Any] = {
            "id": launch.get("id", ""),
            "pod_uid": launch.get("pod_uid", ""),
            "name": launch.get("name", ""),
            "attempt": launch.get("attempt", 0),
            "image": launch.get("image", ""),
            "image_id": launch.get("image_id", ""),
            "init": launch.get("init", False),
            "started_at": _from_ns(pid_info.get("started_ns")) if pid_info else None,
        }
        if pid_info is None:
            return ContainerState(status="created", **common)
        if exit_info is None:
            if _alive(pid_info["supervisor"], pid_info["supervisor_start"]) or _alive(
                pid_info["pid"], pid_info["pid_start"]
            ):
                return ContainerState(status="running", **common)
            exit_info = _read_json(cdir / "exit.json")
            if exit_info is None:
                self._record_lost_exit(cdir, "its supervisor ended without an exit status")
                exit_info = _read_json(cdir / "exit.json") or {}
        code = int(exit_info.get("exit_code", 137))
        if exit_info.get("oom_killed"):
            reason, message = "OOMKilled", ""
        elif exit_info.get("lost"):
            reason, message = "Error", str(exit_info["lost"])
        else:
            reason, message = ("Completed" if code == 0 else "Error"), ""
        return ContainerState(
            status="exited",
            finished_at=_from_ns(exit_info.get("finished_ns")),
            exit_code=code,
            reason=reason,
            message=message,
            **common,
        )

    # -- exit notification -----------------------------------------------------------------

    def _watch(self, cdir: Path) -> None:
        launch = _read_json(cdir / "spec.json") or {}
        pid_info = _read_json(cdir / "pid.json") or {}
        cid = launch.get("id", "")
        if not cid or cid in self._watches:
            return
        watch = _Watch(pod_uid=launch["pod_uid"], supervisor=int(pid_info.get("supervisor", 0)))
        self._watches[cid] = watch
        loop = asyncio.get_running_loop()
        if _alive(pid_info.get("supervisor"), pid_info.get("supervisor_start")):
            try:
                watch.pidfd = os.pidfd_open(watch.supervisor)
            except (AttributeError, OSError):
                watch.pidfd = None
        if watch.pidfd is not None:
            watch.loop = loop
            loop.add_reader(watch.pidfd, self._on_exit, cid)
        elif _alive(pid_info.get("supervisor"), pid_info.get("supervisor_start")) or _alive(
            pid_info.get("pid"), pid_info.get("pid_start")
        ):
            self._ensure_poller()
        else:
            loop.call_soon(self._on_exit, cid)

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_exits())

    async def _poll_exits(self) -> None:
        while any(w.pidfd is None for w in self._watches.values()):
            await asyncio.sleep(self.settings.exit_poll_interval)
            for cid, watch in list(self._watches.items()):
                if watch.pidfd is None:
                    state = self._state(self._container_dir(cid))
                    if state.status != "running":
                        self._on_exit(cid)

    def _on_exit(self, cid: str) -> None:
        watch = self._watches.get(cid)
        if watch is None:
            return
        self._unwatch(cid)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(watch.supervisor, os.WNOHANG)  # ours if we started it: reap it
        for callback in list(self._callbacks):
            try:
                callback(watch.pod_uid)
            except Exception:
                log.exception("on_change callback failed for pod %s", watch.pod_uid)

    def _unwatch(self, cid: str) -> None:
        watch = self._watches.pop(cid, None)
        if watch is not None and watch.pidfd is not None:
            if watch.loop is not None and not watch.loop.is_closed():
                watch.loop.remove_reader(watch.pidfd)
            os.close(watch.pidfd)
            watch.pidfd = None

    # -- exec and logs ---------------------------------------------------------------------

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        cdir = self._container_dir(container_id)
        if not cdir.exists():
            raise LookupError(f"no container {container_id}")
        state = self._state(cdir)
        if state.status != "running":
            raise LookupError(f"container {container_id} is not running")
        launch = _read_json(cdir / "spec.json") or {}
        if not argv:
            return ExecResult(exit_code=126, output=b"exec: no command given\n")
        entering = bool(launch.get("netns") or launch.get("pid_namespace"))
        entering = entering or bool(launch.get("cgroup_procs"))
        if entering:
            command = [
                self.settings.python,
                "-S",
                "-m",
                "orchestrator.kubelet.supervise",
                "exec",
                str(cdir),
                "--",
                *argv,
            ]
            env = {"PYTHONPATH": PACKAGE_ROOT}
            cwd = None
        else:
            command, env, cwd = list(argv), dict(launch.get("env", [])), launch.get("cwd")
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError:
            msg = f'exec: "{argv[0]}": executable file not found in $PATH\n'
            return ExecResult(exit_code=127, output=msg.encode())
        except OSError as exc:
            return ExecResult(exit_code=126, output=f'exec: "{argv[0]}": {exc}\n'.encode())
        limit = self.settings.exec_output_limit
        output = bytearray()

        async def collect() -> int:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                if len(output) < limit:
                    output.extend(chunk[: limit - len(output)])
            return await proc.wait()

        try:
            code = await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return ExecResult(exit_code=137, output=bytes(output), timed_out=True)
        return ExecResult(exit_code=code, output=bytes(output))

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        cdir = self._container_dir(container_id)
        if not (cdir / "spec.json").exists():
            raise LookupError(f"no container {container_id}")

        def running() -> bool:  # a removed container has ended too
            return (cdir / "spec.json").exists() and self._state(cdir).status in (
                "running",
                "created",
            )

        async for line in read_log(
            cdir / "container.log",
            options,
            running=running,
            poll_interval=self.settings.log_follow_interval,
        ):
            yield line


def _supervisor_gone(pid_info: dict[str, Any]) -> bool:
    """The supervisor has ended; reaped here if it is our child (no zombie is left)."""
    pid = pid_info.get("supervisor")
    if not pid:
        return True
    try:
        done, _ = os.waitpid(int(pid), os.WNOHANG)
        if done:
            return True
    except ChildProcessError:
        pass
    if not _alive(pid, pid_info.get("supervisor_start")):
        return True
    try:  # a zombie that another process (an earlier agent) has yet to reap
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _spawn_supervisor(python: str, cdir: Path, ready_fd: int) -> int:
    """``supervise run`` in a new session: stdio to /dev/null and supervisor.log, fd 3 = ready."""
    argv = [python, "-S", "-m", "orchestrator.kubelet.supervise", "run", str(cdir)]
    env = {"PYTHONPATH": PACKAGE_ROOT, "PATH": os.environ.get("PATH", DEFAULT_PATH)}
    return os.posix_spawn(
        python,
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                2,
                str(cdir / "supervisor.log"),
                os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, ready_fd, 3),
        ],
        setsid=True,
    )


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


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


async def _read_to_eof(fd: int) -> bytes:
    """Everything written to a pipe until its last writer closes it, without blocking the loop."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    data = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            data.extend(chunk)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return bytes(data)


def _host_path(path: str, mounts: list[Any]) -> str:
    """Where a container path lies on the node, through the longest matching mount."""
    best = None
    for mount in mounts:
        root = mount.container_path.rstrip("/") or "/"
        if path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best[0]):
                best = (root, mount.host_path)
    if best is None:
        return path
    return best[1] + path[len(best[0]) :]


def _find_executable(name: str, path_var: str, cwd: str, mounts: list[Any]) -> str | None:
    """What exec would run for ``name`` (PATH search unless it has a slash), seen from the node."""
    if "/" in name:
        candidate = name if name.startswith("/") else os.path.join(cwd, name)
        host = _host_path(candidate, mounts)
        return host if os.path.isfile(host) and os.access(host, os.X_OK) else None
    for directory in path_var.split(":"):
        host = _host_path(os.path.join(directory or ".", name), mounts)
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return host
    return None
