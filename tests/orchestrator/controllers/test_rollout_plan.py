"""``plan_rollout``: one pass of the Deployment controller, as tables of cases (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.controllers.podtemplate import same_template, template_hash, with_hash
from orchestrator.controllers.rollout import (
    REVISION,
    CreateReplicaSet,
    DeleteReplicaSet,
    UpdateReplicaSet,
    plan_rollout,
    resolve_fenceposts,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago=0):
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def template(image):
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def deploy(replicas=4, image="v2", surge=1, unavailable=1, strategy="RollingUpdate", **spec):
    strat = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "d-uid",
            "generation": 2,
            "annotations": {REVISION: "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": strat,
            "template": template(image),
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            **spec,
        },
        "status": spec.pop("status", {}),
    }


def rs(image, replicas, available=None, revision=1, age=100, desired=None, observed=True):
    available = replicas if available is None else available
    h = template_hash(template(image))
    annotations = {REVISION: str(revision)}
    if desired is not None:
        annotations["deployment.kubernetes.io/desired-replicas"] = str(desired)
    return {
        "metadata": {
            "name": f"web-{h}",
            "namespace": "default",
            "uid": f"uid-{image}",
            "generation": 1,
            "creationTimestamp": ts(age),
            "annotations": annotations,
        },
        "spec": {"replicas": replicas, "template": with_hash(template(image), h)},
        "status": {
            "replicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "observedGeneration": 1 if observed else 0,
        },
    }


def scales(plan, sets):
    """{image: new size} of the sets this pass resizes, plus {"create": size}."""
    images = {rs["metadata"]["name"]: rs["metadata"]["uid"].removeprefix("uid-") for rs in sets}
    out = {}
    for a in plan.actions:
        if isinstance(a, CreateReplicaSet):
            out["create"] = a.replica_set["spec"]["replicas"]
        elif isinstance(a, UpdateReplicaSet) and a.replicas != a.old_replicas:
            out[images[a.name]] = a.replicas
    return out


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable rounds down
        (0, 0, 3, (0, 1)),
        ("50%", 0, 3, (2, 0)),
        (2, "10%", 5, (2, 0)),
    ],
)
def test_fenceposts_round_like_kubernetes(surge, unavailable, replicas, expected):
    assert resolve_fenceposts(deploy(replicas, surge=surge, unavailable=unavailable)) == expected


def test_first_pass_creates_the_replica_set_at_full_size_with_revision_1():
    d = deploy(3, image="v1")
    d["metadata"].pop("annotations")
    plan = plan_rollout(d, [], NOW)
    [create] = plan.actions
    assert isinstance(create, CreateReplicaSet)
    obj = create.replica_set
    h = template_hash(template("v1"))
    assert obj["metadata"]["name"] == f"web-{h}"
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert obj["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h
    assert obj["metadata"]["annotations"][REVISION] == "1"
    assert obj["metadata"]["ownerReferences"][0]["controller"] is True
    assert plan.annotations == {REVISION: "1"}
    cond = {c["type"]: c["reason"] for c in plan.status["conditions"]}
    assert cond == {
        "Available": "MinimumReplicasUnavailable",
        "Progressing": "NewReplicaSetCreated",
    }


@pytest.mark.parametrize(
    ("sets", "expected", "why"),
    [
        ([rs("v1", 4, desired=4)], {"create": 1}, "the new set starts at maxSurge"),
        (
            [rs("v1", 4, desired=4), rs("v2", 1, available=0, revision=2, age=1, desired=4)],
            {"v1": 3},
            "old scaled down within maxUnavailable",
        ),
        (
            [rs("v1", 3, desired=4), rs("v2", 1, available=0, revision=2, age=1, desired=4)],
            {"v2": 2},
            "new scaled up to the surge limit",
        ),
        (
            [rs("v1", 3, desired=4), rs("v2", 2, available=0, revision=2, age=1, desired=4)],
            {},
            "wait: 3 available is the minimum and 5 pods the maximum",
        ),
        ([rs("v1", 0, desired=4), rs("v2", 4, revision=2, age=1, desired=4)], {}, "complete"),
        (
            [
                rs("v1", 4, available=2, desired=4),
                rs("v2", 1, available=0, revision=2, age=1, desired=4),
            ],
            {"v1": 3},
            "unhealthy old pods go first, never below the minimum",
        ),
    ],
)
def test_rolling_update_steps(sets, expected, why):
    assert scales(plan_rollout(deploy(4), sets, NOW), sets) == expected, why


def test_old_set_that_lags_its_spec_blocks_scaling():
    sets = [rs("v1", 3, desired=4, observed=False), rs("v2", 1, revision=2, age=1, desired=4)]
    plan = plan_rollout(deploy(4), sets, NOW)
    assert plan.actions == ()
    assert plan.status["observedGeneration"] == 2


def test_rolling_back_renumbers_the_old_set_and_the_deployment():
    sets = [rs("v1", 0, revision=1, desired=4), rs("v2", 4, revision=2, age=50, desired=4)]
    plan = plan_rollout(deploy(4, image="v1"), sets, NOW)
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    updates = {a.name: a for a in plan.actions if isinstance(a, UpdateReplicaSet)}
    old = updates[sets[0]["metadata"]["name"]]
    assert old.annotations[REVISION] == "3"
    assert old.replicas == 1  # and it starts growing within maxSurge
    assert plan.annotations[REVISION] == "3"


@pytest.mark.parametrize(
    ("old_replicas", "old_pods", "expected"),
    [
        (2, 2, {"down"}),  # scale every old set to 0 first
        (0, 1, set()),  # an old pod still runs (terminating): wait
        (0, 0, {"create"}),
    ],
)
def test_recreate_waits_for_old_pods(old_replicas, old_pods, expected):
    old = rs("v1", old_replicas, desired=2)
    old["status"]["replicas"] = 0 if old_pods == 0 else old_replicas
    plan = plan_rollout(deploy(2, strategy="Recreate"), [old], NOW, old_pods_running=old_pods)
    got = set()
    for a in plan.actions:
        if isinstance(a, CreateReplicaSet):
            got.add("create")
            assert a.replica_set["spec"]["replicas"] == 2
        elif isinstance(a, UpdateReplicaSet) and a.replicas < a.old_replicas:
            got.add("down")
    assert got == expected


def test_paused_scales_the_current_set_but_creates_nothing():
    plan = plan_rollout(deploy(5, paused=True), [rs("v1", 3, desired=3)], NOW)
    assert [(type(a), a.replicas) for a in plan.actions] == [(UpdateReplicaSet, 5)]
    cond = {c["type"]: c for c in plan.status["conditions"]}
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == (
        "Unknown",
        "DeploymentPaused",
    )


def test_resumed_deployment_says_so_then_rolls_out():
    d = deploy(3)
    d["status"] = {
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [
            {
                "type": "Progressing",
                "status": "Unknown",
                "reason": "DeploymentPaused",
                "lastUpdateTime": ts(10),
                "lastTransitionTime": ts(10),
            }
        ],
    }
    plan = plan_rollout(d, [rs("v1", 3, desired=3)], NOW)
    assert any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    cond = {c["type"]: c["reason"] for c in plan.status["conditions"]}
    assert cond["Progressing"] == "NewReplicaSetCreated"


def test_scaling_mid_rollout_is_proportional():
    sets = [rs("v1", 3, desired=4), rs("v2", 2, revision=2, age=1, desired=4)]
    plan = plan_rollout(deploy(8, surge=1, unavailable=1), sets, NOW)
    sizes = {a.name: a.replicas for a in plan.actions if isinstance(a, UpdateReplicaSet)}
    assert sum(sizes.values()) == 8 + 1  # replicas + maxSurge
    assert sizes[sets[0]["metadata"]["name"]] > sizes[sets[1]["metadata"]["name"]]


def test_complete_rollout_cleans_history_beyond_the_limit():
    sets = [rs(f"v{i}", 0, revision=i, age=100 - i, desired=2) for i in range(1, 5)]
    sets.append(rs("v9", 2, revision=9, age=1, desired=2))
    plan = plan_rollout(deploy(2, image="v9", revisionHistoryLimit=2), sets, NOW)
    deleted = [a.name for a in plan.actions if isinstance(a, DeleteReplicaSet)]
    assert deleted == [sets[0]["metadata"]["name"], sets[1]["metadata"]["name"]]


def progressing(reason, seconds_ago, status="True"):
    return {
        "type": "Progressing",
        "status": status,
        "reason": reason,
        "lastUpdateTime": ts(seconds_ago),
        "lastTransitionTime": ts(seconds_ago),
    }


@pytest.mark.parametrize(
    ("since", "reason", "requeue"),
    [
        (30, "ReplicaSetUpdated", None),
        (5, "ReplicaSetUpdated", 6.0),  # due in 5 s: look again just after
    ],
)
def test_progress_deadline(since, reason, requeue):
    sets = [rs("v1", 3, desired=4), rs("v2", 2, available=0, revision=2, age=1, desired=4)]
    d = deploy(4, progressDeadlineSeconds=10)
    d["status"] = {
        "replicas": 5,
        "updatedReplicas": 2,
        "availableReplicas": 3,
        "readyReplicas": 3,
        "conditions": [progressing(reason, since)],
    }
    plan = plan_rollout(d, sets, NOW)
    cond = {c["type"]: c for c in plan.status["conditions"]}["Progressing"]
    if requeue is None:
        assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
        assert (
            cond["message"] == f'ReplicaSet "{sets[1]["metadata"]["name"]}" has timed out '
            "progressing."
        )
    else:
        assert cond["reason"] == reason
        assert plan.requeue_after == pytest.approx(requeue)


def test_progress_moves_the_update_time_but_not_the_transition_time():
    sets = [rs("v1", 3, desired=4), rs("v2", 2, available=1, revision=2, age=1, desired=4)]
    d = deploy(4)
    d["status"] = {
        "replicas": 5,
        "updatedReplicas": 2,
        "availableReplicas": 3,
        "readyReplicas": 3,
        "conditions": [progressing("ReplicaSetUpdated", 60)],
    }
    plan = plan_rollout(d, sets, NOW)
    cond = {c["type"]: c for c in plan.status["conditions"]}["Progressing"]
    assert cond["lastUpdateTime"] == ts(0) and cond["lastTransitionTime"] == ts(60)


def test_status_omits_zero_counts_and_reports_minimum_availability():
    plan = plan_rollout(deploy(2, image="v1"), [rs("v1", 2, desired=2)], NOW)
    status = plan.status
    assert status["replicas"] == status["updatedReplicas"] == status["availableReplicas"] == 2
    assert "unavailableReplicas" not in status
    cond = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert cond == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


def test_template_hash_is_stable_and_ignores_its_own_label():
    h = template_hash(template("v1"))
    assert len(h) == 10 and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert template_hash(with_hash(template("v1"), h)) == h
    assert template_hash(template("v1"), collision_count=1) != h
    assert same_template(with_hash(template("v1"), h), template("v1"))
    assert not same_template(template("v1"), template("v2"))
