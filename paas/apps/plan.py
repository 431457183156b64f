"""What one pass over an App should do: a pure plan from the App, its Builds and what exists.

Per branch (every branch with a Build):

1. **Which build.** The target is the newest Succeeded Build (by creation)
   whose ``Deployed`` condition is not False: a build whose deploy failed
   never serves, so the branch falls back to the one before it, which is
   what keeps the old version live (the Deployment's template is put back
   and the Deployment controller scales the old ReplicaSet up again).
2. **Release.** If the target has a release command and the Deployment
   does not run it yet, or runs it with other config vars (Heroku runs its
   release phase again when they change), its release Job comes first:
   created if missing, waited for while it runs. A failed Job leaves the
   Deployment untouched; for a new build it fails the deploy (``Deployed``
   False, ReleaseFailed), for a config change the branch says so and keeps
   serving (the build itself did not fail, and the next change retries).
   Finished release Jobs are deleted once they are neither the target's
   nor the newest build's (whose failure the push and status point at).
3. **Roll.** The Deployment, Service and Ingress are written when their
   ``paas.dev/spec-hash`` differs from the desired one.
4. **Judge.** Once the Deployment's controller has seen the new template:
   complete (every replica updated, none old, one available) is
   ``Deployed`` True; ``ProgressDeadlineExceeded``, or a new pod that
   crash-loops or cannot start, is ``Deployed`` False with the reason;
   otherwise ``Deployed`` Unknown with what it waits for.
5. Older Succeeded builds the branch never judged are marked Superseded
   (False): a newer one took their place.

Objects labelled with a branch that has no Build any more (deleted by
``git push paas :b``, or left by a crash), release Jobs included, are
deleted. The App's status
lists the branches that have a Deployment (URL, the build it runs, and
whether it is live), the main branch's URL, and a Ready condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder import names
from builder.kinds import BRANCH_LABEL, DEPLOYED
from orchestrator.api.conditions import Condition, condition_of
from paas.apps import desired
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView

Obj = dict[str, Any]
START_FAILURES = {  # waiting reasons of a new pod that mean it will not come up by itself
    "CrashLoopBackOff": "keeps crashing",
    "ImagePullBackOff": "cannot get its image",
    "ErrImageNeverPull": "cannot get its image",
    "InvalidImageName": "has an invalid image",
    "CreateContainerConfigError": "cannot be configured",
    "CreateContainerError": "cannot be created",
    "RunContainerError": "cannot start",
}


@dataclass(frozen=True)
class Actual:
    """What exists of an App's branch objects (from the informer caches), by name."""

    deployments: Mapping[str, Obj] = field(default_factory=dict)
    services: Mapping[str, Obj] = field(default_factory=dict)
    ingresses: Mapping[str, Obj] = field(default_factory=dict)
    jobs: Mapping[str, Obj] = field(default_factory=dict)
    secrets: Mapping[str, Obj] = field(default_factory=dict)
    pods: Sequence[Obj] = ()


@dataclass(frozen=True)
class BranchPlan:
    branch: str
    apply: tuple[Obj, ...] = ()  # objects to create, or to replace when they exist
    conditions: tuple[tuple[str, Condition], ...] = ()  # Build name -> its Deployed condition
    entry: Obj | None = None  # the branch's entry in App status (None: nothing deployed)
    ready: str = ""  # "True" live, "False" failed, "Unknown" deploying
    failure: str = ""  # why the branch's newest build (or config change) did not deploy
    delete_jobs: tuple[str, ...] = ()  # finished release Jobs nothing points at any more


@dataclass(frozen=True)
class AppPlan:
    branches: tuple[BranchPlan, ...] = ()
    delete: tuple[tuple[str, str], ...] = ()  # (kind, name) of objects of gone branches
    status: Obj = field(default_factory=dict)

    @property
    def apply(self) -> list[Obj]:
        return [obj for b in self.branches for obj in b.apply]

    @property
    def deletions(self) -> list[tuple[str, str]]:
        """(kind, name) of what goes: gone branches' objects, then spent release Jobs."""
        return [*self.delete, *(("Job", j) for b in self.branches for j in b.delete_jobs)]

    @property
    def conditions(self) -> list[tuple[str, Condition]]:
        return [c for b in self.branches for c in b.conditions]

    @property
    def settled(self) -> bool:
        """Nothing is still deploying (no pass is due before the next event)."""
        return all(b.ready != "Unknown" for b in self.branches)


def deployed(status: str, reason: str, message: str) -> Condition:
    return {"type": DEPLOYED, "status": status, "reason": reason, "message": message}


def _changed(build: BuildView, wanted: Condition) -> bool:
    now = build.deployed or {}
    return any(now.get(k) != wanted.get(k) for k in ("status", "reason", "message"))


def choose_target(builds: Sequence[BuildView]) -> BuildView | None:
    """The newest Succeeded build of a branch whose deploy has not failed."""
    candidates = [b for b in builds if b.succeeded and b.deploy_state != "False"]
    return max(candidates, key=lambda b: b.order, default=None)


