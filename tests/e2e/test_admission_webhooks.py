"""Admission webhooks end to end: the real API server, kubectl, and an HTTPS webhook server.

The webhook server (``support.webhookserver``) runs in a thread of the test
with a certificate signed by the cluster's own CA: the API server's data
directory holds ``ca.crt`` and ``ca.key`` (``orchestrator.pki.ensure_ca``),
so the configurations' ``caBundle`` is the cluster CA, as a platform
engineer using the cluster's CA would write it. Every test runs on both
stores.

A configuration is in effect once the API server's watch of configurations
has delivered it; the tests wait for that (``in_effect``) rather than
racing their first write against it, as a client of Kubernetes would have
to as well.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.apiserver import RunningAPI
from support.wait import wait_until
from support.webhookserver import ThreadedWebhooks, webhooks_in_thread

from orchestrator import pki

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
MUTATING = "MutatingWebhookConfiguration"
VALIDATING = "ValidatingWebhookConfiguration"
SERVICE_NAMESPACE = "webhooks"
SERVICE_NAME = "hooks"  # the webhook server's certificate covers hooks.webhooks.svc

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string, default: small}
          status:
            type: object
            properties:
              phase: {type: string}
"""


@pytest.fixture
def webhooks(api: RunningAPI, tmp_path: Path) -> Iterator[ThreadedWebhooks]:
    """The webhook server, its certificate signed by the cluster CA the API server made."""
    cluster_ca = pki.ensure_ca(api.data_dir)  # existing ca.crt and ca.key: reused, not replaced
    assert cluster_ca.cert == api.ca
    service = f"{SERVICE_NAME}.{SERVICE_NAMESPACE}.svc"
    with webhooks_in_thread(cluster_ca, tmp_path / "webhook-tls", [service]) as running:
        yield running


# -- writing configurations ----------------------------------------------------------------------


def hook(
    name: str,
    client_config: dict[str, Any],
    *,
    resources: tuple[str, ...] = ("configmaps",),
    operations: tuple[str, ...] = ("CREATE",),
    group: str = "",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": list(operations),
                "apiGroups": [group],
                "apiVersions": ["v1"],
                "resources": list(resources),
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **fields,
    }


def by_url(webhooks: ThreadedWebhooks, path: str) -> dict[str, Any]:
    return {"url": webhooks.server.url(path), "caBundle": webhooks.server.ca_bundle}


def configuration(kind: str, name: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": list(hooks),
    }


def apply(kubectl: Kubectl, tmp_path: Path, obj: dict[str, Any], **kw: Any) -> Any:
    path = tmp_path / f"{obj['kind']}-{obj['metadata']['name']}.json"
    path.write_text(json.dumps(obj))
    return kubectl("apply", "-o", "json", "-f", str(path), **kw)


def in_effect(api: RunningAPI, applied: subprocess.CompletedProcess[str]) -> None:
    """Wait until the API server checks writes against the configuration ``applied`` wrote."""
    obj = json.loads(applied.stdout)
    key = f"{obj['kind']}/{obj['metadata']['name']}"
    version = obj["metadata"]["resourceVersion"]
    admission = api.server.webhooks
    assert admission is not None
    wait_until(
        lambda: admission.in_effect().get(key) == version,
        timeout=5,
        message=f"{key} at {version} not in effect within 5s",
    )


def configure(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path, kind: str, name: str, *hooks: Any
) -> None:
    in_effect(api, apply(kubectl, tmp_path, configuration(kind, name, *hooks)))


# -- reading ----------------------------------------------------------------------------------


def stored(api: RunningAPI, path: str) -> dict[str, Any] | None:
    with api.http() as http:
        r = http.get(path)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return dict(r.json())


def configmap(api: RunningAPI, namespace: str, name: str) -> dict[str, Any] | None:
    return stored(api, f"/api/v1/namespaces/{namespace}/configmaps/{name}")


def labels(obj: dict[str, Any] | None) -> dict[str, str]:
    assert obj is not None, "not stored"
    return dict(obj["metadata"].get("labels") or {})


