"""What one pass over an App should do: a pure plan from the App, its Builds and what exists.

Per branch (every branch with a Build):

1. **Which build.** The target is the newest Succeeded Build (by creation)
   whose ``Deployed`` condition is not False: a build whose deploy failed
   never serves, so the branch falls back to the one before it, and the
   Knative Service's template is put back to it (a new Revision of the
   live build; traffic never left the live one meanwhile).
2. **Release.** If the target has a release command and the branch's
   template does not run it yet, or runs it with other config vars (Heroku
   runs its release phase again when they change), its release Job comes
   first: created if missing, waited for while it runs. A failed Job leaves
   the template untouched; for a new build it fails the deploy
   (``Deployed`` False, ReleaseFailed), for a config change the branch says
   so and keeps serving (the build itself did not fail, and the next change
   retries). Finished release Jobs are deleted once they are neither the
   target's nor the newest build's (whose failure the push and status point
   at).
3. **Roll.** The Knative Service is written when its ``paas.dev/spec-hash``
   differs from the desired one; the branch's HTTPRoute when the Service's
   ``status.traffic`` (which the serving controller moves to a revision
   once it is Ready) differs from its backends.
4. **Judge** (``rollout.rollout_state``). The template's revision Ready,
   latest ready, and the branch's host routed to it is ``Deployed`` True;
   that revision Ready False is ``Deployed`` False with Knative's reason
   and message; otherwise Unknown with what it waits for. A live build is
   not judged again: a config change its new revision does not start with
   is the branch's failure, while the old revision keeps serving.
5. Older Succeeded builds the branch never judged are marked Superseded
   (False): a newer one took their place.
6. **Move.** A branch the builder's first version deployed still has its
   Deployment, Service and Ingress ``<app>-<slug>``; they keep serving
   until the Knative Service is Ready and the router accepted the branch's
   HTTPRoute (which it prefers to the Ingress), then they are deleted,
   Ingress first. Nothing watches HTTPRoutes here (the kind is the
   router's), so such a branch asks for another pass soon.

Objects labelled with a branch that has no Build any more (deleted by
``git push paas :b``, or left by a crash), release Jobs included, are
deleted. The App's status lists the branches that have a Knative Service
or a first-version Deployment (URL, the build that serves, whether it is
live, and how many instances run: 0 is an idle preview scaled to zero,
not a broken one), the main branch's URL, and a Ready condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder import names
from builder.kinds import BRANCH_LABEL, DEPLOYED
from orchestrator.api.conditions import Condition, condition_of
from paas.apps import desired
from paas.apps.rollout import (
    Rollout,
    annotation,
    live_revision,
    rollout_state,
    route_accepted,
)
from paas.apps.rollout import instances as rollout_instances
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView
from paas.serving.kinds import SERVICE_LABEL

Obj = dict[str, Any]


@dataclass(frozen=True)
class Actual:
    """What exists of an App's branch objects (from the informer caches), by name."""

    kservices: Mapping[str, Obj] = field(default_factory=dict)  # Knative Services
    httproutes: Mapping[str, Obj] = field(default_factory=dict)
    routes_served: bool = True  # False while the API does not serve HTTPRoutes (no router yet)
    revisions: Mapping[str, Obj] = field(default_factory=dict)  # the App's Revisions
    revision_deployments: Mapping[str, Obj] = field(default_factory=dict)  # by revision name
    jobs: Mapping[str, Obj] = field(default_factory=dict)
    secrets: Mapping[str, Obj] = field(default_factory=dict)
    # The first version's objects of a branch (Deployment, Service, Ingress), until retired
    deployments: Mapping[str, Obj] = field(default_factory=dict)
    services: Mapping[str, Obj] = field(default_factory=dict)
    ingresses: Mapping[str, Obj] = field(default_factory=dict)


@dataclass(frozen=True)
class BranchPlan:
    branch: str
    apply: tuple[Obj, ...] = ()  # objects to create, or to replace when they exist
    conditions: tuple[tuple[str, Condition], ...] = ()  # Build name -> its Deployed condition
    entry: Obj | None = None  # the branch's entry in App status (None: nothing deployed)
    ready: str = ""  # "True" live, "False" failed, "Unknown" deploying
    failure: str = ""  # why the branch's newest build (or config change) did not deploy
    delete_jobs: tuple[str, ...] = ()  # finished release Jobs nothing points at any more
    retire: tuple[tuple[str, str], ...] = ()  # (kind, name): the first version's objects
    awaits_router: bool = False  # they stay until the router accepts the branch's HTTPRoute


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
        """(kind, name) of what goes: gone branches' objects, retired first-version objects,
        then spent release Jobs."""
        return [
            *self.delete,
            *(r for b in self.branches for r in b.retire),
            *(("Job", j) for b in self.branches for j in b.delete_jobs),
        ]

    @property
    def conditions(self) -> list[tuple[str, Condition]]:
        return [c for b in self.branches for c in b.conditions]

    @property
    def settled(self) -> bool:
        """Nothing is still deploying (no pass is due before the next event)."""
        return all(b.ready != "Unknown" for b in self.branches)

    @property
    def awaits_router(self) -> bool:
        """A branch waits for the router's verdict on its HTTPRoute (no event will say)."""
        return any(b.awaits_router for b in self.branches)


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


def _revisions_of(actual: Actual, service: str) -> dict[str, Obj]:
    return {
        name: r
        for name, r in actual.revisions.items()
        if ((r.get("metadata") or {}).get("labels") or {}).get(SERVICE_LABEL) == service
    }


