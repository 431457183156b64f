"""What a Deployment should do next: a pure decision over its ReplicaSets.

``plan_rollout(deployment, replica_sets, now)`` follows Kubernetes'
deployment controller (``sync.go``, ``rolling.go``, ``recreate.go``) step by
step, and returns the writes of one pass plus the status to report:

- the *new* ReplicaSet is the oldest one whose template equals the
  Deployment's (ignoring ``pod-template-hash``); it gets revision
  ``max(old revisions) + 1``, so a set being rolled back to is renumbered,
  and the Deployment's revision annotation follows it;
- paused, or when ``spec.replicas`` changed (the sets' desired-replicas
  annotation disagrees): only scale, proportionally during a rollout;
- RollingUpdate: scale the new set up within ``replicas + maxSurge`` pods;
  else scale old sets down while ``replicas - maxUnavailable`` pods stay
  available (unhealthy old pods go first); surge rounds up, unavailable
  rounds down, and both 0 means unavailable 1;
- Recreate: scale every old set to 0, wait until no old pod runs, then
  create or scale up the new one;
- once complete, delete old sets at 0 beyond ``revisionHistoryLimit``;
- status counts from the sets' status, Available from
  ``replicas - maxUnavailable``, Progressing with the reasons kubectl and
  users read (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
  NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
  DeploymentResumed), and a requeue at the progress deadline.

While any set's status predates its spec (``observedGeneration``), the plan
only refreshes the status: availability read from a set that has not yet
acted on its last scale could let a rollout scale down too far.

The plan is computed against the sets' cached status; a write that fails
(Conflict on a stale cache) leaves the next pass to recompute from fresher
state, which is why every step is expressed as target values, never deltas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.api.conditions import (
    Condition,
    conditions_of,
    find_condition,
    remove_condition,
    set_condition,
)
from orchestrator.api.objects import Obj, annotations_of
from orchestrator.api.timestamps import parse_time, rfc3339
from orchestrator.controllers.ownership import owner_reference
from orchestrator.controllers.podtemplate import (
    same_template,
    selector_with_hash,
    template_hash,
    with_hash,
)

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
NO_DEADLINE = 2**31 - 1


@dataclass(frozen=True)
class CreateReplicaSet:
    replica_set: Obj


@dataclass(frozen=True)
class UpdateReplicaSet:
    name: str
    replicas: int
    annotations: dict[str, str]
    min_ready_seconds: int
    old_replicas: int  # for the ScalingReplicaSet event


@dataclass(frozen=True)
class DeleteReplicaSet:
    name: str


Action = CreateReplicaSet | UpdateReplicaSet | DeleteReplicaSet


@dataclass(frozen=True)
class RolloutPlan:
    actions: tuple[Action, ...]
    annotations: dict[str, str] | None  # the Deployment's annotations, when they change
    status: Obj
    requeue_after: float | None = None


# -- numbers -------------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An int-or-percent of ``total``: ``"25%"`` of 5 is 2 (down) or 3 (up)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def resolve_fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods for a RollingUpdate Deployment."""
    spec = deployment.get("spec", {})
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    desired = _replicas(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(deployment: Obj) -> int:
    desired = _replicas(deployment)
    if desired == 0:
        return 0
    return min(resolve_fenceposts(deployment)[1], desired)


def _replicas(obj: Obj) -> int:
    return int(obj.get("spec", {}).get("replicas", 1))


def revision_of(obj: Obj) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, "0"))
    except ValueError:
        return 0


# -- the working state of one pass ------------------------------------------------


@dataclass
class _Set:
    obj: Obj
    replicas: int
    annotations: dict[str, str]
    min_ready: int
    created: bool = False

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def available(self) -> int:
        return int(self.obj.get("status", {}).get("availableReplicas", 0))

    @property
    def actual(self) -> int:
        return int(self.obj.get("status", {}).get("replicas", 0))


