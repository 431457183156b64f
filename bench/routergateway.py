"""The Gateway API paths of ``bench.router``: a weighted split and the activator.

``publish_gateway(api, pod, port)`` installs the router's CRDs (as ``paas
up`` does) and creates, next to the Ingress paths of ``bench.router``:

- ``/split``: a host-less HTTPRoute whose rule sends 90/10 to two Services
  that both list the same pod (so the figure is the router's cost of the
  weighted pick and the HTTPRoute match, not two backends' difference);
- ``/cold``: a host-less HTTPRoute to Service ``cold``, whose Endpoints
  ``wake`` empties and fills.

``measure_wakes(api, router_url, pod, port, wakes)`` times the activator:
per wake, the backend is scaled to zero (Endpoints with no address), one
request is sent and held, then the Endpoints list the pod again (what the
endpoints controller writes when a pod turns ready) and the answer is
awaited. It returns the wakes per second and the time from the Endpoints
write to the answer (the router's share of a cold start: one watch event,
the release and the forward), p50 and p99.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from importlib import resources
from typing import Any

import httpx
import yaml

from bench.cluster import ServerProcess

GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway"}
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _route(name: str, path: str, backends: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{**GATEWAY, "namespace": "paas-system", "name": "paas"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                    "backendRefs": [
                        {"group": "", "kind": "Service", "name": n, "port": 80, "weight": w}
                        for n, w in backends
                    ],
                }
            ],
        },
    }


def _endpoints(name: str, pod: str, port: int, ready: bool) -> dict[str, Any]:
    subset: dict[str, Any] = {"ports": [{"port": port}]}
    subset["addresses" if ready else "notReadyAddresses"] = [{"ip": pod}]
    return {"metadata": {"name": name}, "subsets": [subset]}


async def _install_crds(http: httpx.AsyncClient) -> None:
    folder = resources.files("router") / "crds"
    names = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            crd = yaml.safe_load(entry.read_text())
            (await http.post(CRDS, json=crd)).raise_for_status()
            names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + 30
    for name in names:
        while True:
            crd = (await http.get(f"{CRDS}/{name}")).json()
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not established")
            await asyncio.sleep(0.05)


def publish_gateway(api: ServerProcess, pod: str, port: int) -> None:
    async def create() -> None:
        async with api.client() as http:
            await _install_crds(http)
            for name, ready in (("split-a", True), ("split-b", True), ("cold", False)):
                svc = {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}
                r = await http.post("/api/v1/namespaces/default/services", json=svc)
                r.raise_for_status()
                eps = _endpoints(name, pod, port, ready)
                r = await http.post("/api/v1/namespaces/default/endpoints", json=eps)
                r.raise_for_status()
            for route in (
                _route("split", "/split", [("split-a", 90), ("split-b", 10)]),
                _route("cold", "/cold", [("cold", 1)]),
            ):
                (await http.post(ROUTES, json=route)).raise_for_status()

    asyncio.run(create())


def measure_wakes(
    api: ServerProcess, router_url: str, metrics_url: str, pod: str, port: int, wakes: int
) -> tuple[float, float, float]:
    """(wakes per second, p50 ms and p99 ms from the Endpoints write to the answer)."""

    async def run() -> tuple[float, float, float]:
        path = "/api/v1/namespaces/default/endpoints/cold"
        gaps = []
        async with api.client() as http, httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()
            for _ in range(wakes):
                r = await http.put(path, json=_endpoints("cold", pod, port, False))
                r.raise_for_status()
                while True:  # until the router has seen the backend at zero and holds
                    request = asyncio.create_task(client.get(f"{router_url}/cold"))
                    if await _held(client, metrics_url, request):
                        break
                    await request
                written = time.monotonic()
                r = await http.put(path, json=_endpoints("cold", pod, port, True))
                r.raise_for_status()
                answer = await request
                if answer.status_code != 200:
                    raise RuntimeError(f"a woken request got {answer.status_code}")
                gaps.append((time.monotonic() - written) * 1000)
            elapsed = time.monotonic() - started
        gaps.sort()
        p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
        return wakes / elapsed, statistics.median(gaps), p99

    return asyncio.run(run())


async def _held(client: httpx.AsyncClient, metrics_url: str, request: asyncio.Task[Any]) -> bool:
    """Whether ``request`` is held (the router's metrics say so) before it is answered."""
    deadline = time.monotonic() + 10
    line = 'paas_router_held{namespace="default",service="cold"} 1.0'
    while not request.done():
        if line in (await client.get(f"{metrics_url}/metrics")).text:
            return True
        if time.monotonic() > deadline:
            raise RuntimeError("the request was neither held nor answered")
        await asyncio.sleep(0.001)  # the polling interval of a bench driver, not a test wait
    return False
