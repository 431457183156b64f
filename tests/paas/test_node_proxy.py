"""``paas node`` (process runtime, root) runs the service proxy: a cluster IP reaches its pod.

From the host, and from the pod itself (hairpin).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.engines import require_engine
from support.kubelet import free_pod_cidr, is_ready
from support.nodeprocess import fetch, start_node
from support.nodes import until
from support.wait import eventually_async

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.podnet import bridge_name, netns_name
from orchestrator.kubelet.runtimes.base import STACK_IMAGE
from orchestrator.proxy import kernel

pytestmark = pytest.mark.root
PODS = BUILTIN_TYPES.require("", "Pod")
SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
SERVICE_CIDR = "10.96.0.0/16"


def fetch_in(netns: str, url: str) -> str:
    """GET ``url`` from inside a network namespace (a pod's)."""
    code = (
        "import sys, urllib.request\n"
        "o = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        "sys.stdout.write(o.open(sys.argv[1], timeout=5).read().decode())\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", code, url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout or done.stderr


async def test_a_node_serves_a_cluster_ip(sqlite_api: RunningAPI, tmp_path: Path) -> None:
    require_engine("root", os.geteuid() == 0, "pod networking and the proxy need root")
    name = f"px-{uuid.uuid4().hex[:8]}"
    cidr = free_pod_cidr("10.205.0.0/16")
    data_dir, log = tmp_path / "node", tmp_path / "node.log"
    node = start_node(
        sqlite_api,
        "process",
        name,
        data_dir,
        pod_cidr=cidr,
        cluster_cidr="10.205.0.0/16",
        log=log,
        extra=("--service-cidr", SERVICE_CIDR, "--stop-pods-on-exit"),
    )
    try:
        async with APIClient(sqlite_api.client_config()) as client:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web"},
                "spec": {
                    "nodeName": name,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "app",
                            "image": STACK_IMAGE,
                            "command": [
                                "sh",
                                "-c",
                                "echo hello > index.html && exec python3 -m http.server $PORT",
                            ],
                            "ports": [{"containerPort": 8080}],
                        }
                    ],
                },
            }
            await client.create(PODS, pod, "default")
            ready = await until(lambda: client.get(PODS, "web", "default"), is_ready, 60)
            svc = await client.create(
                SERVICES,
                {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
                "default",
            )
            await client.create(
                ENDPOINTS,
                {
                    "metadata": {"name": "web"},
                    "subsets": [
                        {
                            "addresses": [{"ip": ready["status"]["podIP"]}],
                            "ports": [{"port": 8080}],
                        }
                    ],
                },
                "default",
            )
            url = f"http://{svc['spec']['clusterIP']}/index.html"
            assert await eventually_async(lambda: fetch(url), 20, log.read_text()) == "hello\n"
            # the pod through its own service: hairpin on its bridge port plus MASQUERADE
            netns = netns_name(name, ready["metadata"]["uid"])
            assert await asyncio.to_thread(fetch_in, netns, url) == "hello\n"
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
            node.wait(30)
        from orchestrator.kubelet.runtimes.process import ProcessRuntime

        runtime = ProcessRuntime(data_dir / "runtime", name)
        await runtime.start(cidr)
        await runtime.teardown()
        await asyncio.to_thread(kernel.remove_all)
        await asyncio.to_thread(kernel.unroute_service_range, SERVICE_CIDR, bridge_name(name))
    assert await asyncio.to_thread(kernel.saved_chains) == {"nat": [], "filter": []}
