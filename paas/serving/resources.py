"""The objects the serving kinds become, built as plain dicts from their parents.

Pure builders, one per child, after Knative's ``pkg/reconciler/*/resources``:

- Service -> Configuration and Route of the same name: the Service's labels
  plus ``serving.knative.dev/service`` (and ``/serviceUID`` on the
  Configuration); its annotations without kubectl's last-applied (and the
  rollout duration, on the Configuration); traffic targets without a
  revisionName follow the Service's Configuration.
- Configuration -> Revision: the template's metadata plus the labels
  ``configuration``, ``configurationGeneration``, ``configurationUID``
  (and ``service``, ``serviceUID`` when it has a Service); the creator
  annotation is the Configuration's lastModifier.
- Revision -> Deployment ``<rev>-deployment``: the user's containers (the
  serving one with ``PORT``, ``user-port`` and its readiness probe aimed at
  that port, since no queue-proxy stands in front of it here), ``K_*`` env,
  replicas = the initial scale, selector ``revisionUID``; and a ClusterIP
  Service ``<rev>`` port 80 (``http``) -> the container port, selecting the
  revision's pods. The router reaches revisions through these Services.
- Route -> Gateway API HTTPRoutes (``httproutes``), one per host: ``<route>``
  for ``<route>.<ns>.<domain>`` with a weighted backendRef per revision
  that has traffic, and ``<route>-<tag>`` for each tag's host with its
  revision alone; parentRef Gateway ``paas-system/paas``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from paas.serving import autoscaling, names
from paas.serving.kinds import (
    API_VERSION,
    CONFIGURATION_GENERATION_LABEL,
    CONFIGURATION_LABEL,
    CONFIGURATION_UID_LABEL,
    CREATOR_ANNOTATION,
    DEFAULT_CONTAINER_ANNOTATION,
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    LAST_APPLIED_ANNOTATION,
    PROGRESS_DEADLINE_ANNOTATION,
    REVISION_LABEL,
    REVISION_UID_LABEL,
    ROLLOUT_DURATION_ANNOTATION,
    ROUTE_LABEL,
    ROUTES_ANNOTATION,
    ROUTING_STATE_LABEL,
    SERVICE_LABEL,
    SERVICE_UID_LABEL,
    UPDATER_ANNOTATION,
)
from paas.serving.podspec import DEFAULT_PORT
from paas.serving.settings import ServingSettings
from router.backends import MAX_REQUESTS_ANNOTATION

Obj = dict[str, Any]
SERVICE_PORT = 80  # what the router dials on a revision's Service
USER_PORT_NAME = "user-port"


def owner(obj: Mapping[str, Any], api_version: str = API_VERSION) -> Obj:
    meta = obj["metadata"]
    return {
        "apiVersion": api_version,
        "kind": obj["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _annotations(obj: Mapping[str, Any], *drop: str) -> dict[str, str]:
    out = dict((obj.get("metadata") or {}).get("annotations") or {})
    for key in (LAST_APPLIED_ANNOTATION, *drop):
        out.pop(key, None)
    return out


def _child_meta(parent: Mapping[str, Any], name: str, labels: Obj, annotations: Obj) -> Obj:
    return {
        "name": name,
        "namespace": parent["metadata"]["namespace"],
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [owner(parent)],
    }


# -- Service -> Configuration, Route ----------------------------------------------------------


def make_configuration(service: Obj) -> Obj:
    meta = service["metadata"]
    labels = {**_labels(service), SERVICE_LABEL: meta["name"], SERVICE_UID_LABEL: meta["uid"]}
    annotations = _annotations(service, ROLLOUT_DURATION_ANNOTATION)
    annotations[ROUTES_ANNOTATION] = meta["name"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Configuration",
        "metadata": _child_meta(service, meta["name"], labels, annotations),
        "spec": {"template": copy.deepcopy((service.get("spec") or {}).get("template") or {})},
    }


def make_route(service: Obj) -> Obj:
    meta = service["metadata"]
    traffic = []
    for target in (service.get("spec") or {}).get("traffic") or []:
        t = copy.deepcopy(target)
        if not t.get("revisionName"):
            t["configurationName"] = meta["name"]
        traffic.append(t)
    return {
        "apiVersion": API_VERSION,
        "kind": "Route",
        "metadata": _child_meta(
            service,
            meta["name"],
            {**_labels(service), SERVICE_LABEL: meta["name"]},
            _annotations(service),
        ),
        "spec": {"traffic": traffic},
    }


# -- Configuration -> Revision ------------------------------------------------------------------


def make_revision(configuration: Obj, name: str) -> Obj:
    meta = configuration["metadata"]
    template = (configuration.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    labels = {
        **dict(tmeta.get("labels") or {}),
        CONFIGURATION_LABEL: meta["name"],
        CONFIGURATION_GENERATION_LABEL: str(meta.get("generation", 1)),
        CONFIGURATION_UID_LABEL: meta["uid"],
        ROUTING_STATE_LABEL: "pending",
    }
    for key in (SERVICE_LABEL, SERVICE_UID_LABEL):
        if key in (meta.get("labels") or {}):
            labels[key] = meta["labels"][key]
    annotations = dict(tmeta.get("annotations") or {})
    updater = (meta.get("annotations") or {}).get(UPDATER_ANNOTATION)
    if updater:
        annotations[CREATOR_ANNOTATION] = updater
    routes = (meta.get("annotations") or {}).get(ROUTES_ANNOTATION)
    if routes:
        annotations[ROUTES_ANNOTATION] = routes
    return {
        "apiVersion": API_VERSION,
        "kind": "Revision",
        "metadata": _child_meta(configuration, name, labels, annotations),
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


# -- Revision -> Deployment, Service ------------------------------------------------------------


def serving_container(spec: Mapping[str, Any]) -> tuple[int, int]:
    """(index of the serving container, its port): the one with a port, or the only one."""
    containers = spec.get("containers") or []
    for i, c in enumerate(containers):
        ports = c.get("ports") or []
        if ports:
            return i, int(ports[0].get("containerPort") or DEFAULT_PORT)
    return 0, DEFAULT_PORT


def _aimed(probe: Any, port: int, period: int) -> Any:
    """A probe of the user's aimed at the serving port (Knative's queue-proxy does this)."""
    if not isinstance(probe, dict):
        return probe
    out = copy.deepcopy(probe)
    for handler in ("tcpSocket", "httpGet"):
        action = out.get(handler)
        if isinstance(action, dict) and action.get("port") in (
            None,
            0,
            "",
            "http",
            "h2c",
            "http1",
            USER_PORT_NAME,
        ):
            action["port"] = port
    grpc = out.get("grpc")
    if isinstance(grpc, dict) and not grpc.get("port"):
        grpc["port"] = port
    if not out.get("periodSeconds"):
        out["periodSeconds"] = period
        out["timeoutSeconds"] = out.get("timeoutSeconds") or 1
        out["failureThreshold"] = out.get("failureThreshold") or 3
    return out


def revision_labels(revision: Obj) -> dict[str, str]:
    """The labels of a revision's Deployment, pods and Service."""
    meta = revision["metadata"]
    labels = {
        k: v for k, v in _labels(revision).items() if k not in (ROUTE_LABEL, ROUTING_STATE_LABEL)
    }
    labels[REVISION_LABEL] = meta["name"]
    labels[REVISION_UID_LABEL] = meta["uid"]
    labels.setdefault("app", meta["name"])
    return labels


