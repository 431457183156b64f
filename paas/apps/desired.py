"""The objects a branch's build should have: pure functions of App, Build and settings.

For a branch B of app A, with the build that should serve it:

- a Deployment ``<app>-<branch-slug>`` (builder/names.py) running the
  build's image (a Dockerfile's with pull policy IfNotPresent: no registry
  yet, the node's engine built it) with one replica, ``PORT`` and the ``PAAS_*`` variables,
  the App's ``spec.env``, then the config Secrets through ``envFrom``
  (``<app>-config`` then ``<app>-<slug>-config``: later ones win, so a
  branch's value beats the app's), a TCP readiness probe on the port, and
  a rolling update that never takes the serving pod away before the new
  one is ready (maxUnavailable 0, maxSurge 1) plus a short preStop sleep
  so that the old pod still answers while its endpoint leaves the router;
- a ClusterIP Service of the same name, port 80 to the container's port;
- an Ingress of the same name for the branch's host, class ``paas``;
- a release Job (``<app>-<slug>-release-<hash of build and config>``) when
  the slug has a ``release:`` command: the build's image, the command as
  ``args`` (the slug's launcher runs args through ``sh -c``), the same
  environment as the app, no retries, a deadline. A config change makes a
  new one, as Heroku runs its release phase again when config vars change.

Every object is labelled ``paas.dev/app`` and ``paas.dev/branch`` and
owned by the App (controller: true), so deleting the App removes it all;
the release Job's pods carry a label of their own instead of the branch's,
so the Service never selects a release. Each object carries
``paas.dev/spec-hash``, the hash of what this module made: the controller
rewrites an object only when the hash differs, which keeps server-side
defaults out of the comparison.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from builder import names
from builder.kinds import (
    APP_LABEL,
    BRANCH_ANNOTATION,
    BRANCH_LABEL,
    BUILD_ANNOTATION,
    RELEASE_LABEL,
    owner_reference,
)
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView

Obj = dict[str, Any]
HASH_ANNOTATION = "paas.dev/spec-hash"
COMMIT_ANNOTATION = "paas.dev/commit"
CONFIG_ANNOTATION = "paas.dev/config-hash"  # changes when a config Secret does: pods roll
CONTAINER = "web"


@dataclass(frozen=True)
class Target:
    """A branch and the build that should serve it."""

    app: AppView
    branch: str
    build: BuildView
    config_hash: str = ""  # of the config Secrets' data ("" when there are none)

    @property
    def slug(self) -> str:
        return names.branch_slug(self.app.name, self.branch)

    @property
    def name(self) -> str:
        return names.object_name(self.app.name, self.branch)

    @property
    def labels(self) -> dict[str, str]:
        return {APP_LABEL: self.app.name, BRANCH_LABEL: self.slug}


def config_secret_names(app: str, branch: str) -> tuple[str, str]:
    """The app's config Secret, then the branch's (``paas config set``)."""
    return f"{app}-config", f"{names.object_name(app, branch)}-config"


def config_hash(secrets: Sequence[Mapping[str, Any] | None]) -> str:
    """A short hash of the Secrets' data, in order ("" when none exists)."""
    data = [dict(s.get("data") or {}) for s in secrets if s is not None]
    if not data:
        return ""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def host(target: Target, settings: AppControllerSettings) -> str:
    a = target.app
    return names.host(
        a.name,
        target.branch,
        main_branch=a.main_branch,
        namespace=a.namespace,
        domain=settings.domain,
    )


def url(app: AppView, branch: str, settings: AppControllerSettings) -> str:
    return names.url(
        app.name,
        branch,
        main_branch=app.main_branch,
        namespace=app.namespace,
        domain=settings.domain,
        http_port=settings.http_port,
    )


def with_hash(obj: Obj) -> Obj:
    """``obj`` with ``paas.dev/spec-hash`` over everything but the hash itself."""
    body = copy.deepcopy(obj)
    body["metadata"].setdefault("annotations", {}).pop(HASH_ANNOTATION, None)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["metadata"]["annotations"][HASH_ANNOTATION] = digest
    return body


def spec_hash(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION, ""))


def _meta(target: Target, name: str, labels: Mapping[str, str] | None = None) -> Obj:
    return {
        "name": name,
        "namespace": target.app.namespace,
        "labels": dict(labels if labels is not None else target.labels),
        "annotations": {BRANCH_ANNOTATION: target.branch},
        "ownerReferences": [owner_reference(dict(target.app.obj))],
    }


