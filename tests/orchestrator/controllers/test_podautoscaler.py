"""The horizontal pod autoscaler controller against a real API server.

The Deployment and ReplicaSet controllers run beside it, with
``support.podready`` standing in for the scheduler and the node agent.
Usage comes from ``LoadMetrics``, a stand-in behind the controller's own
``ResourceMetrics`` interface (the one ``APIResourceMetrics`` implements
over ``metrics.k8s.io``, which this API server does not serve on this
branch): every selected pod uses ``level`` millicores. The metrics API
itself is used by the third test, which sees the error Kubernetes reports
when it is missing, and end to end by tests/e2e/test_hpa_scales.py. The
last test scales a custom kind through its CRD's scale subresource.
"""

from __future__ import annotations

from datetime import UTC, datetime

from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.crds import CRDS, definition
from support.podready import pods_become_ready
from support.wait import eventually_async

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.podautoscaler import HorizontalPodAutoscalerController, HPASettings
from orchestrator.controllers.podautoscaler_replicas import CalculatorSettings, PodSample
from orchestrator.controllers.replicaset import ReplicaSetController

DEPLOYMENTS = BUILTIN_TYPES.require("apps", "Deployment")
HPAS = BUILTIN_TYPES.require("autoscaling", "HorizontalPodAutoscaler")
PODS = BUILTIN_TYPES.require("", "Pod")
EVENTS = BUILTIN_TYPES.require("", "Event")
FAST = HPASettings(
    sync_period=0.2,
    downscale_stabilization=1.0,
    calculator=CalculatorSettings(cpu_initialization_period=0.0),
)


