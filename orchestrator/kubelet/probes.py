"""Liveness, readiness and startup probes: one small loop per probe of a running container.

Each probe of a container attempt (keyed by its container ID, so a restart
starts fresh) runs ``initialDelaySeconds`` after the container started, then
every ``periodSeconds``, each try bounded by ``timeoutSeconds``. A result
flips only after ``successThreshold`` successes or ``failureThreshold``
failures in a row, as the kubelet's prober does; the flip calls
``on_change(pod uid)`` so the pod worker looks again at once.

- startup: until it succeeds, liveness and readiness do not run and the
  container is not ``started``; once it succeeds it stops. Failing it
  ``failureThreshold`` times fails the container like liveness does.
- readiness: starts False; the container's ``ready`` follows it.
- liveness: starts passing; reaching the failure threshold marks the
  container ``failed`` (with the probe's message) and ends the loop. The pod
  worker then kills the container with its grace period and restarts it
  per restartPolicy, as the kubelet does.

Quick first tries (ours, not the kubelet's): until a readiness or startup
probe has passed once, a failed try is followed by extra tries between the
regular ones, the first ``first_retry`` (50 ms) after it and each pause a
quarter longer than the last, as long as one fits before the next regular
try. The first regular try, made as the container starts, nearly always
finds nothing listening yet; with the extra ones a pod is Ready within
about a quarter of its app's own start-up time after the app answers,
instead of a whole ``periodSeconds`` later. A try that finds nothing
listening costs about 0.1 ms of CPU here, and the extra tries of a start
are few (8 in the first second). They only ever count when they pass:
their failures are neither counted towards ``failureThreshold`` nor
reported, so ``failureThreshold x periodSeconds`` keeps its meaning.

Every failed try records an ``Unhealthy`` Warning ("Liveness probe failed:
HTTP probe failed with statuscode: 500"); the event recorder folds repeats.
Handlers: ``httpGet`` (HTTP or HTTPS without verification, to ``host`` or
the pod IP, a port number or a named container port, headers; 200-399 is a
success), ``tcpSocket`` (a connection opens), ``exec`` (``runtime.exec``
exits 0), ``grpc`` (the standard health service answers SERVING, see
``grpcprobe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.api.objects import Obj
from orchestrator.kubelet.grpcprobe import grpc_check
from orchestrator.kubelet.runtimes.base import ContainerState, Runtime

KINDS = {"startup": "startupProbe", "readiness": "readinessProbe", "liveness": "livenessProbe"}
USER_AGENT = "kube-probe/1.33"
MAX_REPLY = 10 * 1024
GROWTH = 1.25  # each pause between quick first tries is this much longer than the last


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str = ""


def os_reason(exc: OSError) -> str:
    """ "connect: connection refused", as Go words a failed dial."""
    if exc.errno:
        return "connect: " + os.strerror(exc.errno).lower()
    return str(exc)


def resolve_port(port: Any, container: Obj) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        if port.isascii() and port.isdigit():
            return int(port)
        for p in container.get("ports") or []:
            if p.get("name") == port and isinstance(p.get("containerPort"), int):
                return int(p["containerPort"])
    return None


async def http_probe(
    host: str, port: int, path: str, headers: list[Obj], scheme: str, timeout: float
) -> ProbeResult:
    """GET ``path``: 200-399 passes, as Kubernetes' HTTP prober."""
    url = f"{scheme.lower()}://{host}:{port}{path}"
    context = None
    if scheme.upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the kubelet does not verify probe certificates
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            lines = [f"GET {path or '/'} HTTP/1.1", f"Host: {host}:{port}"]
            names = {str(h.get("name", "")).lower() for h in headers}
            if "user-agent" not in names:
                lines.append(f"User-Agent: {USER_AGENT}")
            if "accept" not in names:
                lines.append("Accept: */*")
            lines += [f"{h.get('name')}: {h.get('value', '')}" for h in headers if h.get("name")]
            lines.append("Connection: close")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            status_line = await reader.readline()
    except TimeoutError:
        return ProbeResult(False, f'Get "{url}": context deadline exceeded')
    except OSError as exc:
        return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: {os_reason(exc)}')
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return ProbeResult(False, f'Get "{url}": malformed HTTP response {status_line[:80]!r}')
    code = int(parts[1])
    if 200 <= code < 400:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP probe failed with statuscode: {code}")


