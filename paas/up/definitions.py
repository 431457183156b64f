"""The platform's own CustomResourceDefinitions, applied by ``paas up`` at start.

Each package that owns a kind keeps its CRD manifests in its ``crds/``
directory (``builder/crds/app.yaml``...); ``paas up`` applies them all with
server-side apply under one field manager, so a second start changes nothing
and an upgraded manifest replaces the old one, then waits until every one is
Established, so the first ``kubectl get apps`` after the banner works. A
package added later lists itself in ``OWNERS``.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import yaml

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

OWNERS = ("builder", "paas.serving", "router")  # packages whose crds/ directory holds CRD manifests
FIELD_MANAGER = "paas-up"
CRDS = BUILTIN_TYPES.require("apiextensions.k8s.io", "CustomResourceDefinition")
CLUSTER_ROLES = BUILTIN_TYPES.require("rbac.authorization.k8s.io", "ClusterRole")
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def platform_roles(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ClusterRoles aggregated into view (read) and edit (write) for the namespaced CRDs."""
    by_group: dict[str, list[str]] = {}
    for crd in definitions:
        spec = crd.get("spec") or {}
        if spec.get("scope") != "Namespaced":
            continue  # cluster-scoped kinds (GatewayClass) stay with cluster administrators
        by_group.setdefault(spec["group"], []).append(spec["names"]["plural"])
    view, edit = [], []
    for group, plurals in sorted(by_group.items()):
        plurals = sorted(plurals)
        readable = sorted([*plurals, *(f"{p}/status" for p in plurals)])
        view.append({"apiGroups": [group], "resources": readable, "verbs": READ})
        edit.append({"apiGroups": [group], "resources": plurals, "verbs": WRITE})
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": f"paas:aggregate-to-{role}",
                "labels": {f"{AGGREGATE}{role}": "true"},
            },
            "rules": rules,
        }
        for role, rules in (("view", view), ("edit", edit))
    ]


def platform_definitions(owners: tuple[str, ...] = OWNERS) -> list[dict[str, Any]]:
    """Every CRD manifest of the owning packages, in a stable order."""
    found: list[dict[str, Any]] = []
    for owner in owners:
        folder = resources.files(owner) / "crds"
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".yml")):
                found += [doc for doc in yaml.safe_load_all(entry.read_text()) if doc]
    return found


async def install_definitions(
    client: APIClient, definitions: list[dict[str, Any]], *, timeout: float = 10.0
) -> list[str]:
    """Apply ``definitions`` and wait until each is Established; returns their names."""
    names = []
    for crd in definitions:
        name = crd["metadata"]["name"]
        await client.patch(
            CRDS,
            name,
            json.loads(json.dumps(crd)),
            patch_type="application/apply-patch+yaml",
            fieldManager=FIELD_MANAGER,
            force="true",
        )
        names.append(name)
    for role in platform_roles(definitions):
        await client.patch(
            CLUSTER_ROLES,
            role["metadata"]["name"],
            role,
            patch_type="application/apply-patch+yaml",
            fieldManager=FIELD_MANAGER,
            force="true",
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for name in names:
        while True:
            try:
                crd = await client.get(CRDS, name)
            except errors.NotFound:
                crd = {}
            if condition_status(crd, "Established") == "True":
                break
            if loop.time() > deadline:
                raise TimeoutError(f"CustomResourceDefinition {name} was not established")
            await asyncio.sleep(0.05)
    return names
