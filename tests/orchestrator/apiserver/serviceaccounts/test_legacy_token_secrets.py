"""Long-lived tokens in Secrets of type ``kubernetes.io/service-account-token``.

The steps of "manually create a long-lived API token for a ServiceAccount",
with the machine's real kubectl against a real API server: apply the Secret,
read the token the server fills in, use it (``kubectl --token``), and see it
stop working when its Secret or its account goes.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import RunningAPI, start_api
from support.kubectlbin import run_kubectl
from support.wait import wait_until

from orchestrator.apiserver.serviceaccounts.signing import b64url_decode

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("legacy-tokens"))
    try:
        yield running
    finally:
        running.stop()


def kubectl(
    api: RunningAPI, home: Path, *args: str, token: str = "", stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    who = (
        ["--server", api.url, "--certificate-authority", str(api.ca), "--token", token]
        if token
        else ["--kubeconfig", str(api.kubeconfig)]
    )
    return run_kubectl("1.33", home, who, *args, stdin=stdin)


def token_secret(name: str, account: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": name,
                "annotations": {"kubernetes.io/service-account.name": account},
            },
        }
    )


def secret(api: RunningAPI, name: str) -> dict[str, Any] | None:
    with api.http() as http:
        r = http.get(f"/api/v1/namespaces/default/secrets/{name}")
    return r.json() if r.status_code == 200 else None


def filled(api: RunningAPI, name: str) -> dict[str, Any] | None:
    found = secret(api, name)
    return found if found and "token" in (found.get("data") or {}) else None


def test_a_token_secret_is_filled_and_its_token_acts_as_the_account(
    api: RunningAPI, tmp_path: Path
) -> None:
    assert kubectl(api, tmp_path, "create", "serviceaccount", "robot").returncode == 0
    created = kubectl(api, tmp_path, "apply", "-f", "-", stdin=token_secret("robot-token", "robot"))
    assert created.returncode == 0, created.stderr
    found = wait_until(lambda: filled(api, "robot-token"), 10, "the token Secret to be filled")
    data = {k: base64.b64decode(v).decode() for k, v in found["data"].items()}
    assert data["namespace"] == "default"
    assert data["ca.crt"] == api.ca.read_text()
    account = json.loads(kubectl(api, tmp_path, "get", "sa", "robot", "-o", "json").stdout)
    uid = account["metadata"]["uid"]
    assert found["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid
    claims = json.loads(b64url_decode(data["token"].split(".")[1]))
    assert claims["iss"] == "kubernetes/serviceaccount" and "exp" not in claims, claims
    assert claims["sub"] == "system:serviceaccount:default:robot"

    whoami = kubectl(api, tmp_path, "auth", "whoami", "-o", "json", token=data["token"])
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["uid"] == uid
    assert "system:serviceaccounts:default" in user["groups"]
    # its rights are the account's: none yet, then view in the namespace
    refused = kubectl(api, tmp_path, "get", "pods", token=data["token"])
    assert 'cannot list resource "pods"' in refused.stderr, refused.stderr
    bind = ("create", "rolebinding", "robot-view", "--clusterrole=view", "--serviceaccount")
    assert kubectl(api, tmp_path, *bind, "default:robot").returncode == 0
    wait_until(
        lambda: kubectl(api, tmp_path, "get", "pods", token=data["token"]).returncode == 0,
        10,
        "the account's new binding",
    )
    denied = kubectl(api, tmp_path, "get", "secrets", token=data["token"])
    assert 'cannot list resource "secrets"' in denied.stderr, denied.stderr

    # Deleting the Secret revokes its token.
    assert kubectl(api, tmp_path, "delete", "secret", "robot-token").returncode == 0
    wait_until(
        lambda: "Unauthorized" in kubectl(api, tmp_path, "get", "pods", token=data["token"]).stderr,
        10,
        "the token to stop working with its Secret gone",
    )
    # A new Secret of the same name holds a new token; the old one stays refused.
    again = kubectl(api, tmp_path, "apply", "-f", "-", stdin=token_secret("robot-token", "robot"))
    assert again.returncode == 0, again.stderr
    renewed = wait_until(lambda: filled(api, "robot-token"), 10, "the new Secret to be filled")
    assert renewed["data"]["token"] != found["data"]["token"]
    assert "Unauthorized" in kubectl(api, tmp_path, "get", "pods", token=data["token"]).stderr


def test_token_secrets_go_with_their_account_and_need_one(api: RunningAPI, tmp_path: Path) -> None:
    # A Secret naming no account at all is refused in Kubernetes' words.
    bare = json.loads(token_secret("nameless", "x"))
    bare["metadata"]["annotations"] = {}
    refused = kubectl(api, tmp_path, "apply", "-f", "-", stdin=json.dumps(bare))
    assert refused.returncode != 0
    assert (
        "metadata.annotations[kubernetes.io/service-account.name]: Required value" in refused.stderr
    ), refused.stderr
    assert secret(api, "nameless") is None
    # One naming an account that does not exist is deleted, as Kubernetes' controller does.
    orphan = kubectl(api, tmp_path, "apply", "-f", "-", stdin=token_secret("orphan", "ghost"))
    assert orphan.returncode == 0, orphan.stderr
    wait_until(lambda: secret(api, "orphan") is None, 10, "the orphan token Secret to go")
    # Deleting an account deletes its token Secrets, and its token stops working.
    assert kubectl(api, tmp_path, "create", "serviceaccount", "builder").returncode == 0
    made = kubectl(
        api, tmp_path, "apply", "-f", "-", stdin=token_secret("builder-token", "builder")
    )
    assert made.returncode == 0, made.stderr
    found = wait_until(lambda: filled(api, "builder-token"), 10, "the token Secret to be filled")
    token = base64.b64decode(found["data"]["token"]).decode()
    assert kubectl(api, tmp_path, "auth", "whoami", token=token).returncode == 0
    assert kubectl(api, tmp_path, "delete", "serviceaccount", "builder").returncode == 0
    wait_until(lambda: secret(api, "builder-token") is None, 10, "the account's Secret to go")
    assert "Unauthorized" in kubectl(api, tmp_path, "auth", "whoami", token=token).stderr
    # The type of a Secret is fixed once created.
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"}}
    assert kubectl(api, tmp_path, "apply", "-f", "-", stdin=json.dumps(plain)).returncode == 0
    changed = kubectl(
        api, tmp_path, "patch", "secret", "plain", "-p", '{"type": "kubernetes.io/tls"}'
    )
    assert 'type: Invalid value: "kubernetes.io/tls": field is immutable' in changed.stderr, (
        changed.stderr
    )
