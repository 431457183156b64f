"""What a pod reads from the API besides itself: its Secrets, ConfigMaps, claims and account.

One function for both sides of the Node authorizer: the API server's graph
(a node may read what its pods reference, ``apiserver/nodeauth``) and the
node agent (which fetches exactly these, by name). Kubernetes' graph follows
the same edges (``plugin/pkg/auth/authorizer/node/graph_populator.go``):

- ``spec.volumes``: ``secret.secretName``, ``configMap.name``,
  ``persistentVolumeClaim.claimName``, ``ephemeral`` (the claim
  ``<pod>-<volume>``), ``projected.sources[].secret|configMap.name``;
- ``spec.imagePullSecrets[].name``;
- every container, init container and ephemeral container:
  ``env[].valueFrom.secretKeyRef|configMapKeyRef.name`` and
  ``envFrom[].secretRef|configMapRef.name``;
- ``spec.serviceAccountName`` (default ``default`` is not assumed: an
  unset field references nothing).

Malformed parts (a pod stored before validation tightened) are skipped,
never raised: a reference the graph cannot read is one the node does not get.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

SECRETS = "secrets"
CONFIGMAPS = "configmaps"
CLAIMS = "persistentvolumeclaims"
SERVICE_ACCOUNTS = "serviceaccounts"


class Reference(NamedTuple):
    resource: str  # plural, as authorization attributes name it
    namespace: str
    name: str


def _name(value: Any, key: str = "name") -> str:
    if isinstance(value, Mapping):
        name = value.get(key)
        if isinstance(name, str) and name:
            return name
    return ""


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _volume_refs(pod_name: str, volume: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if name := _name(volume.get("secret"), "secretName"):
        yield SECRETS, name
    if name := _name(volume.get("configMap")):
        yield CONFIGMAPS, name
    if name := _name(volume.get("persistentVolumeClaim"), "claimName"):
        yield CLAIMS, name
    if isinstance(volume.get("ephemeral"), Mapping) and _name(volume):
        yield CLAIMS, f"{pod_name}-{volume['name']}"
    projected = volume.get("projected")
    if isinstance(projected, Mapping):
        for source in _dicts(projected.get("sources")):
            if name := _name(source.get("secret")):
                yield SECRETS, name
            if name := _name(source.get("configMap")):
                yield CONFIGMAPS, name


def _container_refs(container: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for env in _dicts(container.get("env")):
        value_from = env.get("valueFrom")
        if isinstance(value_from, Mapping):
            if name := _name(value_from.get("secretKeyRef")):
                yield SECRETS, name
            if name := _name(value_from.get("configMapKeyRef")):
                yield CONFIGMAPS, name
    for source in _dicts(container.get("envFrom")):
        if name := _name(source.get("secretRef")):
            yield SECRETS, name
        if name := _name(source.get("configMapRef")):
            yield CONFIGMAPS, name


def pod_references(pod: Mapping[str, Any]) -> frozenset[Reference]:
    """Every object ``pod`` names that a node running it must read."""
    meta = pod.get("metadata")
    spec = pod.get("spec")
    if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
        return frozenset()
    namespace = str(meta.get("namespace") or "")
    pod_name = str(meta.get("name") or "")
    found: set[tuple[str, str]] = set()
    for volume in _dicts(spec.get("volumes")):
        found.update(_volume_refs(pod_name, volume))
    for secret in _dicts(spec.get("imagePullSecrets")):
        if name := _name(secret):
            found.add((SECRETS, name))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            found.update(_container_refs(container))
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        found.add((SERVICE_ACCOUNTS, account))
    return frozenset(Reference(resource, namespace, name) for resource, name in found)
