"""Discovery documents: how kubectl and the Python client learn what we serve.

Plain (non-aggregated) discovery is answered for every client version; the
response Content-Type is always ``application/json``, which tells recent
kubectl to use the legacy path. Short names and categories exist only here,
so ``kubectl get deploy`` and ``kubectl get all`` depend on them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from orchestrator.api.resources import ResourceType, ResourceTypes

SERVER_VERSION: dict[str, str] = {
    # The newest minor the machine's kubectl dispatcher has (1.33): it then runs that kubectl,
    # which sends built-in kinds as protobuf for `kubectl create` (served since issue 15);
    # every kubectl from 1.27 is tested against it (tests/e2e/test_kubectl.py).
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0+paas",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# A custom resource whose definition is being deleted: no new objects (Kubernetes' list).
TERMINATING_VERBS = ("delete", "deletecollection", "get", "list", "watch")

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "binding": ["create"],
    "log": ["get"],
    "finalize": ["update"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "token": ["create"],
    "proxy": ["create", "delete", "get", "patch", "update"],
}
# Kinds of the streaming subresources' options, as Kubernetes' discovery names them.
_SUBRESOURCE_KINDS = {
    "binding": "Binding",
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
    "proxy": "NodeProxyOptions",
}


def _storage_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(types: ResourceTypes) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(g, vs) for g, vs in types.group_versions().items()],
    }


def api_group(types: ResourceTypes, group: str) -> dict[str, Any] | None:
    versions = types.group_versions().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def resource_list(types: ResourceTypes, group: str, version: str) -> dict[str, Any] | None:
    members = types.in_group_version(group, version)
    if not members:
        return None
    resources: list[dict[str, Any]] = []
    for rt in members:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(TERMINATING_VERBS if rt.terminating else rt.verbs),
            "storageVersionHash": _storage_hash(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in rt.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": _SUBRESOURCE_VERBS[sub],
            }
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            elif sub == "token":
                sub_entry.update(group="authentication.k8s.io", version="v1", kind="TokenRequest")
            elif sub in _SUBRESOURCE_KINDS:
                sub_entry["kind"] = _SUBRESOURCE_KINDS[sub]
            resources.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
