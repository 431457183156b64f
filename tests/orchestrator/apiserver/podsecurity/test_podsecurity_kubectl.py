"""Pod Security as kubectl users see it: the 403, the warning, and why a Deployment is stuck."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.engines import require_engine
from support.wait import eventually_async

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController

EVENTS = BUILTIN_TYPES.require("", "Event")
DEPLOYMENTS = BUILTIN_TYPES.require("apps", "Deployment")
VIOLATION = (
    'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged '
    '(container "app" must not set securityContext.privileged=true), hostPath volumes '
    '(volume "root")'
)


def kubectl(api: RunningAPI, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl missing")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    argv = ["kubectl", "--kubeconfig", str(api.kubeconfig), "--cache-dir", str(tmp_path / "c")]
    return subprocess.run(
        [*argv, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home)},
        cwd=tmp_path,
    )


def escaping_spec() -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "paas/stack:bookworm",
        "command": ["sleep", "60"],
        "securityContext": {"privileged": True},
    }
    return {
        "hostNetwork": True,
        "containers": [container],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": escaping_spec()},
        },
    }


def test_kubectl_shows_the_403_and_nothing_is_created(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    manifest = tmp_path / "pod.json"
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": escaping_spec()}
    manifest.write_text(json.dumps(body))
    result = kubectl(sqlite_api, tmp_path, "apply", "-f", str(manifest))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (Forbidden): error when creating "{manifest}": pods "web" is '
        f"forbidden: {VIOLATION}"
    )
    missing = kubectl(sqlite_api, tmp_path, "get", "pod", "web")
    assert 'pods "web" not found' in missing.stderr


def test_kubectl_warns_on_a_deployment_and_describe_rs_says_why_it_has_no_pods(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    manifest = tmp_path / "deploy.json"
    manifest.write_text(json.dumps(deployment()))
    result = kubectl(sqlite_api, tmp_path, "apply", "-f", str(manifest))
    assert result.returncode == 0, result.stderr
    warning = f"Warning: would violate {VIOLATION.removeprefix('violates ')}"
    assert warning in result.stderr.splitlines()
    assert "deployment.apps/web created" in result.stdout

    async def controllers_report_it() -> str:
        async with controllers(sqlite_api, ReplicaSetController, DeploymentController) as cp:

            async def failed() -> str | None:
                events = (await cp.client.list(EVENTS, "default")).get("items") or []
                for event in events:
                    if event.get("reason") == "FailedCreate":
                        return str(event.get("message"))
                return None

            return await eventually_async(failed, 20)

    message = asyncio.run(controllers_report_it())
    assert message.startswith('Error creating: pods "web-')
    assert message.endswith(f'" is forbidden: {VIOLATION}')
    described = kubectl(sqlite_api, tmp_path, "describe", "rs", "-l", "app=web")
    assert described.returncode == 0, described.stderr
    assert "FailedCreate" in described.stdout
    assert VIOLATION.split(": ")[0] in described.stdout
