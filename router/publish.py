"""The router publishes itself: its address in the Endpoints of ``paas-system/paas-router``.

The autoscaler finds every router's metrics port there
(``paas.autoscaler.routers``). ``publish`` creates the Service (no
selector, so the endpoints controller leaves its Endpoints to us; ports
``http`` and ``metrics``) if it is missing, then adds this router's address
to the Endpoints in the subset whose ports are its own (routers on other
ports get subsets of their own), with compare-and-swap retries since
several routers write the same object. ``unpublish`` removes the address
again at shutdown (an empty subset goes too).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
NAMESPACES = BUILTIN_TYPES.require("", "Namespace")
TRIES = 10  # compare-and-swap attempts against other routers writing at once


def _ports(http_port: int, metrics_port: int) -> list[dict[str, Any]]:
    return [
        {"name": "http", "port": http_port, "protocol": "TCP"},
        {"name": "metrics", "port": metrics_port, "protocol": "TCP"},
    ]


def with_address(
    endpoints: dict[str, Any], ip: str, ports: list[dict[str, Any]], present: bool
) -> dict[str, Any]:
    """``endpoints`` with ``ip`` added to (or removed from) the subset of ``ports``."""
    out = copy.deepcopy(endpoints)
    subsets = [s for s in out.get("subsets") or [] if isinstance(s, dict)]
    key = sorted((p["name"], p["port"]) for p in ports)
    mine = next(
        (
            s
            for s in subsets
            if sorted((p.get("name"), p.get("port")) for p in s.get("ports") or []) == key
        ),
        None,
    )
    if mine is None and present:
        mine = {"addresses": [], "ports": ports}
        subsets.append(mine)
    if mine is not None:
        addresses = [a for a in mine.get("addresses") or [] if a.get("ip") != ip]
        if present:
            addresses.append({"ip": ip})
        mine["addresses"] = addresses
    out["subsets"] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return out


async def publish(
    client: APIClient, namespace: str, name: str, ip: str, http_port: int, metrics_port: int
) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await client.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "paas"}},
        "spec": {
            "ports": [
                {**p, "port": 80 if p["name"] == "http" else 9090}
                for p in _ports(http_port, metrics_port)
            ]
        },
    }
    with contextlib.suppress(errors.AlreadyExists):
        await client.create(SERVICES, service, namespace)
    await _change(client, namespace, name, ip, _ports(http_port, metrics_port), True)


async def unpublish(
    client: APIClient, namespace: str, name: str, ip: str, http_port: int, metrics_port: int
) -> None:
    await _change(client, namespace, name, ip, _ports(http_port, metrics_port), False)


async def _change(
    client: APIClient,
    namespace: str,
    name: str,
    ip: str,
    ports: list[dict[str, Any]],
    present: bool,
) -> None:
    for _ in range(TRIES):
        try:
            current = await client.get(ENDPOINTS, name, namespace)
        except errors.NotFound:
            if not present:
                return
            body = with_address(
                {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}},
                ip,
                ports,
                True,
            )
            try:
                await client.create(ENDPOINTS, body, namespace)
                return
            except errors.AlreadyExists:
                continue
        wanted = with_address(current, ip, ports, present)
        if wanted == current:
            return
        try:
            await client.replace(ENDPOINTS, wanted, namespace)
            return
        except errors.Conflict:
            continue
    raise errors.Conflict(f"Endpoints {namespace}/{name} kept changing under {TRIES} writes")
