"""A Knative Service written for Knative, applied with the real kubectl, served by our kinds.

The serving controller (webhook included) runs against a real API server;
kubectl applies a typical hello-world ksvc unchanged, lists it with
Knative's columns, is refused invalid ones with Knative's messages, and the
object graph appears with Knative's names, labels and owners, down to the
HTTPRoutes the router will implement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from support.controlplane import ControlPlane
from support.wait import eventually_async

from orchestrator.api import errors
from paas.serving.kinds import (
    CONFIGURATIONS,
    DEPLOYMENTS,
    HTTPROUTES,
    K8S_SERVICES,
    REVISIONS,
    ROUTES,
    SERVICES,
)

NS = "default"
Kubectl = Callable[..., Awaitable[Any]]  # the ``kubectl`` fixture of conftest.py
HELLO = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
        autoscaling.knative.dev/max-scale: "3"
        autoscaling.knative.dev/target: "10"
    spec:
      containerConcurrency: 10
      containers:
        - image: ghcr.io/knative/helloworld-go:latest
          ports:
            - containerPort: 8080
          env:
            - name: TARGET
              value: "{target}"
{traffic}
"""
SPLIT = """  traffic:
    - latestRevision: true
      percent: {latest}
    - revisionName: hello-00001
      percent: {old}
      tag: old
"""


def manifest(target: str = "World", traffic: str = "") -> str:
    return HELLO.format(target=target, traffic=traffic)


async def ready_service(cp: ControlPlane, latest: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        svc = await cp.client.get(SERVICES, "hello", NS)
        status = svc.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
        if (
            ready
            and ready[0]["status"] == "True"
            and status.get("latestReadyRevisionName") == latest
        ):
            if status.get("observedGeneration") == svc["metadata"]["generation"]:
                return svc
        return None

    return await eventually_async(check, 30, f"ksvc hello never became Ready at {latest}")


async def test_a_knative_hello_world_applies_unchanged_and_kubectl_shows_knatives_columns(
    serving: ControlPlane, kubectl: Kubectl
) -> None:
    await kubectl("apply", "-f", "-", stdin=manifest())
    svc = await ready_service(serving, "hello-00001")
    assert svc["status"]["url"] == "http://hello.default.example.test:8080"
    assert svc["status"]["traffic"] == [
        {"revisionName": "hello-00001", "latestRevision": True, "percent": 100}
    ]
    assert svc["spec"]["template"]["spec"]["timeoutSeconds"] == 300  # the webhook's default
    assert svc["metadata"]["annotations"]["serving.knative.dev/creator"] == "admin"

    out = (await kubectl("get", "ksvc")).stdout.splitlines()
    assert out[0].split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert out[1].split() == [
        "hello",
        "http://hello.default.example.test:8080",
        "hello-00001",
        "hello-00001",
        "True",
    ]
    rev = (await kubectl("get", "rev")).stdout.splitlines()
    assert rev[0].split() == [
        "NAME", "CONFIG", "NAME", "GENERATION", "READY", "REASON", "ACTUAL", "REPLICAS",
        "DESIRED", "REPLICAS",
    ]  # fmt: skip
    assert rev[1].split() == ["hello-00001", "hello", "1", "True", "1", "1"]
    for short in ("kservice", "configuration", "cfg", "config", "kcfg", "rt", "revision"):
        await kubectl("get", short)
    route = (await kubectl("get", "rt")).stdout.splitlines()
    assert route[0].split() == ["NAME", "URL", "READY", "REASON"]
    listed = (await kubectl("get", "knative")).stdout
    assert "service.serving.knative.dev/hello" in listed


async def test_the_object_graph_has_knatives_names_labels_and_owners(
    serving: ControlPlane, kubectl: Kubectl
) -> None:
    await kubectl("apply", "-f", "-", stdin=manifest())
    svc = await ready_service(serving, "hello-00001")
    c = serving.client
    config = await c.get(CONFIGURATIONS, "hello", NS)
    route = await c.get(ROUTES, "hello", NS)
    for child in (config, route):
        [owner] = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Service",
            svc["metadata"]["uid"],
            True,
        )
        assert child["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert route["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 100, "configurationName": "hello"}
    ]
    rev = await c.get(REVISIONS, "hello-00001", NS)
    labels = rev["metadata"]["labels"]
    assert labels["serving.knative.dev/configuration"] == "hello"
    assert labels["serving.knative.dev/configurationGeneration"] == "1"
    assert labels["serving.knative.dev/service"] == "hello"
    assert rev["metadata"]["ownerReferences"][0]["uid"] == config["metadata"]["uid"]
    assert rev["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert rev["spec"]["containerConcurrency"] == 10

    deployment = await c.get(DEPLOYMENTS, "hello-00001-deployment", NS)
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == rev["metadata"]["uid"]
    assert deployment["spec"]["replicas"] == 1
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "user-container"
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert {"name": "TARGET", "value": "World"} in container["env"]
    service = await c.get(K8S_SERVICES, "hello-00001", NS)
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert service["spec"]["selector"] == {
        "serving.knative.dev/revisionUID": rev["metadata"]["uid"]
    }
    # containerConcurrency 10: the router lets each pod carry 10 requests at once
    assert service["metadata"]["annotations"] == {"paas.dev/max-requests-per-endpoint": "10"}

    httproute = await c.get(HTTPROUTES, "hello", NS)
    assert httproute["spec"]["hostnames"] == ["hello.default.example.test"]
    assert httproute["spec"]["rules"][0]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "hello-00001", "port": 80, "weight": 100}
    ]
    assert httproute["metadata"]["labels"]["serving.knative.dev/route"] == "hello"
    assert httproute["metadata"]["ownerReferences"][0]["uid"] == route["metadata"]["uid"]
    conditions = {x["type"]: x["status"] for x in route["status"]["conditions"]}
    assert conditions["IngressReady"] == conditions["AllTrafficAssigned"] == "True"

    # the autoscaler owns the scale from now on: a scaled Deployment stays scaled
    await c.patch(DEPLOYMENTS, "hello-00001-deployment", {"spec": {"replicas": 2}}, NS)
    await kubectl("annotate", "ksvc", "hello", "touched=yes")
    await ready_service(serving, "hello-00001")
    deployment = await c.get(DEPLOYMENTS, "hello-00001-deployment", NS)
    assert deployment["spec"]["replicas"] == 2


