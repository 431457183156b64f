"""Pod Security Admission through a real API server: what a client sees over HTTP.

Namespaces default to baseline (enforce, warn and audit), the cluster's and
the platform's own namespaces are exempt, and labels choose otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.apiserver import RunningAPI

P = "pod-security.kubernetes.io/"
HOST_ESCAPE = (
    'host namespaces (hostNetwork=true), privileged (container "app" must not set '
    'securityContext.privileged=true), hostPath volumes (volume "root")'
)


@pytest.fixture
def http(sqlite_api: RunningAPI) -> Iterator[httpx.Client]:
    with sqlite_api.http() as client:
        yield client


def pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "paas/stack:bookworm", "command": ["sleep", "60"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def escaping_pod(name: str = "web") -> dict[str, Any]:
    """hostNetwork, a privileged container and the node's root directory."""
    body = pod(name, hostNetwork=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    body["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    return body


def namespace(http: httpx.Client, name: str, **labels: str) -> httpx.Response:
    body = {
        "metadata": {
            "name": name,
            "labels": {P + k.replace("_", "-"): v for k, v in labels.items()},
        }
    }
    return http.post("/api/v1/namespaces", json=body)


def warnings(response: httpx.Response) -> list[str]:
    header = response.headers.get("warning", "")
    return [w.replace('\\"', '"') for w in re.findall(r'299 - "((?:[^"\\]|\\.)*)"', header)]


def test_a_pod_that_escapes_its_container_is_refused_in_an_unlabelled_namespace(
    http: httpx.Client,
) -> None:
    response = http.post("/api/v1/namespaces/default/pods", json=escaping_pod())
    assert response.status_code == 403, response.text
    status = response.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        f'pods "web" is forbidden: violates PodSecurity "baseline:latest": {HOST_ESCAPE}'
    )
    assert http.get("/api/v1/namespaces/default/pods/web").status_code == 404


def test_an_ordinary_pod_is_accepted_without_warnings(http: httpx.Client) -> None:
    response = http.post("/api/v1/namespaces/default/pods", json=pod("plain"))
    assert response.status_code == 201, response.text
    assert warnings(response) == []


def test_a_namespace_labelled_privileged_accepts_the_host(http: httpx.Client) -> None:
    assert namespace(http, "ops", enforce="privileged", warn="privileged").status_code == 201
    response = http.post("/api/v1/namespaces/ops/pods", json=escaping_pod())
    assert response.status_code == 201, response.text
    assert warnings(response) == []


def test_the_clusters_own_namespaces_are_exempt_whatever_their_labels(
    http: httpx.Client,
) -> None:
    patch = {"metadata": {"labels": {P + "enforce": "restricted"}}}
    response = http.patch(
        "/api/v1/namespaces/kube-system",
        json=patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert warnings(response) == [
        'namespace "kube-system" is exempt from Pod Security, and the policy '
        "(enforce=restricted:latest) will be ignored"
    ]
    response = http.post("/api/v1/namespaces/kube-system/pods", json=escaping_pod())
    assert response.status_code == 201, response.text
    assert warnings(response) == []


def test_warn_restricted_answers_a_warning_and_creates_the_pod(http: httpx.Client) -> None:
    assert namespace(http, "apps", warn="restricted").status_code == 201
    response = http.post("/api/v1/namespaces/apps/pods", json=pod("web"))
    assert response.status_code == 201, response.text
    assert warnings(response) == [
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop='
        '["ALL"]), runAsNonRoot != true (pod or container "app" must set '
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    ]


def test_a_deployment_is_only_warned_about_pods_it_could_not_create(http: httpx.Client) -> None:
    template = escaping_pod()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]},
        },
    }
    response = http.post("/apis/apps/v1/namespaces/default/deployments", json=deployment)
    assert response.status_code == 201, response.text
    assert warnings(response) == [f'would violate PodSecurity "baseline:latest": {HOST_ESCAPE}']


