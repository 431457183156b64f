"""GET .../pods/{name}/log: what the API server refuses itself, and what it asks the node.

The refusals are checked against a real API server with the pod's spec and
status written as a node agent would; the streaming path runs a real node
agent server (``orchestrator.kubelet.server``) over the process runtime,
see ``test_pod_log_*`` at the end and tests/e2e/test_kubectl_logs.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.apiserver import RunningAPI
from support.lognode import LogNode, python_lines, web_deployment
from support.wait import eventually, wait_until

from orchestrator import pki
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.registration import NodeAgent, NodeSettings

PODS = BUILTIN_TYPES.require("", "Pod")
NODES = BUILTIN_TYPES.require("", "Node")
DEPLOYMENTS = BUILTIN_TYPES.require("apps", "Deployment")
LOG = "/api/v1/namespaces/default/pods/{}/log"


def pod(name: str, *containers: str, node: str = "", init: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": c, "image": "paas/stack:bookworm"} for c in containers]
    }
    if init:
        spec["initContainers"] = [{"name": c, "image": "paas/stack:bookworm"} for c in init]
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
async def client(sqlite_api: RunningAPI) -> AsyncIterator[APIClient]:
    async with APIClient(sqlite_api.client_config()) as c:
        yield c


async def set_status(client: APIClient, name: str, statuses: list[dict[str, Any]]) -> None:
    current = await client.get(PODS, name, "default")
    current["status"] = {"phase": "Pending", "containerStatuses": statuses}
    await client.replace(PODS, current, "default", subresource="status")


def waiting(name: str, reason: str) -> dict[str, Any]:
    return {
        "name": name,
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": "paas/stack:bookworm",
        "imageID": "",
    }


def running(name: str, container_id: str) -> dict[str, Any]:
    return {
        "name": name,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": "paas/stack:bookworm",
        "imageID": "",
        "containerID": container_id,
    }


def status_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["kind"] == "Status", body
    return body


async def test_log_of_a_missing_pod_is_not_found(http: httpx.AsyncClient) -> None:
    r = await http.get(LOG.format("nope"))
    assert r.status_code == 404
    assert status_of(r)["message"] == 'pods "nope" not found'


async def test_log_needs_a_token(http: httpx.AsyncClient, client: APIClient) -> None:
    await client.create(PODS, pod("web", "app"), "default")
    r = await http.get(LOG.format("web"), headers={"Authorization": ""})
    assert r.status_code == 401


async def test_several_containers_need_a_name_and_the_list_names_them_all(
    http: httpx.AsyncClient, client: APIClient
) -> None:
    await client.create(PODS, pod("web", "a", "b", init=("setup",)), "default")
    r = await http.get(LOG.format("web"))
    assert r.status_code == 400
    assert status_of(r)["message"] == (
        "a container name must be specified for pod web, choose one of: [a b] "
        "or one of the init containers: [setup]"
    )
    r = await http.get(LOG.format("web"), params={"container": "x"})
    assert r.status_code == 400
    assert status_of(r)["message"] == "container x is not valid for pod web"


async def test_a_pod_not_on_a_node_is_waiting_to_start(
    http: httpx.AsyncClient, client: APIClient
) -> None:
    await client.create(PODS, pod("web", "app"), "default")
    r = await http.get(LOG.format("web"))
    assert r.status_code == 400
    assert status_of(r)["reason"] == "BadRequest"
    assert status_of(r)["message"] == (
        'container "app" in pod "web" is waiting to start: ContainerCreating'
    )


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ContainerCreating", "is waiting to start: ContainerCreating"),
        ("ErrImagePull", "is waiting to start: image can't be pulled"),
        ("ImagePullBackOff", "is waiting to start: trying and failing to pull image"),
        ("ErrImageNeverPull", "is waiting to start: ErrImageNeverPull"),
    ],
)
async def test_a_waiting_container_says_why_in_kubelet_words(
    http: httpx.AsyncClient, client: APIClient, reason: str, message: str
) -> None:
    await client.create(PODS, pod("web", "app", node="n1"), "default")
    await set_status(client, "web", [waiting("app", reason)])
    r = await http.get(LOG.format("web"))
    assert r.status_code == 400
    assert status_of(r)["message"] == f'container "app" in pod "web" {message}'


async def test_previous_without_a_terminated_container_is_refused(
    http: httpx.AsyncClient, client: APIClient
) -> None:
    await client.create(PODS, pod("web", "app", node="n1"), "default")
    await set_status(client, "web", [running("app", "process://x")])
    r = await http.get(LOG.format("web"), params={"previous": "true"})
    assert r.status_code == 400
    assert status_of(r)["message"] == 'previous terminated container "app" in pod "web" not found'


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"tailLines": "ten"}, 400, "invalid integer for query parameter \"tailLines\": 'ten'"),
        ({"sinceSeconds": "1.5"}, 400, 'invalid integer for query parameter "sinceSeconds"'),
        ({"limitBytes": "x"}, 400, 'invalid integer for query parameter "limitBytes"'),
        ({"follow": "maybe"}, 400, 'invalid boolean for query parameter "follow"'),
        ({"sinceTime": "yesterday"}, 400, 'query parameter "sinceTime"'),
        (
            {"tailLines": "-1"},
            422,
            'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: '
            "must be greater than or equal to 0",
        ),
        ({"sinceSeconds": "0"}, 422, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        ({"limitBytes": "0"}, 422, "limitBytes: Invalid value: 0: must be greater than 0"),
        (
            {"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"},
            422,
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
    ],
)
async def test_options_are_checked_naming_the_parameter(
    http: httpx.AsyncClient, client: APIClient, params: dict[str, str], code: int, message: str
) -> None:
    await client.create(PODS, pod("web", "app", node="n1"), "default")
    await set_status(client, "web", [running("app", "process://x")])
    r = await http.get(LOG.format("web"), params=params)
    assert r.status_code == code, r.text
    assert message in status_of(r)["message"]


async def test_a_pod_on_an_unregistered_node_is_unavailable(
    http: httpx.AsyncClient, client: APIClient
) -> None:
    await client.create(PODS, pod("web", "app", node="ghost"), "default")
    await set_status(client, "web", [running("app", "process://x")])
    r = await http.get(LOG.format("web"))
    assert r.status_code == 503
    assert 'node "ghost", which is not registered' in status_of(r)["message"]


async def test_a_node_without_a_log_port_is_unavailable(
    http: httpx.AsyncClient, client: APIClient
) -> None:
    await NodeAgent(client, "n1", NodeSettings()).register()  # as a simulated node: port 0
    await client.create(PODS, pod("web", "app", node="n1"), "default")
    await set_status(client, "web", [running("app", "process://x")])
    r = await http.get(LOG.format("web"))
    assert r.status_code == 503
    assert 'node "n1" publishes no port for its node agent' in status_of(r)["message"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_node_is_named_without_the_connection_error(
    http: httpx.AsyncClient, client: APIClient, tmp_path: Path
) -> None:
    cert = pki.ensure_self_signed_cert(tmp_path, "kubelet", ["127.0.0.1"])
    settings = NodeSettings(
        address="127.0.0.1",
        daemon_port=free_port(),  # nothing listens there
        annotations={pki.KUBELET_SERVING_CERT_ANNOTATION: cert.cert.read_text()},
    )
    await NodeAgent(client, "n1", settings).register()
    await client.create(PODS, pod("web", "app", node="n1"), "default")
    await set_status(client, "web", [running("app", "process://x")])
    r = await http.get(LOG.format("web"))
    assert r.status_code == 503
    message = status_of(r)["message"]
    assert message == (
        'the node agent of node "n1" could not be reached with the serving certificate its '
        f"Node publishes ({pki.KUBELET_SERVING_CERT_ANNOTATION})"
    )


# -- through a real node agent ---------------------------------------------------------


THREE_LINES = python_lines("for i in range(3): print(f'line {i}')")


async def test_pod_log_streams_the_containers_output(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    pod = log_node.run_pod("web", {"app": THREE_LINES})
    wait_until(lambda: log_node.exited(pod, "app"))
    r = await http.get(LOG.format("web"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "line 0\nline 1\nline 2\n"
    r = await http.get(LOG.format("web"), params={"tailLines": "1", "timestamps": "true"})
    assert r.text.endswith("Z line 2\n") and r.text.count("\n") == 1


async def test_pod_log_follow_shows_each_line_as_it_comes(
    http: httpx.AsyncClient, log_node: LogNode, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = (
        "import os, time\nprint('one')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\nprint('two')\n"
    )
    log_node.run_pod("web", {"app": python_lines(script)})
    async with http.stream("GET", LOG.format("web"), params={"follow": "true"}) as r:
        assert r.status_code == 200
        lines = r.aiter_lines()
        assert await anext(lines) == "one"
        go.touch()
        assert await anext(lines) == "two"
        with pytest.raises(StopAsyncIteration):
            await anext(lines)


async def test_a_follower_going_away_ends_the_stream_on_the_node(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    script = "import time\nprint('one')\nwhile True: time.sleep(1)\n"  # then silence
    log_node.run_pod("web", {"app": python_lines(script)})
    async with http.stream("GET", LOG.format("web"), params={"follow": "true"}) as r:
        assert await anext(r.aiter_lines()) == "one"
        assert log_node.server.streams == 1
    # The reader left while the container writes nothing: the API server notices the
    # disconnect, drops its connection to the node, and the node stops reading the log.
    await eventually(lambda: log_node.server.streams == 0, timeout=10)


async def test_pod_log_previous_follows_the_pods_last_state(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    pod = log_node.run_pod("web", {"app": python_lines("print('first run')")})
    wait_until(lambda: log_node.exited(pod, "app"))
    log_node.start_attempt("web", "app", python_lines("print('second run')"), 1)
    wait_until(lambda: log_node.exited(pod, "app", 1))
    log_node.call(lambda: log_node.report("web"))
    r = await http.get(LOG.format("web"), params={"previous": "true"})
    assert (r.status_code, r.text) == (200, "first run\n")
    assert (await http.get(LOG.format("web"))).text == "second run\n"


async def test_a_node_serving_another_certificate_is_not_trusted(
    http: httpx.AsyncClient, client: APIClient, log_node: LogNode, tmp_path: Path
) -> None:
    pod = log_node.run_pod("web", {"app": THREE_LINES})
    wait_until(lambda: log_node.exited(pod, "app"))
    impostor = pki.ensure_self_signed_cert(tmp_path / "impostor", "kubelet", ["127.0.0.1"])
    annotations = {pki.KUBELET_SERVING_CERT_ANNOTATION: impostor.cert.read_text()}
    await client.patch(NODES, "n1", {"metadata": {"annotations": annotations}})
    r = await http.get(LOG.format("web"))
    assert r.status_code == 503
    message = status_of(r)["message"]
    assert 'node "n1"' in message and "with the serving certificate its Node publishes" in message


def paas(api: RunningAPI, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(api.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_paas_logs_prints_and_follows(
    sqlite_api: RunningAPI, log_node: LogNode, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = (
        "import os, sys, time\nprint('one')\nprint('err', file=sys.stderr)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\nprint('two')\n"
    )
    log_node.run_pod("web", {"app": python_lines(script), "side": python_lines("print('s')")})
    done = wait_until(lambda: _lines(paas(sqlite_api, "logs", "web", "--tail", "2"), 2))
    assert done is not None
    assert sorted(done.stdout.splitlines()) == ["err", "one"]  # both streams, in one log
    assert done.stderr == 'Defaulted container "app" out of: app, side\n'
    done = wait_until(lambda: _lines(paas(sqlite_api, "logs", "pod/web", "-c", "side"), 1))
    assert done is not None
    assert done.stdout == "s\n"
    done = paas(sqlite_api, "logs", "web", "-c", "nope")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "Error from server (BadRequest): container nope is not valid for pod web"
    )
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paas",
            "logs",
            "-f",
            "web",
            "--kubeconfig",
            str(sqlite_api.kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as follow:
        assert follow.stdout is not None
        assert sorted([follow.stdout.readline(), follow.stdout.readline()]) == ["err\n", "one\n"]
        go.touch()
        assert follow.stdout.readline() == "two\n"
        assert follow.wait(20) == 0  # the container ended, and so does paas logs -f


def test_paas_logs_of_a_deployment_picks_one_of_its_pods(
    sqlite_api: RunningAPI, log_node: LogNode
) -> None:
    deployment = web_deployment()
    log_node.call(lambda: log_node.client.create(DEPLOYMENTS, deployment, "default"))
    log_node.run_pod("web-1", {"app": THREE_LINES}, labels={"app": "web"})
    done = wait_until(lambda: _lines(paas(sqlite_api, "logs", "deploy/web"), 3))
    assert done is not None
    assert done.stdout == "line 0\nline 1\nline 2\n"


def _lines(
    done: subprocess.CompletedProcess[str], count: int
) -> subprocess.CompletedProcess[str] | None:
    """The finished command once its output has ``count`` lines (the app may still be writing)."""
    return done if done.returncode == 0 and done.stdout.count("\n") == count else None
