"""What the API server does for Services beyond storing them: addresses.

A Service gets a cluster IP on create (unless headless or ExternalName) and a
node port per port when its type is NodePort or LoadBalancer; both are freed
when it is deleted. Allocation happens after validation and is undone if the
write that needed it fails, so a rejected request leaves nothing allocated.
"""

from __future__ import annotations

from typing import Any

from orchestrator.apiserver.allocators import Allocators


def _wants_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


async def allocate_service(
    alloc: Allocators, svc: dict[str, Any], old: dict[str, Any] | None
) -> list[tuple[str, Any]]:
    """Fill spec.clusterIP(s) and nodePorts in place; returns what was newly allocated."""
    spec = svc.setdefault("spec", {})
    owner = f"{svc['metadata'].get('namespace', '')}/{svc['metadata']['name']}"
    taken: list[tuple[str, Any]] = []
    old_spec = (old or {}).get("spec", {})
    try:
        if spec.get("type") != "ExternalName":
            ip = spec.get("clusterIP") or ""
            if old is not None and old_spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
                spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])
            elif ip == "None":
                spec["clusterIPs"] = ["None"]
            elif ip:
                await alloc.reserve_ip(ip, owner)
                taken.append(("ip", ip))
                spec["clusterIPs"] = [ip]
            else:
                ip = await alloc.allocate_ip(owner)
                taken.append(("ip", ip))
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
        old_ports = {p.get("nodePort") for p in old_spec.get("ports", []) if p.get("nodePort")}
        if _wants_node_ports(spec):
            for i, port in enumerate(spec.get("ports") or []):
                wanted = port.get("nodePort")
                if wanted and wanted in old_ports:
                    continue
                if wanted:
                    await alloc.reserve_port(int(wanted), owner, f"spec.ports[{i}].nodePort")
                else:
                    wanted = await alloc.allocate_port(owner)
                    port["nodePort"] = wanted
                taken.append(("port", wanted))
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
    except BaseException:
        await release(alloc, taken)
        raise
    return taken


def drop_type_dependent_fields(svc: dict[str, Any], old: dict[str, Any]) -> None:
    """On a type change, drop the old node ports (and cluster IP, for ExternalName) the client
    left in place, as Kubernetes does: a patch of ``type`` alone must not be rejected."""
    spec, old_spec = svc.get("spec") or {}, old.get("spec") or {}
    if spec.get("type") == old_spec.get("type"):
        return
    if not _wants_node_ports(spec):
        old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if p.get("nodePort")}
        for port in spec.get("ports") or []:
            if port.get("nodePort") in old_ports:
                del port["nodePort"]
    if spec.get("type") == "ExternalName" and spec.get("clusterIP") == old_spec.get("clusterIP"):
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)


async def release(alloc: Allocators, taken: list[tuple[str, Any]]) -> None:
    for what, value in taken:
        if what == "ip":
            await alloc.release_ip(value)
        else:
            await alloc.release_port(int(value))


def held_addresses(svc: dict[str, Any]) -> list[tuple[str, Any]]:
    """The addresses a stored Service holds (to free on delete or after an update)."""
    spec = svc.get("spec", {})
    held: list[tuple[str, Any]] = []
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        held.append(("ip", ip))
    for port in spec.get("ports") or []:
        if port.get("nodePort"):
            held.append(("port", port["nodePort"]))
    return held
