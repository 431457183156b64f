"""From the pod object to the runtime's specs: pure translations, no I/O.

The pod worker resolves what needs the API (env from ConfigMaps and
Secrets, volume paths) and hands the results in; this module only maps
fields: the sandbox (hostname, hostNetwork, hostPorts, DNS config), and
each container (image and pull policy, command and args with ``$(VAR)``
expanded, working dir, limits as numbers, container ports, stdin and tty).
"""

from __future__ import annotations

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.quantity import QuantityError, to_int, to_milli
from orchestrator.kubelet.containerenv import ContainerConfigError, expand_argv
from orchestrator.kubelet.runtimes.base import (
    ContainerSpec,
    DNSConfig,
    Limits,
    Mount,
    PortMapping,
    SandboxSpec,
)


def pod_hostname(pod: Obj) -> str:
    """``spec.hostname`` or the pod name, cut to a DNS label as Kubernetes does."""
    spec = pod.get("spec") or {}
    name = str(spec.get("hostname") or metadata_of(pod).get("name", ""))
    return name[:63].rstrip("-.") or "pod"


def sandbox_spec(pod: Obj, dns: DNSConfig | None = None) -> SandboxSpec:
    """The sandbox the pod asks for; ``dns`` is what poddns.sandbox_dns decided."""
    meta = metadata_of(pod)
    spec = pod.get("spec") or {}
    mappings = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if isinstance(p.get("hostPort"), int) and p["hostPort"] > 0:
                mappings.append(
                    PortMapping(
                        container_port=int(p.get("containerPort") or p["hostPort"]),
                        host_port=int(p["hostPort"]),
                        protocol=str(p.get("protocol") or "TCP"),
                        host_ip=str(p.get("hostIP") or ""),
                    )
                )
    return SandboxSpec(
        pod_uid=meta.get("uid", ""),
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        hostname=pod_hostname(pod),
        host_network=bool(spec.get("hostNetwork")),
        port_mappings=tuple(mappings),
        dns=dns,
        labels=dict(meta.get("labels") or {}),
    )


def container_limits(container: Obj) -> Limits:
    """``resources.limits`` as numbers; ContainerConfigError naming a malformed quantity."""
    limits = (container.get("resources") or {}).get("limits") or {}
    name = container.get("name", "")
    try:
        cpu = to_milli(limits["cpu"]) if limits.get("cpu") is not None else None
        memory = to_int(limits["memory"]) if limits.get("memory") is not None else None
    except QuantityError as exc:
        raise ContainerConfigError(f"container {name!r} resources.limits: {exc}") from None
    return Limits(cpu_millis=cpu, memory_bytes=memory)


def container_spec(
    pod: Obj,
    container: Obj,
    *,
    attempt: int,
    init: bool,
    env: list[tuple[str, str]],
    mounts: tuple[Mount, ...],
) -> ContainerSpec:
    meta = metadata_of(pod)
    ports = tuple(
        int(p["containerPort"])
        for p in container.get("ports") or []
        if isinstance(p.get("containerPort"), int)
    )
    return ContainerSpec(
        pod_uid=meta.get("uid", ""),
        namespace=meta.get("namespace", ""),
        pod_name=meta.get("name", ""),
        name=container.get("name", ""),
        attempt=attempt,
        image=str(container.get("image") or ""),
        image_pull_policy=str(container.get("imagePullPolicy") or "IfNotPresent"),
        command=expand_argv(container.get("command") or [], env),
        args=expand_argv(container.get("args") or [], env),
        env=tuple(env),
        working_dir=str(container.get("workingDir") or ""),
        mounts=mounts,
        limits=container_limits(container),
        ports=ports,
        init=init,
        stdin=bool(container.get("stdin")),
        tty=bool(container.get("tty")),
    )
