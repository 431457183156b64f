"""``kubectl explain`` for the built-in kinds, with the oldest and newest kubectl we support,
and ``kubectl apply`` still merging a Deployment's containers now that they are published.

kubectl 1.27+ explains from ``/openapi/v3``: the index, then the document of
the kind's group-version, found by the ``x-kubernetes-group-version-kind`` of
its operations and schemas.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.engines import require_engine

pytestmark = pytest.mark.kubectl

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
VERSIONS = ("1.27", "1.33")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    api = start_api(tmp_path_factory.mktemp("explain") / "api")
    try:
        yield api
    finally:
        api.stop()


def run_kubectl(api: RunningAPI, version: str, home: Path, *args: str) -> str:
    binary = KUBECTL_DIR / f"kubectl.{version}"
    require_engine(f"kubectl {version}", binary.exists(), f"{binary} is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)
    config = ["--kubeconfig", str(api.kubeconfig), "--cache-dir", str(home / "cache")]
    result = subprocess.run(
        [str(binary), *config, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, f"kubectl {version} {args}: {result.stderr}"
    return result.stdout


def explain(api: RunningAPI, version: str, home: Path, *args: str) -> str:
    return run_kubectl(api, version, home, "explain", *args)


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_walks_a_deployment_down_to_its_containers(
    served: RunningAPI, version: str, tmp_path: Path
) -> None:
    out = explain(served, version, tmp_path, "deployment.spec.template.spec.containers")
    assert "KIND:" in out and "Deployment" in out
    assert "apps" in out  # GROUP: apps (1.28+) or VERSION: apps/v1
    assert "The containers of the pod, merged by name." in out
    for field in ("image", "command", "env", "ports", "volumeMounts", "readinessProbe"):
        assert field in out, field


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_core_kinds_with_their_descriptions(
    served: RunningAPI, version: str, tmp_path: Path
) -> None:
    pod = explain(served, version, tmp_path, "pods")
    assert "A Pod is one or more containers that run together on one node" in pod
    assert "spec" in pod and "status" in pod and "metadata" in pod
    service = explain(served, version, tmp_path, "service.spec.ports.targetPort")
    assert "The port on the pods that traffic is sent to" in service
    meta = explain(served, version, tmp_path, "configmap.metadata.labels")
    assert "labels" in meta


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_recursive_lists_nested_fields(
    served: RunningAPI, version: str, tmp_path: Path
) -> None:
    out = explain(served, version, tmp_path, "cronjob.spec.jobTemplate", "--recursive")
    assert "backoffLimit" in out and "containers" in out


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: busybox
        env: [{{name: COLOUR, value: {colour}}}]
      - name: sidecar
        image: busybox
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_apply_merges_containers_by_name_from_the_published_schema(
    served: RunningAPI, version: str, tmp_path: Path
) -> None:
    name = "web-" + version.replace(".", "-")
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT.format(name=name, colour="blue"))
    assert "created" in run_kubectl(served, version, tmp_path, "apply", "-f", str(manifest))
    manifest.write_text(DEPLOYMENT.format(name=name, colour="green"))
    assert "configured" in run_kubectl(served, version, tmp_path, "apply", "-f", str(manifest))
    with served.http() as http:
        got = http.get(f"/apis/apps/v1/namespaces/default/deployments/{name}").json()
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert containers[0]["env"] == [{"name": "COLOUR", "value": "green"}]
