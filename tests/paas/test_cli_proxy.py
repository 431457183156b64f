"""``paas proxy``: the service proxy as a process, its rules kept across a stop, ``--cleanup``."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api
from support.engines import require_engine
from support.parallel import NODE_NETWORK
from support.wait import wait_until

from orchestrator.proxy import kernel

# It runs `paas proxy` itself and reads every PAAS- chain: never beside another service proxy.
pytestmark = pytest.mark.xdist_group(NODE_NETWORK)


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
    done = paas("--mode", "userspace", "--nodeport-address", "nope")
    assert done.returncode == 2
    assert "--nodeport-addresses 'nope'" in done.stderr


def test_userspace_mode_serves_a_cluster_ip_and_stops_cleanly(tmp_path: Path) -> None:
    """No root needed: the proxy binds the 127.10/16 cluster IP and relays to the backend."""
    backend = http.server.ThreadingHTTPServer(
        ("127.207.0.2", 0), http.server.SimpleHTTPRequestHandler
    )
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    api = start_api(tmp_path / "api", service_cidr="127.10.0.0/16")
    proc: subprocess.Popen[str] | None = None
    try:
        with api.http() as http_client:
            created = http_client.post(
                "/api/v1/namespaces/default/services",
                json={"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
            )
            assert created.status_code == 201, created.text
            subset = {
                "addresses": [{"ip": "127.207.0.2"}],
                "ports": [{"port": backend.server_address[1]}],
            }
            http_client.post(
                "/api/v1/namespaces/default/endpoints",
                json={"metadata": {"name": "web"}, "subsets": [subset]},
            ).raise_for_status()
        url = f"http://{created.json()['spec']['clusterIP']}/"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paas",
                "proxy",
                "--mode",
                "userspace",
                "--kubeconfig",
                str(api.kubeconfig),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: status_of(url) == 200, 15, f"{url} through the proxy")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
        assert status_of(url) is None  # nothing listens there any more
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        api.stop()
        backend.shutdown()
        backend.server_close()


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except OSError:
        return None


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
