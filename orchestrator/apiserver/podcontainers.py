"""Which container of a pod a request means: logs, exec, attach.

Kubernetes' API server checks it the same way for each (``validateContainer``
in ``pkg/registry/core/pod/strategy.go``), in these words:

- a named container must be one of the pod's, init and ephemeral ones
  included (400 ``container x is not valid for pod web``);
- unnamed: the pod's ``kubectl.kubernetes.io/default-container``
  annotation when it names one of them (kubectl applies it too, before it
  asks), else the only container, else 400 ``a container name must be
  specified for pod web, choose one of: [a b]``, followed by `` or one of
  the init containers: [setup]`` when there are any.
"""

from __future__ import annotations

from orchestrator.api import errors
from orchestrator.api.objects import Obj, annotations_of

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


def container_names(pod: Obj) -> list[str]:
    """Every container of the pod, init containers first, as Kubernetes visits them."""
    spec = pod.get("spec") or {}
    names: list[str] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        names += [str(c.get("name", "")) for c in spec.get(key) or []]
    return names


def choose_container(pod: Obj, wanted: str) -> str:
    """The container meant: named, the default-container annotation, or the only one."""
    name = pod["metadata"]["name"]
    if not wanted:
        wanted = annotations_of(pod).get(DEFAULT_CONTAINER_ANNOTATION, "")
        if wanted and wanted not in container_names(pod):
            wanted = ""  # kubectl too ignores an annotation naming no container
    if wanted:
        if wanted not in container_names(pod):
            raise errors.BadRequest(f"container {wanted} is not valid for pod {name}")
        return wanted
    containers = (pod.get("spec") or {}).get("containers") or []
    if len(containers) == 1:
        return str(containers[0].get("name", ""))
    if not containers:
        raise errors.BadRequest(f"a container name must be specified for pod {name}")
    names = " ".join(str(c.get("name", "")) for c in containers)
    message = f"a container name must be specified for pod {name}, choose one of: [{names}]"
    inits = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("initContainers") or []]
    if inits:
        message += f" or one of the init containers: [{' '.join(inits)}]"
    raise errors.BadRequest(message)
