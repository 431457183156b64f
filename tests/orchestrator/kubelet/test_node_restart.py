"""``paas node`` as a real process: SIGKILLed and started again, it adopts its running pods."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.kubelet import RUNTIMES, container_status, free_pod_cidr, is_ready
from support.nodeprocess import fetch, start_node
from support.nodes import until
from support.wait import eventually_async

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.runtimes.base import STACK_IMAGE

PODS = BUILTIN_TYPES.require("", "Pod")
SERVER = (
    "import http.server, os\n"
    "token = os.urandom(8).hex().encode()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(token)\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])), H).serve_forever()\n"
)


async def cleanup(kind: str, name: str, data_dir: Path, cidr: str) -> None:
    if kind == "docker":
        from orchestrator.kubelet.runtimes.docker import purge_node

        await asyncio.to_thread(purge_node, name)
        return
    from orchestrator.kubelet.runtimes.process import ProcessRuntime

    runtime = ProcessRuntime(data_dir / "runtime", name)
    await runtime.start(cidr)
    await runtime.teardown()
    if os.geteuid() == 0:  # the node's service proxy keeps its rules after a SIGKILL
        from orchestrator.proxy import kernel

        await asyncio.to_thread(kernel.remove_all)


@pytest.mark.parametrize("kind", RUNTIMES)
async def test_a_killed_node_agent_adopts_its_pods_when_started_again(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path, kind: str
) -> None:
    if kind == "docker":
        request.getfixturevalue("stack_image")
    name = f"kn-{uuid.uuid4().hex[:8]}"
    cidr = free_pod_cidr()
    data_dir = tmp_path / "node"
    log = tmp_path / "node.log"
    node = start_node(
        sqlite_api, kind, name, data_dir, pod_cidr=cidr, cluster_cidr="10.203.0.0/16", log=log
    )
    try:
        async with APIClient(sqlite_api.client_config()) as client:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "kept"},
                "spec": {
                    "nodeName": name,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "app",
                            "image": STACK_IMAGE,
                            "command": ["python3", "-c", SERVER],
                            "ports": [{"containerPort": 8080}],
                        }
                    ],
                },
            }
            await client.create(PODS, pod, "default")
            ready = await until(lambda: client.get(PODS, "kept", "default"), is_ready, 60)
            url = f"http://{ready['status']['podIP']}:8080/"
            token = await eventually_async(lambda: fetch(url), 20)
            container_id = container_status(ready, "app")["containerID"]
            nodes = BUILTIN_TYPES.require("", "Node")
            boot = (await client.get(nodes, name))["status"]["nodeInfo"]["bootID"]
            node.send_signal(signal.SIGKILL)
            node.wait(10)
            assert await fetch(url) == token  # no agent at all: the app still serves
            node = start_node(
                sqlite_api,
                kind,
                name,
                data_dir,
                pod_cidr=cidr,
                cluster_cidr="10.203.0.0/16",
                log=log,
            )
            await until(
                lambda: client.get(nodes, name),
                lambda n: n["status"]["nodeInfo"]["bootID"] != boot,
                30,
            )
            await asyncio.sleep(3)  # an observation window: the new agent has looked at the pod
            assert await fetch(url) == token, "the app was restarted by the new agent"
            kept = await client.get(PODS, "kept", "default")
            status = container_status(kept, "app")
            assert (status["containerID"], status["restartCount"]) == (container_id, 0)
            await client.delete(PODS, "kept", "default")  # the new agent must carry this out

            async def gone() -> bool:
                try:
                    await client.get(PODS, "kept", "default")
                except errors.NotFound:
                    return True
                return False

            await eventually_async(gone, 30, log.read_text())
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGKILL)
            node.wait(10)
        await cleanup(kind, name, data_dir, cidr)