def create_configmap(api: RunningAPI, namespace: str, name: str, **params: str) -> httpx.Response:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    with api.http() as http:
        return http.post(f"/api/v1/namespaces/{namespace}/configmaps", json=body, params=params)


def names_seen(webhooks: ThreadedWebhooks, path: str) -> list[str]:
    return [review["name"] for review in webhooks.server.seen(path)]


# -- selection and mutation ------------------------------------------------------------------


def test_a_mutating_webhook_labels_configmaps_in_the_namespaces_and_objects_it_selects(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    kubectl("create", "namespace", "picked")
    kubectl("label", "namespace", "picked", "webhooks=on")
    kubectl("create", "namespace", "other")
    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "labeller",
        hook(
            "by-namespace.labeller.example.com",
            by_url(webhooks, "/add/by-namespace"),
            namespaceSelector={"matchLabels": {"webhooks": "on"}},
        ),
        hook(
            "by-object.labeller.example.com",
            by_url(webhooks, "/add/by-object"),
            objectSelector={"matchLabels": {"pick": "me"}},
        ),
    )

    made = kubectl("create", "configmap", "settings", "-n", "picked", "--from-literal=a=1")
    assert "configmap/settings created" in made.stdout
    assert "Warning: added label by-namespace" in made.stderr
    assert labels(configmap(api, "picked", "settings")) == {"by-namespace": "yes"}
    shown = kubectl("get", "configmap", "settings", "-n", "picked", "-o", "jsonpath={.metadata}")
    assert json.loads(shown.stdout)["labels"] == {"by-namespace": "yes"}

    untouched = kubectl("create", "configmap", "settings", "-n", "other", "--from-literal=a=1")
    assert "Warning" not in untouched.stderr
    assert labels(configmap(api, "other", "settings")) == {}

    chosen = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "chosen", "namespace": "other", "labels": {"pick": "me"}},
        "data": {"a": "1"},
    }
    apply(kubectl, tmp_path, chosen)
    assert labels(configmap(api, "other", "chosen")) == {"pick": "me", "by-object": "yes"}

    assert names_seen(webhooks, "/add/by-namespace") == ["settings"]
    assert names_seen(webhooks, "/add/by-object") == ["chosen"]
    review = webhooks.server.seen("/add/by-namespace")[0]
    assert review["operation"] == "CREATE"
    assert review["namespace"] == "picked"
    assert review["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert review["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert review["oldObject"] is None
    assert review["dryRun"] is False
    assert review["object"]["data"] == {"a": "1"}
    assert review["userInfo"]["username"] == "admin"
    # as in Kubernetes, a mutating webhook sees the object before the server fills it in
    assert "uid" not in review["object"]["metadata"]
    assert "creationTimestamp" not in review["object"]["metadata"]

    body = {"metadata": {"generateName": "generated-"}, "data": {"a": "1"}}
    with api.http() as http:
        made_by_name = http.post("/api/v1/namespaces/picked/configmaps", json=body)
    assert made_by_name.status_code == 201, made_by_name.text
    name = made_by_name.json()["metadata"]["name"]
    assert name.startswith("generated-")
    assert labels(configmap(api, "picked", name)) == {"by-namespace": "yes"}
    generated = webhooks.server.seen("/add/by-namespace")[-1]
    assert generated["name"] == ""
    assert "name" not in generated["object"]["metadata"]


def test_a_validating_webhook_refuses_a_name_after_mutation_and_nothing_is_stored(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "labeller",
        hook("label.labeller.example.com", by_url(webhooks, "/add/mutated")),
    )
    configure(
        api,
        kubectl,
        tmp_path,
        VALIDATING,
        "names",
        hook("names.validator.example.com", by_url(webhooks, "/validate")),
    )

    refused = kubectl("create", "configmap", "forbidden", "--from-literal=a=1", check=False)
    assert refused.returncode != 0
    assert (
        'admission webhook "names.validator.example.com" denied the request: '
        "the name is not allowed"
    ) in refused.stderr
    assert configmap(api, "default", "forbidden") is None
    denied = create_configmap(api, "default", "forbidden")
    assert denied.status_code == 403  # the code the webhook chose
    assert denied.json()["reason"] == "Forbidden"

    allowed = kubectl("create", "configmap", "fine", "--from-literal=a=1")
    assert "configmap/fine created" in allowed.stdout
    assert "Warning: added label mutated" in allowed.stderr
    assert "Warning: looked at it" in allowed.stderr
    assert labels(configmap(api, "default", "fine")) == {"mutated": "yes"}
    # the validating webhook saw the object as the mutating one left it
    validated = webhooks.server.seen("/validate")[-1]
    assert validated["object"]["metadata"]["labels"] == {"mutated": "yes"}


def test_a_webhook_named_by_service_is_reached_through_its_endpoints_and_its_name_verified(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    kubectl("create", "namespace", SERVICE_NAMESPACE)
    for name in (SERVICE_NAME, "impostor"):  # the same server; its certificate names "hooks"
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": SERVICE_NAMESPACE},
            "spec": {"ports": [{"port": 443, "targetPort": 9443}]},
        }
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": SERVICE_NAMESPACE},
            "subsets": [
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": webhooks.server.port}]}
            ],
        }
        apply(kubectl, tmp_path, service)
        apply(kubectl, tmp_path, endpoints)

    def via(service: str, path: str) -> dict[str, Any]:
        reference = {"namespace": SERVICE_NAMESPACE, "name": service, "path": path}
        return {"service": reference, "caBundle": webhooks.server.ca_bundle}

    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "by-service",
        hook("service.labeller.example.com", via(SERVICE_NAME, "/add/via-service")),
    )
    kubectl("create", "configmap", "reached", "--from-literal=a=1")
    assert labels(configmap(api, "default", "reached")) == {"via-service": "yes"}
    assert names_seen(webhooks, "/add/via-service") == ["reached"]

    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "by-impostor",
        hook("impostor.labeller.example.com", via("impostor", "/add/impostor")),
    )
    refused = kubectl("create", "configmap", "unverified", "--from-literal=a=1", check=False)
    assert refused.returncode != 0
    assert (
        'failed calling webhook "impostor.labeller.example.com": failed to call webhook: '
        'Post "https://impostor.webhooks.svc:443/add/impostor?timeout=10s": '
        "tls: failed to verify certificate: x509:"
    ) in refused.stderr
    assert configmap(api, "default", "unverified") is None
    assert webhooks.server.seen("/add/impostor") == []


