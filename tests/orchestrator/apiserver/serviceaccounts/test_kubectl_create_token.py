"""``kubectl create token`` and ``kubectl get sa`` with the machine's real kubectl.

kubectl 1.32+ sends the TokenRequest as protobuf; 1.31 as JSON. Both get a
JWT that the API server accepts as the ServiceAccount (TokenReview says so).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.kubectlbin import run_kubectl


@pytest.fixture(scope="module")
def sa_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("api"))
    try:
        yield running
    finally:
        running.stop()


def kubectl(api: RunningAPI, version: str, home: Path, *args: str) -> str:
    done = run_kubectl(version, home, ["--kubeconfig", str(api.kubeconfig)], *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("version", ["1.31", "1.33"])
def test_kubectl_create_token_prints_a_token_of_the_account(
    sa_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    account = f"robot-{version.replace('.', '')}"
    kubectl(sa_api, version, tmp_path, "create", "serviceaccount", account)
    token = kubectl(sa_api, version, tmp_path, "create", "token", account, "--duration=20m")
    token = token.strip()
    assert token.count(".") == 2
    with sa_api.http() as http:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        status = http.post("/apis/authentication.k8s.io/v1/tokenreviews", json=body).json()
    assert status["status"]["user"]["username"] == f"system:serviceaccount:default:{account}"


def test_kubectl_get_sa_lists_name_secrets_age(sa_api: RunningAPI, tmp_path: Path) -> None:
    kubectl(sa_api, "1.33", tmp_path, "create", "sa", "lister")
    out = kubectl(sa_api, "1.33", tmp_path, "get", "sa")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "SECRETS", "AGE"]
    assert any(row.split()[:2] == ["lister", "0"] for row in rows)