@dataclass
class _Pass:
    deployment: Obj
    now: datetime
    sets: list[_Set]
    new: _Set | None = None
    conditions: list[Condition] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def olds(self) -> list[_Set]:
        olds = [s for s in self.sets if s is not self.new]
        return sorted(olds, key=lambda s: (s.obj["metadata"].get("creationTimestamp", ""), s.name))

    @property
    def desired(self) -> int:
        return _replicas(self.deployment)

    def scale(self, target: _Set, replicas: int) -> None:
        surge, _ = resolve_fenceposts(self.deployment)
        target.replicas = max(0, replicas)
        target.annotations = {
            **target.annotations,
            DESIRED_REPLICAS: str(self.desired),
            MAX_REPLICAS: str(self.desired + surge),
        }

    def actions(self) -> tuple[Action, ...]:
        out: list[Action] = []
        for s in self.sets:
            if s.created:
                rs = dict(s.obj)
                rs["metadata"] = {**rs["metadata"], "annotations": dict(s.annotations)}
                rs["spec"] = {**rs["spec"], "replicas": s.replicas}
                out.append(CreateReplicaSet(rs))
                continue
            spec = s.obj.get("spec", {})
            if (
                s.replicas != _replicas(s.obj)
                or s.annotations != annotations_of(s.obj)
                or s.min_ready != int(spec.get("minReadySeconds") or 0)
            ):
                out.append(
                    UpdateReplicaSet(
                        s.name, s.replicas, s.annotations, s.min_ready, _replicas(s.obj)
                    )
                )
        out.extend(DeleteReplicaSet(name) for name in self.deletes)
        return tuple(out)


# -- steps ---------------------------------------------------------------------


def _copied_annotations(deployment: Obj) -> dict[str, str]:
    return {k: v for k, v in annotations_of(deployment).items() if k not in NOT_COPIED}


def _next_revision(p: _Pass) -> int:
    return max((revision_of(s.obj) for s in p.olds), default=0) + 1


def _sync_new(p: _Pass, create: bool) -> None:
    """Renumber and annotate the new set, or create it when ``create``."""
    d = p.deployment
    revision = _next_revision(p)
    min_ready = int(d.get("spec", {}).get("minReadySeconds") or 0)
    if p.new is not None:
        s = p.new
        annotations = {**s.annotations, **_copied_annotations(d)}
        if revision_of(s.obj) < revision:
            annotations[REVISION] = str(revision)
        s.annotations = annotations
        s.min_ready = min_ready
        if find_condition(p.conditions, "Progressing") is None and _has_deadline(d):
            _set_condition(
                p, "Progressing", "True", "FoundNewReplicaSet", f'Found new replica set "{s.name}"'
            )
    elif create:
        collisions = int(d.get("status", {}).get("collisionCount") or 0)
        spec = d.get("spec", {})
        hash_ = template_hash(spec.get("template"), collisions)
        template = with_hash(spec.get("template"), hash_)
        name = f"{d['metadata']['name']}-{hash_}"
        obj: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"].get("namespace", "default"),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [owner_reference(d, "apps/v1", "Deployment")],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": min_ready,
                "selector": selector_with_hash(spec.get("selector"), hash_),
                "template": template,
            },
            "status": {"replicas": 0},
        }
        s = _Set(obj, 0, {**_copied_annotations(d), REVISION: str(revision)}, min_ready, True)
        p.sets.append(s)
        p.new = s
        p.scale(s, _new_replicas(p, s))
        _set_condition(
            p, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"'
        )
    if p.new is not None:
        wanted = p.new.annotations.get(REVISION, "")
        if wanted and p.annotations.get(REVISION) != wanted:
            p.annotations = {**p.annotations, REVISION: wanted}


def _new_replicas(p: _Pass, new: _Set) -> int:
    """Kubernetes' ``NewRSNewReplicas``: how big the new set may be now."""
    if _strategy(p.deployment) != "RollingUpdate":
        return p.desired
    surge, _ = resolve_fenceposts(p.deployment)
    current = sum(s.replicas for s in p.sets)
    most = p.desired + surge
    if current >= most:
        return new.replicas
    return new.replicas + min(most - current, p.desired - new.replicas)