# -- failure policy and timeout ---------------------------------------------------------------


def test_a_webhook_that_is_down_fails_writes_under_fail_and_lets_them_through_under_ignore(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    def guard(policy: str) -> dict[str, Any]:
        return configuration(
            VALIDATING,
            "guard",
            hook("guard.example.com", by_url(webhooks, "/validate"), failurePolicy=policy),
        )

    in_effect(api, apply(kubectl, tmp_path, guard("Fail")))
    kubectl("create", "configmap", "while-up", "--from-literal=a=1")
    port = webhooks.server.port
    webhooks.stop()

    refused = kubectl("create", "configmap", "while-down", "--from-literal=a=1", check=False)
    assert refused.returncode != 0
    assert (
        'Internal error occurred: failed calling webhook "guard.example.com": failed to call '
        f'webhook: Post "https://127.0.0.1:{port}/validate?timeout=10s": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    ) in refused.stderr
    failed = create_configmap(api, "default", "while-down")
    assert failed.status_code == 500
    assert failed.json()["reason"] == "InternalError"
    assert configmap(api, "default", "while-down") is None

    in_effect(api, apply(kubectl, tmp_path, guard("Ignore")))
    kubectl("create", "configmap", "while-down", "--from-literal=a=1")
    assert configmap(api, "default", "while-down") is not None
    assert names_seen(webhooks, "/validate") == ["while-up"]


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_a_slow_webhook_is_given_up_after_its_timeout(
    api: RunningAPI,
    kubectl: Kubectl,
    webhooks: ThreadedWebhooks,
    tmp_path: Path,
    policy: str,
) -> None:
    configure(
        api,
        kubectl,
        tmp_path,
        VALIDATING,
        "slow",
        hook(
            "slow.example.com",
            by_url(webhooks, "/slow"),
            failurePolicy=policy,
            timeoutSeconds=1,
        ),
    )
    started = time.monotonic()
    result = kubectl("create", "configmap", "waited", "--from-literal=a=1", check=False)
    elapsed = time.monotonic() - started
    assert elapsed < 8, f"the write took {elapsed:.1f}s with a 1s webhook timeout"
    assert names_seen(webhooks, "/slow") == ["waited"]  # it was called, and never answered
    if policy == "Fail":
        assert result.returncode != 0
        assert (
            'failed calling webhook "slow.example.com": failed to call webhook: '
            f'Post "{webhooks.server.url("/slow")}?timeout=1s": context deadline exceeded'
        ) in result.stderr
        assert configmap(api, "default", "waited") is None
    else:
        assert result.returncode == 0, result.stderr
        assert configmap(api, "default", "waited") is not None


# -- dry run ----------------------------------------------------------------------------------


def test_a_server_dry_run_reaches_the_webhooks_marked_dry_run_and_stores_nothing(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "labeller",
        hook(
            "label.labeller.example.com",
            by_url(webhooks, "/add/tried"),
            sideEffects="NoneOnDryRun",
        ),
    )
    configure(
        api,
        kubectl,
        tmp_path,
        VALIDATING,
        "names",
        hook("names.validator.example.com", by_url(webhooks, "/validate")),
    )

    tried = kubectl(
        "create", "configmap", "trial", "--from-literal=a=1", "--dry-run=server", "-o", "json"
    )
    assert json.loads(tried.stdout)["metadata"]["labels"] == {"tried": "yes"}
    assert configmap(api, "default", "trial") is None
    for path in ("/add/tried", "/validate"):
        review = webhooks.server.seen(path)[-1]
        assert review["dryRun"] is True
        assert review["options"]["dryRun"] == ["All"]

    refused = kubectl(
        "create", "configmap", "forbidden", "--from-literal=a=1", "--dry-run=server", check=False
    )
    assert refused.returncode != 0
    assert 'admission webhook "names.validator.example.com" denied the request' in refused.stderr

    # A webhook with side effects cannot be configured any more (v1 allows None and
    # NoneOnDryRun only), so the 400 "does not support dry run" is out of a client's reach.
    side_effects = configuration(
        VALIDATING,
        "effects",
        hook("effects.example.com", by_url(webhooks, "/validate"), sideEffects="Some"),
    )
    refused = apply(kubectl, tmp_path, side_effects, check=False)
    assert refused.returncode != 0
    assert (
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: '
        '"None", "NoneOnDryRun"'
    ) in refused.stderr


# -- custom resources, updates, deletes and subresources -------------------------------------


def test_webhooks_see_a_custom_kind_on_create_update_status_and_delete(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text(WIDGET_CRD)
    kubectl("apply", "-f", str(crd))
    kubectl("wait", "--for=condition=established", "--timeout=10s", "crd/widgets.example.com")
    configure(
        api,
        kubectl,
        tmp_path,
        MUTATING,
        "widgets",
        hook(
            "label.widgets.example.com",
            by_url(webhooks, "/add/mutated"),
            group="example.com",
            resources=("widgets",),
        ),
    )
    configure(
        api,
        kubectl,
        tmp_path,
        VALIDATING,
        "widgets",
        hook(
            "changes.widgets.example.com",
            by_url(webhooks, "/validate/changes"),
            group="example.com",
            resources=("widgets",),
            operations=("UPDATE", "DELETE"),
        ),
        hook(
            "status.widgets.example.com",
            by_url(webhooks, "/validate/status"),
            group="example.com",
            resources=("*/status",),
            operations=("UPDATE",),
        ),
    )
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    path = "/apis/example.com/v1/namespaces/default/widgets/w1"

    apply(kubectl, tmp_path, {**widget, "spec": {}})
    first = stored(api, path)
    assert labels(first) == {"mutated": "yes"}
    assert first is not None and first["spec"] == {"size": "small"}  # defaulted after the patch
    assert webhooks.server.seen("/add/mutated")[0]["kind"]["group"] == "example.com"

    kubectl("label", "widget", "w1", "color=blue")
    update = webhooks.server.seen("/validate/changes")[-1]
    assert update["operation"] == "UPDATE"
    assert update["oldObject"]["metadata"]["labels"] == {"mutated": "yes"}
    assert update["object"]["metadata"]["labels"] == {"mutated": "yes", "color": "blue"}

    kubectl(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Ready"}}',
    )
    status = webhooks.server.seen("/validate/status")
    assert len(status) == 1
    assert status[0]["subResource"] == "status"
    assert status[0]["resource"]["resource"] == "widgets"
    assert status[0]["object"]["status"] == {"phase": "Ready"}
    assert status[0]["oldObject"].get("status") is None, json.dumps(status[0]["oldObject"])
    assert len(webhooks.server.seen("/validate/changes")) == 1  # "widgets" leaves out /status

    kubectl("delete", "widget", "w1")
    delete = webhooks.server.seen("/validate/changes")[-1]
    assert delete["operation"] == "DELETE"
    assert delete["object"] is None
    assert delete["oldObject"]["status"] == {"phase": "Ready"}
    assert delete["options"]["kind"] == "DeleteOptions"
    assert stored(api, path) is None
    # the mutating webhook is for CREATE only
    assert [r["operation"] for r in webhooks.server.seen("/add/mutated")] == ["CREATE"]


# -- the configurations themselves -----------------------------------------------------------


def test_deleting_a_configuration_stops_its_calls(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    configure(
        api,
        kubectl,
        tmp_path,
        VALIDATING,
        "names",
        hook("names.validator.example.com", by_url(webhooks, "/validate")),
    )
    assert create_configmap(api, "default", "forbidden").status_code == 403

    kubectl("delete", "validatingwebhookconfiguration", "names")
    wait_until(
        lambda: create_configmap(api, "default", "forbidden").status_code == 201,
        timeout=5,
        message="the deleted webhook still refused writes after 5s",
    )
    calls = len(webhooks.server.seen("/validate"))
    kubectl("create", "configmap", "after", "--from-literal=a=1")
    assert len(webhooks.server.seen("/validate")) == calls


def test_a_configuration_with_an_invalid_field_is_refused_in_kubernetes_words(
    api: RunningAPI, kubectl: Kubectl, webhooks: ThreadedWebhooks, tmp_path: Path
) -> None:
    slowpoke = configuration(
        VALIDATING,
        "slowpoke",
        hook("slowpoke.example.com", by_url(webhooks, "/validate"), timeoutSeconds=40),
    )
    refused = apply(kubectl, tmp_path, slowpoke, check=False)
    assert refused.returncode != 0
    assert (
        'The ValidatingWebhookConfiguration "slowpoke" is invalid: webhooks[0].timeoutSeconds: '
        "Invalid value: 40: the timeout value must be between 1 and 30 seconds"
    ) in refused.stderr

    plain_http = hook("plain.example", {"url": "http://127.0.0.1:1/x"})
    with api.http() as http:
        r = http.post(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            json=configuration(MUTATING, "plain", plain_http),
        )
    assert r.status_code == 422
    status = r.json()
    assert status["reason"] == "Invalid"
    messages = {cause["field"]: cause["message"] for cause in status["details"]["causes"]}
    assert (
        "should be a domain with at least three segments separated by dots"
        in (messages["webhooks[0].name"])
    )
    assert "'https' is the only allowed URL scheme" in messages["webhooks[0].clientConfig.url"]
    assert (
        stored(api, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/plain")
        is None
    )