async def tcp_probe(host: str, port: int, timeout: float) -> ProbeResult:
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ProbeResult(False, f"dial tcp {host}:{port}: i/o timeout")
    except OSError as exc:
        return ProbeResult(False, f"dial tcp {host}:{port}: {os_reason(exc)}")
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return ProbeResult(True)


async def run_probe(
    probe: Obj, container: Obj, container_id: str, pod_ip: str, runtime: Runtime
) -> ProbeResult:
    """One try of ``probe`` against the container."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    if isinstance(probe.get("exec"), dict):
        argv = [str(a) for a in probe["exec"].get("command") or []]
        try:
            result = await runtime.exec(container_id, argv, timeout)
        except Exception as exc:  # the container went away meanwhile, say
            return ProbeResult(False, f"exec {argv}: {exc}")
        text = result.output.decode("utf-8", "replace").strip()
        if result.timed_out:
            return ProbeResult(False, f"command {argv} timed out")
        if result.exit_code != 0:
            return ProbeResult(False, text or f"command {argv} exited with {result.exit_code}")
        return ProbeResult(True, text)
    for key in ("httpGet", "tcpSocket"):
        handler = probe.get(key)
        if not isinstance(handler, dict):
            continue
        port = resolve_port(handler.get("port"), container)
        host = str(handler.get("host") or pod_ip or "127.0.0.1")
        if port is None:
            return ProbeResult(False, f"{key}.port {handler.get('port')!r} names no container port")
        if key == "tcpSocket":
            return await tcp_probe(host, port, timeout)
        return await http_probe(
            host,
            port,
            str(handler.get("path") or "/"),
            list(handler.get("httpHeaders") or []),
            str(handler.get("scheme") or "HTTP"),
            timeout,
        )
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        port = grpc.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            return ProbeResult(False, f"grpc.port {port!r} is not a port number")
        healthy, why = await grpc_check(
            pod_ip or "127.0.0.1", port, str(grpc.get("service") or ""), timeout
        )
        return ProbeResult(healthy, why)
    return ProbeResult(True)  # no handler: the API server accepts none such; nothing to fail


@dataclass
class ContainerProbes:
    """The probe results of one container attempt."""

    uid: str
    name: str
    has: frozenset[str]  # which kinds are defined
    started: bool = False
    ready: bool = False
    failed: str = ""  # liveness/startup failed with this message: kill and restart
    started_event: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _passed(kind: str, probes: ContainerProbes) -> bool:
    """Whether the container passed this kind of probe (readiness: is ready now)."""
    return probes.started if kind == "startup" else probes.ready


Emit = Callable[[str, str, str, str], None]  # (pod uid, type, reason, message)


class Probers:
    """Every probe loop of the node, by container ID."""

    def __init__(
        self,
        runtime: Runtime,
        on_change: Callable[[str], None],
        emit: Emit,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_retry: float = 0.05,
    ) -> None:
        self.runtime = runtime
        self.on_change = on_change
        self.emit = emit
        self.sleep = sleep
        self.first_retry = first_retry  # 0 turns the quick first tries off
        self._by_id: dict[str, ContainerProbes] = {}

    def get(self, container_id: str) -> ContainerProbes | None:
        return self._by_id.get(container_id)

    def ensure(
        self,
        container: Obj,
        state: ContainerState,
        pod_ip: str,
        *,
        was_started: bool = False,
        was_ready: bool = False,
    ) -> ContainerProbes:
        """Start the probes of a running container attempt (once per container ID).

        ``was_started``/``was_ready``: what the pod's status said of this very container
        before (an adopted one, after the agent restarted): kept until a probe says
        otherwise, so an agent restart does not take a healthy pod out of its Service.
        """
        known = self._by_id.get(state.id)
        if known is not None:
            return known
        has = frozenset(k for k, field_ in KINDS.items() if isinstance(container.get(field_), dict))
        probes = ContainerProbes(state.pod_uid, state.name, has)
        if "startup" not in has or was_started:
            probes.started = True
            probes.started_event.set()
        if "readiness" not in has or (was_ready and probes.started):
            probes.ready = True
        self._by_id[state.id] = probes
        for kind in sorted(has - ({"startup"} if was_started else set())):
            probes.tasks.append(
                asyncio.create_task(
                    self._loop(kind, container, state, pod_ip, probes),
                    name=f"probe {kind} {state.name} {state.pod_uid}",
                )
            )
        return probes

    def results(self, uid: str) -> tuple[dict[str, bool], dict[str, bool]]:
        """(ready, started) by container ID for one pod."""
        mine = {cid: p for cid, p in self._by_id.items() if p.uid == uid}
        return (
            {cid: p.ready for cid, p in mine.items()},
            {cid: p.started for cid, p in mine.items()},
        )

    def stop(self, container_id: str) -> None:
        probes = self._by_id.pop(container_id, None)
        if probes is not None:
            for task in probes.tasks:
                task.cancel()

    def keep_only(self, uid: str, container_ids: set[str]) -> None:
        """Stop the probes of the pod's containers that no longer run."""
        for cid, probes in list(self._by_id.items()):
            if probes.uid == uid and cid not in container_ids:
                self.stop(cid)

    def stop_all(self) -> None:
        for cid in list(self._by_id):
            self.stop(cid)

    async def _loop(
        self, kind: str, container: Obj, state: ContainerState, pod_ip: str, probes: ContainerProbes
    ) -> None:
        probe = container[KINDS[kind]]
        period = float(probe.get("periodSeconds") or 10)
        successes_needed = int(probe.get("successThreshold") or 1)
        failures_allowed = int(probe.get("failureThreshold") or 3)
        delay = float(probe.get("initialDelaySeconds") or 0)
        if state.started_at is not None:  # an adopted container is not delayed again
            delay -= (datetime.now(UTC) - state.started_at).total_seconds()
        if kind != "startup":
            await probes.started_event.wait()
        if delay > 0:
            await self.sleep(delay)
        successes = failures = 0
        label = {"startup": "Startup", "readiness": "Readiness", "liveness": "Liveness"}[kind]
        loop = asyncio.get_running_loop()
        # the pause before an extra try (0: none)
        gap = self.first_retry if kind != "liveness" and not _passed(kind, probes) else 0.0
        regular = True  # a try on the period's schedule (not an extra one)
        due = 0.0  # when the next regular try is
        while True:
            result = await run_probe(probe, container, state.id, pod_ip, self.runtime)
            if regular or result.ok:  # an extra try counts only when it passes
                if result.ok:
                    successes, failures = successes + 1, 0
                else:
                    successes, failures = 0, failures + 1
                    self.emit(
                        state.pod_uid,
                        "Warning",
                        "Unhealthy",
                        f"{label} probe failed: {result.message}",
                    )
                if kind == "readiness":
                    if result.ok and successes >= successes_needed and not probes.ready:
                        probes.ready = True
                        self.on_change(state.pod_uid)
                    elif not result.ok and failures >= failures_allowed and probes.ready:
                        probes.ready = False
                        self.on_change(state.pod_uid)
                elif not result.ok and failures >= failures_allowed:
                    probes.failed = f"{label} probe failed: {result.message}"
                    self.on_change(state.pod_uid)
                    return
                elif kind == "startup" and result.ok and successes >= successes_needed:
                    probes.started = True
                    probes.started_event.set()
                    self.on_change(state.pod_uid)
                    return
            if _passed(kind, probes):
                gap = 0.0  # passed once: the period's schedule only, from now on
            if regular:
                due = loop.time() + period
            if gap and loop.time() + gap < due:
                await self.sleep(gap)
                gap *= GROWTH
                regular = False
            else:
                await self.sleep(max(0.0, due - loop.time()))
                regular = True
