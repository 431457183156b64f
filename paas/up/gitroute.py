"""Publishing the builder at ``git.<domain>`` through the router (DESIGN.md "From push to URL").

The router serves Ingresses only; the builder is a host process, not a pod.
So ``paas up`` describes it as a headless selector-less Service
``kube-system/paas-git`` with an Endpoints object naming the builder's
address and port, plus an Ingress for host ``git.<domain>`` (class
``paas``), the way ``router.clusterdns`` publishes kube-dns. The router
then proxies git's smart HTTP like any app (it streams both ways, which
pushes need). Headless: no cluster IP, so no node proxy rule points at a
host loopback address.

``published_url`` is ``http://git.<domain>:<http-port>`` once a request
with that Host through the router reaches the builder's ``/healthz``;
``paas up`` writes it as endpoints.json ``git`` (nodes keep fetching slugs
from the builder directly: a Python client cannot resolve ``*.localhost``
without nss-myhostname, and a hop less is a hop less).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

Obj = dict[str, Any]
NAMESPACE = "kube-system"
NAME = "paas-git"
LABELS = {"app.kubernetes.io/name": "paas-builder"}
KINDS = {
    "Service": BUILTIN_TYPES.require("", "Service"),
    "Endpoints": BUILTIN_TYPES.require("", "Endpoints"),
    "Ingress": BUILTIN_TYPES.require("networking.k8s.io", "Ingress"),
}


def git_host(domain: str) -> str:
    return f"git.{domain}"


def git_objects(builder_url: str, domain: str, ingress_class: str = "paas") -> list[Obj]:
    """Service, Endpoints and Ingress that route ``git.<domain>`` to ``builder_url``."""
    parts = urlsplit(builder_url)
    assert parts.hostname is not None and parts.port is not None
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)}
    port = {"name": "http", "port": 80, "targetPort": parts.port, "protocol": "TCP"}
    backend = {"service": {"name": NAME, "port": {"number": 80}}}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": dict(meta),
            "spec": {"clusterIP": "None", "ports": [port]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": dict(meta),
            "subsets": [
                {
                    "addresses": [{"ip": parts.hostname}],
                    "ports": [{"name": "http", "port": parts.port, "protocol": "TCP"}],
                }
            ],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": dict(meta),
            "spec": {
                "ingressClassName": ingress_class,
                "rules": [
                    {
                        "host": git_host(domain),
                        "http": {
                            "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]
                        },
                    }
                ],
            },
        },
    ]


async def publish(client: APIClient, objects: list[Obj]) -> None:
    """Create each object, or replace what a previous run left (the port may differ)."""
    for obj in objects:
        rt = KINDS[obj["kind"]]
        try:
            await client.create(rt, obj, NAMESPACE)
        except errors.AlreadyExists:
            current = await client.get(rt, NAME, NAMESPACE)
            body = {**obj, "metadata": {**obj["metadata"], **_kept(current)}}
            if obj["kind"] == "Service":  # a Service's cluster IP cannot change
                body["spec"] = {**obj["spec"], "clusterIP": current["spec"].get("clusterIP")}
            await client.replace(rt, body, NAMESPACE)


def _kept(current: Obj) -> Obj:
    return {"resourceVersion": current["metadata"]["resourceVersion"]}


async def published_url(
    router_url: str, domain: str, *, timeout: float = 5.0, interval: float = 0.05
) -> str:
    """``http://git.<domain>:<port>`` once the router forwards it to the builder ("" if not)."""
    port = urlsplit(router_url).port
    host = git_host(domain)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                answer = await http.get(router_url + "/healthz", headers={"Host": host})
                if answer.status_code == 200 and answer.text.strip() == "ok":
                    return f"http://{host}:{port}" if port != 80 else f"http://{host}"
            except httpx.HTTPError:
                pass
            if loop.time() > deadline:
                return ""
            await asyncio.sleep(interval)
