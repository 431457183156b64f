"""The Docker runtime: pods as containers of a local Docker engine, through the Docker SDK.

A pod is a **sandbox** container plus one container per pod container:

- The sandbox runs the stack image's ``sleep infinity`` under the engine's
  init (tini); it holds the pod's network namespace, hostname, DNS settings
  and IPC namespace. The engine gives it no network (``--network none``):
  the node wires it as it wires the process runtime's pods (``podnet``: a
  veth on the node's bridge, an address of the node's pod CIDR, recorded in
  the sandbox's ``paas.dev/pod-ip`` label), and publishes ``hostPort``s with
  its own rules (``hostports``). This is how the kubelet ran Docker with
  CNI, and it matters: when a container leaves one of the engine's bridge
  networks, the engine deletes every conntrack entry of its address by
  dumping the table and deleting entry by entry, and a new connection that
  reuses a deleted flow's ports in between (a client reconnecting to a
  Service) loses its NAT state and hangs; in rolling updates under load
  that was 1 request in 10,000 to 100,000. A ``hostNetwork`` pod's sandbox uses
  the host's network and reports ``DockerSettings.host_ip``.
- Each pod container joins the sandbox's network and IPC namespaces
  (``network_mode=container:<sandbox>``), so containers of one pod reach
  each other on localhost, and two pods never collide on a port. PID
  namespaces stay separate, as Kubernetes' default. ``command``/``args``
  replace the image's entrypoint/cmd as Kubernetes says; memory and CPU
  limits are the engine's (``Memory``/``MemorySwap`` equal, so no swap, and
  ``NanoCpus``); logs go to the engine's json-file driver with size-based
  rotation, read back through the engine.
- Every container runs under the engine's init, so SIGTERM reaches the app
  with its default action (an app that is PID 1 would ignore it) and an
  exit by signal is reported as 128 + signal, as the kubelet reports it. A
  command the image lacks is refused before the start (``dockerexec``).

Everything this runtime knows is in the engine: labels (``dockerspec``) name
the node, the pod and the container attempt, so a node agent that restarts
builds a new ``DockerRuntime`` for the same node name, calls ``start`` with
the same pod CIDR (the bridge is reused, rules re-checked, a pod whose
namespace name went is wired again when its sandbox is asked for) and sees
its running containers through ``sandboxes()``/``containers()``, untouched.

The SDK is synchronous: short calls run in a small thread pool of this
runtime's own; long streams (``logs`` with follow, the engine's event
stream) each get a thread of their own (``threadstream``), so followers
never starve the pool. Engine events for this node's containers (start, die,
oom, destroy) call the ``on_change`` callbacks with the pod's UID on the
event loop; the pod workers' periodic resync covers whatever an engine
restart makes us miss.

Errors: engine failures are raised once here as ``DockerEngineError``
(``NoSuchContainer`` for an unknown ID; SDK and HTTP errors do not travel
further); the contract's ``ImageError`` and ``ContainerStartError`` carry
the kubelet's reasons. Helpers: ``dockerspec`` (labels, names, state
mapping), ``dockernet`` (what earlier versions left), ``dockerexec``,
``dockerlogs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
import requests

from orchestrator.api.objects import Obj
from orchestrator.kubelet import hostports, poddns, podnet
from orchestrator.kubelet.runtimes import dockernet
from orchestrator.kubelet.runtimes.base import (
    STACK_IMAGE,
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    ContainerUsage,
    ExecResult,
    ImageError,
    LogOptions,
    PortTarget,
    Sandbox,
    SandboxSpec,
    StreamError,
    StreamOptions,
    StreamSession,
)
from orchestrator.kubelet.runtimes.dockerexec import (
    ENGINE_ERRORS,
    check_executable,
    missing_command,
    run_exec,
)
from orchestrator.kubelet.runtimes.dockerlogs import OwnStream, own_client, read_logs
from orchestrator.kubelet.runtimes.dockersession import DockerSession, hijack
from orchestrator.kubelet.runtimes.dockerslugs import (
    SLUG_MOUNT,
    SlugSource,
    ensure_slug,
    is_slug,
    slug_container,
)
from orchestrator.kubelet.runtimes.dockerspec import (
    LABEL_CONTAINER_NAME,
    LABEL_NODE,
    LABEL_POD_UID,
    ROLE_CONTAINER,
    ROLE_SANDBOX,
    SANDBOX_COMMAND,
    container_labels,
    container_name,
    entrypoint_and_cmd,
    environment,
    host_ports,
    is_host_network,
    node_filter,
    sandbox_from_inspect,
    sandbox_labels,
    sandbox_name,
    state_from_inspect,
    strip_scheme,
)
from orchestrator.kubelet.runtimes.dockerstats import container_usage
from orchestrator.netfilter.iptables import KernelError


def _unix_listens(path: str, timeout: float) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def engine_answers(url: str, timeout: float = 3) -> bool:
    """Whether a Docker engine answers a ping at ``url``, within ``timeout`` seconds."""
    if url.startswith("unix://") and not _unix_listens(url.removeprefix("unix://"), timeout):
        return False  # the SDK would leave its failed socket unclosed
    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.RequestException):
        return False
    finally:
        client.close()


log = logging.getLogger(__name__)
T = TypeVar("T")
CHANGE_ACTIONS = frozenset({"start", "die", "oom", "destroy"})


class DockerEngineError(Exception):
    """The engine failed or cannot be reached; the message names the step."""


class NoSuchContainer(DockerEngineError):
    """The container (or sandbox) is not known to the engine."""


@dataclass(frozen=True)
class DockerSettings:
    """How this node's runtime talks to the engine and what its containers get."""

    docker_url: str = "unix:///var/run/docker.sock"  # the engine (the CLI passes $DOCKER_HOST)
    sandbox_image: str = STACK_IMAGE  # the pause-style container's image; must have `sleep`
    host_ip: str = "127.0.0.1"  # what a hostNetwork pod reports as its IP (the node's address)
    use_init: bool = True  # tini as PID 1: SIGTERM has its default action on the app
    log_max_size: str = "10m"  # json-file rotation: size of one file
    log_max_files: int = 3  # ... and how many are kept
    exec_output_limit: int = 64 * 1024  # bytes of an exec's output kept (probes, hooks)
    api_timeout: float = 60.0  # seconds one engine request may take (a stop adds its grace)
    threads: int = 8  # the pool for short engine calls
    close_timeout: float = 30.0  # how long close() waits for engine calls in flight
    slugs: SlugSource = dataclasses.field(
        default_factory=SlugSource
    )  # slugs run in the stack image, fetched from the builder