async def test_a_template_change_makes_the_next_revision_and_a_90_10_split_renders_weights(
    serving: ControlPlane, kubectl: Kubectl
) -> None:
    await kubectl("apply", "-f", "-", stdin=manifest())
    await ready_service(serving, "hello-00001")
    await kubectl("apply", "-f", "-", stdin=manifest("Knative", SPLIT.format(latest=90, old=10)))
    svc = await ready_service(serving, "hello-00002")

    async def split() -> dict[str, Any] | None:
        try:
            route = await serving.client.get(HTTPROUTES, "hello", NS)
        except errors.NotFound:
            return None
        weights = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
        return route if weights == {"hello-00002": 90, "hello-00001": 10} else None

    await eventually_async(split, 30, "the HTTPRoute never split 90/10")
    tagged = await serving.client.get(HTTPROUTES, "hello-old", NS)
    assert tagged["spec"]["hostnames"] == ["old-hello.default.example.test"]
    assert [b["name"] for b in tagged["spec"]["rules"][0]["backendRefs"]] == ["hello-00001"]
    svc = await ready_service(serving, "hello-00002")
    assert svc["status"]["traffic"] == [
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 90},
        {
            "tag": "old",
            "revisionName": "hello-00001",
            "latestRevision": False,
            "percent": 10,
            "url": "http://old-hello.default.example.test:8080",
        },
    ]
    first = await serving.client.get(REVISIONS, "hello-00001", NS)
    assert first["spec"]["containers"][0]["env"] == [{"name": "TARGET", "value": "World"}]

    # a traffic-only change makes no Revision
    await kubectl("apply", "-f", "-", stdin=manifest("Knative", SPLIT.format(latest=50, old=50)))

    async def halved() -> bool:
        route = await serving.client.get(HTTPROUTES, "hello", NS)
        return [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [50, 50]

    await eventually_async(halved, 30)
    revisions = await serving.client.list(REVISIONS, NS)
    assert sorted(r["metadata"]["name"] for r in revisions["items"]) == [
        "hello-00001",
        "hello-00002",
    ]


async def test_invalid_services_are_refused_with_knatives_messages_and_nothing_is_stored(
    serving: ControlPlane, kubectl: Kubectl
) -> None:
    prefix = 'admission webhook "validation.webhook.serving.knative.dev" denied the request: '
    cases = [
        (
            manifest(traffic="  traffic:\n    - latestRevision: true\n      percent: 90\n"),
            "validation failed: Traffic targets sum to 90, want 100: spec.traffic",
        ),
        (
            manifest().replace('min-scale: "1"', 'min-scale: "5"'),
            "validation failed: max-scale=3 is less than min-scale=5: "
            "spec.template.metadata.annotations.autoscaling.knative.dev/max-scale, "
            "spec.template.metadata.annotations.autoscaling.knative.dev/min-scale",
        ),
        (
            manifest().replace('target: "10"', 'target: "lots"'),
            "validation failed: invalid value: lots: "
            "spec.template.metadata.annotations.autoscaling.knative.dev/target",
        ),
        (
            manifest().replace(
                "    metadata:\n      annotations:",
                "    metadata:\n      name: other-1\n      annotations:",
            ),
            'validation failed: invalid value: "other-1" must have prefix "hello-": '
            "spec.template.metadata.name",
        ),
    ]
    for body, message in cases:
        result = await kubectl("apply", "-f", "-", stdin=body, check=False)
        assert result.returncode != 0
        assert prefix + message in result.stderr, result.stderr
    with_errors = await serving.client.list(SERVICES, NS)
    assert with_errors["items"] == []


async def test_a_revision_spec_cannot_be_changed(serving: ControlPlane, kubectl: Kubectl) -> None:
    await kubectl("apply", "-f", "-", stdin=manifest())
    await ready_service(serving, "hello-00001")
    patch = '{"spec":{"containerConcurrency":5}}'
    result = await kubectl("patch", "rev", "hello-00001", "--type=merge", "-p", patch, check=False)
    assert result.returncode != 0
    assert (
        "denied the request: validation failed: Immutable fields changed (-old +new): spec"
        in result.stderr
    )


async def test_a_slug_image_from_the_app_controller_is_accepted(
    serving: ControlPlane, kubectl: Kubectl
) -> None:
    slug = "slug:sha256:" + "ab" * 32
    await kubectl(
        "apply", "-f", "-", stdin=manifest().replace("ghcr.io/knative/helloworld-go:latest", slug)
    )
    rev = await eventually_async(lambda: _get(serving, REVISIONS, "hello-00001"), 30)
    assert rev["spec"]["containers"][0]["image"] == slug


async def _get(cp: ControlPlane, rt: Any, name: str) -> dict[str, Any] | None:
    try:
        return await cp.client.get(rt, name, NS)
    except errors.NotFound:
        return None
