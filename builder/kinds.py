"""The API kinds the builder reads and writes, and typed views of the fields it reads.

App and Build are the platform's CRDs (``builder/crds/``); their
``ResourceType`` here only routes requests, the API server holds the
schema. The branch objects a deleted branch loses are found by the labels
``paas.dev/app`` and ``paas.dev/branch`` (the branch slug).
"""

from __future__ import annotations

from typing import Any, TypedDict

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType

GROUP = "paas.dev"
API_VERSION = "paas.dev/v1"
APPS = ResourceType(GROUP, "v1", "App", "apps", namespaced=True, subresources=("status",))
BUILDS = ResourceType(GROUP, "v1", "Build", "builds", namespaced=True, subresources=("status",))
INGRESSES = BUILTIN_TYPES.require("networking.k8s.io", "Ingress")
NAMESPACES = BUILTIN_TYPES.require("", "Namespace")

APP_LABEL = "paas.dev/app"
BRANCH_LABEL = "paas.dev/branch"
BRANCH_ANNOTATION = "paas.dev/branch-name"  # the full branch name the slug came from
RELEASE_ANNOTATION = "paas.dev/release"  # a Build's slug's release command ("" or absent: none)
# On a release Job's pods, instead of the branch label (so the branch's Service never selects
# them); its value is the branch slug.
RELEASE_LABEL = "paas.dev/release"
BUILD_ANNOTATION = "paas.dev/build"  # the Build a pod template (or release Job) runs
# The App controller's condition on a Build: Unknown while it deploys, True once the build
# serves, False when its deploy failed (or a newer build took its place) and it never will.
DEPLOYED = "Deployed"

# The App controller's kinds for a branch (paas/serving and the router define them; a kind
# not served yet is skipped when a branch goes).
KNATIVE_SERVICES = ResourceType(
    "serving.knative.dev", "v1", "Service", "services", namespaced=True, subresources=("status",)
)
HTTPROUTES = ResourceType(
    "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", namespaced=True
)

# What `git push paas :branch` removes: the branch's objects, by label (the builder's Builds,
# and the App controller's Knative Service, HTTPRoute and release Jobs; the Deployment,
# Service and Ingress of a branch deployed before Knative Services, and a revision's
# Deployment and Service, which carry the branch's labels too). Builds go first: the App
# controller deploys a branch that still has a successful Build; then the Knative Service,
# whose revisions go with it.
BRANCH_KINDS = (
    BUILDS,
    KNATIVE_SERVICES,
    HTTPROUTES,
    BUILTIN_TYPES.require("apps", "Deployment"),
    BUILTIN_TYPES.require("", "Service"),
    INGRESSES,
    BUILTIN_TYPES.require("batch", "Job"),  # release phases
)


class BuildStatus(TypedDict, total=False):
    phase: str
    startTime: str
    completionTime: str
    result: str
    message: str
    log: str


def main_branch(app: dict[str, Any]) -> str:
    spec = app.get("spec") or {}
    return str(spec.get("mainBranch") or "main")


def owner_reference(app: dict[str, Any]) -> dict[str, Any]:
    meta = app["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "App",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
