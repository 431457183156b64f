"""Defaulting: the fields Kubernetes fills in that kubectl users expect to see.

``apply_defaults(kind, obj)`` deep-copies ``obj`` and fills unset fields
(absent or JSON ``null``) on the copy; a value the client gave is never
replaced, and unknown fields pass through untouched. It runs before
validation, so what it fills is validated like what the client sent.

The values are Kubernetes 1.31's ``SetDefaults_*`` (pod specs wherever they
appear, deployments, jobs, services...), plus three things its registry does
on create: a Pod or claim starts ``Pending``, a Namespace ``Active`` with its
``kubernetes.io/metadata.name`` label, and a Job whose ``metadata.uid`` is
known gets the generated ``controller-uid`` selector and template labels.
Cluster IPs, names from ``generateName`` and uids are the API server's work.

Deliberate difference: a Job's pod template keeps an unset ``restartPolicy``
unset (Kubernetes would default it to ``Always`` and then refuse the Job);
validation names the field instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.schema import lookup_schema
from orchestrator.api.schema_kinds import GENERIC, VOLUME_SOURCES

DEFAULT_GRACE_SECONDS = 30
FILE_MODE_0644 = 420
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def apply_defaults(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted deep copy of ``obj`` (``kind``: ``Pod`` or ``Deployment.apps``)."""
    result = copy_json(obj)
    fill = FILLERS.get(kind.partition(".")[0])
    if fill is not None and _group_matches(kind, result):
        fill(result)
    return result


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, else ``IfNotPresent``."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _group_matches(kind: str, obj: dict[str, Any]) -> bool:
    """A Knative ``Service`` is not a core one: skip kinds of another group."""
    return lookup_schema(kind, obj.get("apiVersion")) is not GENERIC


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if target.get(key) is None:
        target[key] = value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _child(target: dict[str, Any], key: str) -> dict[str, Any]:
    """``target[key]``, created empty when unset; a non-object is left for validation."""
    _set(target, key, {})
    value = target[key]
    return value if isinstance(value, dict) else {}


def _items(target: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = target.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _fill_pod_spec(spec: dict[str, Any], *, restart_policy: bool = True) -> None:
    if restart_policy:
        _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    _set(spec, "securityContext", {})
    _set(spec, "enableServiceLinks", True)
    for container in _items(spec, "initContainers") + _items(spec, "containers"):
        _fill_container(container)
    for volume in _items(spec, "volumes"):
        _fill_volume(volume)


def _fill_container(container: dict[str, Any]) -> None:
    image = container.get("image")
    if isinstance(image, str) and image:
        _set(container, "imagePullPolicy", image_pull_policy(image))
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    _set(container, "resources", {})
    for port in _items(container, "ports"):
        _set(port, "protocol", "TCP")
    for env in _items(container, "env"):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            _set(value_from["fieldRef"], "apiVersion", "v1")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(key), dict):
            _fill_probe(container[key])


