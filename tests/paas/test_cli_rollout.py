"""``paas rollout``, run as a real subprocess against a real API server with controllers.

``support.podready`` stands in for the scheduler and the node agent: pods
become Ready only while it runs, which lets a test hold a rollout halfway.
"""

from __future__ import annotations

import asyncio
import sys

from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.podready import pods_become_ready

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController

DEPLOY = BUILTIN_TYPES.by_group_kind("apps", "Deployment")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
REVISION = "deployment.kubernetes.io/revision"

# `paas rollout ...` until paas/cli/main.py registers the command itself
RUNNER = (
    "import argparse, sys\n"
    "from paas.cli.rollout import add_rollout_parser\n"
    "p = argparse.ArgumentParser(prog='paas')\n"
    "add_rollout_parser(p.add_subparsers())\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(a.func(a))\n"
)


def deployment(image="web:1", **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


async def start(api: RunningAPI, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUNNER,
        "rollout",
        *args,
        "--kubeconfig",
        str(api.kubeconfig),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def paas_rollout(api: RunningAPI, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    proc = await start(api, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def set_image(client, image):
    await client.patch(
        DEPLOY,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}},
        "default",
        patch_type="application/strategic-merge-patch+json",
    )


async def images(client):
    pods = (await client.list(PODS, "default"))["items"]
    return {
        p["spec"]["containers"][0]["image"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    }


async def test_status_prints_progress_until_the_rollout_is_done(api):
    async with controllers(api, ReplicaSetController, DeploymentController) as cp:
        await cp.client.create(DEPLOY, deployment(), "default")
        proc = await start(api, "status", "deployment/web", "--timeout", "60s")
        assert proc.stdout is not None
        waiting = (
            'Waiting for deployment "web" rollout to finish: 0 of 3 updated replicas are '
            "available..."
        )
        lines = []
        while waiting not in lines:  # pods are not Ready before the node agent runs
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line, f"status ended early: {lines}"
            lines.append(line.decode().rstrip("\n"))
        async with pods_become_ready(api):
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        lines += out.decode().splitlines()
        assert proc.returncode == 0, err
        assert lines[-1] == 'deployment "web" successfully rolled out'
        assert all(line.startswith("Waiting for deployment") for line in lines[:-1])


async def test_history_undo_pause_and_resume(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api, never_ready=frozenset({"web:broken"})),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(), "default")
        code, out, _ = await paas_rollout(api, "status", "deploy/web")
        assert code == 0
        await set_image(client, "web:2")
        code, out, _ = await paas_rollout(api, "status", "deployment", "web")
        assert (code, out.splitlines()[-1]) == (0, 'deployment "web" successfully rolled out')

        code, out, _ = await paas_rollout(api, "history", "deployment/web")
        assert code == 0
        assert out.splitlines() == [
            "deployment.apps/web ",
            "REVISION  CHANGE-CAUSE",
            "1         <none>",
            "2         <none>",
            "",
        ]
        code, out, _ = await paas_rollout(api, "history", "deployment/web", "--revision", "1")
        assert "    Image:\tweb:1" in out.splitlines()

        code, out, _ = await paas_rollout(api, "undo", "deployment/web", "--to-revision", "1")
        assert (code, out) == (0, "deployment.apps/web rolled back\n")
        code, _, _ = await paas_rollout(api, "status", "deployment/web")
        assert code == 0 and await images(client) == {"web:1"}
        d = await client.get(DEPLOY, "web", "default")
        assert d["metadata"]["annotations"][REVISION] == "3"
        code, out, err = await paas_rollout(api, "undo", "deployment/web", "--to-revision", "9")
        assert (code, err) == (1, "error: unable to find specified revision 9 in history\n")

        assert await paas_rollout(api, "pause", "deployment/web") == (
            0,
            "deployment.apps/web paused\n",
            "",
        )
        code, _, err = await paas_rollout(api, "pause", "deployment/web")
        assert (code, err) == (1, 'error: deployments.apps "web" is already paused\n')
        await set_image(client, "web:4")
        code, out, _ = await paas_rollout(api, "status", "deployment/web", "--timeout", "1s")
        assert code == 1 and await images(client) == {"web:1"}  # paused: nothing rolls
        assert await paas_rollout(api, "resume", "deployment/web") == (
            0,
            "deployment.apps/web resumed\n",
            "",
        )
        code, _, _ = await paas_rollout(api, "status", "deployment/web")
        assert code == 0 and await images(client) == {"web:4"}


async def test_status_fails_when_the_progress_deadline_passes(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api, never_ready=frozenset({"web:broken"})),
    ):
        # a deadline long enough for the first rollout on a busy machine, then 1 s for the next
        await cp.client.create(DEPLOY, deployment(progressDeadlineSeconds=60), "default")
        assert (await paas_rollout(api, "status", "deployment/web"))[0] == 0
        await cp.client.patch(DEPLOY, "web", {"spec": {"progressDeadlineSeconds": 1}}, "default")
        await set_image(cp.client, "web:broken")
        code, out, err = await paas_rollout(api, "status", "deployment/web", "--timeout", "30s")
        assert code == 1
        assert err == 'error: deployment "web" exceeded its progress deadline\n'
        # Progress lines only if it looked at the rollout before the 1 s deadline passed.
        assert out == "" or out.startswith('Waiting for deployment "web" rollout to finish')
        code, _, err = await paas_rollout(api, "status", "statefulset/web")
        assert code == 1 and "only deployments roll out" in err