def _strategy(d: Obj) -> str:
    return str((d.get("spec", {}).get("strategy") or {}).get("type", "RollingUpdate"))


def _has_deadline(d: Obj) -> bool:
    deadline = d.get("spec", {}).get("progressDeadlineSeconds")
    return deadline is not None and int(deadline) != NO_DEADLINE


def _is_scaling_event(p: _Pass) -> bool:
    for s in p.sets:
        if s.replicas <= 0:
            continue
        desired = s.annotations.get(DESIRED_REPLICAS)
        if desired is not None and desired != str(p.desired):
            return True
    return False


def _scale(p: _Pass) -> None:
    """Kubernetes' ``scale``: resize for a new ``spec.replicas``, proportionally mid-rollout."""
    active = [s for s in p.sets if s.replicas > 0]
    if len(active) <= 1:
        target = active[0] if active else (p.new or (p.olds[-1] if p.olds else None))
        if target is not None and (
            target.replicas != p.desired
            or target.annotations.get(DESIRED_REPLICAS) != str(p.desired)
        ):
            p.scale(target, p.desired)
        return
    if p.new is not None and p.new.replicas == p.desired and p.new.available == p.desired:
        for s in p.olds:
            if s.replicas:
                p.scale(s, 0)
        return
    if _strategy(p.deployment) != "RollingUpdate":
        return
    surge, _ = resolve_fenceposts(p.deployment)
    allowed = p.desired + surge if p.desired > 0 else 0
    total = sum(s.replicas for s in active)
    to_add = allowed - total
    if to_add == 0:
        for s in active:
            p.scale(s, s.replicas)
        return
    newest_first = sorted(
        active,
        key=lambda s: (s.obj["metadata"].get("creationTimestamp", ""), s.name),
        reverse=True,
    )
    order = sorted(newest_first, key=lambda s: s.replicas, reverse=True)
    sizes = {s.name: s.replicas for s in active}
    added = 0
    for s in order:
        share = round(to_add * s.replicas / total) if total else 0
        share = max(share, -s.replicas)
        if to_add > 0:
            share = min(share, to_add - added)
        else:
            share = max(share, to_add - added)
        sizes[s.name] += share
        added += share
    leftover = to_add - added
    if leftover and order:
        first = order[0]
        sizes[first.name] = max(0, sizes[first.name] + leftover)
    for s in active:
        p.scale(s, sizes[s.name])


def _reconcile_new(p: _Pass) -> bool:
    new = p.new
    assert new is not None
    if new.replicas == p.desired:
        return False
    if new.replicas > p.desired:
        p.scale(new, p.desired)
        return True
    target = _new_replicas(p, new)
    if target == new.replicas:
        return False
    p.scale(new, target)
    return True


def _reconcile_olds(p: _Pass) -> bool:
    olds = p.olds
    if sum(s.replicas for s in olds) == 0:
        return False
    new = p.new
    assert new is not None
    all_pods = sum(s.replicas for s in p.sets)
    min_available = p.desired - max_unavailable(p.deployment)
    new_unavailable = max(0, new.replicas - new.available)
    most = all_pods - min_available - new_unavailable
    if most <= 0:
        return False
    scaled = 0
    for s in olds:  # unhealthy old pods first: they serve nobody
        if scaled >= most:
            break
        if s.replicas == 0 or s.replicas <= s.available:
            continue
        down = min(most - scaled, s.replicas - s.available)
        p.scale(s, s.replicas - down)
        scaled += down
    available = sum(min(s.available, s.replicas) for s in p.sets if s is not new) + new.available
    budget = available - min_available
    taken = 0
    for s in olds:
        if taken >= budget:
            break
        if s.replicas == 0:
            continue
        down = min(s.replicas, budget - taken)
        p.scale(s, s.replicas - down)
        taken += down
    return scaled + taken > 0


