"""The pod worker's decisions (start, kill, back off) and the status it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.kubelet.backoff import Backoff, BackoffSettings
from orchestrator.kubelet.containerstatus import Observed, Waiting, pod_phase, pod_status
from orchestrator.kubelet.podactions import compute_actions, go_duration
from orchestrator.kubelet.runtimes.base import ContainerState, Sandbox

T0 = datetime(2026, 11, 22, 7, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pod(
    restart: str = "Always", inits: tuple[str, ...] = (), names: tuple[str, ...] = ("app",), **extra
) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {
            "restartPolicy": restart,
            "initContainers": [{"name": n, "image": "img"} for n in inits],
            "containers": [{"name": n, "image": "img", **extra} for n in names],
        },
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
    }


def state(
    name: str,
    attempt: int = 0,
    status: str = "running",
    *,
    code: int | None = None,
    init: bool = False,
    start: float = 0,
    end: float | None = None,
) -> ContainerState:
    return ContainerState(
        id=f"process://u1.{name}.{attempt}",
        pod_uid="u1",
        name=name,
        attempt=attempt,
        status=status,  # type: ignore[arg-type]
        image="img",
        image_id="sha256:1",
        started_at=at(start),
        finished_at=at(end) if end is not None else None,
        exit_code=code,
        reason="" if code is None else ("Completed" if code == 0 else "Error"),
        init=init,
    )


def starts(actions) -> list[tuple[str, int, bool]]:
    return [(s.name, s.attempt, s.init) for s in actions.starts]


def test_init_containers_run_one_at_a_time_in_order() -> None:
    p = pod(inits=("first", "second"))
    b = Backoff()
    assert starts(compute_actions(p, [], {}, b, 0)) == [("first", 0, True)]
    running = [state("first", init=True)]
    assert starts(compute_actions(p, running, {}, b, 0)) == []
    done = [state("first", status="exited", code=0, init=True, end=1)]
    assert starts(compute_actions(p, done, {}, b, 2)) == [("second", 0, True)]
    both = [*done, state("second", status="exited", code=0, init=True, end=2)]
    assert starts(compute_actions(p, both, {}, b, 3)) == [("app", 0, False)]


def test_failed_init_container_retries_unless_never() -> None:
    failed = [state("first", status="exited", code=1, init=True, end=1)]
    assert starts(compute_actions(pod(inits=("first",)), failed, {}, Backoff(), 2)) == [
        ("first", 1, True)
    ]
    assert starts(compute_actions(pod("Never", inits=("first",)), failed, {}, Backoff(), 2)) == []


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 1, False),
    ],
)
def test_restart_policy(policy: str, code: int, restarts: bool) -> None:
    exited = [state("app", status="exited", code=code, end=1)]
    got = starts(compute_actions(pod(policy), exited, {}, Backoff(), 2))
    assert got == ([("app", 1, False)] if restarts else [])


def test_crash_loop_back_off_doubles_from_base_to_cap() -> None:
    b = Backoff(BackoffSettings(base=10, cap=40, reset_after=600))
    p = pod()
    gaps = []
    finished = 0.0
    for attempt in range(6):
        exited = [state("app", attempt, "exited", code=1, start=finished - 1, end=finished)]
        actions = compute_actions(p, exited, {}, b, T0.timestamp() + finished)
        if actions.starts:
            gaps.append(0.0)
        else:
            assert actions.waiting["app"].reason == "CrashLoopBackOff"
            assert "restarting failed container=app pod=p_ns(u1)" in actions.waiting["app"].message
            gaps.append(actions.requeue)
            later = T0.timestamp() + finished + actions.requeue
            assert starts(compute_actions(p, exited, {}, b, later)) == [("app", attempt + 1, False)]
        b.step(("u1", "app"), ran=1)
        finished += gaps[-1] + 1
    assert gaps == [0.0, 10, 20, 40, 40, 40]


def test_back_off_resets_after_a_long_run() -> None:
    b = Backoff(BackoffSettings(base=10, cap=300, reset_after=600))
    b.step(("u1", "app"))
    b.step(("u1", "app"))
    long_run = [state("app", 2, "exited", code=1, start=0, end=700)]
    assert starts(compute_actions(pod(), long_run, {}, b, T0.timestamp() + 700)) == [
        ("app", 3, False)
    ]
    assert b.step(("u1", "app"), ran=700) == 10


def test_probe_failure_and_image_change_kill() -> None:
    running = [state("app")]
    actions = compute_actions(
        pod(), running, {running[0].id: "Liveness probe failed: boom"}, Backoff(), 1
    )
    assert [k.message for k in actions.kills] == [
        "Container app failed liveness probe, will be restarted"
    ]
    changed = pod()
    changed["spec"]["containers"][0]["image"] = "img:2"
    assert (
        "definition changed" in compute_actions(changed, running, {}, Backoff(), 1).kills[0].message
    )


def test_leftover_attempts_and_unknown_containers_are_killed() -> None:
    states_ = [state("app", 0), state("app", 1), state("gone")]
    kills = compute_actions(pod(), states_, {}, Backoff(), 1).kills
    assert sorted(k.state.id for k in kills) == ["process://u1.app.0", "process://u1.gone.0"]


def test_go_duration() -> None:
    assert [go_duration(s) for s in (10, 20, 80, 300, 1.5)] == [
        "10s",
        "20s",
        "1m20s",
        "5m0s",
        "1.5s",
    ]


# -- status ---------------------------------------------------------------------------------

SANDBOX = Sandbox("process://u1", "u1", "ns", "p", "10.203.0.2")


def observed(*states_: ContainerState, **kw) -> Observed:
    return Observed(SANDBOX, list(states_), "127.0.0.5", **kw)


def test_running_status_with_readiness() -> None:
    p = pod(readinessProbe={"httpGet": {"port": 80}})
    s = state("app", start=0)
    unready = pod_status(p, observed(s), at(5))
    assert unready["phase"] == "Running"
    assert (unready["podIP"], unready["hostIP"]) == ("10.203.0.2", "127.0.0.5")
    cs = unready["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": "2026-11-22T07:00:00Z"}}
    assert (cs["ready"], cs["started"], cs["restartCount"], cs["containerID"]) == (
        False,
        True,
        0,
        s.id,
    )
    conditions = {c["type"]: c for c in unready["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [app]"
    assert conditions["PodReadyToStartContainers"]["status"] == "True"
    ready = pod_status({**p, "status": unready}, observed(s, ready={s.id: True}), at(9))
    conditions = {c["type"]: c for c in ready["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["lastTransitionTime"] == "2026-11-22T07:00:09Z"
    assert conditions["Initialized"]["lastTransitionTime"] == "2026-11-22T07:00:05Z"  # kept
    again = pod_status({**p, "status": ready}, observed(s, ready={s.id: True}), at(30))
    assert again == ready  # nothing happened: nothing to write


def test_crash_loop_status_shows_waiting_and_last_state() -> None:
    exited = state("app", 2, "exited", code=3, start=10, end=11)
    earlier = state("app", 1, "exited", code=3, start=5, end=6)
    status = pod_status(
        pod(),
        observed(exited, earlier, waiting={"app": Waiting("CrashLoopBackOff", "back-off 20s ...")}),
        at(12),
    )
    cs = status["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s ..."}}
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["finishedAt"] == "2026-11-22T07:00:11Z"
    assert cs["restartCount"] == 2
    assert status["phase"] == "Running"


def test_phases() -> None:
    done = state("app", status="exited", code=0, end=1)
    failed = state("app", status="exited", code=1, end=1)
    assert pod_status(pod("Never"), observed(done), at(2))["phase"] == "Succeeded"
    assert pod_status(pod("Never"), observed(failed), at(2))["phase"] == "Failed"
    assert pod_status(pod("OnFailure"), observed(done), at(2))["phase"] == "Succeeded"
    assert pod_status(pod(), observed(), at(2))["phase"] == "Pending"
    init_failed = state("first", status="exited", code=1, init=True, end=1)
    never = pod_status(pod("Never", inits=("first",)), observed(init_failed), at(2))
    assert never["phase"] == "Failed"
    waiting = pod_status(pod(inits=("first",)), observed(state("first", init=True)), at(2))
    assert waiting["phase"] == "Pending"
    assert waiting["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    conditions = {c["type"]: c for c in waiting["conditions"]}
    assert conditions["Initialized"]["message"] == "containers with incomplete status: [first]"
    assert pod_phase({"restartPolicy": "Never"}, [], []) == "Pending"


def test_waiting_reasons_before_anything_ran() -> None:
    status = pod_status(
        pod(names=("a", "b")),
        observed(waiting={"a": Waiting("ErrImagePull", 'image "x" not found')}),
        at(1),
    )
    reasons = [c["state"]["waiting"]["reason"] for c in status["containerStatuses"]]
    assert reasons == ["ErrImagePull", "ContainerCreating"]
