"""What one pass of a pod worker should do: the kubelet's computePodActions, pure.

Given the pod, every container attempt the runtime lists, which running
containers failed a liveness or startup probe, and the restart back-off,
``compute_actions`` answers:

- which containers to kill: a probe failed, the image in the spec changed,
  or the runtime runs something the spec no longer names;
- which to start, and as which attempt: init containers strictly one at a
  time in order, each to completion (exit 0) before the next; then every
  regular container that has not run or that exited and should restart;
- why the others wait (``CrashLoopBackOff`` while a restart is backed off)
  and when to look again (the earliest back-off expiry).

restartPolicy decides restarts: Always restarts any exit, OnFailure a
non-zero one, Never none. An init container that fails is retried unless
the policy is Never, which fails the pod (the status says Failed; nothing
more is started). The first restart of a container is immediate, later
ones follow ``orchestrator.kubelet.backoff``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.kubelet.backoff import Backoff
from orchestrator.kubelet.containerstatus import Waiting, attempts
from orchestrator.kubelet.runtimes.base import ContainerState


@dataclass(frozen=True)
class Start:
    container: Obj = field(hash=False, compare=False)
    name: str
    attempt: int
    init: bool
    ran: float | None = None  # how long the attempt it replaces ran (back-off reset)


@dataclass(frozen=True)
class Kill:
    state: ContainerState
    reason: str  # for the Killing event
    message: str


@dataclass(frozen=True)
class Actions:
    kills: tuple[Kill, ...] = ()
    starts: tuple[Start, ...] = ()
    waiting: Mapping[str, Waiting] = field(default_factory=dict)
    requeue: float | None = None  # seconds until a back-off ends


def go_duration(seconds: float) -> str:
    """A duration as Go prints it in the kubelet's messages: 10s, 1m20s, 5m0s."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:g}s" if seconds != whole else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s"


def crash_message(pod: Obj, name: str, delay: float) -> str:
    """The kubelet's CrashLoopBackOff message, naming the container and the pod."""
    meta = metadata_of(pod)
    return (
        f"back-off {go_duration(delay)} restarting failed container={name} "
        f"pod={meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"
    )


def should_restart(policy: str, state: ContainerState) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return state.exit_code != 0
    return False


def _ran(state: ContainerState) -> float | None:
    if state.started_at is None or state.finished_at is None:
        return None
    return (state.finished_at - state.started_at).total_seconds()


def compute_actions(
    pod: Obj,
    states: Sequence[ContainerState],
    failed: Mapping[str, str],
    backoff: Backoff,
    now: float,
) -> Actions:
    """The next step for ``pod``; ``failed``: container id -> probe failure message."""
    meta = metadata_of(pod)
    spec = pod.get("spec") or {}
    uid = meta.get("uid", "")
    policy = spec.get("restartPolicy", "Always")
    kills: list[Kill] = []
    starts: list[Start] = []
    waiting: dict[str, Waiting] = {}
    requeue: list[float] = []
    inits = spec.get("initContainers") or []
    regular = spec.get("containers") or []
    wanted = {(c.get("name"), True) for c in inits} | {(c.get("name"), False) for c in regular}
    newest: dict[tuple[str, bool], int] = {}
    for s in states:
        key = (s.name, s.init)
        newest[key] = max(newest.get(key, -1), s.attempt)
    for s in states:
        if s.status != "running":
            continue
        if (s.name, s.init) not in wanted:
            kills.append(Kill(s, "Killing", f"Container {s.name} is not in the pod's spec"))
        elif s.attempt < newest[(s.name, s.init)]:
            kills.append(Kill(s, "Killing", f"Container {s.name} was superseded"))

    def restart_or_wait(c: Obj, current: ContainerState, init: bool) -> None:
        name = c.get("name", "")
        since = current.finished_at.timestamp() if current.finished_at else now
        ran = _ran(current)
        wait = backoff.wait((uid, name), since, now, ran)
        if wait > 0:
            waiting[name] = Waiting(
                "CrashLoopBackOff", crash_message(pod, name, backoff.delay((uid, name)))
            )
            requeue.append(wait)
        else:
            starts.append(Start(c, name, current.attempt + 1, init, ran))

    def check_running(c: Obj, current: ContainerState) -> None:
        message = failed.get(current.id)
        if message:
            kills.append(
                Kill(
                    current,
                    "Killing",
                    f"Container {current.name} failed {message.split(' probe')[0].lower()} "
                    "probe, will be restarted",
                )
            )
        elif c.get("image") and current.image and c.get("image") != current.image:
            kills.append(
                Kill(
                    current,
                    "Killing",
                    f"Container {current.name} definition changed, will be restarted",
                )
            )

    for c in inits:
        history = attempts(states, c.get("name", ""), True)
        current = history[0] if history else None
        if current is None:
            starts.append(Start(c, c.get("name", ""), 0, True))
            break
        if current.status in ("running", "created"):
            check_running(c, current)
            break
        if current.exit_code == 0 and current.status == "exited":
            continue
        if policy != "Never":
            restart_or_wait(c, current, True)
        break
    else:
        for c in regular:
            history = attempts(states, c.get("name", ""), False)
            current = history[0] if history else None
            if current is None:
                starts.append(Start(c, c.get("name", ""), 0, False))
            elif current.status in ("running", "created"):
                check_running(c, current)
            elif should_restart(policy, current):
                restart_or_wait(c, current, False)
    return Actions(tuple(kills), tuple(starts), waiting, min(requeue) if requeue else None)
