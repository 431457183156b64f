"""The objects a branch's build should have: pure functions of App, Build and settings.

For a branch B of app A, with the build that should serve it:

- a Knative Service (``serving.knative.dev/v1``) ``<app>-<branch-slug>``
  (builder/names.py) whose template runs the build's image (a
  Dockerfile's with pull policy IfNotPresent: the node's engine or the
  registry has it), the ``PAAS_*`` variables and the App's ``spec.env``,
  then the config Secrets through ``envFrom`` (``<app>-config`` then
  ``<app>-<slug>-config``: later ones win, so a branch's value beats the
  app's), the container port (Knative sets ``PORT`` from it) and a TCP
  readiness probe on it. The template's annotations name the build, its
  commit and the config hash (each change is a new Revision), the
  ``min-scale`` the App asks for the branch (main 1, previews 0 unless
  ``spec.main.minScale`` / ``spec.previews.minScale`` say otherwise) and
  the progress deadline after which a revision that never got ready fails.
  All traffic follows the latest ready revision (Knative's default, written
  out so that it holds even if the serving webhook was not up to default it).
  The serving controller turns it into Revisions (a Deployment and a
  ClusterIP Service each), a Route and the HTTPRoute of Knative's own host
  ``<app>-<slug>.<ns>.<domain>``;
- an HTTPRoute ``<app>-<slug>-app`` for the branch's own host
  (``<app>.<domain>``, ``<slug>--<app>.<domain>``) on the router's Gateway,
  its backends copied from the Knative Service's ``status.traffic`` (each
  revision's Service, port 80, weighted by its percent);
- a release Job (``<app>-<slug>-release-<hash of build and config>``) when
  the slug has a ``release:`` command: the build's image, the command as
  ``args`` (the slug's launcher runs args through ``sh -c``), the same
  environment as the app (``PORT`` included), no retries, a deadline. A
  config change makes a new one, as Heroku runs its release phase again
  when config vars change.

Every object is labelled ``paas.dev/app`` and ``paas.dev/branch`` and
owned by the App (controller: true), so deleting the App removes it all;
the template carries the labels too, so Revisions, their Deployments and
pods are found by them. The release Job's pods carry a label of their own
instead of the branch's. Each object carries ``paas.dev/spec-hash``, the
hash of what this module made: the controller rewrites an object only
when the hash differs, which keeps server-side defaults (Knative's
webhook fills many) out of the comparison.
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
from paas.serving import autoscaling
from paas.serving.kinds import API_VERSION as KNATIVE_API_VERSION
from paas.serving.kinds import (
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    HTTPROUTES,
    PROGRESS_DEADLINE_ANNOTATION,
)
from paas.serving.resources import SERVICE_PORT as REVISION_PORT

Obj = dict[str, Any]
GATEWAY_API_VERSION = f"{HTTPROUTES.group}/{HTTPROUTES.version}"
GATEWAY_REF = {  # the Gateway the router implements, as the serving controller attaches to it
    "group": HTTPROUTES.group,
    "kind": "Gateway",
    "namespace": GATEWAY_NAMESPACE,
    "name": GATEWAY_NAME,
}
ROUTE_SUFFIX = "-app"
MIN_SCALE_ANNOTATION = autoscaling.MIN_SCALE[0]
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


RESERVED_ENV = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")  # Knative sets these


def _env(target: Target, settings: AppControllerSettings, *, port: bool = False) -> list[Obj]:
    """``PAAS_*`` then the App's ``spec.env``; ``PORT`` first when ``port`` (a release Job).

    A revision's ``PORT`` is Knative's to set (from the container port; its
    webhook refuses it in a template), so the App's own value for it, or
    for ``K_*``, is left out.
    """
    a = target.app
    env = [{"name": "PORT", "value": str(settings.container_port)}] if port else []
    env += [
        {"name": "PAAS_APP", "value": a.name},
        {"name": "PAAS_BRANCH", "value": target.branch},
        {"name": "PAAS_URL", "value": url(a, target.branch, settings)},
    ]
    ours = {e["name"] for e in env} | set(RESERVED_ENV)
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


def knative_service(target: Target, settings: AppControllerSettings) -> Obj:
    """The branch's ``serving.knative.dev/v1`` Service: the build's image as its template."""
    b = target.build
    container = {
        "name": CONTAINER,
        "image": b.result,
        **pull_policy(b.result),
        "env": _env(target, settings),
        "envFrom": _env_from(target),
        "ports": [{"containerPort": settings.container_port}],
        "readinessProbe": {
            "tcpSocket": {"port": settings.container_port},
            "periodSeconds": settings.readiness_period,
        },
    }
    annotations = {
        BUILD_ANNOTATION: b.name,
        COMMIT_ANNOTATION: b.commit,
        MIN_SCALE_ANNOTATION: str(target.app.min_scale(target.branch)),
        PROGRESS_DEADLINE_ANNOTATION: f"{settings.progress_deadline}s",
    }
    if target.config_hash:
        annotations[CONFIG_ANNOTATION] = target.config_hash
    obj = {
        "apiVersion": KNATIVE_API_VERSION,
        "kind": "Service",
        "metadata": _meta(target, target.name),
        "spec": {
            "template": {
                "metadata": {"labels": target.labels, "annotations": annotations},
                "spec": {"containers": [container]},
            },
            # Knative's default, written out: the serving webhook may not be up yet when the
            # Service is created, and without traffic the branch would never be routed
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }
    return with_hash(obj)


def route_name(app: str, branch: str) -> str:
    """``<app>-<slug>-app``: Knative's Route of the Service already names its HTTPRoute
    ``<app>-<slug>`` (for ``<app>-<slug>.<ns>.<domain>``), and tag routes ``<app>-<slug>-<tag>``
    (the App writes no tags)."""
    return f"{names.object_name(app, branch)}{ROUTE_SUFFIX}"


def backends(traffic: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """``backendRefs`` for a Knative Service's ``status.traffic``: a revision's Service, port 80,
    weighted by its percent (targets with no percent, a tag's, carry nothing here)."""
    weights: dict[str, int] = {}
    for t in traffic:
        percent, revision = int(t.get("percent") or 0), str(t.get("revisionName") or "")
        if percent > 0 and revision:
            weights[revision] = weights.get(revision, 0) + percent
    return [
        {"group": "", "kind": "Service", "name": r, "port": REVISION_PORT, "weight": w}
        for r, w in weights.items()
    ]


def app_route(
    target: Target,
    settings: AppControllerSettings,
    refs: Sequence[Obj],
    timeout: int = 0,
) -> Obj:
    """The HTTPRoute of the branch's host (``<app>.<domain>``, ``<slug>--<app>.<domain>``),
    to the revisions ``refs`` with their weights, attached to the router's Gateway."""
    rule: Obj = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [dict(r) for r in refs],
    }
    if timeout:
        rule["timeouts"] = {"request": f"{timeout}s"}
    obj = {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": _meta(target, route_name(target.app.name, target.branch)),
        "spec": {
            "parentRefs": [dict(GATEWAY_REF)],
            "hostnames": [host(target, settings)],
            "rules": [rule],
        },
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
        "env": _env(target, settings, port=True),
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