def _route(
    target: desired.Target,
    service: Mapping[str, Any] | None,
    revisions: Mapping[str, Obj],
    actual: Actual,
    settings: AppControllerSettings,
) -> tuple[Obj | None, set[str]]:
    """The branch's HTTPRoute when it must be written, and the revisions it routes to.

    Its backends are the Service's ``status.traffic``; nothing is routed
    before a revision has traffic, nor while the API serves no HTTPRoutes.
    """
    traffic = ((service or {}).get("status") or {}).get("traffic") or []
    refs = desired.backends(traffic)
    if not refs or not actual.routes_served:
        return None, set()
    timeout = max(
        (
            int(((revisions.get(r["name"]) or {}).get("spec") or {}).get("timeoutSeconds") or 0)
            for r in refs
        ),
        default=0,
    )
    wanted = desired.app_route(target, settings, refs, timeout)
    have = actual.httproutes.get(wanted["metadata"]["name"])
    routed = {str(r["name"]) for r in refs}
    return (None if desired.spec_hash(have) == desired.spec_hash(wanted) else wanted), routed


def _retire(
    app: AppView, branch: str, service: Mapping[str, Any] | None, actual: Actual
) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The first version's objects of the branch that can go now, and whether they wait.

    They serve until the Knative Service is Ready and the branch's HTTPRoute,
    already written, is accepted by the router (which prefers an HTTPRoute
    to an Ingress for the same host): then the Ingress goes first, the
    Deployment last, and no request meets a host that nothing serves.
    """
    name = names.object_name(app.name, branch)
    old = tuple(
        (kind, name)
        for kind, objs in (
            ("Ingress", actual.ingresses),
            ("Service", actual.services),
            ("Deployment", actual.deployments),
        )
        if name in objs
    )
    if not old:
        return (), False
    ready = (condition_of(service, "Ready") or {}).get("status") if service else None
    route = actual.httproutes.get(desired.route_name(app.name, branch))
    if ready == "True" and route_accepted(route):
        return old, False
    return (), True


def plan_branch(
    app: AppView,
    branch: str,
    builds: Sequence[BuildView],
    actual: Actual,
    settings: AppControllerSettings,
) -> BranchPlan:
    name = names.object_name(app.name, branch)
    service = actual.kservices.get(name)
    old = actual.deployments.get(name)  # the first version's, while the branch moves
    current = service if service is not None else old  # its template says what runs
    running = _template_annotation(current, desired.BUILD_ANNOTATION)
    revisions = _revisions_of(actual, name)
    target_build = choose_target(builds)
    conditions: list[tuple[str, Condition]] = []

    def judge(build: BuildView, status: str, reason: str, message: str) -> None:
        wanted = deployed(status, reason, message)
        if _changed(build, wanted):
            conditions.append((build.name, wanted))

    apply: list[Obj] = []
    ready, config_failure = "", ""
    keep_jobs: set[str] = set()
    retire: tuple[tuple[str, str], ...] = ()
    awaits_router = False
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
            wanted = desired.knative_service(target, settings)
            rewritten = desired.spec_hash(service) != desired.spec_hash(wanted)
            if rewritten:
                apply.append(wanted)
            route, routed = _route(target, service, revisions, actual, settings)
            if route is not None:
                apply.append(route)
            state = rollout_state(None if rewritten else service, revisions, target_build.name)
            if state.status == "True" and state.revision not in routed:
                why = (
                    "routing the branch's host to the new version"
                    if actual.routes_served
                    else "waiting for the router: the API serves no HTTPRoutes yet"
                )
                state = Rollout("Unknown", "RollingOut", why, state.revision)
            ready = state.status
            live = target_build.deploy_state == "True"
            if live and state.status == "False":
                # the live build with new config vars it does not start with: the revision
                # that serves keeps the old ones, as a failed release does
                config_failure = f"the new config vars do not start: {state.message}"
            elif not (live and state.status != "False"):
                judge(target_build, state.status, state.reason, state.message)
            retire, awaits_router = _retire(app, branch, service, actual)
        for b in builds:  # older builds this branch will never deploy
            if b.succeeded and b.order < target_build.order and b.deploy_state in ("", "Unknown"):
                judge(b, "False", "Superseded", f"{target_build.name} is newer")
    failure = _last_failure(builds, dict(conditions)) or config_failure
    entry = None
    if service is not None or old is not None:
        entry = _entry(app, branch, service, old, revisions, actual, settings, ready, failure)
    spent = _spent_release_jobs(app, branch, builds, actual, keep_jobs)
    return BranchPlan(
        branch,
        tuple(apply),
        tuple(conditions),
        entry,
        ready,
        failure,
        spent,
        retire,
        awaits_router,
    )


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
    service: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    revisions: Mapping[str, Obj],
    actual: Actual,
    settings: AppControllerSettings,
    ready: str,
    failure: str,
) -> Obj:
    """The branch in App status: what serves it (the live revision's build, else the first
    version's Deployment's, else the one on its way) and how many instances run."""
    live = live_revision(service, revisions)
    if live is not None:
        build = annotation(live, desired.BUILD_ANNOTATION)
        commit = annotation(live, desired.COMMIT_ANNOTATION)
    else:
        source = old if old is not None else service
        build = _template_annotation(source, desired.BUILD_ANNOTATION)
        commit = _template_annotation(source, desired.COMMIT_ANNOTATION)
    running = rollout_instances(service, actual.revision_deployments)
    if old is not None:
        running += int((old.get("status") or {}).get("readyReplicas") or 0)
    entry = {
        "name": branch,
        "url": desired.url(app, branch, settings),
        "commit": commit,
        "build": build,
        "phase": {"False": "Failed", "Unknown": "Deploying"}.get(ready, "Live"),
        "instances": running,
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
            ("HTTPRoute", actual.httproutes),
            ("KService", actual.kservices),
            ("Ingress", actual.ingresses),
            ("Service", actual.services),
            ("Deployment", actual.deployments),
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
