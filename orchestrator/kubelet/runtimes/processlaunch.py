"""What a process runtime container's supervisor is told to run: the launch spec (spec.json).

The supervisor cannot say much when a start goes wrong (it can only write
to fd 3 and its own log), so everything that can be checked before it runs
is checked here, and a failure is a ``ContainerStartError`` that names the
container: no command (a stack image has no entrypoint), a working dir or
an executable that the node does not have, a volume whose directory is
missing.

The root filesystem is the node's own. With isolation (root) the container
gets a mount namespace: the pod's resolv.conf and hosts over /etc, and each
volume at its container path (shallowest first, so a volume inside another
lands on top). Paths are then checked as the container will see them,
through those mounts (``host_path``); a volume's container path that does
not exist on the node is made by the supervisor as an empty mount point,
visible but empty outside the pod.

The env starts from the node agent's PATH and HOME and the pod's hostname;
the image's env and then the container's (already expanded) override it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from orchestrator.kubelet.runtimes.base import ContainerSpec, ContainerStartError, Mount
from orchestrator.kubelet.runtimes.processimages import ProcessImage
from orchestrator.kubelet.runtimes.processsettings import DEFAULT_PATH, ProcessRuntimeSettings


def launch_spec(
    cid: str,
    cdir: Path,
    pod_dir: Path,
    spec: ContainerSpec,
    image: ProcessImage,
    record: dict[str, Any],
    settings: ProcessRuntimeSettings,
    isolate: bool,
) -> dict[str, Any]:
    """Everything the supervisor needs, checked here so that errors name the container.

    ``record`` is the pod's sandbox record; ``isolate`` says whether the
    container gets namespaces (and so its mounts). The cgroup fields are
    left to the caller, which makes the cgroups.
    """
    argv = image.argv(spec)
    if not argv:
        raise ContainerStartError(
            "CreateContainerError",
            f'container "{spec.name}": no command specified (the image {spec.image} has no '
            "entrypoint: give the container a command)",
        )
    env: dict[str, str] = {
        "PATH": os.environ.get("PATH", DEFAULT_PATH),
        "HOME": os.environ.get("HOME", "/root"),
        "HOSTNAME": record["hostname"],
    }
    env.update(image.env)
    env.update(spec.env)
    cwd = spec.working_dir or image.working_dir
    if not cwd:
        default = pod_dir / "work" / spec.name
        default.mkdir(parents=True, exist_ok=True)
        cwd = str(default)
    mounts = list(spec.mounts) if isolate else []
    if not os.path.isdir(host_path(cwd, mounts)):
        raise ContainerStartError(
            "RunContainerError",
            f'container "{spec.name}": working dir "{cwd}" does not exist on this node '
            "(the process runtime runs on the node's own filesystem)",
        )
    if find_executable(argv[0], env.get("PATH", ""), cwd, mounts) is None:
        what = (
            "no such file or directory" if "/" in argv[0] else "executable file not found in $PATH"
        )
        raise ContainerStartError(
            "RunContainerError", f'container "{spec.name}": exec: "{argv[0]}": {what}'
        )
    return {
        "id": cid,
        "pod_uid": spec.pod_uid,
        "name": spec.name,
        "attempt": spec.attempt,
        "image": spec.image,
        "image_id": image.image_id,
        "init": spec.init,
        "argv": argv,
        "env": list(env.items()),
        "cwd": cwd,
        "log_path": str(cdir / "container.log"),
        "log_max_bytes": settings.log_max_bytes,
        "log_max_files": settings.log_max_files,
        "netns": record["netns"],
        "hostname": record["hostname"],
        "pid_namespace": isolate,
        "mount_namespace": isolate,
        "uts_namespace": isolate and not record["host_network"],
        "binds": _binds(pod_dir, spec, isolate),
        "stdin": spec.stdin,
        "tty": spec.tty,
    }


def _binds(pod_dir: Path, spec: ContainerSpec, isolate: bool) -> list[list[Any]]:
    """[host path, container path, read-only] for the mount namespace, parents first."""
    binds: list[list[Any]] = []
    if isolate:
        if (pod_dir / "resolv.conf").exists():
            binds.append([str(pod_dir / "resolv.conf"), "/etc/resolv.conf", True])
        binds.append([str(pod_dir / "hosts"), "/etc/hosts", True])
        for m in sorted(spec.mounts, key=lambda m: m.container_path.rstrip("/").count("/")):
            if not os.path.exists(m.host_path):
                raise ContainerStartError(
                    "CreateContainerError",
                    f'container "{spec.name}": the volume for "{m.container_path}" has no '
                    f'directory "{m.host_path}" on this node',
                )
            binds.append([m.host_path, m.container_path, m.read_only])
    return binds


def host_path(path: str, mounts: list[Mount]) -> str:
    """Where a container path lies on the node, through the longest matching mount."""
    best = None
    for mount in mounts:
        root = mount.container_path.rstrip("/") or "/"
        if path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best[0]):
                best = (root, mount.host_path)
    if best is None:
        return path
    return best[1] + path[len(best[0]) :]


def find_executable(name: str, path_var: str, cwd: str, mounts: list[Mount]) -> str | None:
    """What exec would run for ``name`` (PATH search unless it has a slash), seen from the node."""
    if "/" in name:
        candidate = name if name.startswith("/") else os.path.join(cwd, name)
        host = host_path(candidate, mounts)
        return host if os.path.isfile(host) and os.access(host, os.X_OK) else None
    for directory in path_var.split(":"):
        host = host_path(os.path.join(directory or ".", name), mounts)
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return host
    return None
