"""``default/kubernetes``: the API server's own Service, as pods and kubectl users know it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.apiserver import start_api

SERVICES = "/api/v1/namespaces/default/services"
ENDPOINTS = "/api/v1/namespaces/default/endpoints"
ROOT = Path(__file__).resolve().parents[3]


def test_an_advertised_api_server_publishes_itself_and_follows_its_address(tmp_path: Path) -> None:
    api = start_api(tmp_path / "api", advertise_address="127.0.0.1")
    first_port = int(api.url.rsplit(":", 1)[1])
    try:
        with api.http() as http:
            svc = http.get(f"{SERVICES}/kubernetes").json()
            assert svc["spec"]["clusterIP"] == "10.96.0.1"
            assert svc["spec"]["ports"] == [
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": first_port}
            ]
            assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
            eps = http.get(f"{ENDPOINTS}/kubernetes").json()
            assert eps["subsets"] == [
                {
                    "addresses": [{"ip": "127.0.0.1"}],
                    "ports": [{"name": "https", "port": first_port, "protocol": "TCP"}],
                }
            ]
            other = http.post(
                SERVICES, json={"metadata": {"name": "x"}, "spec": {"ports": [{"port": 1}]}}
            )
            assert other.json()["spec"]["clusterIP"] != "10.96.0.1"
    finally:
        api.stop()
    moved = start_api(tmp_path / "api", advertise_address="127.0.0.2")  # on a new free port
    try:
        port = int(moved.url.rsplit(":", 1)[1])
        with moved.http() as http:
            svc = http.get(f"{SERVICES}/kubernetes").json()
            assert svc["spec"]["clusterIP"] == "10.96.0.1"
            assert svc["spec"]["ports"][0]["targetPort"] == port
            eps = http.get(f"{ENDPOINTS}/kubernetes").json()["subsets"][0]
            assert eps["addresses"] == [{"ip": "127.0.0.2"}]
            assert eps["ports"][0]["port"] == port
    finally:
        moved.stop()


def test_without_an_advertise_address_there_is_no_kubernetes_service(tmp_path: Path) -> None:
    api = start_api(tmp_path / "api")
    try:
        with api.http() as http:
            assert http.get(f"{SERVICES}/kubernetes").status_code == 404
    finally:
        api.stop()


def test_a_malformed_advertise_address_is_refused_naming_the_flag(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "paas", "apiserver", "--data-dir", str(tmp_path / "d")),
            *("--advertise-address", "10.0.0.300"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "--advertise-address" in done.stderr and "not an IP address" in done.stderr
    assert not (tmp_path / "d").exists()
