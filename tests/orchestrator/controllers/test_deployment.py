"""The Deployment controller, end to end with the ReplicaSet controller, on both stores.

The rolling update and the kubectl session run the real scheduler and
simulated nodes; the other tests use ``support.podready``, a lighter stand-in
that binds pods and reports them Ready (or never Ready, for a broken image).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil

import pytest
from support.controlplane import controllers
from support.engines import require_engine
from support.nodes import simulated_nodes
from support.podready import pods_become_ready
from support.wait import eventually_async as eventually_async_

from orchestrator.api.conditions import condition_status
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController
from orchestrator.scheduler.scheduler import Scheduler

DEPLOY = BUILTIN_TYPES.by_group_kind("apps", "Deployment")
RS = BUILTIN_TYPES.by_group_kind("apps", "ReplicaSet")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
REVISION = "deployment.kubernetes.io/revision"


def deployment(replicas=3, image="web:1", strategy=None, **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": strategy or {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


async def eventually_async(check, timeout=20.0):
    """Poll an async ``check`` until it is truthy (see support.wait)."""
    return await eventually_async_(check, timeout)


def image_of(pod):
    return pod["spec"]["containers"][0]["image"]


def is_ready(pod):
    return condition_status(pod, "Ready") == "True"


async def rolled_out(client, replicas, image):
    """The Deployment reports a finished rollout (kubectl's test) and pods run ``image``."""
    d = await client.get(DEPLOY, "web", "default")
    s = d.get("status", {})
    done = (
        s.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and s.get("updatedReplicas", 0) == replicas == s.get("replicas", 0)
        and s.get("availableReplicas", 0) >= replicas
    )
    if not done:
        return None
    pods = (await client.list(PODS, "default", label_selector="app=web"))["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return d if len(live) == replicas and {image_of(p) for p in live} == {image} else None


async def set_image(client, image):
    await client.patch(
        DEPLOY,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}},
        "default",
        patch_type="application/strategic-merge-patch+json",
    )


class PodSampler:
    """Records, on every pod watch event, the live and ready pods per image."""

    def __init__(self, client):
        self.client = client
        self.pods: dict[str, dict] = {}
        self.samples: list[tuple[int, int, frozenset[str]]] = []

    async def run(self, since):
        async for kind, obj in self.client.watch(
            PODS, "default", resource_version=since, label_selector="app=web"
        ):
            name = obj["metadata"]["name"]
            if kind == "DELETED":
                self.pods.pop(name, None)
            elif kind in ("ADDED", "MODIFIED"):
                self.pods[name] = obj
            else:
                continue
            live = [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]
            self.samples.append(
                (
                    len(live),
                    sum(1 for p in live if is_ready(p)),
                    frozenset(image_of(p) for p in self.pods.values()),
                )
            )

    @contextlib.asynccontextmanager
    async def running(self):
        listed = await self.client.list(PODS, "default", label_selector="app=web")
        self.pods = {p["metadata"]["name"]: p for p in listed["items"]}
        task = asyncio.create_task(self.run(listed["metadata"]["resourceVersion"]))
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_rolling_update_keeps_availability_and_bounds_surge(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController, Scheduler) as cp,
        simulated_nodes(api, count=2),
    ):
        client = cp.client
        strategy = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
        }
        await client.create(DEPLOY, deployment(4, strategy=strategy), "default")
        v1 = await eventually_async(lambda: rolled_out(client, 4, "web:1"))
        assert v1["metadata"]["annotations"][REVISION] == "1"

        async with PodSampler(client).running() as sampler:
            await set_image(client, "web:2")
            v2 = await eventually_async(lambda: rolled_out(client, 4, "web:2"))
            await asyncio.sleep(0)  # let the sampler take the last event already received
        assert sampler.samples, "the rollout produced no pod events"
        assert min(ready for _, ready, _ in sampler.samples) >= 4 - 1  # 25% of 4, rounded down
        assert max(live for live, _, _ in sampler.samples) <= 4 + 1
        assert any(len(images) == 2 for _, _, images in sampler.samples)  # both ran at once

        assert v2["metadata"]["annotations"][REVISION] == "2"
        status = v2["status"]
        assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
            "Available": ("True", "MinimumReplicasAvailable"),
            "Progressing": ("True", "NewReplicaSetAvailable"),
        }
        assert "unavailableReplicas" not in status
        sets = {rs["metadata"]["name"]: rs for rs in (await client.list(RS, "default"))["items"]}
        new = next(rs for rs in sets.values() if rs["spec"]["replicas"] == 4)
        hash_ = new["metadata"]["labels"]["pod-template-hash"]
        assert new["metadata"]["name"] == f"web-{hash_}"
        assert new["spec"]["selector"]["matchLabels"]["pod-template-hash"] == hash_
        assert new["metadata"]["annotations"][REVISION] == "2"
        assert [rs["spec"]["replicas"] for rs in sets.values()].count(0) == 1
        messages = [
            e["message"]
            for e in (await client.list(EVENTS, "default"))["items"]
            if e["reason"] == "ScalingReplicaSet"
        ]
        assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in messages
        assert any(m.startswith("Scaled down replica set") and m.endswith("to 0") for m in messages)


async def test_recreate_stops_every_old_pod_before_starting_new_ones(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(2, strategy={"type": "Recreate"}), "default")
        await eventually_async(lambda: rolled_out(client, 2, "web:1"))
        async with PodSampler(client).running() as sampler:
            await set_image(client, "web:2")
            await eventually_async(lambda: rolled_out(client, 2, "web:2"))
        assert all(len(images) <= 1 for _, _, images in sampler.samples)
        assert min(ready for _, ready, _ in sampler.samples) == 0


