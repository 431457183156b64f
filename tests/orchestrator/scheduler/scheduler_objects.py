"""Nodes and pods as the API holds them, for scheduler tests (plain Kubernetes JSON)."""

from __future__ import annotations

from orchestrator.api.objects import Obj


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: dict[str, str] | None = None,
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
    ready: str = "True",
) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {
            "capacity": dict(allocatable),
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}],
        },
    }


def make_pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    namespace: str = "default",
    uid: str = "",
    node: str = "",
    owner: str = "",
    spec: Obj | None = None,
    ports: list[Obj] | None = None,
) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: Obj = {"name": "app", "image": "paas/stack:bookworm"}
    if requests:
        container["resources"] = {"requests": requests}
    if ports:
        container["ports"] = ports
    meta: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": f"uid-{owner}",
                "controller": True,
            }
        ]
    pod_spec: Obj = {"containers": [container], **(spec or {})}
    if node:
        pod_spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
