"""The contract between the node agent's pod workers and a container runtime.

The pod workers (``orchestrator.kubelet``) decide *what* should run: which
containers of which pod, with what command, env, mounts and limits, when to
restart them and when to stop them. A runtime only carries out those steps
and reports what it sees. Two implement it:

- ``runtimes/process.py``: each container is a process group under a small
  supervisor of ours (``orchestrator.kubelet.supervise``); the pod's sandbox
  is a network namespace (as root) or a loopback address (without root).
- ``runtimes/docker.py``: containers through the Docker SDK; the sandbox is
  a pause-style container that holds the pod's network namespace.

Everything a runtime starts outlives the node agent: a restarted agent calls
``start()`` and then sees, through ``sandboxes()`` and ``containers()``, what
is still running, and adopts it. A runtime keeps whatever it needs for that on
disk (process) or in the engine's labels (docker), never only in memory.

Values crossing this boundary are frozen dataclasses; the pod object (a JSON
dict) never does: the pod workers translate it into these specs.

Interactive sessions (``kubectl exec``, ``attach``) are ``StreamSession``s:
output comes as ``(channel, bytes)`` pairs (1 stdout, 2 stderr, the channel
numbers of Kubernetes' remote command protocol), input goes in with
``write``, and ``wait()`` gives the exit code. ``port_target()`` tells the
node agent where a pod's ports are reached (its network namespace, its IP).

Container logs are files in CRI's format, one line per write of a line:
``<RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <text>`` (``P`` marks
a partial line continued by the next entry), see ``orchestrator.kubelet.logformat``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

STACK_IMAGE = "paas/stack:bookworm"  # the node's own system (process), the Debian image (docker)

ContainerStatus = Literal["created", "running", "exited", "unknown"]


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the container at ``container_path``."""

    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Limits:
    """Resource limits; None means unlimited."""

    cpu_millis: int | None = None  # 500 = half a CPU (a CFS quota)
    memory_bytes: int | None = None  # exceeding it ends the container as OOMKilled


@dataclass(frozen=True)
class PortMapping:
    """An explicit ``hostPort``: the only way a pod is published on the node."""

    container_port: int
    host_port: int
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class DNSConfig:
    """What the pod's resolv.conf says (the networking issue fills it in)."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxSpec:
    """A pod's shared context: its network (pod IP), hostname, DNS."""

    pod_uid: str
    namespace: str
    name: str
    hostname: str
    host_network: bool = False
    port_mappings: tuple[PortMapping, ...] = ()
    dns: DNSConfig | None = None
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: what the pod's status reports as its IP."""

    id: str  # runtime-specific ("process://<uid>", "docker://<container id>")
    pod_uid: str
    namespace: str
    name: str
    ip: str
    ready: bool = True  # False when the runtime finds it broken (netns gone, container dead)


@dataclass(frozen=True)
class ContainerSpec:
    """One container to start, fully resolved by the pod worker."""

    pod_uid: str
    namespace: str
    pod_name: str
    name: str
    attempt: int  # 0 for the first start; the restart count after that
    image: str
    image_pull_policy: str = "IfNotPresent"  # Always | IfNotPresent | Never
    command: tuple[str, ...] = ()  # the pod's `command` (empty: the image's entrypoint)
    args: tuple[str, ...] = ()  # the pod's `args` (empty: the image's cmd)
    env: tuple[tuple[str, str], ...] = ()  # in order, already expanded ($(VAR) references)
    working_dir: str = ""  # "" = the runtime's default (a per-container dir on process)
    mounts: tuple[Mount, ...] = ()
    limits: Limits = Limits()
    ports: tuple[int, ...] = ()  # containerPorts, informational
    init: bool = False  # an init container (runs to completion before the others)
    stdin: bool = False  # the container's stdin stays open for `kubectl attach -i`
    tty: bool = False  # the container's stdio is a terminal (`kubectl attach -t`)


@dataclass(frozen=True)
class ContainerState:
    """What the runtime sees of one container, running or ended."""

    id: str  # "process://..." or "docker://...": what containerID in the pod status says
    pod_uid: str
    name: str
    attempt: int
    status: ContainerStatus
    image: str = ""
    image_id: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""  # when exited: Completed | Error | OOMKilled | ContainerCannotRun
    message: str = ""
    init: bool = False


@dataclass(frozen=True)
class ResourceUsage:
    """One reading of what a container (or the node) uses; None = not measurable here."""

    time_ns: int  # wall clock of the reading, nanoseconds since the epoch
    cpu_ns: int | None = None  # cumulative CPU time, core-nanoseconds
    memory_working_set: int | None = None  # usage minus inactive file pages (cAdvisor's)
    memory_usage: int | None = None  # bytes charged, page cache included
    memory_rss: int | None = None  # anonymous and swap cache memory