def _fill_probe(probe: dict[str, Any]) -> None:
    _set(probe, "timeoutSeconds", 1)
    _set(probe, "periodSeconds", 10)
    _set(probe, "successThreshold", 1)
    _set(probe, "failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        _set(probe["httpGet"], "path", "/")
        _set(probe["httpGet"], "scheme", "HTTP")


def _fill_volume(volume: dict[str, Any]) -> None:
    if not any(volume.get(source) is not None for source in VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for source in ("configMap", "secret"):
        if isinstance(volume.get(source), dict):
            _set(volume[source], "defaultMode", FILE_MODE_0644)


def _fill_template(spec: dict[str, Any], *, restart_policy: bool = True) -> None:
    """The pod template at ``spec.template``, when there is one."""
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _fill_pod_spec(template["spec"], restart_policy=restart_policy)


def _fill_pod(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _fill_pod_spec(spec)
    status = _child(obj, "status")
    _set(status, "phase", "Pending")
    _set(status, "qosClass", qos_class(spec))


def qos_class(spec: dict[str, Any]) -> str:
    """``Guaranteed``, ``Burstable`` or ``BestEffort`` from the containers' resources."""
    containers = _items(spec, "initContainers") + _items(spec, "containers")
    resources = [_object(c.get("resources")) for c in containers]
    limits = [_object(r.get("limits")) for r in resources]
    requests = [_object(r.get("requests")) for r in resources]
    if not any(limits) and not any(requests):
        return "BestEffort"
    guaranteed = all(
        all(lim.get(name) is not None for name in ("cpu", "memory"))
        and all(lim.get(name) == value for name, value in req.items() if name in ("cpu", "memory"))
        for lim, req in zip(limits, requests, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _fill_deployment(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    _set(spec, "replicas", 1)
    strategy = _child(spec, "strategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        _set(rolling, "maxSurge", "25%")
        _set(rolling, "maxUnavailable", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _fill_template(spec)


def _fill_replicaset(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    _set(spec, "replicas", 1)
    _fill_template(spec)


def _fill_job(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    if spec.get("podFailurePolicy") is None:
        _set(spec, "podReplacementPolicy", "TerminatingOrFailed")
    _fill_template(spec, restart_policy=False)
    _generate_job_selector(obj, spec)


def _generate_job_selector(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """Kubernetes' generated selector, once the Job has a uid (not with manualSelector)."""
    metadata = _object(obj.get("metadata"))
    uid, name = metadata.get("uid"), metadata.get("name")
    template = spec.get("template")
    if spec.get("manualSelector") is True or not uid or not isinstance(template, dict):
        return
    labels = _child(_child(template, "metadata"), "labels")
    for key in JOB_UID_LABELS:
        _set(labels, key, uid)
    for key in JOB_NAME_LABELS:
        if name:
            _set(labels, key, name)
    _set(spec, "selector", {"matchLabels": {JOB_UID_LABELS[0]: uid}})


def _fill_cronjob(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _fill_template(job_template["spec"], restart_policy=False)


def _fill_service(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    service_type = spec.get("type")
    if service_type != "ExternalName":
        _set(spec, "internalTrafficPolicy", "Cluster")
        _set(spec, "ipFamilyPolicy", "SingleStack")  # the cluster ranges are IPv4 only
        _set(spec, "ipFamilies", ["IPv4"])
    if service_type in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    for port in _items(spec, "ports"):
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]


def _fill_endpoints(obj: dict[str, Any]) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _set(port, "protocol", "TCP")


def _fill_secret(obj: dict[str, Any]) -> None:
    _set(obj, "type", "Opaque")
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):  # anything else is left for validation to name
        del obj["stringData"]
        data = _child(obj, "data") if string_data else {}
        for key, value in string_data.items():
            if isinstance(value, str):
                data[key] = base64.b64encode(value.encode()).decode("ascii")


def _fill_namespace(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    _set(spec, "finalizers", ["kubernetes"])
    _set(_child(obj, "status"), "phase", "Active")
    metadata = _child(obj, "metadata")
    name = metadata.get("name")
    if isinstance(name, str) and name:
        _child(metadata, "labels")["kubernetes.io/metadata.name"] = name


def _fill_pvc(obj: dict[str, Any]) -> None:
    _set(_child(obj, "spec"), "volumeMode", "Filesystem")
    _set(_child(obj, "status"), "phase", "Pending")


def _fill_ingress_class(obj: dict[str, Any]) -> None:
    parameters = _object(_object(obj.get("spec")).get("parameters"))
    if parameters:
        _set(parameters, "scope", "Cluster")


FILLERS: Mapping[str, Callable[[dict[str, Any]], None]] = MappingProxyType(
    {
        "Pod": _fill_pod,
        "Deployment": _fill_deployment,
        "ReplicaSet": _fill_replicaset,
        "Job": _fill_job,
        "CronJob": _fill_cronjob,
        "Service": _fill_service,
        "Endpoints": _fill_endpoints,
        "Secret": _fill_secret,
        "Namespace": _fill_namespace,
        "PersistentVolumeClaim": _fill_pvc,
        "IngressClass": _fill_ingress_class,
    }
)
