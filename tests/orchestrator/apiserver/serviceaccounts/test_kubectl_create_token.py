"""``kubectl create token`` and ``kubectl get sa`` with the machine's real kubectl.

kubectl 1.32+ sends the TokenRequest as protobuf; 1.31 as JSON. Both get a
JWT that the API server accepts as the ServiceAccount (TokenReview says so).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.engines import require_engine
from support.kubectlbin import KUBECTL_DIR


@pytest.fixture(scope="module")
def sa_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("api"))
    try:
        yield running
    finally:
        running.stop()


def kubectl(api: RunningAPI, version: str, home: Path, *args: str) -> str:
    binary = KUBECTL_DIR / f"kubectl.{version}"
    require_engine("kubectl", binary.exists(), f"{binary} missing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)
    argv = [str(binary), "--kubeconfig", str(api.kubeconfig), "--cache-dir", str(home), *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
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
