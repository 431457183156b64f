"""NodeRestriction: what a node may write, beyond what the Node authorizer lets it ask.

Kubernetes' ``plugin/pkg/admission/noderestriction``, as a built-in
admission plugin (``registry.AdmissionHook``; it runs in the validating
phase, so it judges the object as it would be stored, after any mutating
webhook). For writes by ``system:node:<n>`` in ``system:nodes``:

- Pods: create only mirror pods (annotation ``kubernetes.io/config.mirror``,
  ``spec.nodeName`` itself, at most one owner: its own Node by uid, no
  ``blockOwnerDeletion``, no ServiceAccount, Secret, ConfigMap or claim);
  status and delete only of pods bound to itself; nothing else.
- Nodes: only its own. Taints and ownerReferences are not its to change
  (CVE-2025-5187: a node that owns itself is deleted by the garbage
  collector and re-registers with labels and taints of its choosing);
  labels under ``kubernetes.io``/``k8s.io`` only the kubelet's own
  (``kubelet_labels.py``).
- Leases: only ``kube-node-lease/<n>``.

And for everyone: a Node's address, agent port and serving certificate
(``status.addresses``, ``status.daemonEndpoints``, the annotation
``pki.KUBELET_SERVING_CERT_ANNOTATION``) say where the API server connects
with its client certificate; only that node and ``system:masters`` (and the
API server itself) may set them, so no token holder can aim the API server
at an address of their choosing (``nodeproxy.py``).

Refusals are 403 Forbidden in Kubernetes' form: ``nodes "b" is forbidden:
node "a" is not allowed to modify node "b"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator import pki
from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.podrefs import pod_references
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.apiserver.identity import MASTERS, UserInfo, node_name_of
from orchestrator.apiserver.nodeauth.graph import MIRROR_ANNOTATION
from orchestrator.apiserver.nodeauth.kubelet_labels import forbidden_labels
from orchestrator.apiserver.registry import AdmissionRequest, Registry

LEASE_NAMESPACE = "kube-node-lease"
NODE_TYPE = BUILTIN_TYPES.require("", "Node")
_REFERENCE_WORDS = {
    "secrets": "reference secrets",
    "configmaps": "reference configmaps",
    "persistentvolumeclaims": "reference persistentvolumeclaims",
    "serviceaccounts": "use service accounts",
}


def _forbid(request: AdmissionRequest, reason: str) -> errors.Forbidden:
    name = request.name or str(((request.obj or {}).get("metadata") or {}).get("name") or "")
    return errors.Forbidden(f'{request.rt.group_resource} "{name}" is forbidden: {reason}')


def _meta(obj: Obj | None) -> Mapping[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(obj: Obj | None) -> Mapping[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _is(request: AdmissionRequest, group: str, kind: str) -> bool:
    return request.rt.group == group and request.rt.kind == kind


_RESTRICTED = frozenset({("", "Pod"), ("", "Node"), ("coordination.k8s.io", "Lease")})


class NodeRestriction:
    """The admission plugin; always enabled (it has work on every Node and node write)."""

    enabled = True

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry  # to check a mirror pod's owner is this very Node (its uid)

    def wants(self, rt: ResourceType) -> bool:
        """Pods, Nodes and Leases: writes of every other kind skip admission for it."""
        return (rt.group, rt.kind) in _RESTRICTED

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        return None, []

    async def validate(self, request: AdmissionRequest) -> list[str]:
        user = UserInfo(request.opts.user, groups=request.opts.groups)
        node = node_name_of(user)
        if node is not None:
            if _is(request, "", "Pod"):
                _admit_pod(request, node)
                await self._check_owner_uid(request, node)
            elif _is(request, "", "Node"):
                _admit_node(request, node)
            elif _is(request, "coordination.k8s.io", "Lease"):
                _admit_lease(request, node)
        elif _is(request, "", "Node") and request.opts.user and MASTERS not in user.groups:
            check_endpoint_unchanged(request)
        return []

    async def _check_owner_uid(self, request: AdmissionRequest, node: str) -> None:
        owners = _meta(request.obj).get("ownerReferences") or []
        if request.operation != "CREATE" or request.subresource or not owners:
            return
        if self._registry is None:
            return
        try:
            current = await self._registry.get(NODE_TYPE, "", node)
        except errors.NotFound:
            raise _forbid(request, f'node "{node}" is not registered') from None
        uid, given = _meta(current).get("uid"), owners[0].get("uid")
        if given != uid:
            raise _forbid(request, f"node {node} UID mismatch: expected {uid} got {given}")


def _admit_pod(request: AdmissionRequest, node: str) -> None:
    if request.operation == "CREATE" and not request.subresource:
        _admit_mirror_pod(request, node)
        return
    bound = str(_spec(request.old).get("nodeName") or "")
    if request.operation == "DELETE":
        if bound != node:
            raise _forbid(
                request, f'node "{node}" can only delete pods with spec.nodeName set to itself'
            )
        return
    if request.operation == "UPDATE" and request.subresource == "status":
        if bound != node:
            raise _forbid(
                request,
                f'node "{node}" can only update pod status for pods with spec.nodeName set to '
                "itself",
            )
        if _meta(request.obj).get("labels") != _meta(request.old).get("labels"):
            raise _forbid(request, f'node "{node}" cannot update labels through pod status')
        return
    raise _forbid(request, f'node "{node}" can only create mirror pods and update pod status')


def _admit_mirror_pod(request: AdmissionRequest, node: str) -> None:
    obj = request.obj or {}
    meta = _meta(obj)
    if MIRROR_ANNOTATION not in (meta.get("annotations") or {}):
        raise _forbid(
            request,
            f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only '
            "create mirror pods",
        )
    if _spec(obj).get("nodeName") != node:
        raise _forbid(
            request, f'node "{node}" can only create pods with spec.nodeName set to itself'
        )
    owners = meta.get("ownerReferences") or []
    if len(owners) > 1:
        raise _forbid(request, f'node "{node}" can only create pods with a single owner reference')
    for owner in owners:
        if not (
            owner.get("apiVersion") == "v1"
            and owner.get("kind") == "Node"
            and owner.get("name") == node
            and owner.get("controller") is True
        ):
            raise _forbid(
                request,
                f'node "{node}" can only create pods with a controller owner reference set to '
                "itself",
            )
        if owner.get("blockOwnerDeletion"):
            raise _forbid(
                request,
                f'node "{node}" must not set blockOwnerDeletion on an owner reference',
            )
    for ref in sorted(pod_references(obj)):
        raise _forbid(request, f'node "{node}" can not create pods that {_REFERENCE_WORDS[ref[0]]}')


def _admit_node(request: AdmissionRequest, node: str) -> None:
    name = request.name or str(_meta(request.obj).get("name") or "")
    if name != node:
        raise _forbid(request, f'node "{node}" is not allowed to modify node "{name}"')
    if request.operation == "DELETE":
        return
    meta, spec = _meta(request.obj), _spec(request.obj)
    if spec.get("configSource") is not None and (
        request.old is None or spec.get("configSource") != _spec(request.old).get("configSource")
    ):
        raise _forbid(request, f'node "{node}" is not allowed to set spec.configSource')
    if request.operation == "CREATE":
        if meta.get("ownerReferences"):
            raise _forbid(request, f'node "{node}" is not allowed to set ownerReferences')
        bad = forbidden_labels(meta.get("labels") or {}, {})
        if bad:
            raise _forbid(
                request, f'node "{node}" is not allowed to set the following labels: {bad}'
            )
        return
    old_meta, old_spec = _meta(request.old), _spec(request.old)
    if (meta.get("ownerReferences") or []) != (old_meta.get("ownerReferences") or []):
        raise _forbid(request, f'node "{node}" is not allowed to modify ownerReferences')
    if (spec.get("taints") or []) != (old_spec.get("taints") or []):
        raise _forbid(request, f'node "{node}" is not allowed to modify taints')
    bad = forbidden_labels(meta.get("labels") or {}, old_meta.get("labels") or {})
    if bad:
        raise _forbid(request, f'node "{node}" is not allowed to modify labels: {bad}')


def _admit_lease(request: AdmissionRequest, node: str) -> None:
    if request.namespace != LEASE_NAMESPACE:
        raise _forbid(request, f"can only access leases in the {LEASE_NAMESPACE} namespace")
    name = request.name or str(_meta(request.obj).get("name") or "")
    if name != node:
        raise _forbid(
            request, "can only access node lease with the same name as the requesting node"
        )


def endpoint_of(node: Obj | None) -> tuple[Any, Any, Any]:
    """What tells the API server where and whom to call: addresses, agent port, certificate."""
    status = (node or {}).get("status")
    status = status if isinstance(status, Mapping) else {}
    annotations = _meta(node).get("annotations") or {}
    cert = (
        annotations.get(pki.KUBELET_SERVING_CERT_ANNOTATION)
        if isinstance(annotations, Mapping)
        else None
    )
    return status.get("addresses") or None, status.get("daemonEndpoints") or None, cert


def check_endpoint_unchanged(request: AdmissionRequest) -> None:
    """Refuse a write by anyone but the node (or a master) that sets where the node is."""
    if request.operation == "DELETE":
        return
    if endpoint_of(request.obj) == endpoint_of(request.old):
        return
    name = request.name or str(_meta(request.obj).get("name") or "")
    raise _forbid(
        request,
        f'only node "{name}" itself may set status.addresses, status.daemonEndpoints and the '
        f"{pki.KUBELET_SERVING_CERT_ANNOTATION} annotation",
    )