def make_deployment(revision: Obj, settings: ServingSettings) -> Obj:
    meta, spec = revision["metadata"], revision.get("spec") or {}
    annotations = {
        k: v
        for k, v in _annotations(revision, ROUTES_ANNOTATION).items()
        if not k.startswith(autoscaling.PREFIX)
    }
    labels = revision_labels(revision)
    index, port = serving_container(spec)
    containers = []
    for i, c in enumerate(spec.get("containers") or []):
        container = copy.deepcopy(c)
        env = [
            e
            for e in container.get("env") or []
            if e.get("name") not in ("K_REVISION", "K_CONFIGURATION", "K_SERVICE")
        ]
        env += [
            {"name": "K_REVISION", "value": meta["name"]},
            {"name": "K_CONFIGURATION", "value": meta["labels"].get(CONFIGURATION_LABEL, "")},
            {"name": "K_SERVICE", "value": meta["labels"].get(SERVICE_LABEL, "")},
        ]
        if i == index:
            env = [e for e in env if e.get("name") != "PORT"] + [
                {"name": "PORT", "value": str(port)}
            ]
            container["ports"] = [
                {"name": USER_PORT_NAME, "containerPort": port, "protocol": "TCP"}
            ]
            for field in ("readinessProbe", "livenessProbe", "startupProbe"):
                if field in container:
                    container[field] = _aimed(container[field], port, settings.readiness_period)
            lifecycle = container.setdefault("lifecycle", {})
            if "preStop" not in lifecycle:  # drain, as the queue-proxy does: no binary needed
                lifecycle["preStop"] = {"sleep": {"seconds": settings.drain_seconds}}
        container["env"] = env
        container.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
        containers.append(container)
    annotations_in = meta.get("annotations") or {}
    bounds = autoscaling.scale_bounds({str(k): str(v) for k, v in annotations_in.items()})
    deadline = settings.progress_deadline
    if PROGRESS_DEADLINE_ANNOTATION in annotations_in:
        try:
            deadline = int(
                autoscaling.parse_duration(str(annotations_in[PROGRESS_DEADLINE_ANNOTATION]))
            )
        except ValueError:
            pass
    pod_spec: Obj = {
        "containers": containers,
        "terminationGracePeriodSeconds": int(spec.get("timeoutSeconds") or 300),
    }
    for key in (
        "serviceAccountName",
        "volumes",
        "imagePullSecrets",
        "enableServiceLinks",
        "automountServiceAccountToken",
    ):
        if key in spec:
            pod_spec[key] = copy.deepcopy(spec[key])
    name = containers[index]["name"] if containers else ""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _child_meta(revision, names.deployment_name(meta["name"]), labels, annotations),
        "spec": {
            "replicas": bounds.initial_scale,
            "selector": {"matchLabels": {REVISION_UID_LABEL: meta["uid"]}},
            "progressDeadlineSeconds": deadline,
            "revisionHistoryLimit": 0,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {**annotations, DEFAULT_CONTAINER_ANNOTATION: name},
                },
                "spec": pod_spec,
            },
        },
    }


