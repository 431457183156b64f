"""``kubectl autoscale``, ``get hpa``, ``get hpa -w``, ``describe hpa`` and ``delete hpa``.

kubectl 1.27 creates autoscaling/v1 objects as JSON; 1.33 creates
autoscaling/v2 as protobuf. Both read each other's through the same stored
objects, and bad input gets Kubernetes' 422 naming the field.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.kubectlbin import kubectl_argv, kubectl_env, run_kubectl
from support.wait import wait_until

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busy, resources: {requests: {cpu: 100m}}}]}
"""


@pytest.fixture(scope="module")
def hpa_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    running = start_api(tmp_path_factory.mktemp("api"))
    try:
        yield running
    finally:
        running.stop()


def run(
    api: RunningAPI, version: str, home: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return run_kubectl(version, home, ["--kubeconfig", str(api.kubeconfig)], *args, stdin=stdin)


def kubectl(api: RunningAPI, version: str, home: Path, *args: str, stdin: str = "") -> str:
    done = run(api, version, home, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_autoscale_creates_an_hpa_that_get_and_describe_show(
    hpa_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    ns = f"auto{version.replace('.', '')}"
    kubectl(hpa_api, version, tmp_path, "create", "namespace", ns)
    kubectl(hpa_api, version, tmp_path, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT)
    out = kubectl(
        hpa_api,
        version,
        tmp_path,
        "-n",
        ns,
        "autoscale",
        "deployment",
        "web",
        "--cpu-percent=50",
        "--min=1",
        "--max=4",
    )
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in out
    header, row = kubectl(hpa_api, version, tmp_path, "-n", ns, "get", "hpa").splitlines()
    assert header.split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert row.split()[:7] == ["web", "Deployment/web", "cpu:", "<unknown>/50%", "1", "4", "0"]
    # the other version reads it too, and so does the other kubectl
    v1 = kubectl(
        hpa_api,
        "1.27",
        tmp_path,
        "-n",
        ns,
        "get",
        "hpa.v1.autoscaling",
        "web",
        "-o",
        "jsonpath={.spec.targetCPUUtilizationPercentage}",
    )
    assert v1 == "50"
    v2 = kubectl(
        hpa_api,
        "1.33",
        tmp_path,
        "-n",
        ns,
        "get",
        "hpa.v2.autoscaling",
        "web",
        "-o",
        "jsonpath={.spec.metrics[0].resource.target.averageUtilization}",
    )
    assert v2 == "50"
    described = kubectl(hpa_api, version, tmp_path, "-n", ns, "describe", "hpa", "web")
    assert "Reference:" in described and "Deployment/web" in described
    assert "<unknown> / 50%" in described
    assert "Max replicas:" in described
    out = kubectl(hpa_api, version, tmp_path, "-n", ns, "delete", "hpa", "web")
    assert 'horizontalpodautoscaler.autoscaling "web" deleted' in out


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_bad_hpas_get_kubernetes_422_naming_the_field(
    hpa_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    ns = f"bad{version.replace('.', '')}"
    kubectl(hpa_api, version, tmp_path, "create", "namespace", ns)
    kubectl(hpa_api, version, tmp_path, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT)
    done = run(
        hpa_api,
        version,
        tmp_path,
        "-n",
        ns,
        "autoscale",
        "deployment",
        "web",
        "--max=3",
        "--cpu-percent=0",
        "--name",
        f"zero{version.replace('.', '')}",
    )
    assert done.returncode != 0
    assert "averageUtilization: Invalid value: 0: must be greater than 0" in done.stderr
    manifest = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: bad}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 0
"""
    done = run(hpa_api, version, tmp_path, "-n", ns, "create", "-f", "-", stdin=manifest)
    assert done.returncode != 0
    assert (
        "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"
        in done.stderr
    )
    done = run(hpa_api, version, tmp_path, "-n", ns, "get", "hpa", "bad")
    assert done.returncode != 0  # nothing was created


def test_kubectl_get_hpa_watch_streams_changes(hpa_api: RunningAPI, tmp_path: Path) -> None:
    kubectl(hpa_api, "1.33", tmp_path, "create", "namespace", "watched")
    kubectl(hpa_api, "1.33", tmp_path, "-n", "watched", "apply", "-f", "-", stdin=DEPLOYMENT)
    kubectl(hpa_api, "1.33", tmp_path, "-n", "watched", "autoscale", "deployment/web", "--max=3")
    out = tmp_path / "watch.out"
    connection = ["--kubeconfig", str(hpa_api.kubeconfig)]
    with open(out, "w") as sink:
        watcher = subprocess.Popen(
            kubectl_argv("1.33", tmp_path, connection, "-n", "watched", "get", "hpa", "-w"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=kubectl_env(tmp_path),
        )
        try:
            wait_until(lambda: "cpu: <unknown>/80%" in out.read_text(), 20, "no first row")
            patch = '{"spec":{"maxReplicas":7}}'
            kubectl(hpa_api, "1.33", tmp_path, "-n", "watched", "patch", "hpa", "web", "-p", patch)
            wait_until(
                lambda: any(line.split()[5:6] == ["7"] for line in out.read_text().splitlines()),
                20,
                out.read_text(),
            )
        finally:
            watcher.terminate()
            watcher.wait(10)


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_explain_walks_the_hpa_fields(
    hpa_api: RunningAPI, tmp_path: Path, version: str
) -> None:
    out = kubectl(hpa_api, version, tmp_path, "explain", "hpa.spec.behavior.scaleDown")
    assert "VERSION:    v2" in out
    assert "stabilizationWindowSeconds" in out and "policies" in out
    out = kubectl(hpa_api, version, tmp_path, "explain", "hpa.spec", "--api-version=autoscaling/v1")
    assert "targetCPUUtilizationPercentage" in out


def test_a_status_sent_on_create_is_reset(hpa_api: RunningAPI, tmp_path: Path) -> None:
    manifest = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: claims, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
status: {currentReplicas: 9, desiredReplicas: 9}
"""
    kubectl(hpa_api, "1.33", tmp_path, "create", "-f", "-", stdin=manifest)
    status = kubectl(hpa_api, "1.33", tmp_path, "get", "hpa", "claims", "-o", "jsonpath={.status}")
    assert status == '{"currentReplicas":0,"desiredReplicas":0}'