def _engine_error(what: str, exc: BaseException) -> DockerEngineError:
    if isinstance(exc, docker.errors.NotFound):
        return NoSuchContainer(f"{what}: {_explain(exc)}")
    return DockerEngineError(f"{what}: {_explain(exc)}")


def _explain(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


class DockerRuntime:
    """The ``Runtime`` contract on a Docker engine, for the node ``node_name``."""

    name = "docker"

    def __init__(self, node_name: str, settings: DockerSettings | None = None) -> None:
        self.node_name = node_name
        self.settings = settings or DockerSettings()
        self.network = podnet.BridgeNetwork(node_name)  # the node's own, as the process runtime's
        self._wiring = threading.Lock()  # one sandbox at a time takes an address
        self._client: docker.DockerClient | None = None
        self._pool = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="paas-docker")
        self._callbacks: list[Callable[[str], None]] = []
        self._closing = threading.Event()
        self._events: OwnStream | None = None  # the engine's event stream, closed to end it
        self._events_thread: threading.Thread | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def api(self) -> docker.APIClient:
        """The SDK's low-level client (connecting on first use; ``start`` does that first)."""
        if self._client is None:
            try:
                self._connect()
            except ENGINE_ERRORS as exc:
                raise _engine_error(f"docker engine at {self.settings.docker_url}", exc) from exc
        assert self._client is not None
        return self._client.api

    def _connect(self) -> None:
        if self._client is None:
            # The SDK asks the engine its API version here: this connects.
            self._client = docker.DockerClient(
                base_url=self.settings.docker_url,
                timeout=int(self.settings.api_timeout),
                max_pool_size=self.settings.threads + 4,
            )
        self._client.api.ping()

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking engine call in the pool; engine errors become DockerEngineError."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except ENGINE_ERRORS as exc:
            raise _engine_error(what, exc) from exc

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def subnet(self) -> str:
        """The node's pod range once started ("" before)."""
        return str(self.network.cidr or "")

    async def start(self, pod_cidr: str) -> None:
        """The engine, the node's bridge and rules; the sandboxes still running are kept.

        Without a pod CIDR (none assigned yet) the bridge waits, as in the
        process runtime: call ``start`` again with one.
        """
        if pod_cidr:
            _check_cidr(pod_cidr)
        await self._call(f"docker engine at {self.settings.docker_url}", self._connect)
        await self._call(
            "earlier versions' docker network", dockernet.remove_legacy, self.api, self.node_name
        )
        running = [s.pod_uid for s in await self.sandboxes() if s.ready or s.ip]
        try:
            await asyncio.to_thread(self.network.setup, pod_cidr, running)
            if pod_cidr:
                await self._call("hostPorts", self._program_host_ports)
        except podnet.PodNetworkError as exc:
            raise DockerEngineError(f"the pod network of node {self.node_name}: {exc}") from exc
        self._start_events(asyncio.get_running_loop())

    async def close(self) -> None:
        """Stop listening and let go of the engine; every container keeps running."""
        self._closing.set()
        if self._events is not None:
            self._events.close()
        if self._events_thread is not None:
            await asyncio.to_thread(self._events_thread.join, 5)
        # Engine calls already running finish (a cancelled caller does not stop its thread), so
        # that whoever comes next (a new agent, a purge) sees their result.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True),
                self.settings.close_timeout,
            )
        if self._client is not None:
            self._client.close()

    async def purge(self) -> int:
        """Remove everything of this node from the engine (``purge_node``); for tests and for
        decommissioning a node, never on a normal stop. Returns how many containers went."""
        return await asyncio.to_thread(purge_node, self.node_name, self.settings.docker_url)

    async def version(self) -> str:
        info = await self._call("docker version", self.api.version)
        return f"docker://{info.get('Version', 'unknown')}"

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def _start_events(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._events_thread is not None:
            return
        self._events_thread = threading.Thread(
            target=self._listen, args=(loop,), name="paas-docker-events", daemon=True
        )
        self._events_thread.start()

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """The engine's container events for this node, as ``on_change(pod_uid)`` on the loop."""
        labels = [f"{LABEL_NODE}={self.node_name}"]  # sandboxes and containers alike
        while not self._closing.is_set():
            stream = None
            client = None
            try:
                client = own_client(self.api, self.settings.docker_url)
                events = client.events(decode=True, filters={"type": "container", "label": labels})
                stream = self._events = OwnStream(client, events)
                if self._closing.is_set():  # close() ran while this stream was being opened
                    return
                for event in stream:
                    action = str(event.get("Action") or event.get("status") or "")
                    if action.partition(":")[0] not in CHANGE_ACTIONS:
                        continue
                    uid = ((event.get("Actor") or {}).get("Attributes") or {}).get(LABEL_POD_UID)
                    if uid:
                        loop.call_soon_threadsafe(self._notify, uid)
            except Exception as exc:  # the engine went away, or close() cut the stream
                if self._closing.is_set() or isinstance(exc, RuntimeError):
                    return  # closing, or the event loop is gone (call_soon_threadsafe)
                log.warning("docker events for %s: %s; listening again", self.node_name, exc)
            finally:
                if stream is not None:
                    stream.close()
                elif client is not None:
                    client.close()
            self._closing.wait(1.0)

    def _notify(self, pod_uid: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(pod_uid)
            except Exception:
                log.exception("on_change callback for pod %s failed", pod_uid)

    # -- sandboxes --------------------------------------------------------------------------

    async def run_sandbox(self, spec: SandboxSpec) -> Sandbox:
        return await self._call(
            f"sandbox of pod {spec.namespace}/{spec.name}", self._run_sandbox, spec
        )

    def _run_sandbox(self, spec: SandboxSpec) -> Sandbox:
        with self._wiring:
            for info in self._inspect_all(ROLE_SANDBOX, spec.pod_uid):
                if info["State"]["Status"] == "running":
                    self._wire(info)  # idempotent: wires it again if its namespace name went
                    return self._sandbox(info)
                remove_quietly(self.api, info["Id"])  # dead: a new one replaces it
            try:
                self.api.inspect_image(self.settings.sandbox_image)
            except docker.errors.ImageNotFound as exc:
                raise DockerEngineError(
                    f"the sandbox image {self.settings.sandbox_image} is missing: "
                    "run `paas stack build`"
                ) from exc
            host = spec.host_network
            ip = self.settings.host_ip if host else self._free_ip()
            host_config = self.api.create_host_config(
                network_mode="host" if host else "none",
                ipc_mode="shareable",
                init=self.settings.use_init,
                log_config=docker.types.LogConfig(type="none"),
            )
            created = self.api.create_container(
                self.settings.sandbox_image,
                entrypoint=list(SANDBOX_COMMAND),  # whatever the image's own entrypoint is
                hostname=None if host else spec.hostname[:63],
                name=sandbox_name(spec),
                labels=sandbox_labels(self.node_name, spec, ip),
                host_config=host_config,
            )
            self.api.start(created["Id"])
            info = self.api.inspect_container(created["Id"])
            if not host:
                self._wire(info)
                self._write_pod_file(info, "HostsPath", poddns.hosts_text(spec.hostname, ip))
                if spec.dns:
                    self._write_pod_file(info, "ResolvConfPath", poddns.resolv_conf_text(spec.dns))
            return self._sandbox(info)

    def _free_ip(self) -> str:
        """The lowest address of the pod CIDR no sandbox of this node holds (under the lock)."""
        used = [sandbox_from_inspect(i, "").ip for i in self._inspect_all(ROLE_SANDBOX)]
        try:
            return podnet.allocate_ip(self.network.pool(), used)
        except podnet.PodNetworkError as exc:
            raise DockerEngineError(str(exc)) from exc

    def _wire(self, info: Obj) -> None:
        """The sandbox's namespace on the node's bridge, at its address; its hostPorts."""
        if is_host_network(info):
            return
        sandbox = sandbox_from_inspect(info, "")
        try:
            self.network.attach(sandbox.pod_uid, sandbox.ip, pid=int(info["State"]["Pid"]))
        except podnet.PodNetworkError as exc:
            raise DockerEngineError(f"wiring the sandbox of pod {sandbox.name}: {exc}") from exc
        if host_ports(info):
            self._program_host_ports()

    def _program_host_ports(self) -> None:
        """The node's hostPort rules, from every sandbox's labels (as the process runtime)."""
        mappings = [
            (sandbox_from_inspect(info, "").ip, mapping)
            for info in self._inspect_all(ROLE_SANDBOX)
            if not is_host_network(info)
            for mapping in host_ports(info)
        ]
        try:
            hostports.program(self.node_name, self.network.bridge, mappings)
        except KernelError as exc:
            raise DockerEngineError(f"cannot publish hostPorts: {exc}") from exc

    def _write_pod_file(self, info: Obj, key: str, text: str) -> None:
        """Rewrite the sandbox's /etc/hosts or resolv.conf (the pod's containers share them).

        With no network of its own the engine leaves the host's resolver and
        no line for the pod's own name; the kubelet's dockershim wrote both.
        Only a local engine's files are reachable.
        """
        path = info.get(key) or ""
        try:
            with open(path, "w") as handle:
                handle.write(text)
        except OSError as exc:
            log.warning("cannot write %s for pod %s: %s", path, info.get("Name", ""), exc)

    def _sandbox(self, info: Obj) -> Sandbox:
        sandbox = sandbox_from_inspect(info, self.settings.host_ip)
        if sandbox.ready and not is_host_network(info):  # its namespace still on the bridge
            return dataclasses.replace(sandbox, ready=self.network.healthy(sandbox.pod_uid))
        return sandbox

    async def sandboxes(self) -> list[Sandbox]:
        infos = await self._call("list sandboxes", self._inspect_all, ROLE_SANDBOX)
        return [self._sandbox(info) for info in infos]

    async def remove_sandbox(self, pod_uid: str) -> None:
        await self._call(f"remove sandbox of pod {pod_uid}", self._remove_pod, pod_uid)

    def _remove_pod(self, pod_uid: str) -> None:
        """The pod's containers (which must be stopped already), its sandbox, its wiring."""
        published = False
        for role in (ROLE_CONTAINER, ROLE_SANDBOX):
            for info in self._inspect_all(role, pod_uid):
                published = published or (role == ROLE_SANDBOX and bool(host_ports(info)))
                remove_quietly(self.api, info["Id"])
        try:
            self.network.detach(pod_uid)
            if published:
                self._program_host_ports()
        except podnet.PodNetworkError as exc:
            raise DockerEngineError(f"unwiring pod {pod_uid}: {exc}") from exc

    def _inspect_all(self, role: str, pod_uid: str | None = None) -> list[Obj]:
        found = self.api.containers(all=True, filters=node_filter(self.node_name, role, pod_uid))
        infos = []
        for entry in found:
            try:
                infos.append(self.api.inspect_container(entry["Id"]))
            except docker.errors.NotFound:
                continue  # removed between the list and the inspect
        return infos

    # -- images -----------------------------------------------------------------------------

    async def ensure_image(self, spec: ContainerSpec) -> str:
        return await self._call(f"image {spec.image}", self._ensure_image, spec)

    def _local_image(self, image: str) -> str:
        try:
            return str(self.api.inspect_image(image)["Id"])
        except docker.errors.ImageNotFound:
            return ""
        except docker.errors.APIError as exc:
            if exc.status_code == 400:
                raise ImageError(
                    "InvalidImageName", f'Failed to inspect image "{image}": {_explain(exc)}'
                ) from exc
            raise

    def _ensure_image(self, spec: ContainerSpec) -> str:
        if is_slug(spec.image):
            ensure_slug(spec, self.settings.slugs)
            if not self._local_image(STACK_IMAGE):
                raise ImageError(
                    "ErrImagePull",
                    f'image "{spec.image}": slugs run in {STACK_IMAGE}, which this engine '
                    "does not have (paas up builds it)",
                )
            return spec.image
        image, policy = spec.image, spec.image_pull_policy
        local = self._local_image(image)
        if policy == "Never":
            if local:
                return local
            raise ImageError(
                "ErrImageNeverPull",
                f'Container image "{image}" is not present with pull policy of Never',
            )
        if local and policy != "Always":
            return local
        try:
            for message in self.api.pull(image, stream=True, decode=True):
                if isinstance(message, dict) and message.get("error"):
                    raise ImageError(
                        "ErrImagePull", f'Failed to pull image "{image}": {message["error"]}'
                    )
        except ENGINE_ERRORS as exc:
            explanation = _explain(exc)
            reason = "InvalidImageName" if "invalid reference" in explanation else "ErrImagePull"
            raise ImageError(reason, f'Failed to pull image "{image}": {explanation}') from exc
        pulled = self._local_image(image)
        if not pulled:
            message = f'Failed to pull image "{image}": not found after pull'
            raise ImageError("ErrImagePull", message)
        return pulled

    # -- containers -------------------------------------------------------------------------

    async def start_container(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        what = f"container {spec.name} of pod {spec.namespace}/{spec.pod_name}"
        return await self._call(what, self._start_container, sandbox, spec)

    def _start_container(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        name = container_name(spec)
        with contextlib.suppress(docker.errors.NotFound):
            existing = self.api.inspect_container(name)
            if existing["State"]["Status"] == "running":
                return state_from_inspect(existing)  # started before; idempotent
            self.api.remove_container(existing["Id"], force=True)
        sandbox_id = strip_scheme(sandbox.id)
        limits = spec.limits
        entrypoint, cmd = entrypoint_and_cmd(spec)
        image, env, working_dir = spec.image, environment(spec), spec.working_dir or None
        slug_mounts = []
        if is_slug(spec.image):
            try:
                slug = slug_container(spec, ensure_slug(spec, self.settings.slugs))
            except ImageError as exc:
                raise ContainerStartError("CreateContainerError", exc.message) from exc
            image, entrypoint, cmd, working_dir = (
                slug.image, slug.entrypoint, slug.cmd, slug.working_dir
            )  # fmt: skip
            env = environment(dataclasses.replace(spec, env=slug.env))
            slug_mounts.append(
                docker.types.Mount(SLUG_MOUNT, slug.host_path, type="bind", read_only=True)
            )
        rotation = {"max-size": self.settings.log_max_size}
        rotation["max-file"] = str(self.settings.log_max_files)
        log_config = docker.types.LogConfig(type="json-file", config=rotation)
        mounts = [
            docker.types.Mount(m.container_path, m.host_path, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ] + slug_mounts
        try:
            host_config = self.api.create_host_config(
                network_mode=f"container:{sandbox_id}",
                ipc_mode=f"container:{sandbox_id}",
                init=self.settings.use_init,
                mem_limit=limits.memory_bytes,
                memswap_limit=limits.memory_bytes,
                nano_cpus=limits.cpu_millis * 1_000_000 if limits.cpu_millis else None,
                mounts=mounts or None,
                log_config=log_config,
            )
            created = self.api.create_container(
                image,
                command=cmd,
                entrypoint=entrypoint,
                environment=env,
                working_dir=working_dir,
                name=name,
                labels=container_labels(self.node_name, spec),
                host_config=host_config,
                stdin_open=spec.stdin,
                tty=spec.tty,
            )
        except docker.errors.APIError as exc:
            raise ContainerStartError("CreateContainerError", _explain(exc)) from exc
        cid = created["Id"]
        try:
            if self.settings.use_init:
                check_executable(self.api, cid)
            self.api.start(cid)
        except (docker.errors.APIError, ContainerStartError) as exc:
            # No half-started container stays behind: the pod worker retries with backoff.
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_container(cid, force=True)
            if isinstance(exc, ContainerStartError):
                raise
            raise ContainerStartError("RunContainerError", _explain(exc)) from exc
        return state_from_inspect(self.api.inspect_container(cid))

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        cid = strip_scheme(container_id)
        await self._call(f"stop {container_id}", self._stop, cid, grace_seconds)

    def _stop(self, cid: str, grace: float) -> None:
        try:
            if grace <= 0:
                with contextlib.suppress(docker.errors.APIError):  # 409: not running
                    self.api.kill(cid)
            else:
                # The engine counts whole seconds: round up, never cut the grace short.
                self.api.stop(cid, timeout=math.ceil(grace))
            self.api.wait(cid, timeout=self.settings.api_timeout)
        except docker.errors.NotFound:
            return

    async def remove_container(self, container_id: str) -> None:
        await self._call(f"remove {container_id}", self._remove, strip_scheme(container_id))

    def _remove(self, cid: str) -> None:
        remove_quietly(self.api, cid)

    async def containers(self, pod_uid: str | None = None) -> list[ContainerState]:
        infos = await self._call("list containers", self._inspect_all, ROLE_CONTAINER, pod_uid)
        return [state_from_inspect(info) for info in infos]

    # -- exec and logs ----------------------------------------------------------------------

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        """Run ``argv`` with the container's env and working dir.

        Past ``timeout`` the exec'd process is killed (its host PID, when the
        engine is local) and the result says ``timed_out``. A container that
        is not running answers exit code 126 with the engine's message.
        """
        cid = strip_scheme(container_id)
        limit = self.settings.exec_output_limit
        stream_api = own_client(self.api, self.settings.docker_url)
        return await self._call(
            f"exec in {container_id}", run_exec, self.api, stream_api, cid, argv, timeout, limit
        )

    async def logs(self, container_id: str, options: LogOptions) -> AsyncGenerator[bytes, None]:
        """The container's output, line by line, as kubectl shows it (``dockerlogs``)."""
        cid = strip_scheme(container_id)
        call = functools.partial(self._call, f"logs of {container_id}")
        await call(self.api.inspect_container, cid)  # NoSuchContainer before the first line
        try:
            url = self.settings.docker_url
            async with contextlib.aclosing(read_logs(self.api, url, call, cid, options)) as lines:
                async for line in lines:
                    yield line
        except ENGINE_ERRORS as exc:
            raise _engine_error(f"logs of {container_id}", exc) from exc

    # -- interactive sessions and port-forward (``dockersession``) ----------------------------

    async def exec_stream(
        self, container_id: str, argv: list[str], options: StreamOptions
    ) -> StreamSession:
        cid = strip_scheme(container_id)
        call = functools.partial(self._call, f"exec in {container_id}")
        try:
            info = await call(self.api.inspect_container, cid)
            if not info["State"].get("Running"):
                raise StreamError(f"container {container_id} is not running")
            if not argv:
                raise StreamError("you must specify at least one command for the container")
            missing = await call(missing_command, self.api, cid, argv[0], info.get("Config") or {})
            if missing:
                raise StreamError(f"error executing command in container: {missing}")
            created = await call(
                self.api.exec_create,
                cid,
                argv,
                stdin=options.stdin,
                stdout=options.stdout,
                stderr=options.stderr,
                tty=options.tty,
            )
        except DockerEngineError as exc:
            raise StreamError(str(exc)) from exc
        exec_id = created["Id"]
        body = {"Detach": False, "Tty": options.tty}
        reader, writer = await hijack(
            self.settings.docker_url, self.api.api_version, f"/exec/{exec_id}/start", {}, body
        )

        async def resize(width: int, height: int) -> None:
            with contextlib.suppress(DockerEngineError):
                await call(self.api.exec_resize, exec_id, height=height, width=width)

        async def exit_code() -> int:
            for _ in range(100):  # the engine reaps the exec a moment after its output ends
                info = await call(self.api.exec_inspect, exec_id)
                if not info.get("Running"):
                    code = info.get("ExitCode")
                    return code if isinstance(code, int) else 126
                await asyncio.sleep(0.02)
            return 126

        async def kill() -> None:
            with contextlib.suppress(DockerEngineError, OSError):
                pid = int((await call(self.api.exec_inspect, exec_id)).get("Pid") or 0)
                if pid > 0:
                    os.kill(pid, signal.SIGKILL)

        return DockerSession(reader, writer, options, resize=resize, exit_code=exit_code, kill=kill)

    async def attach(self, container_id: str, options: StreamOptions) -> StreamSession:
        cid = strip_scheme(container_id)
        call = functools.partial(self._call, f"attach to {container_id}")
        try:
            info = await call(self.api.inspect_container, cid)
        except DockerEngineError as exc:
            raise StreamError(str(exc)) from exc
        name = (info.get("Config") or {}).get("Labels", {}).get(LABEL_CONTAINER_NAME, cid)
        if not info["State"].get("Running"):
            raise StreamError(f"container {name} is not running")
        if options.stdin and not info["Config"].get("OpenStdin"):
            raise StreamError(
                f"stdin is not enabled for container {name}: attach -i needs stdin: true"
            )
        if options.tty and not info["Config"].get("Tty"):
            raise StreamError(f"tty is not enabled for container {name}: attach -t needs tty: true")
        query = {"stream": 1, "stdin": int(options.stdin), "stdout": 1, "stderr": 1, "logs": 0}
        reader, writer = await hijack(
            self.settings.docker_url, self.api.api_version, f"/containers/{cid}/attach", query, None
        )

        async def resize(width: int, height: int) -> None:
            with contextlib.suppress(DockerEngineError):
                await call(self.api.resize, cid, height=height, width=width)

        async def exit_code() -> int:
            return 0  # an attach ends well when the container ends, whatever its exit code

        async def detach() -> None:
            return None

        return DockerSession(
            reader, writer, options, resize=resize, exit_code=exit_code, kill=detach
        )

    # -- stats ------------------------------------------------------------------------------

    async def stats(self) -> list[ContainerUsage]:
        """One-shot engine stats of every running container, fetched in the runtime's pool
        (its ``threads`` bound how many at once); one that ended meanwhile is left out."""
        filters = {**node_filter(self.node_name, ROLE_CONTAINER), "status": ["running"]}
        listed = await self._call("list containers", self.api.containers, filters=filters)
        now = time.time_ns()

        def one(entry: Obj) -> ContainerUsage | None:
            try:
                try:
                    doc = self.api.stats(entry["Id"], stream=False, one_shot=True)
                except docker.errors.InvalidVersion:  # an engine before API 1.41: two samples
                    doc = self.api.stats(entry["Id"], stream=False)
            except docker.errors.NotFound:
                return None
            return container_usage(entry, doc, now)

        found = await asyncio.gather(*(self._call("stats", one, e) for e in listed))
        return [usage for usage in found if usage is not None]

    async def port_target(self, pod_uid: str) -> PortTarget:
        return await self._call(f"sandbox of pod {pod_uid}", self._port_target, pod_uid)

    def _port_target(self, pod_uid: str) -> PortTarget:
        """The sandbox's network namespace (its process's, when local) and its address."""
        infos = self._inspect_all(ROLE_SANDBOX, pod_uid)
        running = [i for i in infos if i["State"].get("Running")]
        if not running:
            raise LookupError(f"no running sandbox of pod {pod_uid}")
        info = running[0]
        netns = ""
        pid = int(info["State"].get("Pid") or 0)
        if pid > 0 and not is_host_network(info) and os.path.exists(f"/proc/{pid}/ns/net"):
            netns = f"/proc/{pid}/ns/net"
        return PortTarget(netns=netns, ip=sandbox_from_inspect(info, self.settings.host_ip).ip)


def remove_quietly(api: docker.APIClient, cid: str) -> bool:
    """Force-remove a container; gone already, or being removed by someone else, is success.

    Returns False only when it was not there.
    """
    try:
        api.remove_container(cid, force=True, v=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code != 409 or "in progress" not in _explain(exc):
            raise
    return True


def purge_node(node_name: str, docker_url: str = "unix:///var/run/docker.sock") -> int:
    """Remove everything of ``node_name``: its containers (running or not) from the engine,
    its pod network and hostPort rules from the machine, and whatever network earlier
    versions made. For tests and for decommissioning a node; returns how many containers
    went."""
    client = docker.DockerClient(base_url=docker_url, timeout=60)
    try:
        api = client.api
        removed = 0
        for role in (ROLE_CONTAINER, ROLE_SANDBOX):
            for entry in api.containers(all=True, filters=node_filter(node_name, role)):
                removed += remove_quietly(api, entry["Id"])
        dockernet.remove_legacy(api, node_name)
    finally:
        client.close()
    if os.geteuid() == 0:
        podnet.cleanup_node(node_name)
        hostports.remove(node_name)
    return removed


def _check_cidr(cidr: str) -> None:
    """A pod CIDR the bridge can use, or ValueError naming the field."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"spec.podCIDR {cidr!r} is not a network range: {exc}") from None
    if net.version != 4 or net.num_addresses < 4:
        raise ValueError(f"spec.podCIDR {cidr!r} must be an IPv4 range of at least 4 addresses")
