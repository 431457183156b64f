"""The platform's own CRDs (App, Build) as ``paas up`` applies them, against a real API server.

``install_definitions`` is what ``paas up`` calls once the API server is
ready; these tests call it the same way, then look at what a user of the
platform sees: the kinds served and established, a restart changing
nothing, an App defaulted from an empty spec, a Build refused for a bad
commit, and the columns of ``kubectl get apps,builds``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.apiserver import RunningAPI
from support.engines import require_engine

from orchestrator.api.conditions import condition_status
from orchestrator.client.rest import APIClient
from paas.up.definitions import CRDS, install_definitions, platform_definitions

APPS = "/apis/paas.dev/v1/namespaces/default/apps"
BUILDS = "/apis/paas.dev/v1/namespaces/default/builds"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


async def install(api: RunningAPI) -> dict[str, dict[str, Any]]:
    """Apply the platform's CRDs as ``paas up`` does; the stored CRDs by name."""
    async with APIClient(api.client_config()) as client:
        await install_definitions(client, platform_definitions())
        listed = await client.list(CRDS)
    return {crd["metadata"]["name"]: crd for crd in listed["items"]}


def kubectl(api: RunningAPI, tmp_path: Path, *args: str) -> str:
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(api.kubeconfig),
            "--cache-dir",
            str(tmp_path / "kc"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


SERVING = [
    "configurations.serving.knative.dev",
    "revisions.serving.knative.dev",
    "routes.serving.knative.dev",
    "services.serving.knative.dev",
]
GATEWAY_API = [  # the router's (sorted as their files: gateway, gatewayclass, httproute)
    "gateways.gateway.networking.k8s.io",
    "gatewayclasses.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
]


def test_the_platform_ships_app_build_knative_serving_and_gateway_api_definitions() -> None:
    names = [crd["metadata"]["name"] for crd in platform_definitions()]
    assert names == ["apps.paas.dev", "builds.paas.dev", *SERVING, *GATEWAY_API]


async def test_the_definitions_are_accepted_and_established(sqlite_api: RunningAPI) -> None:
    crds = await install(sqlite_api)
    assert sorted(crds) == sorted(["apps.paas.dev", "builds.paas.dev", *SERVING, *GATEWAY_API])
    for crd in crds.values():
        assert condition_status(crd, "NamesAccepted") == "True"
        assert condition_status(crd, "Established") == "True"
    with sqlite_api.http() as http:
        assert http.get(APPS).json()["items"] == []
        assert http.get(BUILDS).json()["items"] == []


async def test_a_second_start_changes_nothing(sqlite_api: RunningAPI) -> None:
    first = await install(sqlite_api)
    second = await install(sqlite_api)
    for name, crd in first.items():
        assert second[name]["metadata"]["resourceVersion"] == crd["metadata"]["resourceVersion"]
        assert second[name]["metadata"]["generation"] == 1


async def test_an_app_with_an_empty_spec_gets_the_defaults(sqlite_api: RunningAPI) -> None:
    await install(sqlite_api)
    app = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "shop"}}
    with sqlite_api.http() as http:
        r = http.post(APPS, json=app)
    assert r.status_code == 201, r.text
    assert r.json()["spec"] == {
        "mainBranch": "main",
        "previews": {"minScale": 0},
        "main": {"minScale": 1},
    }


async def test_a_build_of_a_short_commit_is_refused_with_the_pattern(
    sqlite_api: RunningAPI,
) -> None:
    await install(sqlite_api)
    build = {
        "apiVersion": "paas.dev/v1",
        "kind": "Build",
        "metadata": {"name": "shop-1"},
        "spec": {"app": "shop", "branch": "main", "commit": "abc123"},
    }
    with sqlite_api.http() as http:
        r = http.post(BUILDS, json=build)
        assert r.status_code == 422, r.text
        assert r.json()["details"]["causes"] == [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "abc123": spec.commit in body should match '
                "'^[0-9a-f]{40}$'",
                "field": "spec.commit",
            }
        ]
        assert http.get(f"{BUILDS}/shop-1").status_code == 404


async def test_a_build_keeps_its_commit(sqlite_api: RunningAPI) -> None:
    await install(sqlite_api)
    build = {
        "apiVersion": "paas.dev/v1",
        "kind": "Build",
        "metadata": {"name": "shop-1"},
        "spec": {"app": "shop", "branch": "main", "commit": COMMIT},
    }
    with sqlite_api.http() as http:
        assert http.post(BUILDS, json=build).status_code == 201
        moved = {"spec": {"commit": "f" * 40}}
        r = http.patch(
            f"{BUILDS}/shop-1",
            json=moved,
            headers={"Content-Type": "application/merge-patch+json"},
        )
    assert r.status_code == 422, r.text
    assert "a build's app, branch and commit do not change" in r.json()["message"]


async def test_kubectl_get_shows_the_app_and_build_columns(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    await install(sqlite_api)
    with sqlite_api.http() as http:
        app = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "shop"}}
        assert http.post(APPS, json=app).status_code == 201
        build = {
            "apiVersion": "paas.dev/v1",
            "kind": "Build",
            "metadata": {"name": "shop-1"},
            "spec": {"app": "shop", "branch": "main", "commit": COMMIT},
        }
        assert http.post(BUILDS, json=build).status_code == 201
    out = kubectl(sqlite_api, tmp_path, "get", "apps,builds").splitlines()
    apps_at = next(i for i, line in enumerate(out) if line.startswith("NAME") and "MAIN" in line)
    assert out[apps_at].split() == ["NAME", "MAIN", "URL", "BRANCHES", "AGE"]
    assert out[apps_at + 1].split()[:2] == ["app.paas.dev/shop", "main"]
    builds_at = next(i for i, line in enumerate(out) if line.startswith("NAME") and "PHASE" in line)
    assert out[builds_at].split() == ["NAME", "APP", "BRANCH", "COMMIT", "PHASE", "AGE"]
    assert out[builds_at + 1].split()[:4] == ["build.paas.dev/shop-1", "shop", "main", COMMIT]
    wide = kubectl(sqlite_api, tmp_path, "get", "builds", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "APP", "BRANCH", "COMMIT", "PHASE", "RESULT", "AGE"]
    # the category: `kubectl get paas` lists both kinds
    both = kubectl(sqlite_api, tmp_path, "get", "paas", "-o", "name").split()
    assert both == ["app.paas.dev/shop", "build.paas.dev/shop-1"]


async def test_explain_describes_the_app_spec(sqlite_api: RunningAPI, tmp_path: Path) -> None:
    await install(sqlite_api)
    explained = kubectl(sqlite_api, tmp_path, "explain", "app.spec")
    assert "mainBranch\t<string>" in explained
    assert "The branch served as production" in explained
    assert "previews\t<Object>" in explained


async def test_an_upgraded_definition_replaces_the_one_applied_before(
    sqlite_api: RunningAPI,
) -> None:
    await install(sqlite_api)
    upgraded = platform_definitions()
    app = upgraded[0]["spec"]["versions"][0]
    app["additionalPrinterColumns"].insert(
        1, {"name": "Previews", "type": "integer", "jsonPath": ".spec.previews.minScale"}
    )
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, upgraded)
        stored = await client.get(CRDS, "apps.paas.dev")
    assert stored["metadata"]["generation"] == 2
    columns = stored["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Main", "Previews", "URL", "Branches", "Age"]