def _cleanup(p: _Pass) -> None:
    limit = p.deployment.get("spec", {}).get("revisionHistoryLimit")
    if limit is None:
        return
    cleanable = [
        s
        for s in p.olds
        if s.replicas == 0
        and s.actual == 0
        and not s.obj["metadata"].get("deletionTimestamp")
        and s.obj.get("status", {}).get("observedGeneration", 0)
        >= s.obj["metadata"].get("generation", 0)
    ]
    excess = len(cleanable) - int(limit)
    if excess <= 0:
        return
    cleanable.sort(key=lambda s: (revision_of(s.obj), s.name))
    p.deletes.extend(s.name for s in cleanable[:excess])


# -- status --------------------------------------------------------------------


def _condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Condition:
    """A Deployment condition: both its times are ``now`` until set_condition keeps one."""
    stamp = rfc3339(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def _set_condition(p: _Pass, type_: str, status: str, reason: str, message: str) -> None:
    """Kubernetes' SetDeploymentCondition: same status and reason leave the condition as it is."""
    wanted = _condition(type_, status, reason, message, p.now)
    p.conditions = set_condition(p.conditions, wanted, keep_same_reason=True)


def _counts(p: _Pass) -> Obj:
    def total(key: str, sets: list[_Set]) -> int:
        return sum(int(s.obj.get("status", {}).get(key, 0)) for s in sets)

    available = total("availableReplicas", p.sets)
    spec_total = sum(s.replicas for s in p.sets)
    return {
        "replicas": total("replicas", p.sets),
        "updatedReplicas": total("replicas", [p.new]) if p.new else 0,
        "readyReplicas": total("readyReplicas", p.sets),
        "availableReplicas": available,
        "unavailableReplicas": max(0, spec_total - available),
    }


def _status(p: _Pass, counts: Obj) -> Obj:
    d = p.deployment
    status: Obj = {"observedGeneration": d["metadata"].get("generation", 0)}
    status.update({k: v for k, v in counts.items() if v})
    collisions = d.get("status", {}).get("collisionCount")
    if collisions:
        status["collisionCount"] = collisions
    if counts["availableReplicas"] >= p.desired - max_unavailable(d):
        available = _condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            p.now,
        )
    else:
        available = _condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            p.now,
        )
    conditions = set_condition(p.conditions, available, keep_same_reason=True)
    order = {"Available": 0, "Progressing": 1}
    status["conditions"] = sorted(conditions, key=lambda c: order.get(c.get("type", ""), 2))
    return status


def _complete(p: _Pass, counts: Obj) -> bool:
    return (
        counts["updatedReplicas"] == p.desired
        and counts["replicas"] == p.desired
        and counts["availableReplicas"] == p.desired
    )


def _rollout_status(p: _Pass) -> tuple[Obj, float | None]:
    """Kubernetes' ``syncRolloutStatus``: counts plus the Progressing condition."""
    d = p.deployment
    old = d.get("status", {})
    counts = _counts(p)
    requeue = None
    if not _has_deadline(d):
        p.conditions = remove_condition(p.conditions, "Progressing")
    current = find_condition(p.conditions, "Progressing")
    done = (
        counts["replicas"] == counts["updatedReplicas"]
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    )
    name = p.new.name if p.new else ""
    if _has_deadline(d) and not done:
        if _complete(p, counts):
            _set_condition(
                p,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
            )
        elif (
            counts["updatedReplicas"] > int(old.get("updatedReplicas", 0))
            or counts["replicas"] - counts["updatedReplicas"]
            < int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
            or counts["readyReplicas"] > int(old.get("readyReplicas", 0))
            or counts["availableReplicas"] > int(old.get("availableReplicas", 0))
        ):
            # Progress refreshes the condition even with the same reason: its
            # lastUpdateTime is what the progress deadline counts from.
            cond = _condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{name}" is progressing.',
                p.now,
            )
            p.conditions = set_condition(p.conditions, cond)
        else:
            requeue = _deadline_step(p, name)
    return _status(p, counts), requeue


def _deadline_step(p: _Pass, name: str) -> float | None:
    """Mark ProgressDeadlineExceeded once due; else the seconds until it is."""
    current = find_condition(p.conditions, "Progressing")
    if current is None or current.get("reason") in (
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
    ):
        return None
    since = parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = int(p.deployment["spec"]["progressDeadlineSeconds"])
    due = since + timedelta(seconds=deadline)
    if due < p.now:
        _set_condition(
            p,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{name}" has timed out progressing.',
        )
        return None
    return (due - p.now).total_seconds() + 1.0


