"""The ``scale`` and ``binding`` subresources.

``scale`` presents a Deployment or ReplicaSet as an ``autoscaling/v1 Scale``
sharing the parent's uid and resourceVersion; writing it changes the
parent's ``spec.replicas`` through the same guaranteed update as any write,
so watchers of the parent see MODIFIED. ``binding`` assigns a pending pod to
a node once: a second binding to another node is a Conflict.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors
from orchestrator.api.conditions import set_condition
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import ResourceType
from orchestrator.api.strategy import ScalePaths, read_path, scale_selector, strategy_of, write_path
from orchestrator.apiserver import objectmeta
from orchestrator.apiserver.patching import parse_patch, patched, sets_resource_version
from orchestrator.apiserver.registry import Registry, WriteOptions, WriteResult

_SCALE_TYPE = ResourceType(
    group="autoscaling", version="v1", kind="Scale", plural="scale", namespaced=True
)


def to_scale(obj: Obj, paths: ScalePaths | None = None) -> Obj:
    """The ``autoscaling/v1 Scale`` view of ``obj``, through the kind's scale paths."""
    paths = paths or ScalePaths()
    meta = obj["metadata"]
    spec_replicas = read_path(obj, paths.spec_replicas)
    if spec_replicas is None and not paths.builtin:  # a custom kind (Kubernetes: 500)
        raise errors.InternalError(
            f'the spec replicas field "{paths.spec_replicas}" does not exist'
        )
    status_replicas = read_path(obj, paths.status_replicas)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _int(spec_replicas)},
        "status": {
            "replicas": _int(status_replicas),
            "selector": scale_selector(obj, paths),
        },
    }


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _paths(rt: ResourceType) -> ScalePaths:
    paths = strategy_of(rt).scale
    if paths is None:
        raise errors.NotFound("the server could not find the requested resource")
    return paths


async def get_scale(registry: Registry, rt: ResourceType, namespace: str, name: str) -> Obj:
    return to_scale(await registry.get(rt, namespace, name), _paths(rt))


async def write_scale(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    opts: WriteOptions,
    *,
    body: Any = None,
    content_type: str = "",
    raw: bytes = b"",
) -> WriteResult:
    """PUT (``body``) or PATCH (``content_type`` + ``raw``) of the scale subresource."""
    patch = parse_patch(content_type, raw) if content_type else None
    paths = _paths(rt)

    def mutate(current: Obj) -> Obj:
        scale = to_scale(current, paths)
        if patch is not None:
            scale = patched(_SCALE_TYPE, scale, content_type, patch)
        else:
            if not isinstance(body, dict):
                raise errors.BadRequest("the body must be a Scale object")
            scale = copy_json(body)
        spec = scale.get("spec") or {}
        if not isinstance(spec, dict):
            raise errors.BadRequest(
                "json: cannot unmarshal a non-object into Go struct field Scale.spec of type "
                "v1.ScaleSpec"
            )
        replicas = spec.get("replicas")
        if replicas is None and not paths.builtin:
            raise errors.BadRequest(
                f'the spec replicas field "{paths.spec_replicas}" cannot be empty'
            )
        if (
            not isinstance(replicas, int)
            or isinstance(replicas, bool)
            or not 0 <= replicas < 2**31  # an int32 in Kubernetes
        ):
            raise errors.Invalid(
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas!r}: must be greater than or equal to 0",
                details={
                    "causes": [
                        {
                            "field": "spec.replicas",
                            "reason": "FieldValueInvalid",
                            "message": "must be a non-negative integer",
                        }
                    ]
                },
            )
        write_path(current, paths.spec_replicas, replicas)
        wanted_rv = metadata_of(scale).get("resourceVersion")
        if patch is not None and not sets_resource_version(patch):
            wanted_rv = None  # no precondition: retried against the fresh object, not 409
        if wanted_rv:
            current["metadata"]["resourceVersion"] = wanted_rv
        else:
            current["metadata"].pop("resourceVersion", None)
        return current

    result = await registry.guaranteed_update(rt, namespace, name, mutate, opts)
    result.obj = to_scale(result.obj, paths)
    return result


async def bind_pod(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    binding: Any,
    opts: WriteOptions,
) -> Obj:
    if not isinstance(binding, dict):
        raise errors.BadRequest("the body must be a Binding object")
    target = binding.get("target") or {}
    if not isinstance(target, dict):
        raise errors.BadRequest(
            "json: cannot unmarshal array into Go struct field Binding.target of type "
            "v1.ObjectReference"
            if isinstance(target, list)
            else "Binding.target must be an object (an ObjectReference)"
        )
    node = target.get("name")
    if node is not None and not isinstance(node, str):
        raise errors.BadRequest(
            "json: cannot unmarshal a non-string into Go struct field ObjectReference.target.name "
            "of type string"
        )
    if not node:
        raise errors.Invalid(
            f'Binding "{name}" is invalid: target.name: Required value',
            details={
                "causes": [
                    {
                        "field": "target.name",
                        "reason": "FieldValueRequired",
                        "message": "Required value",
                    }
                ]
            },
        )
    if target.get("kind", "Node") != "Node":
        raise errors.Invalid(f'Binding "{name}" is invalid: target.kind: must be Node')

    def mutate(pod: Obj) -> Obj:
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.Conflict(f"pod {name} is being deleted, cannot be assigned to a host")
        current = pod.get("spec", {}).get("nodeName")
        if current:
            raise errors.Conflict(f'pod {name} is already assigned to node "{current}"')
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        status["conditions"] = set_condition(
            status.get("conditions"),
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": objectmeta.now_rfc3339(),
            },
        )
        return pod

    await registry.guaranteed_update(rt, namespace, name, mutate, opts, check_update=False)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


async def bind_from_collection(
    registry: Registry, pods: ResourceType, namespace: str, binding: Any, opts: WriteOptions
) -> Obj:
    """``POST .../namespaces/{ns}/bindings``: bind the pod the Binding's name names."""
    if not isinstance(binding, dict):
        raise errors.BadRequest("the body must be a Binding object")
    meta = binding.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.BadRequest(
            "the namespace of the provided object does not match the namespace sent on the "
            f"request ({meta['namespace']} != {namespace})"
        )
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise errors.Invalid(
            'Binding "" is invalid: metadata.name: Required value: name or generateName is '
            "required",
            details={
                "causes": [
                    {
                        "field": "metadata.name",
                        "reason": "FieldValueRequired",
                        "message": "Required value: name or generateName is required",
                    }
                ]
            },
        )
    return await bind_pod(registry, pods, namespace, name, binding, opts)
