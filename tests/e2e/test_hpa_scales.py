"""An HPA scales a CPU-burning Deployment up under load and back down after it.

``paas up`` on the process runtime with the timers shortened (node stats
every second, the HPA controller every second, a 3 s scale-down window, a
1 s cpu initialization period). The pods burn about 300m of CPU each while
a file exists (the load switch), against a 100m request and a 50% target,
so ``kubectl autoscale`` takes the Deployment from 1 replica to its max of
3, and back to 1 once the file is gone. Usage reaches the controller the
way it does in a cluster: node agent stats -> the API server's
``metrics.k8s.io`` -> the controller-manager.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paasup import Up, apply, start_up
from support.wait import wait_until

BURN = """
import os, sys, time
switch = sys.argv[1]
while True:
    if os.path.exists(switch):
        began = time.monotonic()
        while time.monotonic() - began < 0.03:
            pass
        time.sleep(0.07)
    else:
        time.sleep(0.1)
"""


def burner(switch: Path) -> str:
    command = json.dumps(["python3", "-c", BURN, str(switch)])
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: burner}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: burner}}}}
  template:
    metadata: {{labels: {{app: burner}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: paas/stack:bookworm
        command: {command}
        resources: {{requests: {{cpu: 100m}}}}
"""


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with start_up(
        tmp_path / "paas",
        "process",
        "--network",
        "loopback",
        "--stats-interval",
        "1",
        "--hpa-sync-period",
        "1",
        "--hpa-downscale-stabilization",
        "3",
        "--hpa-cpu-initialization-period",
        "1",
    ) as running:
        yield running


def hpa_status(up: Up) -> dict:
    got = up.kubectl("get", "hpa", "burner", "-o", "json", check=False)
    return json.loads(got.stdout).get("status", {}) if got.returncode == 0 else {}


def settled_at(up: Up, replicas: int) -> dict:
    status = hpa_status(up)
    ok = status.get("currentReplicas") == replicas and status.get("desiredReplicas") == replicas
    return status if ok else {}


def test_an_hpa_scales_a_cpu_burning_deployment_up_and_back_down(up: Up, tmp_path: Path) -> None:
    switch = tmp_path / "burn"
    apply(up, burner(switch))
    up.kubectl("autoscale", "deployment", "burner", "--cpu-percent=50", "--min=1", "--max=3")

    def idle() -> bool:  # the first readings may still hold python's start-up
        metrics = settled_at(up, 1).get("currentMetrics") or [{}]
        return metrics[0].get("resource", {}).get("current", {}).get("averageUtilization", 100) < 50

    wait_until(idle, 60, f"no idle reading under the target: {hpa_status(up)}")

    switch.touch()
    busy = wait_until(lambda: settled_at(up, 3), 40, f"no scale-up: {hpa_status(up)}")
    table = up.kubectl("get", "hpa", "burner").stdout
    assert "Deployment/burner" in table and "cpu: " in table
    assert busy["lastScaleTime"]
    assert {c["type"]: c["status"] for c in busy["conditions"]}["AbleToScale"] == "True"

    switch.unlink()
    wait_until(lambda: settled_at(up, 1), 40, f"no scale-down: {hpa_status(up)}")
    events = up.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=burner,reason=SuccessfulRescale"
    ).stdout
    assert "New size: 3; reason: cpu resource utilization (percentage of request) above target" in (
        events
    )
    assert "New size: 1; reason: All metrics below target" in events
