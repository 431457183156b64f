"""The platform's kinds under RBAC: edit may push apps, view may only read them.

``paas up`` applies ClusterRoles that aggregate the platform's CRDs into
Kubernetes' ``view`` and ``edit``; a user bound to one of them in a
namespace gets the matching rights on App, Build and the Knative kinds
there, and none elsewhere.
"""

from __future__ import annotations

import httpx
from support.apiserver import RunningAPI
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions

GROUP = "rbac.authorization.k8s.io"
APPS = "/apis/paas.dev/v1/namespaces/default/apps"


def _bind(http: httpx.Client, user: str, role: str) -> None:
    r = http.post(
        f"/apis/{GROUP}/v1/namespaces/default/rolebindings",
        json={
            "metadata": {"name": f"{user}-{role}"},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": GROUP, "name": user}],
        },
    )
    assert r.status_code == 201, r.text


async def test_an_edit_user_pushes_apps_and_a_view_user_only_reads_them(
    sqlite_api: RunningAPI,
) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions())
    editor = add_token(sqlite_api.data_dir / "tokens.json", user="eddie")
    viewer = add_token(sqlite_api.data_dir / "tokens.json", user="vic")
    app = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "web"}, "spec": {}}
    with sqlite_api.http() as admin:
        _bind(admin, "eddie", "edit")
        _bind(admin, "vic", "view")
    with sqlite_api.http(editor) as http:
        created = wait_until(lambda: (r := http.post(APPS, json=app)).status_code != 403 and r)
        assert created.status_code == 201, created.text
        other = http.get("/apis/paas.dev/v1/namespaces/kube-system/apps")
        assert other.status_code == 403
    with sqlite_api.http(viewer) as http:
        listed = http.get(APPS)
        assert listed.status_code == 200, listed.text
        assert [a["metadata"]["name"] for a in listed.json()["items"]] == ["web"]
        assert http.get("/apis/paas.dev/v1/namespaces/default/builds").status_code == 200
        refused = http.delete(f"{APPS}/web")
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            'apps.paas.dev "web" is forbidden: User "vic" cannot delete resource "apps" '
            'in API group "paas.dev" in the namespace "default"'
        )