def _template_annotation(obj: Mapping[str, Any] | None, key: str) -> str:
    if obj is None:
        return ""
    template = (obj.get("spec") or {}).get("template") or {}
    return str(((template.get("metadata") or {}).get("annotations") or {}).get(key, ""))


def _job_outcome(job: Mapping[str, Any] | None) -> tuple[str, str]:
    """("Complete"|"Failed"|"Running"|"", message) of a release Job."""
    if job is None:
        return "", ""
    for type_ in ("Complete", "Failed"):
        c = condition_of(job, type_)
        if c is not None and c.get("status") == "True":
            return type_, str(c.get("message") or c.get("reason") or "")
    return "Running", ""


def start_failure(pods: Sequence[Obj], build: str, restarts: int) -> str:
    """Why a pod of ``build`` will not come up ("" when none is failing)."""
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (
            meta.get("deletionTimestamp")
            or desired.RELEASE_LABEL in (meta.get("labels") or {})
            or (meta.get("annotations") or {}).get(desired.BUILD_ANNOTATION) != build
        ):
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            exit_code = last.get("exitCode")
            how = f" (exit code {exit_code})" if exit_code is not None else ""
            reason = str(waiting.get("reason") or "")
            if reason in START_FAILURES:
                detail = str(waiting.get("message") or "")
                tail = f": {detail}" if detail and reason != "CrashLoopBackOff" else ""
                return f"the new version {START_FAILURES[reason]}{how}{tail}"
            if int(cs.get("restartCount") or 0) >= restarts:
                return f"the new version keeps crashing{how}: restarted {cs['restartCount']} times"
    return ""


def rollout_state(
    deployment: Mapping[str, Any], pods: Sequence[Obj], build: str, restarts: int
) -> tuple[str, str, str]:
    """(status, reason, message) of the Deployed condition for a Deployment running ``build``."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return "Unknown", "RollingOut", "waiting for the rollout to start"
    failure = start_failure(pods, build, restarts)
    if failure:
        return "False", "StartFailed", failure
    progressing = condition_of(deployment, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        deadline = spec.get("progressDeadlineSeconds")
        return (
            "False",
            "ProgressDeadlineExceeded",
            f"the new version did not become ready within {deadline}s",
        )
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated >= wanted and total == updated and available >= min(wanted, 1):
        return "True", "Available", f"{available} of {wanted} instances available"
    if total > updated:  # availableReplicas counts the old pods too: say what is known
        return "Unknown", "RollingOut", "starting the new version; the old one serves meanwhile"
    return "Unknown", "RollingOut", f"{min(available, updated)} of {wanted} instances ready"


def plan_branch(
    app: AppView,
    branch: str,
    builds: Sequence[BuildView],
    actual: Actual,
    settings: AppControllerSettings,
) -> BranchPlan:
    name = names.object_name(app.name, branch)
    current = actual.deployments.get(name)
    running = _template_annotation(current, desired.BUILD_ANNOTATION)
    target_build = choose_target(builds)
    conditions: list[tuple[str, Condition]] = []

    def judge(build: BuildView, status: str, reason: str, message: str) -> None:
        wanted = deployed(status, reason, message)
        if _changed(build, wanted):
            conditions.append((build.name, wanted))

    apply: list[Obj] = []
    ready, config_failure = "", ""
    keep_jobs: set[str] = set()
    if target_build is not None:
        secrets = [actual.secrets.get(s) for s in desired.config_secret_names(app.name, branch)]
        target = desired.Target(app, branch, target_build, desired.config_hash(secrets))
        new_build = running != target_build.name
        running_config = _template_annotation(current, desired.CONFIG_ANNOTATION)
        release_pending = bool(target_build.release) and (
            new_build or running_config != target.config_hash
        )
        outcome, why = "", ""
        job = desired.release_job_name(target)
        keep_jobs.add(job)  # its output stays readable while the build serves
        if release_pending:
            outcome, why = _job_outcome(actual.jobs.get(job))
            if outcome == "":
                apply.append(desired.release_job(target, settings))
        if release_pending and outcome == "Failed":
            output = f"its output: kubectl logs job/{job}"
            if new_build:
                message = f"the release command failed ({why}); {output}"
                judge(target_build, "False", "ReleaseFailed", message)
            else:
                config_failure = (
                    f"the release command failed with the new config vars ({why}); the "
                    f"running version keeps the old ones; {output}"
                )
            ready = "False"
        elif release_pending and outcome != "Complete":
            if new_build:
                message = f"running release: {target_build.release}"
                judge(target_build, "Unknown", "Releasing", message)
            ready = "Unknown"
        else:
            for obj in (
                desired.deployment(target, settings),
                desired.service(target, settings),
                desired.ingress(target, settings),
            ):
                have = {
                    "Deployment": actual.deployments,
                    "Service": actual.services,
                    "Ingress": actual.ingresses,
                }[obj["kind"]].get(name)
                if desired.spec_hash(have) != desired.spec_hash(obj):
                    apply.append(obj)
            if any(o["kind"] == "Deployment" for o in apply) or current is None:
                judge(target_build, "Unknown", "RollingOut", "rolling out the new version")
                ready = "Unknown"
            else:
                ready, reason, message = rollout_state(
                    current, actual.pods, target_build.name, settings.crash_restarts
                )
                if not (ready == "True" and target_build.deploy_state == "True"):
                    judge(target_build, ready, reason, message)
        for b in builds:  # older builds this branch will never deploy
            if b.succeeded and b.order < target_build.order and b.deploy_state in ("", "Unknown"):
                judge(b, "False", "Superseded", f"{target_build.name} is newer")
    failure = _last_failure(builds, dict(conditions)) or config_failure
    entry = _entry(app, branch, current, running, settings, ready, failure) if current else None
    spent = _spent_release_jobs(app, branch, builds, actual, keep_jobs)
    return BranchPlan(branch, tuple(apply), tuple(conditions), entry, ready, failure, spent)


def _spent_release_jobs(
    app: AppView, branch: str, builds: Sequence[BuildView], actual: Actual, keep: set[str]
) -> tuple[str, ...]:
    """Finished release Jobs of the branch that are not in ``keep`` nor the newest build's.

    Running ones stay: a release (a migration) is never cut off halfway.
    """
    slug = names.branch_slug(app.name, branch)
    newest = max((b for b in builds if b.succeeded), key=lambda b: b.order, default=None)
    spent = []
    for name, job in sorted(actual.jobs.items()):
        meta = job.get("metadata") or {}
        if ((meta.get("labels") or {}).get(BRANCH_LABEL)) != slug or name in keep:
            continue
        if (
            newest is not None
            and (meta.get("annotations") or {}).get(desired.BUILD_ANNOTATION) == newest.name
        ):
            continue
        if _job_outcome(job)[0] in ("Complete", "Failed"):
            spent.append(name)
    return tuple(spent)


def _last_failure(builds: Sequence[BuildView], planned: Mapping[str, Condition]) -> str:
    """Why the branch's newest build did not deploy ("" when it did or still may)."""
    newest = max((b for b in builds if b.succeeded), key=lambda b: b.order, default=None)
    if newest is None:
        return ""
    condition = planned.get(newest.name) or newest.deployed or {}
    if condition.get("status") != "False" or condition.get("reason") == "Superseded":
        return ""
    return f"{newest.name}: {condition.get('message') or condition.get('reason')}"


