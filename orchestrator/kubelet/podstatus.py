"""Pod status as a node agent reports it: pure functions, no I/O.

The simulated runtime decides everything from the pod object and the time:
when its containers "started" (``state.running.startedAt``, written by the
node itself, so comparing it with the node's own clock is fair), whether it
is ready, whether it has finished. Annotations let tests and benchmarks
shape a pod's life (see ``orchestrator.kubelet.simulated``).

Times are whole seconds in RFC 3339, as Kubernetes writes them, so delays
measured from ``startedAt`` can end up to one second early.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.api.conditions import (
    Condition,
    conditions_of,
    find_condition,
    updated_condition,
    with_status,
)
from orchestrator.api.objects import Obj, annotations_of, metadata_of
from orchestrator.api.timestamps import parse_time, rfc3339

EXIT_CODE = "simulated.paas.dev/exit-code"
RUN_SECONDS = "simulated.paas.dev/run-seconds"
READY = "simulated.paas.dev/ready"
READINESS = ("Ready", "ContainersReady")  # the conditions that follow the containers' readiness


def fallback_cidr(node_name: str) -> str:
    """A /24 in 10.128.0.0/10 (clear of 10.244/16 and 10.96/16) for a node without podCIDR."""
    digest = hashlib.sha256(node_name.encode()).digest()
    return f"10.{128 + digest[0] % 64}.{digest[1]}.0/24"


def pick_pod_ip(cidr: str, used: Iterable[str]) -> str | None:
    """The lowest free host address of ``cidr``, leaving .1 to the node's bridge."""
    network = ipaddress.ip_network(cidr, strict=False)
    taken = set(used)
    for n, host in enumerate(network.hosts()):
        if n == 0:
            continue  # the gateway
        if str(host) not in taken:
            return str(host)
    return None


def _annotation(pod: Obj, key: str) -> str | None:
    value = annotations_of(pod).get(key)
    return value if isinstance(value, str) else None


def _seconds(pod: Obj, key: str) -> float:
    try:
        return max(0.0, float(_annotation(pod, key) or 0))
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class Exit:
    code: int
    at: datetime


def planned_exit(pod: Obj) -> Exit | None:
    """When and how the simulated container ends, or None if it runs until deleted."""
    spec = pod.get("spec") or {}
    code_text = _annotation(pod, EXIT_CODE)
    if code_text is None or spec.get("restartPolicy", "Always") == "Always":
        return None
    started = container_started_at(pod)
    if started is None:
        return None
    try:
        code = int(code_text)
    except ValueError:
        code = 1
    return Exit(code, started + timedelta(seconds=_seconds(pod, RUN_SECONDS)))


def container_started_at(pod: Obj) -> datetime | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if not statuses:
        return None
    running = ((statuses[0].get("state") or {}).get("running")) or {}
    return parse_time(running.get("startedAt"))


def readiness_delay(pod: Obj) -> float:
    """Seconds after start before the pod may be ready: the longest readiness initialDelay."""
    delays = [
        float((c.get("readinessProbe") or {}).get("initialDelaySeconds") or 0)
        for c in (pod.get("spec") or {}).get("containers") or []
    ]
    return max(delays, default=0.0)


def wanted_ready(pod: Obj, now: datetime) -> tuple[bool, float | None]:
    """(ready now?, seconds until that may change by itself, or None)."""
    if _annotation(pod, READY) == "false":
        return False, None
    started = container_started_at(pod)
    if started is None:
        return False, None
    wait = (started + timedelta(seconds=readiness_delay(pod)) - now).total_seconds()
    return (True, None) if wait <= 0 else (False, wait)


def is_running(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and container_started_at(pod) is not None


def _conditions(previous: list[Condition], values: dict[str, str], now: str) -> list[Condition]:
    return [
        updated_condition(
            find_condition(previous, type_),
            {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now},
        )
        for type_, status in values.items()
    ]


def _image_id(image: str) -> str:
    return "simulated://sha256:" + hashlib.sha256(image.encode()).hexdigest()


def running_status(
    pod: Obj,
    *,
    host_ip: str,
    pod_ip: str,
    now: datetime,
    restart_count: int = 0,
    last_exit: Obj | None = None,
) -> Obj:
    """The status of a pod whose containers have just started (not ready yet)."""
    stamp = rfc3339(now)
    status = pod.get("status") or {}
    uid = metadata_of(pod).get("uid", "")
    spec = pod.get("spec") or {}
    containers = []
    for c in spec.get("containers") or []:
        entry: Obj = {
            "name": c.get("name", ""),
            "ready": False,
            "started": True,
            "restartCount": restart_count,
            "image": c.get("image", ""),
            "imageID": _image_id(c.get("image", "")),
            "containerID": f"simulated://{uid}-{c.get('name', '')}-{restart_count}",
            "state": {"running": {"startedAt": stamp}},
        }
        if last_exit:
            entry["lastState"] = {"terminated": last_exit}
        containers.append(entry)
    inits = [
        {
            "name": c.get("name", ""),
            "ready": True,
            "restartCount": 0,
            "image": c.get("image", ""),
            "imageID": _image_id(c.get("image", "")),
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": stamp,
                    "finishedAt": stamp,
                }
            },
        }
        for c in spec.get("initContainers") or []
    ]
    out = {
        **status,
        "phase": "Running",
        "conditions": _conditions(
            conditions_of(pod),
            {
                "PodReadyToStartContainers": "True",
                "Initialized": "True",
                "Ready": "False",
                "ContainersReady": "False",
                "PodScheduled": "True",
            },
            stamp,
        ),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": status.get("startTime") or stamp,
        "containerStatuses": containers,
    }
    if inits:
        out["initContainerStatuses"] = inits
    return out


def with_readiness(pod: Obj, ready: bool, now: datetime) -> Obj:
    """The pod's status with Ready/ContainersReady and each container's ``ready`` set."""
    status = dict(pod.get("status") or {})
    value = "True" if ready else "False"
    stamp = rfc3339(now)
    status["conditions"] = [
        with_status(c, value, stamp) if c.get("type") in READINESS else c
        for c in conditions_of(pod)
    ]
    status["containerStatuses"] = [
        {**c, "ready": ready} for c in status.get("containerStatuses") or []
    ]
    return status


def exited_status(pod: Obj, exit_: Exit) -> Obj:
    """Terminal status (Succeeded/Failed), or a restarted container under OnFailure."""
    status = dict(pod.get("status") or {})
    code = exit_.code
    started = container_started_at(pod) or exit_.at
    terminated = {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": rfc3339(started),
        "finishedAt": rfc3339(exit_.at),
    }
    restart_policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if code != 0 and restart_policy == "OnFailure":
        count = int(((status.get("containerStatuses") or [{}])[0]).get("restartCount") or 0)
        return running_status(
            pod,
            host_ip=status.get("hostIP", ""),
            pod_ip=status.get("podIP", ""),
            now=exit_.at,
            restart_count=count + 1,
            last_exit=terminated,
        )
    stamp = rfc3339(exit_.at)
    status["conditions"] = [
        with_status(c, "False", stamp, reason="PodCompleted") if c.get("type") in READINESS else c
        for c in conditions_of(pod)
    ]
    status["phase"] = "Succeeded" if code == 0 else "Failed"
    status["containerStatuses"] = [
        {**c, "ready": False, "started": False, "state": {"terminated": terminated}}
        for c in status.get("containerStatuses") or []
    ]
    return status