@pytest.mark.parametrize(
    ("label", "value", "message"),
    [
        ("enforce", "bogus", "must be one of privileged, baseline, restricted"),
        ("warn-version", "1.30", 'must be "latest" or "v1.x"'),
    ],
)
def test_a_namespace_with_an_invalid_label_is_refused_and_not_stored(
    http: httpx.Client, label: str, value: str, message: str
) -> None:
    response = namespace(http, "bad", **{label: value})
    assert response.status_code == 422, response.text
    assert response.json()["message"] == (
        f'namespaces "bad" is invalid: metadata.labels[{P}{label}]: Invalid value: "{value}": '
        f"{message}"
    )
    assert http.get("/api/v1/namespaces/bad").status_code == 404


def test_relabelling_a_namespace_with_an_invalid_level_changes_nothing(
    http: httpx.Client,
) -> None:
    assert namespace(http, "team", enforce="baseline").status_code == 201
    response = http.patch(
        "/api/v1/namespaces/team",
        json={"metadata": {"labels": {P + "enforce": "strict"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 422, response.text
    labels = http.get("/api/v1/namespaces/team").json()["metadata"]["labels"]
    assert labels[P + "enforce"] == "baseline"


def test_tightening_enforce_warns_about_the_pods_already_running(http: httpx.Client) -> None:
    assert namespace(http, "tight", enforce="privileged", warn="privileged").status_code == 201
    for i in (3, 1, 4, 2):
        body = pod(f"web-{i}", hostNetwork=True)
        assert http.post("/api/v1/namespaces/tight/pods", json=body).status_code == 201
    other = pod("other", hostPID=True)  # grouped by reasons: the same as web-*'s
    assert http.post("/api/v1/namespaces/tight/pods", json=other).is_success
    stray = pod("stray")
    stray["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    assert http.post("/api/v1/namespaces/tight/pods", json=stray).is_success
    response = http.patch(
        "/api/v1/namespaces/tight",
        json={"metadata": {"labels": {P + "enforce": "baseline"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert warnings(response) == [
        'existing pods in namespace "tight" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "other (and 4 other pods): host namespaces",
        "stray: privileged",
    ]
    loosened = http.patch(
        "/api/v1/namespaces/tight",
        json={"metadata": {"labels": {P + "enforce": "privileged"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert loosened.status_code == 200 and warnings(loosened) == []


def test_a_running_pod_is_checked_again_only_when_its_image_changes(http: httpx.Client) -> None:
    assert namespace(http, "legacy", enforce="privileged", warn="privileged").status_code == 201
    assert http.post("/api/v1/namespaces/legacy/pods", json=pod("web", hostIPC=True)).is_success
    merge = {"Content-Type": "application/merge-patch+json"}
    http.patch(
        "/api/v1/namespaces/legacy",
        json={"metadata": {"labels": {P + "enforce": "baseline"}}},
        headers=merge,
    ).raise_for_status()
    relabelled = http.patch(
        "/api/v1/namespaces/legacy/pods/web",
        json={"metadata": {"labels": {"tier": "front"}}},
        headers=merge,
    )
    assert relabelled.status_code == 200, relabelled.text
    status = http.get("/api/v1/namespaces/legacy/pods/web").json()
    status["status"] = {"phase": "Pending", "message": "waiting"}
    assert http.put("/api/v1/namespaces/legacy/pods/web/status", json=status).status_code == 200
    new_image = {"spec": {"containers": [{"name": "app", "image": "paas/stack:trixie"}]}}
    refused = http.patch(
        "/api/v1/namespaces/legacy/pods/web",
        json=new_image,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == (
        'pods "web" is forbidden: violates PodSecurity "baseline:latest": '
        "host namespaces (hostIPC=true)"
    )
    stored = http.get("/api/v1/namespaces/legacy/pods/web").json()
    assert stored["spec"]["containers"][0]["image"] == "paas/stack:bookworm"
