"""Killing containers as the kubelet does, in the background: preStop hook, SIGTERM, SIGKILL.

``Killer.kill_soon`` starts one task per container (a second call for the
same container while it runs does nothing), so a pod worker's pass never
waits out a grace period; when the kill ends the pod is enqueued and its
worker looks again. A kill runs the container's ``preStop`` hook (exec,
httpGet to the pod IP, or sleep) within the grace period, then asks the
runtime to stop the container with what is left of the grace (at least
``min_grace`` after a hook, the kubelet's floor): SIGTERM, then SIGKILL. A
hook that fails or overruns is a ``FailedPreStopHook`` Warning, never a
reason not to stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from orchestrator.api.objects import Obj
from orchestrator.kubelet.probes import http_probe, resolve_port
from orchestrator.kubelet.runtimes.base import ContainerState, Runtime

log = logging.getLogger(__name__)
Emit = Callable[[Obj, str, str, str], None]  # (pod, type, reason, message)


def find_container(pod: Obj, name: str, init: bool) -> Obj:
    """The container of the pod's spec named ``name`` (a stub naming it if gone)."""
    key = "initContainers" if init else "containers"
    for c in (pod.get("spec") or {}).get(key) or []:
        if c.get("name") == name:
            return dict(c)
    return {"name": name}


class Killer:
    """The kills in flight on one node, by container ID."""

    def __init__(
        self,
        runtime: Runtime,
        emit: Emit,
        enqueue: Callable[[str], None],
        on_kill: Callable[[str], None],
        min_grace: float = 2.0,
    ) -> None:
        self.runtime = runtime
        self.emit = emit
        self.enqueue = enqueue
        self.on_kill = on_kill  # told the container ID as a kill begins (its probes stop)
        self.min_grace = min_grace
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def killing(self, container_id: str) -> bool:
        task = self._tasks.get(container_id)
        return task is not None and not task.done()

    def pod_busy(self, uid: str) -> bool:
        """Whether a container of the pod is being killed now."""
        return any(not t.done() and t.get_name().endswith(f"/{uid}") for t in self._tasks.values())

    async def close(self) -> None:
        """Abandon the kills in flight (the containers stay as they are)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def kill_soon(self, pod: Obj, state: ContainerState, grace: float, message: str) -> None:
        """Kill one container in the background (once); the pod is enqueued when it is done."""
        task = self._tasks.get(state.id)
        if task is not None and not task.done():
            return
        uid = state.pod_uid
        if message:
            self.emit(pod, "Normal", "Killing", message)

        async def kill() -> None:
            try:
                await self._kill(pod, state, grace)
            except Exception:
                log.exception("killing container %s of pod %s failed", state.name, uid)
            finally:
                self._tasks.pop(state.id, None)
                self.enqueue(uid)

        self._tasks[state.id] = asyncio.create_task(kill(), name=f"kill {state.id}/{uid}")

    async def _kill(self, pod: Obj, state: ContainerState, grace: float) -> None:
        """The kubelet's killContainer: preStop hook, then SIGTERM; SIGKILL after the grace left."""
        self.on_kill(state.id)
        began = time.monotonic()
        c = find_container(pod, state.name, state.init)
        hook = ((c.get("lifecycle") or {}).get("preStop")) or None
        if hook and state.status == "running" and grace > 0:
            try:
                async with asyncio.timeout(grace):
                    await self._run_hook(pod, c, state, hook, grace)
            except TimeoutError:
                self.emit(
                    pod,
                    "Warning",
                    "FailedPreStopHook",
                    f"PreStopHook of container {state.name} did not finish within {grace:g}s",
                )
            grace = max(self.min_grace, grace - (time.monotonic() - began))
        await self.runtime.stop_container(state.id, grace)

    async def _run_hook(
        self, pod: Obj, c: Obj, state: ContainerState, hook: Obj, grace: float
    ) -> None:
        name = state.name
        if isinstance(hook.get("exec"), dict):
            argv = [str(a) for a in hook["exec"].get("command") or []]
            result = await self.runtime.exec(state.id, argv, grace)
            if result.exit_code != 0 or result.timed_out:
                output = result.output.decode("utf-8", "replace").strip()
                self.emit(
                    pod,
                    "Warning",
                    "FailedPreStopHook",
                    f'Exec lifecycle hook ({argv}) for Container "{name}" in Pod '
                    f'"{pod["metadata"].get("name")}" failed - exit code {result.exit_code}, '
                    f"message: {output!r}",
                )
        elif isinstance(hook.get("httpGet"), dict):
            http = hook["httpGet"]
            port = resolve_port(http.get("port"), c)
            sandbox_ip = (pod.get("status") or {}).get("podIP") or "127.0.0.1"
            if port is None:
                self.emit(
                    pod,
                    "Warning",
                    "FailedPreStopHook",
                    f"httpGet.port {http.get('port')!r} names no container port",
                )
                return
            reply = await http_probe(
                str(http.get("host") or sandbox_ip),
                port,
                str(http.get("path") or "/"),
                list(http.get("httpHeaders") or []),
                str(http.get("scheme") or "HTTP"),
                grace,
            )
            if not reply.ok:
                path = http.get("path", "/")
                message = f'HTTP lifecycle hook ({path}) for Container "{name}" failed - '
                self.emit(pod, "Warning", "FailedPreStopHook", message + reply.message)
        elif isinstance(hook.get("sleep"), dict):
            await asyncio.sleep(float(hook["sleep"].get("seconds") or 0))