def make_revision_service(revision: Obj) -> Obj:
    meta = revision["metadata"]
    spec = revision.get("spec") or {}
    _, port = serving_container(spec)
    annotations: Obj = {}
    concurrency = spec.get("containerConcurrency")
    if isinstance(concurrency, int) and concurrency > 0:
        # The router enforces it per pod: it knows Services, not Revisions.
        annotations[MAX_REQUESTS_ANNOTATION] = str(concurrency)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _child_meta(revision, meta["name"], revision_labels(revision), annotations),
        "spec": {
            "type": "ClusterIP",
            "selector": {REVISION_UID_LABEL: meta["uid"]},
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": port, "protocol": "TCP"}
            ],
        },
    }


# -- Route -> HTTPRoutes ----------------------------------------------------------------------


def _backend(revision: str, weight: int) -> Obj:
    return {
        "group": "",
        "kind": "Service",
        "name": revision,
        "port": SERVICE_PORT,
        "weight": weight,
    }


def _httproute(route: Obj, name: str, hostname: str, backends: list[Obj], timeout: int) -> Obj:
    labels = {ROUTE_LABEL: route["metadata"]["name"]}
    service = _labels(route).get(SERVICE_LABEL)
    if service:
        labels[SERVICE_LABEL] = service
    rule: Obj = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": backends,
    }
    if timeout:
        rule["timeouts"] = {"request": f"{timeout}s"}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _child_meta(route, name, labels, {}),
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "namespace": GATEWAY_NAMESPACE,
                    "name": GATEWAY_NAME,
                }
            ],
            "hostnames": [hostname],
            "rules": [rule],
        },
    }


def make_httproutes(
    route: Obj, traffic: list[Obj], domain: str, timeouts: Mapping[str, int] | None = None
) -> list[Obj]:
    """One HTTPRoute per host; ``traffic`` is the route's resolved status traffic."""
    meta = route["metadata"]
    timeouts = timeouts or {}
    weights: dict[str, int] = {}
    for t in traffic:
        if t.get("percent"):
            weights[t["revisionName"]] = weights.get(t["revisionName"], 0) + int(t["percent"])
    out = []
    if weights:
        main = names.host(meta["name"], meta["namespace"], domain)
        timeout = max(timeouts.get(r, 0) for r in weights)
        backends = [_backend(r, w) for r, w in weights.items()]
        out.append(_httproute(route, meta["name"], main, backends, timeout))
    for t in traffic:
        tag = t.get("tag")
        if tag:
            hostname = names.host(meta["name"], meta["namespace"], domain, tag)
            name = names.tag_route_name(meta["name"], tag)
            revision = t["revisionName"]
            out.append(
                _httproute(
                    route, name, hostname, [_backend(revision, 100)], timeouts.get(revision, 0)
                )
            )
    return out
