"""Where the pod is in each kind that makes pods, and which pod updates matter.

Pods are checked themselves; the workload kinds (Kubernetes' list:
ReplicationController, PodTemplate, ReplicaSet, Deployment, StatefulSet,
DaemonSet, Job, CronJob) are checked through their pod template, for
warnings and audit only. A pod update is evaluated again only when it could
change the answer: an image changed, a container was added, or a seccomp
annotation changed (the only security-relevant fields a pod may change after
creation, Kubernetes' ``isSignificantPodUpdate``).
"""

from __future__ import annotations

from orchestrator.apiserver.podsecurity.results import Obj, as_dict, as_list

_TEMPLATE_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "ReplicationController"): ("spec", "template"),
    ("", "PodTemplate"): ("template",),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}
_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"


def has_template(group: str, kind: str) -> bool:
    return (group, kind) in _TEMPLATE_PATHS


def template_of(group: str, kind: str, obj: Obj) -> tuple[Obj, Obj] | None:
    """The pod template's metadata and spec, or None when the object has none."""
    node: object = obj
    for key in _TEMPLATE_PATHS[(group, kind)]:
        node = as_dict(node).get(key)
    if not isinstance(node, dict):
        return None
    return as_dict(node.get("metadata")), as_dict(node.get("spec"))


def significant_update(new: Obj, old: Obj) -> bool:
    """True when a pod update could change the policy's answer."""
    new_meta, old_meta = as_dict(new.get("metadata")), as_dict(old.get("metadata"))
    new_notes = as_dict(new_meta.get("annotations"))
    old_notes = as_dict(old_meta.get("annotations"))
    if new_notes.get(_SECCOMP_POD) != old_notes.get(_SECCOMP_POD):
        return True
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for key in ("containers", "initContainers"):
        now, before = as_list(new_spec.get(key)), as_list(old_spec.get(key))
        if len(now) != len(before):
            return True
        if any(_changed(a, b, new_notes, old_notes) for a, b in zip(now, before, strict=True)):
            return True
    earlier = {
        as_dict(c).get("name"): as_dict(c) for c in as_list(old_spec.get("ephemeralContainers"))
    }
    for added in as_list(new_spec.get("ephemeralContainers")):
        earlier_one = earlier.get(as_dict(added).get("name"))
        if earlier_one is None or _changed(added, earlier_one, new_notes, old_notes):
            return True
    return False


def _changed(new: object, old: object, new_notes: Obj, old_notes: Obj) -> bool:
    new, old = as_dict(new), as_dict(old)
    if new.get("image") != old.get("image"):
        return True
    key = _SECCOMP_CONTAINER + str(new.get("name") or "")
    return new_notes.get(key) != old_notes.get(key)
