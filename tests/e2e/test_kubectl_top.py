"""`kubectl top` through `paas up` on both runtimes: a pod burning a core, a pod holding 200 MiB.

One ``paas up`` per runtime for the module (``--stats-interval 1``), with
both pods applied at once. The CPU figure is waited for within a band
(800m-1100m: the machine has two cores and other tests run beside this
one) and printed. The memory figure is checked against what the kernel
says the pod's processes hold: the sum of ``VmRSS`` in /proc/PID/status
over the container's process tree (tini and the app on Docker; the app
under its PID namespace on the process runtime), which counts the 200
MiB the app touched plus the interpreter's own resident pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paasup import Up, apply, start_up
from support.wait import wait_until

MIB = 1024 * 1024
BURN = "while True: pass"
HOLD = "import time\nb = b'x' * (200 * 1024 * 1024)\ntime.sleep(3600)"


def pod(name: str, script: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"test": "top"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "app",
                    "image": "paas/stack:bookworm",
                    "command": ["python3", "-c", script],
                }
            ],
        },
    }


@pytest.fixture(
    scope="module", params=["process", pytest.param("docker", marks=pytest.mark.docker)]
)
def up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    if request.param == "docker":
        request.getfixturevalue("stack_image")  # the engine, or a skip (a failure in CI)
    data_dir = tmp_path_factory.mktemp(f"top-{request.param}") / "paas"
    with start_up(data_dir, request.param, "--stats-interval", "1") as running:
        apply(
            running,
            json.dumps(
                {
                    "kind": "List",
                    "apiVersion": "v1",
                    "items": [pod("burn", BURN), pod("hold", HOLD)],
                }
            ),
        )
        yield running


def top_pods(up: Up) -> dict[str, tuple[int, int]]:
    """pod -> (millicores, MiB) as `kubectl top pods` prints them ({} while it cannot)."""
    result = up.kubectl("top", "pods", "--no-headers", check=False)
    if result.returncode != 0:
        return {}
    out = {}
    for line in result.stdout.splitlines():
        name, cpu, memory = line.split()[:3]
        out[name] = (int(cpu.removesuffix("m")), int(memory.removesuffix("Mi")))
    return out


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and its descendants (VmRSS of each, as the kernel reports)."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        todo += [int(c) for c in children]
    return total


def main_pid(up: Up, name: str) -> int:
    """The host PID at the top of the pod's container (the engine's, or our supervisor's child)."""
    cid = up.kubectl(
        "get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0].containerID}"
    )
    scheme, _, ident = cid.stdout.partition("://")
    if scheme == "docker":
        import docker

        client = docker.DockerClient()
        try:
            return int(client.api.inspect_container(ident)["State"]["Pid"])
        finally:
            client.close()
    pod_uid, name_attempt = ident.split(".", 1)
    found = list(
        (up.data_dir / "node").glob(f"**/pods/{pod_uid}/containers/{name_attempt}/pid.json")
    )
    assert found, f"no pid.json for {ident}"
    return int(json.loads(found[0].read_text())["pid"])


def test_a_pod_burning_a_core_shows_about_1000m(up: Up) -> None:
    seen: list[int] = []

    def in_band() -> bool:
        cpu = top_pods(up).get("burn", (0, 0))[0]
        seen.append(cpu)
        return 800 <= cpu <= 1100

    try:
        wait_until(in_band, 60)
    except AssertionError:
        raise AssertionError(f"burn's CPU not in 800m-1100m on {up.runtime}: {seen[-5:]}") from None
    print(f"{up.runtime}: kubectl top pods shows burn at {seen[-1]}m")


def test_a_pod_holding_200_mib_shows_what_the_kernel_says_it_holds(up: Up) -> None:
    seen: list[tuple[int, int]] = []

    def close() -> bool:
        shown = top_pods(up).get("hold", (0, 0))[1] * MIB
        kernel = tree_rss(main_pid(up, "hold"))
        seen.append((shown // MIB, kernel // MIB))
        return kernel >= 200 * MIB and abs(shown - kernel) <= 0.1 * kernel

    try:
        wait_until(close, 60)
    except AssertionError:
        raise AssertionError(f"hold's memory vs its VmRSS (MiB): {seen[-5:]}") from None
    print(f"{up.runtime}: hold shows {seen[-1][0]}Mi, its processes' VmRSS {seen[-1][1]}Mi")


def test_top_nodes_lists_the_node_with_nonzero_use(up: Up) -> None:
    def row() -> list[str]:
        result = up.kubectl("top", "nodes", "--no-headers", check=False)
        lines = result.stdout.split("\n") if result.returncode == 0 else []
        return next((line.split() for line in lines if line.startswith(up.node)), [])

    found = wait_until(row, 30, "the node in kubectl top nodes")
    assert int(found[1].removesuffix("m")) > 0 and int(found[3].removesuffix("Mi")) > 0, found
    print(f"{up.runtime}: kubectl top nodes: {' '.join(found)}")


def test_the_nodes_own_stats_are_read_through_the_api_server_proxy(up: Up) -> None:
    """`kubectl get --raw .../nodes/NODE/proxy/stats/summary`: the node agent's Summary."""

    def both_pods() -> dict:
        result = up.kubectl(
            "get", "--raw", f"/api/v1/nodes/{up.node}/proxy/stats/summary", check=False
        )
        if result.returncode != 0:
            return {}
        summary = json.loads(result.stdout)
        pods = {p["podRef"]["name"]: p for p in summary.get("pods", [])}
        return summary if {"burn", "hold"} <= set(pods) else {}

    summary = wait_until(both_pods, 30, "both pods in the node's stats summary")
    assert summary["node"]["nodeName"] == up.node
    assert summary["node"]["cpu"]["usageNanoCores"] > 0
    metrics = up.kubectl("get", "--raw", f"/api/v1/nodes/{up.node}/proxy/metrics/resource")
    assert 'container_cpu_usage_seconds_total{container="app",namespace="default",pod="burn"' in (
        metrics.stdout
    ), metrics.stdout[:2000]