def _paused_conditions(p: _Pass) -> None:
    d = p.deployment
    if not _has_deadline(d):
        return
    current = find_condition(p.conditions, "Progressing")
    paused = bool(d.get("spec", {}).get("paused"))
    reason = current.get("reason") if current else None
    if paused and reason != "DeploymentPaused":
        _set_condition(p, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
    elif not paused and reason == "DeploymentPaused":
        _set_condition(p, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")


# -- the plan --------------------------------------------------------------------


def find_new_replica_set(deployment: Obj, replica_sets: list[Obj]) -> Obj | None:
    """The oldest set whose template is the Deployment's."""
    template = deployment.get("spec", {}).get("template")
    matching = [
        rs for rs in replica_sets if same_template(rs.get("spec", {}).get("template"), template)
    ]
    matching.sort(
        key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])
    )
    return matching[0] if matching else None


def plan_rollout(
    deployment: Obj, replica_sets: list[Obj], now: datetime, *, old_pods_running: int = 0
) -> RolloutPlan:
    """The writes of one pass for ``deployment`` and the status to report.

    ``replica_sets`` are the sets it controls; ``old_pods_running`` counts the
    pods of old sets not yet Succeeded or Failed (terminating ones included),
    which Recreate waits for.
    """
    sets = [
        _Set(
            rs,
            _replicas(rs),
            dict(annotations_of(rs)),
            int(rs.get("spec", {}).get("minReadySeconds") or 0),
        )
        for rs in replica_sets
    ]
    annotations = dict(annotations_of(deployment))
    p = _Pass(
        deployment,
        now,
        sets,
        conditions=conditions_of(deployment),
        annotations=annotations,
    )
    found = find_new_replica_set(deployment, replica_sets)
    p.new = next((s for s in sets if found is not None and s.obj is found), None)
    requeue = None
    if deployment["metadata"].get("deletionTimestamp") or any(_lagging(rs) for rs in replica_sets):
        status = _status(p, _counts(p))
    else:
        _paused_conditions(p)
        paused = bool(deployment.get("spec", {}).get("paused"))
        if paused or _is_scaling_event(p):
            _sync_new(p, create=False)
            _scale(p)
            if paused:
                _cleanup(p)
            status = _status(p, _counts(p))
        elif _strategy(deployment) == "Recreate":
            status, requeue = _recreate(p, old_pods_running)
        else:
            status, requeue = _rolling(p)
    changed = p.annotations != annotations_of(deployment)
    if not annotations_of(deployment) and not p.annotations:
        changed = True  # kubectl rollout undo json-patches /metadata/annotations: keep the map
    return RolloutPlan(p.actions(), p.annotations if changed else None, status, requeue)


def _lagging(rs: Obj) -> bool:
    """The set's status predates its spec: its counts may not reflect the last scale."""
    observed = int(rs.get("status", {}).get("observedGeneration", 0))
    return observed < int(rs["metadata"].get("generation", 0))


def _rolling(p: _Pass) -> tuple[Obj, float | None]:
    _sync_new(p, create=True)
    if p.new is not None and not p.new.created and not _reconcile_new(p):
        if not _reconcile_olds(p) and _complete(p, _counts(p)):
            _cleanup(p)
    return _rollout_status(p)


def _recreate(p: _Pass, old_pods_running: int) -> tuple[Obj, float | None]:
    _sync_new(p, create=False)
    scaled = False
    for s in p.olds:
        if s.replicas > 0:
            p.scale(s, 0)
            scaled = True
    if scaled or old_pods_running > 0 or any(s.actual for s in p.olds):
        return _rollout_status(p)
    if p.new is None:
        _sync_new(p, create=True)
    elif p.new.replicas != p.desired:
        p.scale(p.new, p.desired)
    elif _complete(p, _counts(p)):
        _cleanup(p)
    return _rollout_status(p)
