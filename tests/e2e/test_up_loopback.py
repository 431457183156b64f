"""``paas up --network loopback``: the laptop mode, where no pod has a network of its own.

Pods share the node's network on 127.x addresses, Services get cluster IPs
from 127.10.0.0/16 and the node's userspace proxy listens on them itself.
kubectl applies a Deployment behind a NodePort Service; the cluster IP and
the node port answer from the host, a pod reaches the Service through the
``WEB_SERVICE_HOST``/``WEB_SERVICE_PORT`` variables, and a rolling update
under load through the cluster IP fails no request. (Run as root here, with
``--network loopback`` asked for explicitly: a laptop gets it without root.)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paasup import (
    Up,
    apply,
    http_status,
    ready_pods,
    run_client,
    start_up,
    update_under_load,
    web_manifest,
)
from support.wait import wait_until

from orchestrator.api.conditions import condition_status
from paas.up.definitions import platform_definitions

COMMAND = ["python3", "-m", "http.server", "$(PORT)", "--bind", "$(HOST)"]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with start_up(tmp_path / "paas", "process", "--network", "loopback") as running:
        yield running


def test_the_platform_kinds_are_established_when_up_says_it_is_up(up: Up) -> None:
    crds = json.loads(up.kubectl("get", "crd", "-o", "json").stdout)["items"]
    established = {c["metadata"]["name"]: condition_status(c, "Established") for c in crds}
    platform = {crd["metadata"]["name"]: "True" for crd in platform_definitions()}
    assert {
        "apps.paas.dev",
        "services.serving.knative.dev",
        "httproutes.gateway.networking.k8s.io",
    } <= set(platform)
    assert established == platform, up.log()
    listed = up.kubectl("get", "apps")  # served at once: no error, an empty list
    assert listed.stdout == ""
    assert listed.stderr.strip() == "No resources found in default namespace."


def test_services_work_without_pod_networks(up: Up) -> None:
    assert "network:    loopback mode: Service IPs from 127.10.0.0/16" in up.log()
    # "paas is up" means the node takes pods, with no component restarted on the way
    assert " Ready " in up.kubectl("get", "nodes").stdout, up.log()
    assert "restarting in" not in up.log(), up.log()
    apply(up, web_manifest(2, COMMAND))
    pods = wait_until(lambda: ready_pods(up, 2), 90, "two ready pods")
    assert all(p["status"]["podIP"].startswith("127.") for p in pods)
    cluster_ip = up.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network("127.10.0.0/16")
    assert wait_until(lambda: http_status(f"http://{cluster_ip}/") == 200, 10)
    node_port = up.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout
    assert wait_until(lambda: http_status(f"http://127.0.0.1:{node_port}/") == 200, 10)

    said = run_client(up, "curl -sS -m 10 http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT/")
    assert "Directory listing" in said, said
    update_under_load(up, f"http://{cluster_ip}/", 2)