async def test_rollback_to_a_revision_renumbers_it_and_keeps_history(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(2, revisionHistoryLimit=2), "default")
        await eventually_async(lambda: rolled_out(client, 2, "web:1"))
        for image in ("web:2", "web:3"):
            await set_image(client, image)
            await eventually_async(lambda image=image: rolled_out(client, 2, image))

        sets = (await client.list(RS, "default"))["items"]
        by_revision = {rs["metadata"]["annotations"][REVISION]: rs for rs in sets}
        assert sorted(by_revision) == ["1", "2", "3"]
        first = by_revision["1"]
        # what `kubectl rollout undo --to-revision=1` sends
        template = first["spec"]["template"]
        template["metadata"]["labels"].pop("pod-template-hash")
        d = await client.get(DEPLOY, "web", "default")
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {
                "op": "replace",
                "path": "/metadata/annotations",
                "value": {REVISION: d["metadata"]["annotations"][REVISION]},
            },
        ]
        await client.patch(
            DEPLOY, "web", patch, "default", patch_type="application/json-patch+json"
        )
        d = await eventually_async(lambda: rolled_out(client, 2, "web:1"))
        assert d["metadata"]["annotations"][REVISION] == "4"

        async def history():
            sets = (await client.list(RS, "default"))["items"]
            revs = {rs["metadata"]["name"]: rs["metadata"]["annotations"][REVISION] for rs in sets}
            return revs if len(revs) == 3 else None  # limit 2 old sets: revision 2 and 3

        revs = await eventually_async(history)
        assert revs[first["metadata"]["name"]] == "4"
        assert sorted(revs.values()) == ["2", "3", "4"]


async def test_paused_deployment_scales_but_does_not_roll_out_until_resumed(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(2), "default")
        await eventually_async(lambda: rolled_out(client, 2, "web:1"))
        await client.patch(DEPLOY, "web", {"spec": {"paused": True}}, "default")
        await set_image(client, "web:2")
        await client.patch(DEPLOY, "web", {"spec": {"replicas": 3}}, "default", subresource="scale")

        async def paused_and_scaled():
            d = await client.get(DEPLOY, "web", "default")
            conds = {c["type"]: c for c in d["status"].get("conditions", [])}
            ok = (
                conds.get("Progressing", {}).get("reason") == "DeploymentPaused"
                and d["status"].get("observedGeneration") == d["metadata"]["generation"]
                and d["status"].get("availableReplicas") == 3
            )
            return d if ok else None

        d = await eventually_async(paused_and_scaled)
        assert d["status"].get("updatedReplicas", 0) == 0
        assert len((await client.list(RS, "default"))["items"]) == 1
        pods = (await client.list(PODS, "default"))["items"]
        assert {image_of(p) for p in pods} == {"web:1"}

        await client.patch(DEPLOY, "web", {"spec": {"paused": False}}, "default")
        d = await eventually_async(lambda: rolled_out(client, 3, "web:2"))
        assert d["metadata"]["annotations"][REVISION] == "2"


async def test_progress_deadline_exceeded_when_new_pods_never_become_ready(api):
    async with (
        controllers(api, ReplicaSetController, DeploymentController) as cp,
        pods_become_ready(api, never_ready=frozenset({"web:broken"})),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(2, progressDeadlineSeconds=1), "default")
        await eventually_async(lambda: rolled_out(client, 2, "web:1"))
        await set_image(client, "web:broken")

        async def timed_out():
            d = await client.get(DEPLOY, "web", "default")
            conds = {c["type"]: c for c in d["status"].get("conditions", [])}
            progressing = conds.get("Progressing", {})
            return d if progressing.get("reason") == "ProgressDeadlineExceeded" else None

        d = await eventually_async(timed_out, timeout=15)
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        assert conds["Progressing"]["status"] == "False"
        assert conds["Progressing"]["message"].endswith("has timed out progressing.")
        assert conds["Available"]["status"] == "True"  # the old pods still serve
        pods = (await client.list(PODS, "default"))["items"]
        assert sum(1 for p in pods if image_of(p) == "web:1" and is_ready(p)) >= 1


async def kubectl(api, tmp_path, *args, timeout=60.0):
    """The real kubectl against ``api``, with a fresh discovery cache and no ~/.kube."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(api.kubeconfig),
        "--cache-dir",
        str(tmp_path / "cache"),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.kubectl
async def test_kubectl_rollout_status_and_undo(api, tmp_path):
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    async with (
        controllers(api, ReplicaSetController, DeploymentController, Scheduler) as cp,
        simulated_nodes(api, count=2),
    ):
        client = cp.client
        await client.create(DEPLOY, deployment(3), "default")
        code, out, err = await kubectl(
            api, tmp_path, "rollout", "status", "deployment/web", "--timeout=60s"
        )
        assert code == 0, err
        assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'

        await set_image(client, "web:2")
        code, out, err = await kubectl(
            api, tmp_path, "rollout", "status", "deployment/web", "--timeout=60s"
        )
        assert code == 0, err
        assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'

        code, out, err = await kubectl(api, tmp_path, "rollout", "history", "deployment/web")
        assert code == 0, err
        assert [line.split()[0] for line in out.splitlines()[2:4]] == ["1", "2"]

        code, out, err = await kubectl(api, tmp_path, "rollout", "undo", "deployment/web")
        assert (code, out.strip()) == (0, "deployment.apps/web rolled back"), err
        code, out, err = await kubectl(
            api, tmp_path, "rollout", "status", "deployment/web", "--timeout=60s"
        )
        assert code == 0, err
        d = await eventually_async(lambda: rolled_out(client, 3, "web:1"))
        assert d["metadata"]["annotations"][REVISION] == "3"
