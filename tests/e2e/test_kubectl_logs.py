"""``kubectl logs`` as it comes, against the API server and a real node agent.

The node (``support.lognode``) runs the process runtime and the node
agent's HTTPS server; the API server proxies ``pods/{name}/log`` to it.
Logs do not depend on the store, so these run on SQLite only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.lognode import LogNode, python_lines, start_log_node, web_deployment
from support.wait import wait_until

from orchestrator import pki
from orchestrator.api.resources import BUILTIN_TYPES

pytestmark = pytest.mark.kubectl
Kubectl = Callable[..., subprocess.CompletedProcess[str]]
DEPLOYMENTS = BUILTIN_TYPES.require("apps", "Deployment")
PODS = BUILTIN_TYPES.require("", "Pod")
NODES = BUILTIN_TYPES.require("", "Node")


@pytest.fixture
def api(sqlite_api: RunningAPI) -> RunningAPI:
    """One store is enough: logs come from the node, not from the store."""
    return sqlite_api


@pytest.fixture
def node(api: RunningAPI, tmp_path: Path) -> Iterator[LogNode]:
    running = start_log_node(api, tmp_path / "node")
    try:
        yield running
    finally:
        running.stop()


def settled(kubectl: Kubectl, *args: str, lines: int) -> subprocess.CompletedProcess[str]:
    """kubectl's answer once the app has written ``lines`` lines (it runs on its own)."""

    def attempt() -> subprocess.CompletedProcess[str] | None:
        done = kubectl(*args)
        return done if done.stdout.count("\n") == lines else None

    done = wait_until(attempt, timeout=20)
    assert done is not None
    return done


def test_kubectl_logs_with_container_tail_timestamps_and_previous(
    kubectl: Kubectl, node: LogNode
) -> None:
    pod = node.run_pod(
        "web",
        {
            "app": python_lines("for i in range(3): print(f'line {i}')"),
            "side": python_lines("print('from the side')"),
        },
    )
    done = settled(kubectl, "logs", "web", lines=3)
    assert done.stdout == "line 0\nline 1\nline 2\n"
    assert 'Defaulted container "app" out of: app, side' in done.stderr
    assert settled(kubectl, "logs", "web", "-c", "side", lines=1).stdout == "from the side\n"
    assert kubectl("logs", "web", "-c", "app", "--tail=1").stdout == "line 2\n"
    stamped = kubectl("logs", "pod/web", "-c", "app", "--tail=1", "--timestamps").stdout
    assert stamped.endswith("Z line 2\n")
    assert kubectl("logs", "web", "-c", "app", "--limit-bytes=8").stdout == "line 0\nl"
    assert kubectl("logs", "web", "-c", "app", "--since=1h").stdout.count("\n") == 3

    refused = kubectl("logs", "web", "-c", "app", "--previous", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (BadRequest): previous terminated container "app" in pod "web" not found'
    )
    wait_until(lambda: node.exited(pod, "app"))
    node.start_attempt("web", "app", python_lines("print('again')"), 1)
    assert kubectl("logs", "web", "-c", "app", "--previous").stdout == "line 0\nline 1\nline 2\n"
    assert settled(kubectl, "logs", "web", "-c", "app", lines=1).stdout == "again\n"


def test_kubectl_logs_follow_prints_lines_live_and_ends_with_the_container(
    kubectl_stream: Callable[..., Any], node: LogNode, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = (
        "import os, time\nprint('one')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\nprint('two')\n"
    )
    node.run_pod("web", {"app": python_lines(script)})
    follow = kubectl_stream("logs", "-f", "web")
    follow.wait_for(lambda line: line == "one")
    go.touch()
    follow.wait_for(lambda line: line == "two")
    assert follow.proc.wait(20) == 0  # the container ended, and kubectl with it


def test_kubectl_logs_of_a_deployment_and_the_refusals(
    kubectl: Kubectl, node: LogNode, api: RunningAPI
) -> None:
    deployment = web_deployment()
    node.call(lambda: node.client.create(DEPLOYMENTS, deployment, "default"))
    node.run_pod("web-1", {"app": python_lines("print('hello')")}, labels={"app": "web"})
    assert settled(kubectl, "logs", "deploy/web", lines=1).stdout == "hello\n"

    wrong = kubectl("logs", "web-1", "-c", "nope", check=False)  # kubectl checks this itself
    assert wrong.stderr.strip() == "error: container nope is not valid for pod web-1"
    pending = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pending"},
        "spec": {"containers": [{"name": "app", "image": "paas/stack:bookworm"}]},
    }
    node.call(lambda: node.client.create(PODS, pending, "default"))
    waiting = kubectl("logs", "pending", check=False)
    assert waiting.returncode == 1
    assert waiting.stderr.strip() == (
        'Error from server (BadRequest): container "app" in pod "pending" is waiting to start: '
        "ContainerCreating"
    )
    missing = kubectl("logs", "ghost", check=False)
    assert missing.stderr.strip() == (  # kubectl's own wording around the server's
        'error: error from server (NotFound): pods "ghost" not found in namespace "default"'
    )


def test_kubectl_logs_refuses_a_node_with_another_certificate_even_when_told_to_skip(
    kubectl: Kubectl, node: LogNode, tmp_path: Path
) -> None:
    node.run_pod("web", {"app": python_lines("print('hello')")})
    assert settled(kubectl, "logs", "web", lines=1).stdout == "hello\n"
    impostor = pki.ensure_self_signed_cert(tmp_path / "impostor", "kubelet", ["127.0.0.1"])
    annotations = {pki.KUBELET_SERVING_CERT_ANNOTATION: impostor.cert.read_text()}
    node.call(lambda: node.client.patch(NODES, "n1", {"metadata": {"annotations": annotations}}))
    refused = kubectl("logs", "web", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error from server (ServiceUnavailable): the node agent of")
    assert "could not be reached with the serving certificate its Node publishes" in refused.stderr
    # The API server's client certificate opens every node agent: it never talks to one whose
    # certificate it did not check, whatever a client asks.
    skipped = kubectl("logs", "web", "--insecure-skip-tls-verify-backend", check=False)
    assert skipped.returncode == 1
    assert skipped.stderr == refused.stderr
