"""Knative's defaults for the serving kinds, applied by the mutating webhook.

From ``pkg/apis/serving/v1/*_defaults.go`` with the stock ``config-defaults``:

- RevisionSpec: ``timeoutSeconds`` 300 (also when 0), ``containerConcurrency``
  0, container names (``user-container``; ``user-container-<i>`` when there
  are several), ``resources: {}``, a TCP readiness probe on the serving
  port (``tcpSocket.port: 0``) for the serving container when it has no
  handler, ``successThreshold`` 1, and with ``periodSeconds`` set
  ``failureThreshold`` 3 and ``timeoutSeconds`` 1; ``enableServiceLinks:
  false`` on create; volume mounts of volumes other than emptyDir/PVC/ephemeral
  become read-only.
- traffic: a Service without one gets ``[{latestRevision: true, percent:
  100}]``; each target gets ``latestRevision`` (= no revisionName) and
  ``percent`` 0 when absent.
- ``serving.knative.dev/creator`` and ``lastModifier``: the requesting user on
  create; on update only lastModifier, and only when the spec changed. A
  Route or Configuration with owners (made by a Service) gets neither.
- A template whose name is set and unchanged is left as it is; a Revision is
  never defaulted on update.

Every function takes the object as a plain dict and returns a defaulted
deep copy; the webhook turns the difference into a JSON patch.
"""

from __future__ import annotations

import copy
from typing import Any

from paas.serving.kinds import CREATOR_ANNOTATION, UPDATER_ANNOTATION

Obj = dict[str, Any]
REVISION_TIMEOUT_SECONDS = 300  # config-defaults revision-timeout-seconds
CONTAINER_CONCURRENCY = 0  # config-defaults container-concurrency: unlimited
USER_CONTAINER = "user-container"  # config-defaults container-name-template
WRITABLE_VOLUMES = ("emptyDir", "persistentVolumeClaim", "ephemeral")


def default_revision_spec(spec: Obj, *, creating: bool) -> None:
    """Knative's RevisionSpec.SetDefaults, in place."""
    if not spec.get("timeoutSeconds"):
        spec["timeoutSeconds"] = REVISION_TIMEOUT_SECONDS
    if spec.get("containerConcurrency") is None:
        spec["containerConcurrency"] = CONTAINER_CONCURRENCY
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    _name_containers(containers, spec)
    writable = {
        v.get("name")
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and any(k in v for k in WRITABLE_VOLUMES)
    }
    for c in containers:
        c.setdefault("resources", {})
        if len(containers) == 1 or c.get("ports"):
            probe = c.setdefault("readinessProbe", {})
            if isinstance(probe, dict) and not any(
                probe.get(h) is not None for h in ("tcpSocket", "httpGet", "exec", "grpc")
            ):
                probe["tcpSocket"] = {"port": 0}
        probe = c.get("readinessProbe")
        if isinstance(probe, dict):
            if not probe.get("successThreshold"):
                probe["successThreshold"] = 1
            if probe.get("periodSeconds"):
                probe["failureThreshold"] = probe.get("failureThreshold") or 3
                probe["timeoutSeconds"] = probe.get("timeoutSeconds") or 1
        for field in ("readinessProbe", "livenessProbe", "startupProbe"):
            grpc = (c.get(field) or {}).get("grpc") if isinstance(c.get(field), dict) else None
            if isinstance(grpc, dict):
                grpc.setdefault("service", "")
        for mount in c.get("volumeMounts") or []:
            if isinstance(mount, dict) and mount.get("name") not in writable:
                mount["readOnly"] = True
    if creating and spec.get("enableServiceLinks") is None and containers:
        spec["enableServiceLinks"] = False


def _name_containers(containers: list[Obj], spec: Obj) -> None:
    if len(containers) == 1 and not containers[0].get("name"):
        containers[0]["name"] = USER_CONTAINER
        return
    taken = {c.get("name", "") for c in containers}
    taken |= {c.get("name", "") for c in spec.get("initContainers") or [] if isinstance(c, dict)}
    for c in containers:
        if not c.get("name"):
            i = 0
            while f"{USER_CONTAINER}-{i}" in taken:
                i += 1
            c["name"] = f"{USER_CONTAINER}-{i}"
            taken.add(c["name"])


def _default_template(spec: Obj, old_spec: Obj | None, *, creating: bool) -> None:
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return
    if old_spec is not None:
        name = (template.get("metadata") or {}).get("name")
        old_name = ((old_spec.get("template") or {}).get("metadata") or {}).get("name")
        if name and name == old_name:
            return
    revision_spec = template.setdefault("spec", {})
    if isinstance(revision_spec, dict):
        default_revision_spec(revision_spec, creating=creating)


def default_traffic(spec: Obj, *, in_service: bool) -> None:
    traffic = spec.get("traffic")
    if not traffic and in_service:
        spec["traffic"] = [{"latestRevision": True, "percent": 100}]
        return
    for target in traffic or []:
        if isinstance(target, dict):
            if target.get("latestRevision") is None:
                target["latestRevision"] = not target.get("revisionName")
            if target.get("percent") is None:
                target["percent"] = 0


def _set_user_info(obj: Obj, old: Obj | None, user: str) -> None:
    if not user:
        return
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    if old is None:
        annotations[CREATOR_ANNOTATION] = user
        annotations[UPDATER_ANNOTATION] = user
    elif old.get("spec") != obj.get("spec"):
        annotations[UPDATER_ANNOTATION] = user


def default_service(obj: Obj, old: Obj | None, user: str) -> Obj:
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    _default_template(spec, (old or {}).get("spec"), creating=old is None)
    default_traffic(spec, in_service=True)
    _set_user_info(out, old, user)
    return out


def default_configuration(obj: Obj, old: Obj | None, user: str) -> Obj:
    out = copy.deepcopy(obj)
    _default_template(out.setdefault("spec", {}), (old or {}).get("spec"), creating=old is None)
    if not (out.get("metadata") or {}).get("ownerReferences"):
        _set_user_info(out, old, user)
    return out


def default_route(obj: Obj, old: Obj | None, user: str) -> Obj:
    out = copy.deepcopy(obj)
    default_traffic(out.setdefault("spec", {}), in_service=False)
    if not (out.get("metadata") or {}).get("ownerReferences"):
        _set_user_info(out, old, user)
    return out


def default_revision(obj: Obj, old: Obj | None, user: str) -> Obj:
    out = copy.deepcopy(obj)
    if old is None:
        default_revision_spec(out.setdefault("spec", {}), creating=True)
    return out


DEFAULTERS = {
    "Service": default_service,
    "Configuration": default_configuration,
    "Route": default_route,
    "Revision": default_revision,
}
