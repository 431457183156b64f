"""What each serving reconciler should do, as pure functions of cached objects.

``plan_service``, ``plan_configuration``, ``plan_revision`` and
``plan_route`` each take one object and what it owns (as the informers hold
them) and return the children to write and the status to report, in
Knative's condition words (``pkg/apis/serving/v1/*_lifecycle.go``). The
loops in ``controller`` only read caches, call these and write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.api.conditions import Condition, find_condition
from orchestrator.controllers.ownership import controller_uid
from paas.serving import autoscaling, names
from paas.serving.conditions import cond, living, ready_status
from paas.serving.kinds import CONFIGURATION_GENERATION_LABEL
from paas.serving.resources import make_configuration, make_httproutes, make_revision, make_route
from paas.serving.settings import ServingSettings

Obj = dict[str, Any]
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def _status(obj: Mapping[str, Any] | None) -> Obj:
    return dict((obj or {}).get("status") or {})


def _meta(obj: Mapping[str, Any]) -> Obj:
    return dict(obj.get("metadata") or {})


def _observed(obj: Mapping[str, Any]) -> bool:
    return _status(obj).get("observedGeneration") == _meta(obj).get("generation")


def _propagated(type_: str, child: Obj | None) -> Condition:
    ready = ready_status(child) if child is not None else None
    if ready is None:
        return cond(type_, "Unknown")
    return cond(
        type_,
        str(ready.get("status", "Unknown")),
        ready.get("reason", ""),
        ready.get("message", ""),
    )


# -- Service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServicePlan:
    configuration: Obj | None  # to create or update (None: leave it)
    route: Obj | None
    status: Obj


def plan_service(service: Obj, configuration: Obj | None, route: Obj | None) -> ServicePlan:
    uid = service["metadata"]["uid"]
    name = service["metadata"]["name"]
    want_cfg, want_route = make_configuration(service), make_route(service)
    conditions: list[Condition] = []
    status: Obj = {"observedGeneration": service["metadata"].get("generation", 1)}
    write_cfg: Obj | None = want_cfg
    if configuration is not None and controller_uid(configuration) != [uid]:
        write_cfg = None
        message = f'There is an existing Configuration "{name}" that we do not own.'
        conditions.append(cond("ConfigurationsReady", "False", "NotOwned", message))
    elif (
        configuration is None
        or configuration.get("spec") != want_cfg["spec"]
        or not _observed(configuration)
    ):
        message = "The Configuration is still working to reflect the latest desired specification."
        conditions.append(cond("ConfigurationsReady", "Unknown", "OutOfDate", message))
    else:
        conditions.append(_propagated("ConfigurationsReady", configuration))
    if configuration is not None and write_cfg is not None and _same(configuration, want_cfg):
        write_cfg = None
    owned_cfg = configuration is not None and controller_uid(configuration) == [uid]
    cfg_status = _status(configuration) if owned_cfg else {}
    for key in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if cfg_status.get(key):
            status[key] = cfg_status[key]
    write_route: Obj | None = want_route
    if route is not None and controller_uid(route) != [uid]:
        write_route = None
        message = f'There is an existing Route "{name}" that we do not own.'
        conditions.append(cond("RoutesReady", "False", "NotOwned", message))
    elif route is None or route.get("spec") != want_route["spec"] or not _observed(route):
        message = "The Route is still working to reflect the latest desired specification."
        conditions.append(cond("RoutesReady", "Unknown", "OutOfDate", message))
    elif _traffic_not_migrated(want_route, route, cfg_status):
        message = "Traffic is not yet migrated to the latest revision."
        conditions.append(cond("RoutesReady", "Unknown", "TrafficNotMigrated", message))
    else:
        conditions.append(_propagated("RoutesReady", route))
    if route is not None and write_route is not None and _same(route, want_route):
        write_route = None
    route_status = _status(route) if route is not None and controller_uid(route) == [uid] else {}
    for key in ("url", "address", "traffic"):
        if key in route_status:
            status[key] = route_status[key]
    status["conditions"] = living(conditions)
    return ServicePlan(write_cfg, write_route, status)


def _same(current: Obj, wanted: Obj) -> bool:
    meta, want = _meta(current), wanted["metadata"]
    return (
        current.get("spec") == wanted["spec"]
        and all((meta.get("labels") or {}).get(k) == v for k, v in want["labels"].items())
        and all((meta.get("annotations") or {}).get(k) == v for k, v in want["annotations"].items())
    )


def _traffic_not_migrated(want_route: Obj, route: Obj, cfg_status: Obj) -> bool:
    latest_ready = cfg_status.get("latestReadyRevisionName")
    if not latest_ready or latest_ready != cfg_status.get("latestCreatedRevisionName"):
        return False
    follows = any(t.get("latestRevision") for t in want_route["spec"]["traffic"])
    routed = [t for t in _status(route).get("traffic") or [] if t.get("latestRevision")]
    return follows and any(t.get("revisionName") != latest_ready for t in routed)


# -- Configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigurationPlan:
    create: Obj | None  # the Revision of the current generation, when it does not exist yet
    status: Obj


def _generation(revision: Mapping[str, Any]) -> int:
    try:
        return int((_meta(revision).get("labels") or {}).get(CONFIGURATION_GENERATION_LABEL, "0"))
    except ValueError:
        return 0


def plan_configuration(
    configuration: Obj, owned: list[Obj], taken: Obj | None
) -> ConfigurationPlan:
    """``owned``: the Revisions it controls; ``taken``: any Revision with the wanted name."""
    meta = configuration["metadata"]
    generation = int(meta.get("generation", 1))
    template_name = (
        ((configuration.get("spec") or {}).get("template") or {}).get("metadata", {}).get("name")
    )
    name = template_name or names.revision_name(meta["name"], generation)
    status: Obj = {"observedGeneration": generation}
    previous = _status(configuration)
    by_name = {_meta(r)["name"]: r for r in owned}
    create = None
    latest = by_name.get(name)
    if latest is None and taken is not None:
        message = f'revisions.serving.knative.dev "{name}" already exists'
        condition = cond(
            "Ready", "False", "RevisionFailed", f"Revision creation failed with message: {message}."
        )
        status.update(_latest_ready(previous, owned), conditions=[condition])
        return ConfigurationPlan(None, status)
    if latest is None:
        create = make_revision(configuration, name)
    status["latestCreatedRevisionName"] = name
    status.update(_latest_ready(previous, owned))
    ready = ready_status(latest) if latest is not None else None
    if ready is not None and ready.get("status") == "True":
        status["latestReadyRevisionName"] = name
        condition = cond("Ready", "True")
    elif ready is not None and ready.get("status") == "False":
        message = f'Revision "{name}" failed with message: {ready.get("message", "")}.'
        condition = cond("Ready", "False", "RevisionFailed", message)
    else:
        condition = cond("Ready", "Unknown")
    status["conditions"] = [condition]
    return ConfigurationPlan(create, status)


def _latest_ready(previous: Obj, owned: list[Obj]) -> Obj:
    """The newest Ready revision not older than the last latestReady: it never moves back."""
    floor = 0
    last = previous.get("latestReadyRevisionName")
    for r in owned:
        if _meta(r)["name"] == last:
            floor = _generation(r)
    ready = [
        r
        for r in owned
        if _generation(r) >= floor and (ready_status(r) or {}).get("status") == "True"
    ]
    if not ready:
        return {"latestReadyRevisionName": last} if last else {}
    return {"latestReadyRevisionName": _meta(max(ready, key=_generation))["name"]}


# -- Revision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionPlan:
    status: Obj
    pod_problem: Condition | None = None


def plan_revision(revision: Obj, deployment: Obj | None, pods: list[Obj]) -> RevisionPlan:
    """The Revision's status from its Deployment and pods (the children are written as built)."""
    meta = revision["metadata"]
    status: Obj = {"observedGeneration": meta.get("generation", 1)}
    previous = {c["type"]: c for c in _status(revision).get("conditions") or [] if "type" in c}
    bounds = autoscaling.scale_bounds(
        {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    )
    if deployment is None:
        resources = cond("ResourcesAvailable", "Unknown", "Deploying")
        health = cond("ContainerHealthy", "Unknown", "Deploying")
        status["conditions"] = living([resources, health])
        return RevisionPlan(status)
    dstatus = _status(deployment)
    ready = int(dstatus.get("readyReplicas") or 0)
    status["actualReplicas"] = ready
    status["desiredReplicas"] = int((deployment.get("spec") or {}).get("replicas") or 0)
    was_ready = previous.get("ResourcesAvailable", {}).get("status") == "True"
    reached = was_ready or ready >= max(1, bounds.initial_scale) or bounds.initial_scale == 0
    resources = (
        cond("ResourcesAvailable", "True")
        if reached
        else cond("ResourcesAvailable", "Unknown", "Deploying")
    )
    health = (
        cond("ContainerHealthy", "True")
        if reached
        else cond("ContainerHealthy", "Unknown", "Deploying")
    )
    progressing = find_condition(dstatus.get("conditions"), "Progressing")
    if not reached and progressing is not None and progressing.get("status") == "False":
        resources = cond(
            "ResourcesAvailable",
            "False",
            "ProgressDeadlineExceeded",
            "Initial scale was never achieved",
        )
    problem = None
    if not reached:
        problem = pod_problem(revision, pods)
        if problem is not None:
            if problem["type"] == "ResourcesAvailable":
                resources = problem
            else:
                health = problem
    status["conditions"] = living([resources, health])
    return RevisionPlan(status, problem)


def pod_problem(revision: Obj, pods: list[Obj]) -> Condition | None:
    """Why the revision's pods cannot start, in Knative's words, if they cannot."""
    for pod in pods:
        for cs in _status(pod).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in IMAGE_PULL_REASONS:
                message = (
                    f'Unable to fetch image "{cs.get("image", "")}": {waiting.get("message", "")}'
                )
                return cond("ResourcesAvailable", "False", "ContainerMissing", message)
            terminated = (cs.get("lastState") or {}).get("terminated") or (
                cs.get("state") or {}
            ).get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0:
                return cond(
                    "ContainerHealthy",
                    "False",
                    f"ExitCode{terminated.get('exitCode')}",
                    f"Container failed with: {terminated.get('message', '')}",
                )
    return None


# -- Route ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutePlan:
    traffic: list[Obj] | None  # resolved status traffic; None while a target cannot be assigned
    assigned: Condition
    httproutes: list[Obj] = field(default_factory=list)


def plan_route(
    route: Obj,
    configurations: Mapping[str, Obj],
    revisions: Mapping[str, Obj],
    settings: ServingSettings,
) -> RoutePlan:
    meta = route["metadata"]
    resolved: list[Obj] = []
    for target in (route.get("spec") or {}).get("traffic") or []:
        entry: Obj = {}
        if target.get("tag"):
            entry["tag"] = target["tag"]
        revision_name = target.get("revisionName")
        if revision_name:
            revision = revisions.get(revision_name)
            if revision is None:
                message = f'Revision "{revision_name}" referenced in traffic not found.'
                return RoutePlan(
                    None, cond("AllTrafficAssigned", "False", "RevisionMissing", message)
                )
            ready = (ready_status(revision) or {}).get("status")
            if ready == "False":
                message = f'Revision "{revision_name}" failed to become ready.'
                return RoutePlan(
                    None, cond("AllTrafficAssigned", "False", "RevisionMissing", message)
                )
            if ready != "True":
                message = f'Revision "{revision_name}" is not yet ready.'
                return RoutePlan(
                    None, cond("AllTrafficAssigned", "Unknown", "RevisionMissing", message)
                )
        else:
            config_name = target.get("configurationName", "")
            configuration = configurations.get(config_name)
            if configuration is None:
                message = f'Configuration "{config_name}" referenced in traffic not found.'
                return RoutePlan(
                    None, cond("AllTrafficAssigned", "False", "ConfigurationMissing", message)
                )
            revision_name = _status(configuration).get("latestReadyRevisionName")
            if not revision_name:
                if (ready_status(configuration) or {}).get("status") == "False":
                    message = f'Configuration "{config_name}" does not have any ready Revision.'
                    condition = cond("AllTrafficAssigned", "False", "RevisionMissing", message)
                else:
                    message = (
                        f'Configuration "{config_name}" is waiting for a Revision to become ready.'
                    )
                    condition = cond("AllTrafficAssigned", "Unknown", "RevisionMissing", message)
                return RoutePlan(None, condition)
        entry["revisionName"] = revision_name
        entry["latestRevision"] = bool(target.get("latestRevision"))
        entry["percent"] = int(target.get("percent") or 0)
        if target.get("tag"):
            hostname = names.host(meta["name"], meta["namespace"], settings.domain, target["tag"])
            entry["url"] = names.url(hostname, settings.http_port)
        resolved.append(entry)
    timeouts = {
        name: int((r.get("spec") or {}).get("timeoutSeconds") or 0) for name, r in revisions.items()
    }
    routes = make_httproutes(route, resolved, settings.domain, timeouts)
    return RoutePlan(resolved, cond("AllTrafficAssigned", "True"), routes)


def route_status(route: Obj, plan: RoutePlan, ingress: Condition, settings: ServingSettings) -> Obj:
    meta = route["metadata"]
    previous = _status(route)
    status: Obj = {
        "observedGeneration": meta.get("generation", 1),
        "url": names.url(
            names.host(meta["name"], meta["namespace"], settings.domain), settings.http_port
        ),
        "address": {"url": f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local"},
    }
    traffic = plan.traffic if plan.traffic is not None else previous.get("traffic")
    if traffic is not None:
        status["traffic"] = traffic
    certificate = cond(
        "CertificateProvisioned", "True", "TLSNotEnabled", "external-domain-tls is not enabled"
    )
    status["conditions"] = living([plan.assigned, ingress, certificate])
    return status