def _entry(
    app: AppView,
    branch: str,
    current: Mapping[str, Any],
    running: str,
    settings: AppControllerSettings,
    ready: str,
    failure: str,
) -> Obj:
    entry = {
        "name": branch,
        "url": desired.url(app, branch, settings),
        "commit": _template_annotation(current, desired.COMMIT_ANNOTATION),
        "build": running,
        "phase": {"False": "Failed", "Unknown": "Deploying"}.get(ready, "Live"),
    }
    if failure:
        entry["lastFailure"] = failure
    return entry


def plan_app(
    app: AppView,
    builds: Sequence[BuildView],
    actual: Actual,
    settings: AppControllerSettings,
) -> AppPlan:
    by_branch: dict[str, list[BuildView]] = {}
    for b in builds:
        if b.branch:
            by_branch.setdefault(b.branch, []).append(b)
    plans = tuple(
        plan_branch(app, branch, by_branch[branch], actual, settings)
        for branch in sorted(by_branch, key=lambda br: (br != app.main_branch, br))
    )
    slugs = {names.branch_slug(app.name, br) for br in by_branch}
    delete = tuple(
        (kind, obj["metadata"]["name"])
        for kind, objs in (
            ("Deployment", actual.deployments),
            ("Service", actual.services),
            ("Ingress", actual.ingresses),
            ("Job", actual.jobs),
        )
        for obj in objs.values()
        if ((obj.get("metadata") or {}).get("labels") or {}).get(BRANCH_LABEL) not in slugs
    )
    return AppPlan(plans, delete, app_status(app, plans, settings))


def app_status(app: AppView, plans: Sequence[BranchPlan], settings: AppControllerSettings) -> Obj:
    entries = [p.entry for p in plans if p.entry is not None]
    main = next((e for e in entries if e["name"] == app.main_branch), None)
    failed = [p for p in plans if p.ready == "False" or p.failure]
    deploying = [p for p in plans if p.ready == "Unknown"]
    if failed:
        why = "; ".join(f"{p.branch}: {p.failure or 'deploy failed'}" for p in failed)
        ready = deployed("False", "DeployFailed", why)
    elif deploying:
        which = ", ".join(p.branch for p in deploying)
        ready = deployed("Unknown", "Deploying", "deploying: " + which)
    else:
        ready = deployed("True", "Live", f"{len(entries)} branches live")
    ready["type"] = "Ready"
    return {
        "observedGeneration": app.generation,
        "url": main["url"] if main else "",
        "branchCount": len(entries),
        "branches": entries,
        "conditions": [ready],
    }
