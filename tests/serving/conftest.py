"""The serving controller against a real API server, for the tests in this directory.

``serving`` installs the platform's CRDs (the router's Gateway API ones
included, as ``paas up`` does), then runs in this event loop the serving
webhook and loops with the Deployment and ReplicaSet controllers and
``support.podready`` standing in for scheduler and node, so Revisions
become Ready without a node. ``kubectl`` runs the real binary without
blocking that loop (the webhook it reaches is served by it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.controlplane import ControlPlane, controllers
from support.engines import require_engine
from support.podready import pods_become_ready

from orchestrator.client.rest import APIClient
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController
from paas.serving.controller import (
    ConfigurationReconciler,
    RevisionReconciler,
    RouteReconciler,
    ServiceReconciler,
)
from paas.serving.settings import ServingSettings
from paas.serving.webhookserver import ServingWebhook, WebhookSettings
from paas.up.definitions import install_definitions, platform_definitions

SETTINGS = ServingSettings(domain="example.test", http_port=8080)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Kubectl = Callable[..., Awaitable[Result]]


@pytest.fixture
async def serving(sqlite_api: RunningAPI) -> AsyncIterator[ControlPlane]:
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions())
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(pods_become_ready(sqlite_api))
        cp = await stack.enter_async_context(
            controllers(
                sqlite_api,
                lambda ctx: ReplicaSetController(ctx),
                lambda ctx: DeploymentController(ctx),
                lambda ctx: ServingWebhook(ctx, WebhookSettings()),
                lambda ctx: ServiceReconciler(ctx, SETTINGS),
                lambda ctx: ConfigurationReconciler(ctx, SETTINGS),
                lambda ctx: RevisionReconciler(ctx, SETTINGS),
                lambda ctx: RouteReconciler(ctx, SETTINGS),
            )
        )
        webhook = cp.controllers[2]
        assert isinstance(webhook, ServingWebhook)
        await asyncio.wait_for(webhook.ready.wait(), 20)
        yield cp


@pytest.fixture
def kubectl(sqlite_api: RunningAPI, tmp_path: Path) -> Kubectl:
    """``await kubectl(*args, stdin=..., check=True)``: the real kubectl, the loop kept free."""
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)  # no ~/.kube of the developer's

    async def run(*args: str, stdin: str = "", check: bool = True) -> Result:
        proc = await asyncio.create_subprocess_exec(
            "kubectl",
            "--kubeconfig",
            str(sqlite_api.kubeconfig),
            "--cache-dir",
            str(tmp_path / "kube-cache"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
        result = Result(proc.returncode or 0, out.decode(), err.decode())
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed:\n{result.stderr}", pytrace=False)
        return result

    return run
