"""``paas proxy``: the service proxy as a process, its rules kept across a stop, ``--cleanup``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from support.apiserver import RunningAPI
from support.engines import require_engine
from support.wait import wait_until

from orchestrator.proxy import kernel


def paas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", "proxy", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def nat_rules() -> str:
    return subprocess.run(
        ["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True
    ).stdout


def test_a_wrong_flag_is_named() -> None:
    done = paas("--service-cidr", "nope")
    assert done.returncode == 2
    assert "--service-cidr 'nope'" in done.stderr


@pytest.mark.root
def test_proxy_programs_keeps_rules_on_stop_and_cleans_up(sqlite_api: RunningAPI) -> None:
    require_engine("root", os.geteuid() == 0, "the root-mode proxy needs root")
    require_engine("iptables", bool(shutil.which("iptables-restore")), "needs iptables-restore")
    with sqlite_api.http() as http:
        created = http.post(
            "/api/v1/namespaces/default/services",
            json={"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
        )
        assert created.status_code == 201, created.text
        http.post(
            "/api/v1/namespaces/default/endpoints",
            json={
                "metadata": {"name": "web"},
                "subsets": [{"addresses": [{"ip": "10.205.250.9"}], "ports": [{"port": 8000}]}],
            },
        ).raise_for_status()
    cluster_ip = created.json()["spec"]["clusterIP"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "paas", "proxy", "--kubeconfig", str(sqlite_api.kubeconfig)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: f"-d {cluster_ip}/32" in nat_rules(), 15, "the service's rule")
        assert "--to-destination 10.205.250.9:8000" in nat_rules()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
        assert f"-d {cluster_ip}/32" in nat_rules(), "a stop must not take the services down"
        done = paas("--cleanup")
        assert done.returncode == 0, done.stderr
        assert "PAAS-" not in nat_rules()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        kernel.remove_all()
    assert "PAAS-" not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
