"""The pod worker: one reconcile pass per pod, from the pod object to runtime steps.

``PodWorker.sync(uid)`` is what the node agent's work queue calls. It reads
the pod from the agent's cache and what the runtime holds for that uid, and
makes one idempotent pass:

- **running pod**: volumes set up (and refreshed), the sandbox made, the
  actions of ``podactions.compute_actions`` carried out (kills, starts with
  image check, env and mounts resolved), probes started for what runs, and
  the status of ``containerstatus.pod_status`` written when it changed;
- **deleted pod** (``deletionTimestamp``): each running container is killed
  as the kubelet does (its preStop hook, then SIGTERM, SIGKILL after the
  grace left), then the sandbox and volumes go and the pod object is deleted
  with ``gracePeriodSeconds=0``, which is the signal that the node is done;
- **terminal pod** (Succeeded/Failed): anything still running is stopped; the
  status stays as written, and the exited containers stay (their logs with
  them) until the pod is deleted. The kubelet also frees the sandbox then;
  ours keep it unless ``teardown_terminal``, because both runtimes remove
  a pod's containers, logs included, with its sandbox;
- **no pod** (deleted meanwhile, or left over from before a restart): its
  containers are stopped and removed, its sandbox and volumes too.

A probe result that flips queues the pod for a pass, and ``probestatus``
writes the pod's status at once as well, so that readiness is not held up
behind other pods' passes.

Kills take up to a grace period, so they run in the background
(``containerkill.Killer``), each enqueuing the pod when it ends; a pass never
waits on one.
Failures to reach the API (status writes, the final delete) raise, and the
work queue retries with back-off: containers keep running meanwhile, and the
status is written once the API server is back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.api.conditions import conditions_of, with_status
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.timestamps import rfc3339
from orchestrator.client.events import EventRecorder
from orchestrator.client.rest import APIClient
from orchestrator.kubelet import metrics, podactions
from orchestrator.kubelet.backoff import Backoff, BackoffSettings
from orchestrator.kubelet.containerenv import ContainerConfigError, ObjectSource, container_env
from orchestrator.kubelet.containerkill import Killer, find_container
from orchestrator.kubelet.containerspec import container_spec, sandbox_spec
from orchestrator.kubelet.containerstatus import TERMINAL, Observed, Waiting, pod_status
from orchestrator.kubelet.poddns import parse_resolv_conf, sandbox_dns
from orchestrator.kubelet.probes import Probers
from orchestrator.kubelet.probestatus import ProbeStatus
from orchestrator.kubelet.runtimes.base import (
    ContainerStartError,
    ContainerState,
    DNSConfig,
    ImageError,
    Runtime,
    Sandbox,
)
from orchestrator.kubelet.volumes import VolumeError, Volumes, container_mounts

log = logging.getLogger(__name__)
PODS = BUILTIN_TYPES.require("", "Pod")
DEFAULT_GRACE = 30


@dataclass(frozen=True)
class PodSyncSettings:
    backoff: BackoffSettings = field(default_factory=BackoffSettings)  # CrashLoopBackOff
    image_backoff: BackoffSettings = field(default_factory=BackoffSettings)  # ImagePullBackOff
    orphan_grace: float = 2.0  # grace for containers whose pod is gone from the API
    min_grace: float = 2.0  # the kubelet's floor for SIGTERM -> SIGKILL after a preStop hook
    retry: float = 2.0  # look again after a missing ConfigMap/Secret or a failed mount
    # Until a readiness/startup probe first passes, an extra try this long after a failed one
    # (then a quarter longer each time) between the period's: Ready 0.30 s after the create for
    # an app that answers in 0.16 s, where the period alone made it 1.15 s (bench.pods).
    probe_first_retry: float = 0.05
    # A finished pod's sandbox goes (its IP is freed) only if True: both runtimes remove the
    # containers with the sandbox, and with them the logs `kubectl logs` shows for a Job's pod.
    teardown_terminal: bool = False
    cluster_dns: tuple[str, ...] = ()  # the kubelet's --cluster-dns: () = pods use the node's
    cluster_domain: str = "cluster.local"
    resolv_conf: Path = Path("/etc/resolv.conf")  # the node's, for dnsPolicy Default


def pod_ref(pod: Obj) -> Obj:
    """The pod as an event's involved object (cached list items may lack kind)."""
    return {"apiVersion": "v1", "kind": "Pod", **pod}


