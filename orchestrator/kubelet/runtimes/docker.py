"""The Docker runtime: pods as containers of a local Docker engine, through the Docker SDK.

A pod is a **sandbox** container plus one container per pod container:

- The sandbox runs the stack image's ``sleep infinity`` under the engine's
  init (tini) on the node's own bridge network (``runtimes.dockernet``); it
  holds the pod's network namespace, hostname, DNS settings and IPC
  namespace, and publishes a port on the node only for an explicit
  ``hostPort``. Its address on the node's network is the pod IP. A
  ``hostNetwork`` pod's sandbox uses the host's network and reports
  ``DockerSettings.host_ip``.
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
the same pod CIDR (the network is reused, rules re-checked) and sees its
running containers through ``sandboxes()``/``containers()``, untouched.

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
mapping), ``dockernet`` (network, firewall), ``dockerexec``, ``dockerlogs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
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

from orchestrator.kubelet.runtimes import dockernet
from orchestrator.kubelet.runtimes.base import (
    STACK_IMAGE,
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    DNSConfig,
    ExecResult,
    ImageError,
    LogOptions,
    Sandbox,
    SandboxSpec,
)
from orchestrator.kubelet.runtimes.dockerexec import ENGINE_ERRORS, check_executable, run_exec
from orchestrator.kubelet.runtimes.dockerlogs import OwnStream, own_client, read_logs
from orchestrator.kubelet.runtimes.dockerspec import (
    LABEL_NODE,
    LABEL_POD_UID,
    ROLE_CONTAINER,
    ROLE_SANDBOX,
    SANDBOX_COMMAND,
    bridge_name,
    container_labels,
    container_name,
    entrypoint_and_cmd,
    environment,
    network_name,
    node_filter,
    resolv_conf,
    sandbox_from_inspect,
    sandbox_labels,
    sandbox_name,
    state_from_inspect,
    strip_scheme,
)


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
Obj = dict[str, Any]
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
    cluster_cidr: str = ""  # traffic to it is not masqueraded (pods see pods' real addresses)
    use_init: bool = True  # tini as PID 1: SIGTERM has its default action on the app
    log_max_size: str = "10m"  # json-file rotation: size of one file
    log_max_files: int = 3  # ... and how many are kept
    exec_output_limit: int = 64 * 1024  # bytes of an exec's output kept (probes, hooks)
    api_timeout: float = 60.0  # seconds one engine request may take (a stop adds its grace)
    threads: int = 8  # the pool for short engine calls
    close_timeout: float = 30.0  # how long close() waits for engine calls in flight


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
        self.network = network_name(node_name)
        self.bridge = bridge_name(node_name)
        self.subnet = ""  # the network's range once started
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

    async def start(self, pod_cidr: str) -> None:
        cidr = dockernet.validate_cidr(pod_cidr) if pod_cidr else ""
        await self._call(f"docker engine at {self.settings.docker_url}", self._connect)
        try:
            self.subnet = await self._call(
                f"docker network {self.network}",
                dockernet.ensure_network,
                self.api,
                self.node_name,
                self.network,
                self.bridge,
                cidr,
            )
        except dockernet.NetworkError as exc:
            raise DockerEngineError(str(exc)) from exc
        cluster = self.settings.cluster_cidr
        ruled = await self._call(
            "iptables", dockernet.ensure_rules, self.network, self.subnet, cluster
        )
        if not ruled:
            log.warning(
                "iptables is not usable here: pods of %s are reachable only from this node",
                self.node_name,
            )
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
        for info in self._inspect_all(ROLE_SANDBOX, spec.pod_uid):
            if info["State"]["Status"] == "running":
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
        ports = [(m.container_port, m.protocol.lower()) for m in spec.port_mappings]
        bindings: dict[str, list[tuple[str, int]]] = {}
        for m in spec.port_mappings:
            key = f"{m.container_port}/{m.protocol.lower()}"
            bindings.setdefault(key, []).append((m.host_ip or "0.0.0.0", m.host_port))
        dns = spec.dns
        host_config = self.api.create_host_config(
            network_mode="host" if host else self.network,
            port_bindings=bindings or None,
            dns=list(dns.nameservers) if dns and dns.nameservers and not host else None,
            dns_search=list(dns.searches) if dns and dns.searches and not host else None,
            dns_opt=list(dns.options) if dns and dns.options and not host else None,
            ipc_mode="shareable",
            init=self.settings.use_init,
            log_config=docker.types.LogConfig(type="none"),
        )
        created = self.api.create_container(
            self.settings.sandbox_image,
            entrypoint=list(SANDBOX_COMMAND),  # whatever the image's own entrypoint is
            hostname=None if host else spec.hostname[:63],
            name=sandbox_name(spec),
            labels=sandbox_labels(self.node_name, spec),
            ports=ports or None,
            host_config=host_config,
        )
        self.api.start(created["Id"])
        info = self.api.inspect_container(created["Id"])
        if dns and not host:
            self._write_resolv_conf(info, dns)
        dockernet.set_hairpin(self.bridge)
        return self._sandbox(info)

    def _write_resolv_conf(self, info: Obj, dns: DNSConfig) -> None:
        """Give the pod the DNS servers themselves, as the kubelet's dockershim did.

        On its own networks the engine writes its embedded resolver (127.0.0.11,
        which forwards to these servers and also answers container names) into
        resolv.conf. Rewriting the sandbox's file (the pod's containers share
        it) puts the cluster DNS in front of the apps. Only a local engine's
        files are reachable; elsewhere the engine's forwarding stays.
        """
        path = info.get("ResolvConfPath") or ""
        try:
            with open(path, "w") as handle:
                handle.write(resolv_conf(dns))
        except OSError as exc:
            log.warning("cannot write %s for pod %s: %s", path, info.get("Name", ""), exc)

    def _sandbox(self, info: Obj) -> Sandbox:
        return sandbox_from_inspect(info, self.network, self.settings.host_ip)

    async def sandboxes(self) -> list[Sandbox]:
        infos = await self._call("list sandboxes", self._inspect_all, ROLE_SANDBOX)
        return [self._sandbox(info) for info in infos]

    async def remove_sandbox(self, pod_uid: str) -> None:
        await self._call(f"remove sandbox of pod {pod_uid}", self._remove_pod, pod_uid)

    def _remove_pod(self, pod_uid: str) -> None:
        """The pod's containers (which must be stopped already), then its sandbox."""
        for role in (ROLE_CONTAINER, ROLE_SANDBOX):
            for info in self._inspect_all(role, pod_uid):
                remove_quietly(self.api, info["Id"])

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
        rotation = {"max-size": self.settings.log_max_size}
        rotation["max-file"] = str(self.settings.log_max_files)
        log_config = docker.types.LogConfig(type="json-file", config=rotation)
        mounts = [
            docker.types.Mount(m.container_path, m.host_path, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ]
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
                spec.image,
                command=cmd,
                entrypoint=entrypoint,
                environment=environment(spec),
                working_dir=spec.working_dir or None,
                name=name,
                labels=container_labels(self.node_name, spec),
                host_config=host_config,
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
    """Remove everything of ``node_name`` from the engine: its containers (running or not), its
    network and its firewall rules. For tests and for decommissioning a node; returns how many
    containers went."""
    client = docker.DockerClient(base_url=docker_url, timeout=60)
    try:
        api = client.api
        removed = 0
        network = network_name(node_name)
        # Passes until the network goes: a removal someone else started may still hold an
        # endpoint on it, and an agent's call still in flight may create one more sandbox.
        deadline = time.monotonic() + 30
        while True:
            for role in (ROLE_CONTAINER, ROLE_SANDBOX):
                for entry in api.containers(all=True, filters=node_filter(node_name, role)):
                    removed += remove_quietly(api, entry["Id"])
            try:
                dockernet.remove_network(api, network)
                break
            except docker.errors.APIError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        dockernet.remove_rules(network)
        return removed
    finally:
        client.close()
