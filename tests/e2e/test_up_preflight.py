"""``paas up`` on a machine short of tools, with a node that fails, and after a crash.

What a new user meets: without iptables ``--network auto`` runs loopback
mode and one line says why and which packages enable root mode, while
``--network root`` is refused at once naming the tool and its package. A
node agent whose kernel calls fail while starting stops ``paas up`` with
its last error line and log path instead of a banner and a crash loop. And
whatever failed, stopping leaves no bridge, route, rule, netns or process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.engines import require_engine
from support.kubelet import RUNTIMES, free_pod_cidr
from support.paasup import ROOT, apply, ready_pods, start_up, up_argv, web_manifest
from support.wait import wait_until

from orchestrator.kubelet import podnet
from orchestrator.kubelet.runtimes import dockerspec

# The machine's PATH without /usr/sbin and /sbin: Debian keeps iptables and conntrack there
# (and dockerd), while ip, python3 and the rest are in /usr/bin too.
PATH_WITHOUT_SBIN = "/usr/local/bin:/usr/bin:/bin"
COMMAND = ["python3", "-m", "http.server", "$(PORT)"]
SERVICE_RANGE = "10.96.0.0/16"


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def leftovers(node: str, data_dir: Path, runtime: str = "process") -> list[str]:
    """What of the node is still on the machine: links, netns, routes, rules, processes."""
    found = []
    bridge = podnet.bridge_name(node)
    if run("ip", "-o", "link", "show", "dev", bridge):
        found.append(f"bridge {bridge}")
    found += [f"netns {ns}" for ns in podnet.node_netns(node)]
    found += [f"route {r}" for r in run("ip", "-o", "route", "show", SERVICE_RANGE).splitlines()]
    for table in ("filter", "nat"):
        rules = run("/usr/sbin/iptables-save", "-t", table).splitlines()
        found += [f"{table}: {r}" for r in rules if "PAAS-" in r or bridge in r]
    found += [f"process {p}" for p in run("pgrep", "-f", str(data_dir)).split()]
    if runtime == "docker":
        names = run("docker", "ps", "-aq", "--filter", f"label={dockerspec.LABEL_NODE}={node}")
        found += [f"container {c}" for c in names.split()]
    return found


def up_once(
    data_dir: Path, *flags: str, path: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``paas up`` that is expected to end by itself (refused, or failed while starting)."""
    return subprocess.run(
        up_argv(data_dir, "--cluster-cidr", free_pod_cidr(), *flags),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PATH": path},
        stdin=subprocess.DEVNULL,
    )


def test_without_iptables_auto_runs_loopback_saying_why_and_root_is_refused(
    tmp_path: Path,
) -> None:
    refused = up_once(tmp_path / "refused", "--network", "root", path=PATH_WITHOUT_SBIN)
    assert refused.returncode == 2, refused.stderr
    assert "--network root cannot run here" in refused.stderr
    if os.geteuid() == 0:
        assert "iptables, iptables-save, iptables-restore (package iptables)" in refused.stderr
        assert "conntrack (package conntrack)" in refused.stderr
    assert not (tmp_path / "refused").exists()  # refused before anything was made

    data_dir = tmp_path / "paas"
    with start_up(data_dir, "process", path=PATH_WITHOUT_SBIN) as up:
        banner = up.log()
        assert "network:    loopback mode: Service IPs from 127.10.0.0/16" in banner
        if os.geteuid() == 0:
            assert "note:       network: loopback mode: root mode cannot run:" in banner
            assert "`apt-get install conntrack iptables` enables it" in banner
        assert " Ready " in up.kubectl("get", "nodes").stdout
        node = up.node
    assert "paas stopped." in up.log()
    assert leftovers(node, data_dir) == []


FAILING_IPTABLES = """#!/bin/sh
echo "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Invalid argument" >&2
exit 4
"""


def test_a_node_failing_while_starting_stops_up_with_its_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    require_engine("root", os.geteuid() == 0, "root mode needs root")
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("iptables", "iptables-save", "iptables-restore"):
        (fake / tool).write_text(FAILING_IPTABLES)
        (fake / tool).chmod(0o755)
    data_dir = tmp_path / "paas"
    node = f"up-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    started = time.monotonic()
    done = up_once(
        data_dir,
        "--runtime",
        "process",
        "--network",
        "root",
        "--node-name",
        node,
        path=f"{fake}:{os.environ['PATH']}",
    )
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "paas is up" not in done.stdout  # not "up" with a node that cannot take pods
    assert "paas up: node exited with status 1 while starting" in done.stderr
    assert "last error: node ERROR stopped:" in done.stderr
    assert "Could not fetch rule set generation id" in done.stderr
    assert f"log: {data_dir / 'logs' / 'node.log'}" in done.stderr
    assert "paas stopped." in done.stdout
    assert took < 45, f"paas up took {took:.0f}s to give up"
    assert leftovers(node, data_dir) == []


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("stack_image")
    return str(request.param)


def test_a_node_killed_and_then_stopped_leaves_nothing_behind(tmp_path: Path, runtime: str) -> None:
    require_engine("root", os.geteuid() == 0, "root mode needs root")
    data_dir = tmp_path / "paas"
    with start_up(data_dir, runtime) as up:
        apply(up, web_manifest(2, COMMAND))
        wait_until(lambda: ready_pods(up, 2), 90, "two ready pods")
        agents = run("pgrep", "-f", f"paas node .*--data-dir {data_dir}/node").split()
        assert len(agents) == 1, agents
        os.kill(int(agents[0]), signal.SIGKILL)  # as the OOM killer would
        up.process.send_signal(signal.SIGINT)  # before the supervisor's restart (0.5 s)
        assert up.process.wait(120) == 0
        node = up.node
    log = up.log()
    assert "node: removed what it left" in log, log
    assert leftovers(node, data_dir, runtime) == [], log