def grace_seconds(pod: Obj) -> float:
    meta = metadata_of(pod)
    if meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return float(value if value is not None else DEFAULT_GRACE)


def utc_now() -> datetime:
    return datetime.now(UTC)


class PodWorker:
    """Carries out pods on one node's runtime; ``sync(uid)`` is the reconcile step."""

    def __init__(
        self,
        *,
        client: APIClient,
        runtime: Runtime,
        recorder: EventRecorder,
        source: ObjectSource,
        volumes: Volumes,
        lookup: Callable[[str], Obj | None],
        enqueue: Callable[[str], None],
        host_ip: str,
        allocatable: dict[str, str] | None = None,
        settings: PodSyncSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.recorder = recorder
        self.source = source
        self.volumes = volumes
        self.lookup = lookup
        self.enqueue = enqueue
        self.host_ip = host_ip
        self.allocatable = dict(allocatable or {})
        self.settings = settings or PodSyncSettings()
        self._host_dns: DNSConfig | None = None  # the node's resolv.conf, read once
        self.clock = clock
        self.backoff = Backoff(self.settings.backoff)
        self.image_backoff = Backoff(self.settings.image_backoff)
        self.probers = Probers(
            runtime,
            self._probe_changed,
            self._emit_for,
            first_retry=self.settings.probe_first_retry,
        )
        self.probe_status = ProbeStatus(client, lookup, self.probers.results, clock)
        self._failed_at: dict[tuple[str, str], float] = {}  # image/start failures
        self.killer = Killer(
            runtime, self._emit, enqueue, self.probers.stop, self.settings.min_grace
        )
        self._torn_down: set[str] = set()  # terminal pods whose sandbox is gone
        self._last_seen: dict[str, Obj] = {}  # uid -> the pod, for killing it once gone
        self._first_seen: dict[str, float] = {}  # uid -> when first synced, until it runs
        self.counts = metrics.PodCounts()  # kubelet_running_pods/_containers

    # -- helpers -------------------------------------------------------------------------

    def _emit(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.record(pod_ref(pod), type_, reason, message)

    def _emit_for(self, uid: str, type_: str, reason: str, message: str) -> None:
        pod = self.lookup(uid) or self._last_seen.get(uid)
        if pod is not None:
            self._emit(pod, type_, reason, message)

    def _probe_changed(self, uid: str) -> None:
        self.enqueue(uid)  # a failed liveness or startup probe means a kill
        self.probe_status.changed(uid)

    async def close(self) -> None:
        """Stop the probes and abandon kills in flight (the containers stay as they are)."""
        self.probers.stop_all()
        await self.probe_status.close()
        await self.killer.close()

    # -- the pass ------------------------------------------------------------------------

    async def sync(self, uid: str) -> float | None:
        """One pass over the pod ``uid``, timed as kubelet_pod_worker_duration_seconds."""
        started = time.monotonic()
        operation = "sync" if uid in self._last_seen else "create"
        try:
            return await self._sync(uid)
        finally:
            pod = self._last_seen.get(uid)
            if pod is None or metadata_of(pod).get("deletionTimestamp"):
                operation = "kill"  # being deleted, or gone and cleaned up
            metrics.POD_WORKER.labels(operation).observe(time.monotonic() - started)

    async def _sync(self, uid: str) -> float | None:
        pod = self.lookup(uid)
        if pod is None:
            await self._cleanup(uid)
            return None
        if uid not in self._last_seen and (pod.get("status") or {}).get("phase") == "Pending":
            self._first_seen[uid] = time.monotonic()  # kubelet_pod_start_duration_seconds
        self._last_seen[uid] = pod
        if metadata_of(pod).get("deletionTimestamp"):
            await self._sync_deleted(pod)
            return None
        if (pod.get("status") or {}).get("phase") in TERMINAL:
            await self._sync_terminal(pod)
            return None
        left = self._deadline_left(pod)
        if left is not None and left <= 0:
            await self._sync_terminal(await self._fail_past_deadline(pod))
            return None
        requeue = await self._sync_running(pod)
        if left is not None:
            return left if requeue is None else min(requeue, left)
        return requeue

    def _deadline_left(self, pod: Obj) -> float | None:
        """Seconds until ``activeDeadlineSeconds`` runs out, counted from the pod's startTime."""
        deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        started = (pod.get("status") or {}).get("startTime")
        if not isinstance(deadline, int) or not started:
            return None
        start = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        return deadline - (self.clock() - start).total_seconds()

    async def _fail_past_deadline(self, pod: Obj) -> Obj:
        """Mark the pod Failed as the kubelet does; its containers are stopped next."""
        message = "Pod was active on the node longer than the specified deadline"
        self._emit(pod, "Normal", "DeadlineExceeded", message)
        status = dict(pod.get("status") or {})
        status.update(phase="Failed", reason="DeadlineExceeded", message=message)
        stamp = rfc3339(self.clock())
        status["conditions"] = [
            with_status(c, "False", stamp, reason="PodCompleted", message="")
            if c.get("type") in ("Ready", "ContainersReady")
            else c
            for c in conditions_of(pod)
        ]
        body = {**pod, "status": status}
        with contextlib.suppress(errors.NotFound):
            return await self.client.replace(
                PODS, body, pod["metadata"]["namespace"], subresource="status"
            )
        return body

    async def _cleanup(self, uid: str) -> None:
        """The pod is gone from the API: stop and remove everything of it."""
        states = await self.runtime.containers(uid)
        last = self._last_seen.get(uid)
        live = [s for s in states if s.status in ("running", "created")]
        if live:
            grace = self.settings.orphan_grace
            if last is not None:
                grace = min(grace_seconds(last), grace)
            for s in live:
                self.killer.kill_soon(last or {"metadata": {"uid": uid}}, s, grace, "")
            return
        if self.killer.pod_busy(uid):
            return
        for s in states:
            await self.runtime.remove_container(s.id)
        await self.runtime.remove_sandbox(uid)
        self.volumes.teardown(uid)
        self._forget(uid)

    def _forget(self, uid: str) -> None:
        self.probers.keep_only(uid, set())
        self.backoff.forget(uid)
        self.image_backoff.forget(uid)
        for key in [k for k in self._failed_at if k[0] == uid]:
            del self._failed_at[key]
        self._torn_down.discard(uid)
        self._last_seen.pop(uid, None)
        self._first_seen.pop(uid, None)
        self.counts.gone(uid)
        self.probe_status.observed(uid, None)

    async def _sync_deleted(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        states = await self.runtime.containers(uid)
        live = [s for s in states if s.status in ("running", "created")]
        if live:
            grace = grace_seconds(pod)
            for s in live:
                self.killer.kill_soon(pod, s, grace, f"Stopping container {s.name}")
            return
        if self.killer.pod_busy(uid):
            return
        self.probers.keep_only(uid, set())
        for s in states:
            await self.runtime.remove_container(s.id)
        await self.runtime.remove_sandbox(uid)
        self.volumes.teardown(uid)
        # The uid precondition, as the kubelet's status manager sends it: a second sync of
        # this pod, still in the cache, must not delete a new pod that took its name.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS, meta["name"], meta["namespace"], grace_period_seconds=0, uid=uid
            )
        self._forget(uid)

    async def _sync_terminal(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        if uid in self._torn_down:
            return
        states = await self.runtime.containers(uid)
        live = [s for s in states if s.status in ("running", "created")]
        if live:
            for s in live:
                self.killer.kill_soon(pod, s, grace_seconds(pod), f"Stopping container {s.name}")
            return
        if self.killer.pod_busy(uid):
            return
        self.probers.keep_only(uid, set())
        await self._report(pod, None, states, {})  # the containers' final states
        if self.settings.teardown_terminal:
            await self.runtime.remove_sandbox(uid)
        self._torn_down.add(uid)

    async def _sync_running(self, pod: Obj) -> float | None:
        meta = pod["metadata"]
        uid = meta["uid"]
        try:
            await self.volumes.prepare(pod)  # ServiceAccount tokens (podtokens.py)
            paths = self.volumes.setup(pod, self.source)
        except (VolumeError, OSError) as exc:
            self._emit(pod, "Warning", "FailedMount", f"MountVolume.SetUp failed: {exc}")
            states = await self.runtime.containers(uid)
            await self._report(pod, None, states, {})
            return self.settings.retry
        try:
            sandbox = await self._sandbox(pod)
        except Exception as exc:
            self._emit(
                pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}"
            )
            raise
        states = await self.runtime.containers(uid)
        failed = {}
        for s in states:
            probes = self.probers.get(s.id)
            if probes is not None and probes.failed and s.status == "running":
                failed[s.id] = probes.failed
        now = self.clock().timestamp()
        actions = podactions.compute_actions(pod, states, failed, self.backoff, now)
        waiting = dict(actions.waiting)
        requeue = [actions.requeue] if actions.requeue else []
        for kill in actions.kills:
            c = find_container(pod, kill.state.name, kill.state.init)
            probe_grace = (c.get("livenessProbe") or {}).get("terminationGracePeriodSeconds")
            grace = float(probe_grace) if probe_grace is not None else grace_seconds(pod)
            self.killer.kill_soon(pod, kill.state, grace, kill.message)
        for name, wait in actions.waiting.items():
            if wait.reason == "CrashLoopBackOff":
                self._emit(
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod "
                    f"{meta['name']}_{meta['namespace']}({uid})",
                )
        for start in actions.starts:
            outcome = await self._start(pod, sandbox, start, paths)
            if outcome is not None:
                waiting[start.name] = outcome[0]
                requeue.append(outcome[1])
        if actions.starts:
            states = await self.runtime.containers(uid)
            await self._collect_garbage(states)
        running = {s.id for s in states if s.status == "running"}
        reported = {
            c.get("containerID"): c
            for c in (pod.get("status") or {}).get("containerStatuses") or []
        }
        for s in states:
            if s.status == "running" and not s.init and not self.killer.killing(s.id):
                before = reported.get(s.id) or {}
                self.probers.ensure(
                    find_container(pod, s.name, False),
                    s,
                    sandbox.ip,
                    was_started=bool(before.get("started")),
                    was_ready=bool(before.get("ready")),
                )
        self.probers.keep_only(uid, running)
        await self._report(pod, sandbox, states, waiting)
        return min(requeue) if requeue else None

    def _pod_dns(self, pod: Obj) -> DNSConfig | None:
        s = self.settings
        if self._host_dns is None:
            try:
                self._host_dns = parse_resolv_conf(s.resolv_conf.read_text())
            except OSError as exc:
                log.warning("cannot read %s (pods get no node nameservers): %s", s.resolv_conf, exc)
                self._host_dns = DNSConfig()
        return sandbox_dns(
            pod, cluster_dns=s.cluster_dns, cluster_domain=s.cluster_domain, host=self._host_dns
        )

    async def _sandbox(self, pod: Obj) -> Sandbox:
        spec = sandbox_spec(pod, self._pod_dns(pod))
        sandbox = await self.runtime.run_sandbox(spec)
        if sandbox.ready:
            return sandbox
        uid = spec.pod_uid
        self._emit(
            pod,
            "Normal",
            "SandboxChanged",
            "Pod sandbox changed, it will be killed and re-created.",
        )
        for s in await self.runtime.containers(uid):
            if s.status in ("running", "created"):
                await self.runtime.stop_container(s.id, 0)
            await self.runtime.remove_container(s.id)
        self.probers.keep_only(uid, set())
        await self.runtime.remove_sandbox(uid)
        return await self.runtime.run_sandbox(spec)

    async def _report(
        self,
        pod: Obj,
        sandbox: Sandbox | None,
        states: list[ContainerState],
        waiting: dict[str, Waiting],
    ) -> None:
        uid = pod["metadata"]["uid"]
        ready, started = self.probers.results(uid)
        observed = Observed(sandbox, states, self.host_ip, waiting, ready, started)
        self.probe_status.observed(uid, observed if sandbox is not None else None)
        status = pod_status(pod, observed, self.clock())
        if sandbox is not None:
            self.counts.seen(uid, (str(s.status) for s in states))
        if status.get("phase") == "Running" and uid in self._first_seen:
            metrics.POD_START.observe(time.monotonic() - self._first_seen.pop(uid))
        if status == pod.get("status"):
            return
        body = {**pod, "status": status}
        with contextlib.suppress(errors.NotFound):
            await self.client.replace(
                PODS, body, pod["metadata"]["namespace"], subresource="status"
            )

    async def _collect_garbage(self, states: list[ContainerState]) -> None:
        """Keep the newest two attempts of each container (the previous one has the logs)."""
        newest: dict[tuple[str, bool], int] = {}
        for s in states:
            newest[(s.name, s.init)] = max(newest.get((s.name, s.init), -1), s.attempt)
        for s in states:
            if s.status == "exited" and s.attempt < newest[(s.name, s.init)] - 1:
                with contextlib.suppress(Exception):
                    await self.runtime.remove_container(s.id)

    # -- starting ------------------------------------------------------------------------

    async def _start(
        self, pod: Obj, sandbox: Sandbox, start: podactions.Start, paths: dict[str, Any]
    ) -> tuple[Waiting, float] | None:
        """Start one container; on failure, why it waits and when to try again."""
        meta = pod["metadata"]
        uid = meta["uid"]
        c = start.container
        image = str(c.get("image") or "")
        now = self.clock().timestamp()
        image_key = (uid, f"{start.name}/image")
        wait = self.image_backoff.wait(image_key, self._failed_at.get(image_key, now), now)
        if wait > 0:
            reason = (
                "ErrImageNeverPull" if c.get("imagePullPolicy") == "Never" else "ImagePullBackOff"
            )
            return Waiting(reason, f'Back-off pulling image "{image}"'), wait
        start_key = (uid, f"{start.name}/start")
        wait = self.backoff.wait(start_key, self._failed_at.get(start_key, now), now)
        if wait > 0:
            delay = self.backoff.delay(start_key)
            return Waiting(
                "CrashLoopBackOff", podactions.crash_message(pod, start.name, delay)
            ), wait
        try:
            env = container_env(
                pod,
                c,
                self.source,
                pod_ip=sandbox.ip,
                host_ip=self.host_ip,
                node_allocatable=self.allocatable,
            )
            mounts = container_mounts(c, paths)
            spec = container_spec(
                pod, c, attempt=start.attempt, init=start.init, env=env, mounts=mounts
            )
        except (ContainerConfigError, VolumeError) as exc:
            self._emit(pod, "Warning", "Failed", f"Error: {exc}")
            return Waiting("CreateContainerConfigError", str(exc)), self.settings.retry
        try:
            await self.runtime.ensure_image(spec)
        except ImageError as exc:
            self.image_backoff.step(image_key)
            self._failed_at[image_key] = now
            if exc.reason == "ErrImageNeverPull":
                self._emit(pod, "Warning", "ErrImageNeverPull", exc.message)
            else:
                self._emit(
                    pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc.message}'
                )
            self._emit(pod, "Warning", "Failed", f"Error: {exc.reason}")
            return Waiting(exc.reason, exc.message), self.image_backoff.delay(image_key)
        self.image_backoff.reset(image_key)
        self._failed_at.pop(image_key, None)
        if spec.image_pull_policy != "Always":
            self._emit(
                pod, "Normal", "Pulled", f'Container image "{image}" already present on machine'
            )
        try:
            await self.runtime.start_container(sandbox, spec)
        except ContainerStartError as exc:
            self.backoff.step(start_key)
            self._failed_at[start_key] = now
            self._emit(pod, "Warning", "Failed", f"Error: {exc.message}")
            return Waiting(exc.reason, exc.message), self.backoff.delay(start_key)
        self.backoff.reset(start_key)
        self._failed_at.pop(start_key, None)
        if start.attempt > 0:
            self.backoff.step((uid, start.name), start.ran)
        self._emit(pod, "Normal", "Created", f"Created container {start.name}")
        self._emit(pod, "Normal", "Started", f"Started container {start.name}")
        return None