@dataclass(frozen=True)
class ContainerUsage:
    """A running container's reading, with what names it in the kubelet's Summary."""

    container_id: str
    pod_uid: str
    namespace: str
    pod_name: str
    name: str
    started_at: datetime | None
    usage: ResourceUsage


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: bytes  # stdout and stderr together, cut to a bounded size
    timed_out: bool = False


@dataclass(frozen=True)
class StreamOptions:
    """Which streams an interactive exec or attach carries (kubelet's query names)."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True  # ignored with a tty: a terminal has one output
    tty: bool = False


@dataclass(frozen=True)
class PortTarget:
    """Where a pod's ports are reached from the node."""

    netns: str  # a network namespace file to connect from ("" = the node's own network)
    ip: str  # the pod's address (the fallback, and the address in loopback mode)


class StreamError(Exception):
    """An interactive session cannot start; the message is what the user is shown."""


class StreamSession(Protocol):
    """One running exec or attach: output out, input in, an exit code at the end."""

    async def read(self) -> tuple[int, bytes] | None:
        """The next output as ``(1 stdout | 2 stderr, data)``; None when output has ended."""

    async def write(self, data: bytes) -> None:
        """Bytes for the process's stdin (ignored when it has none)."""

    async def close_stdin(self) -> None:
        """End the process's stdin (it reads EOF)."""

    async def resize(self, width: int, height: int) -> None:
        """The terminal's new size (ignored without a tty)."""

    async def wait(self) -> int:
        """The exit code, once output has ended."""

    async def close(self) -> None:
        """Let go: an exec is killed (its whole process group), an attach detaches."""


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


class ImageError(Exception):
    """The image cannot be had; ``reason`` is what the pod status shows as waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # ErrImageNeverPull | ErrImagePull | InvalidImageName
        self.message = message


class ContainerStartError(Exception):
    """The container could not be started (no such command, bad working dir, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # RunContainerError | CreateContainerError
        self.message = message


class Runtime(Protocol):
    """What the pod workers need from a runtime. All methods are idempotent where
    it makes sense: starting a sandbox that exists returns it, stopping a stopped
    container does nothing, removing what is gone does nothing."""

    name: str  # "process" | "docker"

    async def start(self, pod_cidr: str) -> None:
        """Prepare the node (bridge, state dirs) and reconnect to what still runs.

        ``pod_cidr`` is the node's ``spec.podCIDR`` (root mode addresses pods from it).
        """

    async def close(self) -> None:
        """Let go of the runtime's resources, leaving every pod running."""

    async def version(self) -> str:
        """For Node.status.nodeInfo.containerRuntimeVersion: "process://1.0", "docker://28.2.2"."""

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(pod_uid)`` whenever a container of that pod changes state
        (exits, mostly), so that its worker looks again without polling."""

    async def run_sandbox(self, spec: SandboxSpec) -> Sandbox:
        """Create (or return the existing) sandbox of the pod."""

    async def sandboxes(self) -> list[Sandbox]:
        """Every sandbox this node's runtime holds, running or broken."""

    async def remove_sandbox(self, pod_uid: str) -> None:
        """Tear down the pod's network and state; its containers must be stopped first."""

    async def ensure_image(self, spec: ContainerSpec) -> str:
        """Make the image available as its pull policy says; return its image ID.

        Raises ImageError naming the image when it cannot be had.
        """

    async def start_container(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        """Start the container in the sandbox; raises ContainerStartError."""

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds``; returns when it has exited."""

    async def remove_container(self, container_id: str) -> None:
        """Forget an exited container (its logs go with it)."""

    async def containers(self, pod_uid: str | None = None) -> list[ContainerState]:
        """Every container of the pod (or of the node), each attempt, running or exited."""

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        """Run ``argv`` inside the running container (exec probes, preStop hooks)."""

    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        """The container's output as ``kubectl logs`` shows it, line by line."""
        ...

    async def exec_stream(
        self, container_id: str, argv: list[str], options: StreamOptions
    ) -> StreamSession:
        """Start ``argv`` in the running container, interactively; raises StreamError."""

    async def attach(self, container_id: str, options: StreamOptions) -> StreamSession:
        """Join the container's main process: its output from now on, its stdin and tty."""

    async def port_target(self, pod_uid: str) -> PortTarget:
        """Where the pod's ports are reached; LookupError when it has no sandbox here."""

    async def stats(self) -> list[ContainerUsage]:
        """A reading of every running container of the node (the stats sampler's input)."""
