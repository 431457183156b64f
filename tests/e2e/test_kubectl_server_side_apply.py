"""``kubectl apply --server-side`` as a platform engineer uses it, on every kubectl minor.

One session per kubectl version: a client-side apply, its upgrade to
server-side apply (kubectl hands the client-side fields to its ``kubectl``
manager, so nothing conflicts and a field dropped from the manifest goes),
a second manager whose change conflicts until ``--force-conflicts``, and
``get --show-managed-fields`` showing the entries as Kubernetes does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e.conftest import kubectl_env
from support.apiserver import RunningAPI
from support.engines import require_engine

pytestmark = pytest.mark.kubectl

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
VERSIONS = ("1.27", "1.31", "1.33")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: paas/stack:bookworm
        command: [python3, -m, http.server, "8080"]
        env: [{name: A, value: "1"}]
"""


class Kubectl:
    def __init__(self, binary: Path, api: RunningAPI, tmp: Path) -> None:
        self.binary, self.api, self.tmp = binary, api, tmp
        self.home = tmp / "home"
        self.home.mkdir(exist_ok=True)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [
            str(self.binary),
            "--kubeconfig",
            str(self.api.kubeconfig),
            "--cache-dir",
            str(self.tmp / "cache"),
            *args,
        ]
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env=kubectl_env(self.home),
            cwd=self.tmp,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"kubectl {' '.join(args)} exited {result.returncode}\n{result.stderr}",
                pytrace=False,
            )
        return result

    def manifest(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def get(self, *args: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("get", "-o", "json", *args).stdout)
        return out


def owners(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


@pytest.mark.parametrize("version", VERSIONS)
def test_server_side_apply_upgrade_conflicts_and_force(
    version: str, api: RunningAPI, tmp_path: Path
) -> None:
    binary = KUBECTL_DIR / f"kubectl.{version}"
    require_engine("kubectl", binary.exists(), f"{binary} missing")
    kubectl = Kubectl(binary, api, tmp_path)

    # client-side apply first: its fields belong to kubectl-client-side-apply
    first = kubectl.manifest("web.yaml", DEPLOYMENT)
    assert "deployment.apps/web created" in kubectl("apply", "-f", first).stdout
    live = kubectl.get("deploy/web", "--show-managed-fields")
    assert owners(live)["kubectl-client-side-apply"]["operation"] == "Update"

    # the same manifest server-side, with a label dropped and replicas changed: no conflict
    second = kubectl.manifest(
        "web-ssa.yaml",
        DEPLOYMENT.replace(", tier: front", "").replace("replicas: 2", "replicas: 3"),
    )
    out = kubectl("apply", "--server-side", "-f", second).stdout
    assert "deployment.apps/web serverside-applied" in out
    live = kubectl.get("deploy/web", "--show-managed-fields")
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["labels"] == {"app": "web"}
    assert owners(live)["kubectl"]["operation"] == "Apply"
    assert "f:replicas" in owners(live)["kubectl"]["fieldsV1"]["f:spec"]

    # applying it again changes nothing
    rv = live["metadata"]["resourceVersion"]
    kubectl("apply", "--server-side", "-f", second)
    assert kubectl.get("deploy/web")["metadata"]["resourceVersion"] == rv

    # another manager adds a container (merged by name) and wants other replicas: conflict
    other = kubectl.manifest(
        "other.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  replicas: 5\n  template:\n    spec:\n      containers:\n"
        "      - {name: side, image: paas/stack:bookworm, command: [sleep, '1000']}\n",
    )
    refused = kubectl("apply", "--server-side", "--field-manager=ops", "-f", other, check=False)
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in (
        refused.stderr
    )
    assert kubectl.get("deploy/web")["spec"]["replicas"] == 3

    kubectl("apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", other)
    live = kubectl.get("deploy/web", "--show-managed-fields")
    assert live["spec"]["replicas"] == 5
    names = [c["name"] for c in live["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "side"]
    assert "f:replicas" in owners(live)["ops"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners(live)["kubectl"]["fieldsV1"]["f:spec"]

    # kubectl hides managedFields unless asked; shown, they are shaped as Kubernetes'
    hidden = yaml.safe_load(kubectl("get", "deploy/web", "-o", "yaml").stdout)
    assert "managedFields" not in hidden["metadata"]
    shown = yaml.safe_load(
        kubectl("get", "deploy/web", "-o", "yaml", "--show-managed-fields").stdout
    )
    entry = owners(shown)["ops"]
    assert set(entry) == {"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"}
    assert entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"side"}': {".": {}, "f:command": {}, "f:image": {}, "f:name": {}}
    }