def _env(target: Target, settings: AppControllerSettings) -> list[Obj]:
    a = target.app
    env = [
        {"name": "PORT", "value": str(settings.container_port)},
        {"name": "PAAS_APP", "value": a.name},
        {"name": "PAAS_BRANCH", "value": target.branch},
        {"name": "PAAS_URL", "value": url(a, target.branch, settings)},
    ]
    ours = {e["name"] for e in env}
    env += [{"name": k, "value": v} for k, v in a.env if k not in ours]
    return env


def _env_from(target: Target) -> list[Obj]:
    return [
        {"secretRef": {"name": name, "optional": True}}
        for name in config_secret_names(target.app.name, target.branch)
    ]


def pull_policy(image: str) -> dict[str, str]:
    """``imagePullPolicy`` for a build's result: IfNotPresent for a Dockerfile's image.

    On Docker the builder pushes it to the platform's registry and the
    result is pinned by digest (``<registry>/<ns>/<app>@sha256:...``): a
    node pulls it when absent, and one that has it runs it unasked, as the
    digest cannot name anything else. Without a registry the image exists
    only on the engine that built it, and IfNotPresent runs it from there
    (a tag the defaults would call ``Always``, like ``latest``, included).
    A slug keeps the defaults: the node fetches it from the builder when
    absent.
    """
    return {} if image.startswith("slug:") else {"imagePullPolicy": "IfNotPresent"}


def deployment(target: Target, settings: AppControllerSettings) -> Obj:
    b = target.build
    container = {
        "name": CONTAINER,
        "image": b.result,
        **pull_policy(b.result),
        "env": _env(target, settings),
        "envFrom": _env_from(target),
        "ports": [{"name": "http", "containerPort": settings.container_port}],
        "readinessProbe": {
            "tcpSocket": {"port": settings.container_port},
            "periodSeconds": settings.readiness_period,
        },
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(settings.prestop_seconds)]}}},
    }
    annotations = {BUILD_ANNOTATION: b.name, COMMIT_ANNOTATION: b.commit}
    if target.config_hash:
        annotations[CONFIG_ANNOTATION] = target.config_hash
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(target, target.name),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": target.labels},
            "progressDeadlineSeconds": settings.progress_deadline,
            "revisionHistoryLimit": 3,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": target.labels, "annotations": annotations},
                "spec": {
                    "terminationGracePeriodSeconds": settings.termination_grace,
                    "containers": [container],
                },
            },
        },
    }
    return with_hash(obj)


def service(target: Target, settings: AppControllerSettings) -> Obj:
    port = {
        "name": "http",
        "port": settings.service_port,
        "targetPort": settings.container_port,
        "protocol": "TCP",
    }
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(target, target.name),
        "spec": {"type": "ClusterIP", "selector": target.labels, "ports": [port]},
    }
    return with_hash(obj)


def ingress(target: Target, settings: AppControllerSettings) -> Obj:
    backend = {"service": {"name": target.name, "port": {"number": settings.service_port}}}
    rule = {
        "host": host(target, settings),
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
    }
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(target, target.name),
        "spec": {"ingressClassName": settings.ingress_class, "rules": [rule]},
    }
    return with_hash(obj)


def release_job_name(target: Target) -> str:
    """``<app>-<slug>-release-<8 hex>``: one per build and config (a config change re-releases)."""
    token = hashlib.sha256(f"{target.build.uid}/{target.config_hash}".encode()).hexdigest()[:8]
    return f"{target.name}-release-{token}"


def release_job(target: Target, settings: AppControllerSettings) -> Obj:
    b = target.build
    pod_labels = {APP_LABEL: target.app.name, RELEASE_LABEL: target.slug}
    container = {
        "name": "release",
        "image": b.result,
        **pull_policy(b.result),
        "args": [b.release],
        "env": _env(target, settings),
        "envFrom": _env_from(target),
    }
    meta = _meta(target, release_job_name(target))
    meta["annotations"][BUILD_ANNOTATION] = b.name
    if target.config_hash:
        meta["annotations"][CONFIG_ANNOTATION] = target.config_hash
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": settings.release_timeout,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": {BUILD_ANNOTATION: b.name}},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }
    return with_hash(obj)