class LoadMetrics:
    """Every pod the selector picks uses ``level`` millicores (a ResourceMetrics)."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.level = 0

    async def pod_samples(
        self, namespace: str, selector: str, resource: str, container: str = ""
    ) -> dict:
        pods = await self.client.list(PODS, namespace, label_selector=selector)
        now = datetime.now(UTC)
        return {p["metadata"]["name"]: PodSample(self.level, now, 1.0) for p in pods["items"]}


def deployment(name: str, cpu: str | None = "100m") -> dict:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busy", "resources": resources}]},
            },
        },
    }


def hpa(name: str, *, behavior: dict | None = None) -> dict:
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": 1,
        "maxReplicas": 4,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ],
    }
    if behavior is not None:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": spec,
    }


def condition(obj: dict, type_: str) -> dict:
    found = [c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == type_]
    return found[0] if found else {}


async def test_an_hpa_scales_its_deployment_up_under_load_and_down_after(
    sqlite_api: RunningAPI,
) -> None:
    async with (
        pods_become_ready(sqlite_api),
        controllers(sqlite_api, ReplicaSetController, DeploymentController) as cp,
    ):
        load = LoadMetrics(cp.client)
        async with controllers(
            sqlite_api, lambda ctx: HorizontalPodAutoscalerController(ctx, FAST, load)
        ):
            await cp.client.create(DEPLOYMENTS, deployment("web"), "default")
            behavior = {"scaleDown": {"stabilizationWindowSeconds": 1}}
            await cp.client.create(HPAS, hpa("web", behavior=behavior), "default")

            async def replicas(n: int) -> dict | None:
                got = await cp.client.get(HPAS, "web", "default")
                status = got.get("status") or {}
                ok = status.get("currentReplicas") == n and status.get("desiredReplicas") == n
                return got if ok else None

            idle = await eventually_async(lambda: replicas(1), 20, "the HPA never looked")
            assert condition(idle, "ScalingActive")["reason"] == "ValidMetricFound"

            load.level = 150  # 150% of a 100m request against a 50% target: 3x the pods
            busy = await eventually_async(lambda: replicas(4), 30, "no scale-up to 4")
            assert busy["status"]["currentMetrics"][0]["resource"]["current"][
                "averageUtilization"
            ] in (150, 100, 75)  # what it read on its last pass, before the new pods
            assert busy["status"]["lastScaleTime"]
            scale = await cp.client.request(
                "GET", "/apis/apps/v1/namespaces/default/deployments/web/scale"
            )
            assert scale.json()["spec"]["replicas"] == 4

            load.level = 0
            await eventually_async(lambda: replicas(1), 30, "no scale-down to 1")

            async def rescales() -> list[str]:
                events = await cp.client.list(
                    EVENTS, "default", field_selector="involvedObject.name=web"
                )
                return [e["message"] for e in events["items"] if e["reason"] == "SuccessfulRescale"]

            messages = await eventually_async(
                lambda: _both(rescales), 10, "no SuccessfulRescale events both ways"
            )
            assert any(
                m.endswith("reason: cpu resource utilization (percentage of request) above target")
                for m in messages
            )
            assert any(m == "New size: 1; reason: All metrics below target" for m in messages)


async def _both(read) -> list[str] | None:
    messages = await read()
    up = any("above target" in m for m in messages)
    down = any("All metrics below target" in m for m in messages)
    return messages if up and down else None


async def test_a_target_without_cpu_requests_is_reported_and_left_alone(
    sqlite_api: RunningAPI,
) -> None:
    async with (
        pods_become_ready(sqlite_api),
        controllers(sqlite_api, ReplicaSetController, DeploymentController) as cp,
    ):
        load = LoadMetrics(cp.client)
        load.level = 500
        async with controllers(
            sqlite_api, lambda ctx: HorizontalPodAutoscalerController(ctx, FAST, load)
        ):
            await cp.client.create(DEPLOYMENTS, deployment("bare", cpu=None), "default")
            await cp.client.create(HPAS, hpa("bare"), "default")

            async def stuck() -> dict | None:
                got = await cp.client.get(HPAS, "bare", "default")
                active = condition(got, "ScalingActive")
                return got if "missing request" in active.get("message", "") else None

            got = await eventually_async(stuck, 20, "no missing request condition")
            assert condition(got, "ScalingActive")["reason"] == "FailedGetResourceMetric"
            message = condition(got, "ScalingActive")["message"]
            assert message.startswith(
                "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                "missing request for cpu in container c of Pod bare-"
            )
            scale = await cp.client.request(
                "GET", "/apis/apps/v1/namespaces/default/deployments/bare/scale"
            )
            assert scale.json()["spec"]["replicas"] == 1

            async def reasons() -> set[str] | None:
                events = await cp.client.list(
                    EVENTS, "default", field_selector="involvedObject.name=bare"
                )
                found = {e["reason"] for e in events["items"]}
                wanted = {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
                return found if wanted <= found else None

            await eventually_async(reasons, 10, "no failure events")


async def test_without_a_metrics_api_the_hpa_says_what_is_missing(sqlite_api: RunningAPI) -> None:
    async with (
        pods_become_ready(sqlite_api),
        controllers(
            sqlite_api,
            ReplicaSetController,
            DeploymentController,
            lambda ctx: HorizontalPodAutoscalerController(ctx, FAST),
        ) as cp,
    ):
        await cp.client.create(DEPLOYMENTS, deployment("lonely"), "default")
        await cp.client.create(HPAS, hpa("lonely"), "default")

        async def stuck() -> dict | None:
            got = await cp.client.get(HPAS, "lonely", "default")
            return got if condition(got, "ScalingActive").get("status") == "False" else None

        got = await eventually_async(stuck, 20, "no ScalingActive=False condition")
        active = condition(got, "ScalingActive")
        assert active["reason"] == "FailedGetResourceMetric"
        assert (
            "failed to get cpu utilization: unable to get metrics for resource cpu: "
            in (active["message"])
        )
        assert condition(got, "AbleToScale")["reason"] == "SucceededGetScale"


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}},
        },
    },
}


async def test_an_hpa_scales_a_custom_kind_through_its_scale_subresource(
    sqlite_api: RunningAPI,
) -> None:
    crd = definition("widgets", "Widget", WIDGET_SCHEMA)
    crd["spec"]["versions"][0]["subresources"] = {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    async with pods_become_ready(sqlite_api), APIClient(sqlite_api.client_config()) as client:
        await client.request("POST", CRDS, json_body=crd)

        async def served() -> bool:
            try:
                await client.request("GET", widgets)
            except errors.NotFound:
                return False
            return True

        await eventually_async(served, 20, "the Widget kind is not served")
        body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        created = (
            await client.request("POST", widgets, json_body={**body, "spec": {"replicas": 1}})
        ).json()
        created["status"] = {"replicas": 1, "selector": "app=widget"}
        await client.request("PUT", f"{widgets}/w/status", json_body=created)
        pod = deployment("widget")["spec"]["template"]
        await client.create(
            PODS, {**pod, "metadata": {"name": "widget-0", "labels": {"app": "widget"}}}, "default"
        )
        load = LoadMetrics(client)
        load.level = 200  # 200% of the request against 50%: 4x, within max 3
        async with controllers(
            sqlite_api, lambda ctx: HorizontalPodAutoscalerController(ctx, FAST, load)
        ):
            target = hpa("w")
            target["spec"]["scaleTargetRef"] = {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "name": "w",
            }
            target["spec"]["maxReplicas"] = 3
            await client.create(HPAS, target, "default")

            async def scaled() -> bool:
                widget = (await client.request("GET", f"{widgets}/w")).json()
                return widget["spec"]["replicas"] == 3

            await eventually_async(scaled, 20, "the Widget was not scaled to 3")
